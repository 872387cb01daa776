"""Vault: the group's confidentiality vault. Nothing happens at import; see `create_app`."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web application.

    ``config`` overrides settings (tests pass their own folders and database).
    Refuses to start, saying what to run, when keys or the secret key are missing.
    """
    from vault import db
    from vault.config import load_settings
    from vault.web import register

    overrides = dict(config or {})
    settings = load_settings(**overrides)
    settings.check()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.effective_secret_key()
    app.config["VAULT_SETTINGS"] = settings
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    engine = db.make_engine(settings.database_url)
    app.extensions["vault.engine"] = engine
    app.extensions["vault.sessions"] = db.make_sessionmaker(engine)
    register(app)
    return app
