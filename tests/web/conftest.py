"""Web fixtures: an app over the `org` of tests/conftest.py, and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twofactor import finish_sign_in  # noqa: I001 - tests/web/twofactor.py
from webtools import sign_in  # noqa: I001 - tests/web/webtools.py

from vault import create_app
from vault.services.context import Infra


@pytest.fixture
def app(org: Infra) -> Iterator[Flask]:
    s = org.settings
    flask_app = create_app({"home": s.home, "database_url": s.database_url,
                            "flask": {"TESTING": True}})
    yield flask_app
    flask_app.extensions["vault.engine"].dispose()


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
