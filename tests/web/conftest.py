"""Web fixtures: an app over the `org` of tests/conftest.py, and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twofactor import finish_sign_in  # noqa: I001 - tests/web/twofactor.py
from webtools import sign_in  # noqa: I001 - tests/web/webtools.py

from vault import bind_settings, create_app
from vault.config import load_settings
from vault.services.context import Infra

FLASK_CONFIG = {"TESTING": True}


def _hooks(table: Any) -> Any:
    """A Flask hook table without the empty entries its defaultdicts grow on lookup."""
    if isinstance(table, dict):
        kept = {k: _hooks(v) for k, v in table.items()}
        return {k: v for k, v in kept.items() if v}
    return list(table) if isinstance(table, list) else table


def _shape(app: Flask) -> Any:
    """What a test could change in an application besides its config: routes, views,
    handlers, hooks, template globals, extensions, logging."""
    per_test = {"vault.engine", "vault.infra"}
    hooks = ("error_handler_spec", "before_request_funcs", "after_request_funcs",
             "teardown_request_funcs", "template_context_processors",
             "url_value_preprocessors", "url_default_functions")
    return (
        sorted((r.rule, r.endpoint, tuple(sorted(r.methods or ())))
               for r in app.url_map.iter_rules()),
        dict(app.view_functions), [_hooks(getattr(app, h)) for h in hooks],
        list(app.teardown_appcontext_funcs), dict(app.blueprints),
        app.request_class, app.response_class, app.session_interface, app.json,
        {k: v for k, v in app.extensions.items() if k not in per_test},
        dict(app.jinja_env.globals), dict(app.jinja_env.filters),
        app.logger.disabled, app.logger.level, app.wsgi_app,
    )


class AppPool:
    """One built application per test process, pointed at each test's settings in turn.

    Building the app compiles ~130 routes (most of `create_app`'s cost, paid by every
    web test before). A test gets the pooled app with the config it had when built and
    `bind_settings` for its own folders and database — what `create_app` would give it.
    A test that changed the app otherwise (added a route, a handler, a hook…) has it
    thrown away afterwards, and the next test builds a new one.
    """

    def __init__(self) -> None:
        self.idle: Flask | None = None
        self.config: dict[str, Any] = {}
        self.shape: Any = None

    def take(self, infra: Infra) -> Flask:
        config = {"home": infra.settings.home, "database_url": infra.settings.database_url}
        app, self.idle = self.idle, None
        settings = load_settings(**config)  # as create_app reads them (VAULT_* included)
        if app is not None and settings.proxy_hops != self.config["VAULT_SETTINGS"].proxy_hops:
            app = None  # built for other settings (create_app wraps the app for proxies)
        if app is None:
            app = create_app({**config, "flask": FLASK_CONFIG})
            self.config, self.shape = dict(app.config), _shape(app)
            return app
        settings.check()
        app.config.clear()
        app.config.update(self.config)
        app._got_first_request = False  # it is a new application to this test
        bind_settings(app, settings)
        app.config.update(FLASK_CONFIG)
        return app

    def give_back(self, app: Flask) -> None:
        if _shape(app) == self.shape:
            self.idle = app


@pytest.fixture(scope="session")
def app_pool() -> AppPool:
    return AppPool()


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
