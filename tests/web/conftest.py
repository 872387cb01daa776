"""Web fixtures: an app over the `org` of tests/conftest.py, and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
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
    """A client signed in as ``username`` (one of tests/conftest.py PEOPLE)."""

    def make(username: str) -> FlaskClient:
        client = app.test_client()
        assert sign_in(client, username) == 302
        return client

    return make
