"""Blueprints and the one place errors become responses."""

from __future__ import annotations

from flask import Flask, Response, render_template

from vault.errors import VaultError

CSP = "default-src 'self'; object-src 'none'; frame-ancestors 'none'"


def register(app: Flask) -> None:
    from vault.web import home

    app.register_blueprint(home.bp)

    @app.errorhandler(VaultError)
    def _vault_error(exc: VaultError) -> tuple[str, int]:
        return render_template("error.html", message=exc.message), exc.status

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        return resp
