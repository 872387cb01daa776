"""Built Flask applications kept for the next test of the same process (web tests and
the browser tests' live server): building one and compiling its templates costs more
than most of the tests that use it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault import bind_settings, create_app
from vault.config import load_settings

if TYPE_CHECKING:
    from flask import Flask

    from vault.services.context import Infra


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
    web test before), and its Jinja environment compiles each template at its first
    use. A test gets the pooled app with the config it had when built and
    `bind_settings` for its own folders and database — what `create_app` would give it.
    A test that changed the app otherwise (added a route, a handler, a hook…) has it
    thrown away afterwards, and the next test builds a new one. ``flask`` is the Flask
    config every test gets on top (`create_app`'s ``config["flask"]``).
    """

    def __init__(self, flask: dict[str, Any]) -> None:
        self.flask = dict(flask)
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
            app = create_app({**config, "flask": self.flask})
            self.config, self.shape = dict(app.config), _shape(app)
            return app
        settings.check()
        app.config.clear()
        app.config.update(self.config)
        app._got_first_request = False  # it is a new application to this test
        bind_settings(app, settings)
        app.config.update(self.flask)
        return app

    def give_back(self, app: Flask) -> None:
        if _shape(app) == self.shape:
            self.idle = app


# One pool per Flask config, per test process: the web tests' test clients (TESTING on:
# errors reach the test) and the browser tests' live server (as `vault serve` runs it).
WEB_APPS = AppPool({"TESTING": True})
SERVED_APPS = AppPool({})
