"""Web fixtures: an app over the `org` of tests/conftest.py, and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from apppool import WEB_APPS, AppPool  # noqa: I001 - tests/apppool.py
from flask import Flask
from flask.testing import FlaskClient
from twofactor import finish_sign_in  # noqa: I001 - tests/web/twofactor.py
from webtools import sign_in  # noqa: I001 - tests/web/webtools.py

from vault.services.context import Infra


@pytest.fixture(scope="session")
def app_pool() -> AppPool:
    """This process's pooled application for web tests (TESTING on; tests/apppool.py)."""
    return WEB_APPS


@pytest.fixture
def app(org: Infra, app_pool: AppPool) -> Iterator[Flask]:
    """The application over `org` (TESTING on), as `create_app` builds it."""
    flask_app = app_pool.take(org)
    yield flask_app
    flask_app.extensions["vault.engine"].dispose()
    app_pool.give_back(flask_app)


@pytest.fixture
def login_as(app: Flask) -> Callable[[str], FlaskClient]:
    """A client signed in as ``username`` (one of tests/conftest.py PEOPLE). Those whose
    roles require a second factor enrol through the real pages on the way in; the
    client keeps the secret as ``client.totp_secret``."""

    def make(username: str) -> FlaskClient:
        client = app.test_client()
        assert sign_in(client, username) == 302
        client.totp_secret = finish_sign_in(client)  # type: ignore[attr-defined]
        return client

    return make
