"""The web application: extensions, blueprints, and the one place errors become
responses (HTML for pages, JSON under /api/)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from vault.errors import VaultError

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

#: Under HTTPS: browsers refuse plain HTTP to this site for a year.
HSTS = "max-age=31536000"

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def routes_of_api() -> None:
    """Import the modules whose views are routes of the ``api`` blueprint."""
    from vault.web import api_copies as _api_routes  # noqa: F401 - routes of api.bp
    from vault.web import api_leaks as _leak_routes  # noqa: F401 - routes of api.bp
    from vault.web import api_letters as _letter_routes  # noqa: F401 - routes of api.bp
    from vault.web import api_recordings as _recording_routes  # noqa: F401 - api.bp
    from vault.web import api_search as _search_routes  # noqa: F401 - routes of api.bp
    from vault.web import api_service as _service_routes  # noqa: F401 - routes of api.bp
    from vault.web import api_tenants as _tenant_routes  # noqa: F401 - routes of api.bp


def register(app: Flask) -> None:
    from vault.web import admin, api, auth, compliance, copies, documents, home, support, tokens
    from vault.web import certificates as certificates_area
    from vault.web import dashboards as dashboards_area
    from vault.web import leaks as leaks_area
    from vault.web import letters as letters_area
    from vault.web import recordings as recordings_area
    from vault.web import review as review_area
    from vault.web import search as search_area
    from vault.web import service as service_area
    from vault.web import static as static_files
    from vault.web import tenants as tenants_area
    from vault.web.ids import IdConverter, UnknownRow

    # Before the blueprints: their rules look the converter up as they are added.
    app.url_map.converters["id"] = IdConverter
    routes_of_api()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    login_manager.session_protection = "strong"
    login_manager.user_loader(auth.load_user)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=support.select_locale)
    support.install_gettext(app)
    static_files.init_app(app)

    for area in (home, auth, documents, copies, compliance, admin, tokens, api):
        app.register_blueprint(area.bp)
    app.register_blueprint(recordings_area.bp)
    app.register_blueprint(review_area.bp)
    app.register_blueprint(tenants_area.bp)
    app.register_blueprint(leaks_area.bp)
    app.register_blueprint(certificates_area.bp)
    app.register_blueprint(service_area.bp)
    app.register_blueprint(letters_area.bp)
    app.register_blueprint(search_area.bp)
    app.register_blueprint(dashboards_area.bp)
    csrf.exempt(api.bp)  # token-authenticated, no cookies: nothing to forge

    app.before_request(support.before_request)
    app.context_processor(support.template_globals)

    @app.errorhandler(VaultError)
    def _vault_error(exc: VaultError) -> Any:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        return error_response(400, "csrf", _("The form expired or was sent from elsewhere. "
                                             "Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if isinstance(exc, UnknownRow):  # an API path id no row can have (web/ids.py)
            return _vault_error(exc.error)
        return error_response(exc.code or 500, f"http_{exc.code}", http_message(exc.code or 500))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error (request %s)", getattr(g, "request_id", "-"))
        return error_response(500, "internal_error", http_message(500))

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp = upload_redirect(resp)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("Cache-Control", "no-store")
        if app.config.get("VAULT_HTTPS"):
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        return resp


UPLOAD_HEADER = "X-Vault-Upload"


def upload_redirect(resp: Response) -> Response:
    """A form sent by the upload script (static/upload.js) is answered with where to go
    instead of a redirect: XMLHttpRequest would follow a redirect itself, fetching
    the next page (and spending its one-time message) only for the script to load it
    again."""
    if (request.headers.get(UPLOAD_HEADER) == "1" and resp.status_code in (301, 302, 303)
            and resp.location):
        answer = Response(status=204)
        answer.headers["X-Vault-Location"] = resp.location
        return answer
    return resp


def http_message(status: int) -> str:
    messages = {
        400: _("The request could not be understood."),
        401: _("Please sign in."),
        403: _("You are not allowed to do this."),
        404: _("There is nothing here, or you may not know of it."),
        405: _("This address does not accept that method."),
        413: _("The upload is larger than the limit."),
        415: _("This type of file is not accepted here."),
        429: _("Too many requests; wait a moment and try again."),
        500: _("Something went wrong on our side. The error was logged; please try again."),
    }
    return messages.get(status, _("The request could not be completed."))


def error_response(status: int, code: str, message: str) -> Any:
    """JSON under /api/, an HTML page elsewhere; the same code either way."""
    if request.path.startswith("/api/"):
        resp = jsonify({"code": code, "message": message})
        resp.status_code = status
        return resp
    return render_template("error.html", status=status, code=code, message=message), status
