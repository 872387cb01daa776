"""Personal API tokens in the UI: list mine, create one (shown once), revoke.

The token itself appears in exactly one response, the page answering the
creation; it is never put in the session, a flash message, a URL or a log.
Administrators may list and revoke anyone's tokens (``/tokens?user=NAME``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import Length, Optional

from vault.errors import VaultError
from vault.services import accounts, tokens
from vault.web import support
from vault.web.auth import fresh_auth_required

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

#: A token outlives the session that made it: its creation needs the password (and
#: code) again within these minutes, as approvals do.
FRESH_MINUTES = 5
NAV_ENTRY = ("tokens.index", lambda: _("API tokens"), None)


@bp.record
def _add_nav(state: Any) -> None:
    if NAV_ENTRY not in support.NAV:
        support.NAV.append(NAV_ENTRY)


class CreateForm(FlaskForm):
    name = StringField("name", validators=[Length(max=tokens.MAX_NAME)])
    expires = StringField("expires", validators=[Optional(), Length(max=10)])


class RevokeForm(FlaskForm):
    """CSRF only."""


def _messages() -> dict[str, str]:
    return {
        "bad_token_name": _("Give the token a name of 1–100 printable characters."),
        "bad_expiry": _("The expiry is not a date; use e.g. 2027-06-30."),
        "expiry_in_past": _("The expiry must be in the future."),
        "token_revoked": _("This token was already revoked."),
        "unknown_token": _("There is no such token."),
        "unknown_user": _("There is no such user."),
        "not_own_token": _("Only administrators manage other people's tokens."),
    }


def _message(exc: VaultError) -> str:
    return _messages().get(exc.code, exc.message)


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(support.settings().tz).strftime("%Y-%m-%d %H:%M")


def _rows(items: tuple[tokens.TokenRow, ...]) -> list[dict[str, Any]]:
    labels = {"active": _("active"), "revoked": _("revoked"), "expired": _("expired")}
    return [
        {"id": t.id, "name": t.name, "prefix": t.prefix, "created": _when(t.created_at),
         "expires": _when(t.expires_at), "last_used": _when(t.last_used_at),
         "status": t.status, "status_label": labels[t.status]}
        for t in items
    ]


def _render_index(form: CreateForm, error: str | None = None, status: int = 200) -> Any:
    owner = request.args.get("user") or None
    if owner is not None and not accounts.USERNAME_RE.match(owner):
        abort(404)
    with support.work() as ctx:
        rows = _rows(tokens.list_tokens(ctx, owner))
    return render_template("tokens/index.html", form=form, revoke_form=RevokeForm(),
                           rows=rows, owner=owner, error=error), status


@bp.get("/")
@login_required
def index() -> Any:
    return _render_index(CreateForm())


@bp.post("/")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="tokens.index")
def create() -> Any:
    form = CreateForm()
    if not form.validate_on_submit():
        return _render_index(form, _("Check the name and the expiry date."), 400)
    try:
        with support.work() as ctx:
            expires_at = tokens.parse_expiry(form.expires.data, ctx.settings.tz)
            row, token = tokens.create(ctx, form.name.data or "", expires_at)
            shown = {"name": row.name, "prefix": row.prefix, "expires": _when(row.expires_at)}
    except VaultError as exc:
        if exc.status >= 500:
            raise
        return _render_index(form, _message(exc), 400)
    # The only time the token is ever shown; responses are never cached (no-store).
    return render_template("tokens/created.html", token=token, info=shown)


@bp.post("/<id:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400)
    owner = None
    try:
        with support.work() as ctx:
            row = tokens.revoke(ctx, token_id)
            owner, name, prefix = row.user, row.name, row.prefix
        flash(_("Token %(name)s (%(prefix)s) was revoked.", name=name, prefix=prefix))
    except VaultError as exc:
        if exc.status >= 500:
            raise
        if exc.status == 404:
            abort(404)
        flash(_message(exc))
    target = (url_for("tokens.index", user=owner)
              if owner and owner != current_user.username else url_for("tokens.index"))
    return redirect(target)
