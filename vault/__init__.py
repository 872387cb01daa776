"""Vault: the group's confidentiality vault. Nothing happens at import; see `create_app`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported by create_app only: `vault --help` must not pay for it
    from flask import Flask

    from vault.config import Settings

# Each area keeps its own catalogue, vault/translations/<area>/zh/ (Babel reads zh_CN
# as zh_Hans_CN, which gettext finds under zh); Flask-Babel merges them. Source
# strings are English; zh_CN is the default locale.
TRANSLATION_AREAS = ("core", "documents", "api", "admin", "copies", "recordings", "review",
                     "tenants", "leaks", "service", "search", "dashboards")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web application.

    ``config`` overrides settings (tests pass their own folders and database).
    With ``VAULT_HTTPS`` (`vault serve` sets it unless told the site is plain HTTP)
    the session cookie is ``Secure`` and every answer carries HSTS.
    Refuses to start, saying what to run, when keys or the secret key are missing.
    """
    from vault.config import load_settings
    from vault.web import register
    from vault.web.documents import VaultRequest
    from vault.web.static import VaultFlask

    overrides = dict(config or {})
    flask_overrides = overrides.pop("flask", {})
    settings = load_settings(**overrides)
    settings.check()
    app = VaultFlask(__name__)  # static files versioned and cached (web/static.py)
    app.request_class = VaultRequest  # uploads spooled encrypted, never in clear on disk
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="vault_session",
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=";".join(f"translations/{a}" for a in TRANSLATION_AREAS),
        WTF_CSRF_TIME_LIMIT=None,  # the session's own timeouts bound a token's life
    )
    bind_settings(app, settings)
    app.config.update(flask_overrides)
    register(app)
    if settings.proxy_hops:
        # Behind N trusted load balancers/proxies: the client's address (audit
        # source, session protection) and scheme come from their X-Forwarded-*
        # headers, taking only the last N hops (a client cannot forge past them).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    return app


def bind_settings(app: Flask, settings: Settings) -> None:
    """Everything of ``app`` that comes from ``settings``: secret key, limits, database
    and infra. Put here, apart from the routes, so that the test suite can point one
    built application at each test's own folders and database (tests/web/conftest.py)."""
    from vault import db
    from vault.services.context import Infra

    app.config.update(
        SECRET_KEY=settings.effective_secret_key(),
        VAULT_SETTINGS=settings,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,  # form fields
        SESSION_COOKIE_SECURE=bool(settings.https),
        VAULT_HTTPS=bool(settings.https),
    )
    engine = db.make_engine(settings.database_url)
    app.extensions["vault.engine"] = engine
    app.extensions["vault.infra"] = Infra.build(settings, db.make_sessionmaker(engine))
