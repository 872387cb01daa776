"""Signing in and out, password change, language switch."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from vault.errors import VaultError
from vault.services import accounts
from vault.web import support

bp = Blueprint("auth", __name__)


@dataclass
class WebUser:
    """What a request knows of the signed-in person; the services reload the rest."""

    id: int
    username: str
    name: str
    roles: frozenset[str]
    epoch: int
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        # The epoch rides in the session: deactivation or a password change bumps
        # it, and every older session stops working at once.
        return f"{self.id}:{self.epoch}"

    def has(self, role: str) -> bool:
        return role in self.roles


def load_user(key: str) -> WebUser | None:
    try:
        user_id, epoch = (int(x) for x in key.split(":"))
    except ValueError:
        return None
    with support.infra().sessions() as s:
        from vault.models import User

        user = s.get(User, user_id)
        if user is None or not user.active or user.auth_epoch != epoch:
            return None
        return WebUser(user.id, user.username, user.name, user.roles, user.auth_epoch)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current = PasswordField("current", validators=[DataRequired(), Length(max=1024)])
    new = PasswordField("new", validators=[DataRequired(), Length(min=10, max=1024)])
    again = PasswordField("again", validators=[DataRequired(), EqualTo("new")])


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        with support.work(actor="") as ctx:
            result = accounts.sign_in(ctx, form.username.data or "", form.password.data or "")
            user = result.user
            web_user = (WebUser(user.id, user.username, user.name, user.roles, user.auth_epoch)
                        if user is not None else None)
        if web_user is not None:
            # A fresh session: nothing from before sign-in survives (no fixation).
            session.clear()
            now = time.time()
            session.update(started=now, last=now, sid=secrets.token_urlsafe(16),
                           reauth=now)
            login_user(web_user)
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong user name or password. After repeated failures, signing in "
                  "pauses for a while.")
    elif request.method == "POST":
        error = _("Enter your user name and password.")
    return render_template("login.html", form=form, error=error), 401 if error else 200


@bp.post("/logout")
@login_required
def logout() -> Response:
    from vault.actions import Action

    with support.work() as ctx:
        ctx.record(Action.AUTH_SIGN_OUT, object_type="user", object_id=current_user.username,
                   reason="signed_out")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            with support.work() as ctx:
                assert ctx.actor is not None
                if not accounts.verify_password(ctx.actor.password_hash, form.current.data or ""):
                    error = _("The current password is wrong.")
                else:
                    user, _generated = accounts.change_password(
                        ctx, ctx.actor.username, form.new.data
                    )
                    epoch = user.auth_epoch
        except VaultError as exc:
            error = exc.message
        if error is None:
            # Other sessions die with the old epoch; this one continues.
            login_user(WebUser(current_user.id, current_user.username, current_user.name,
                               current_user.roles, epoch))
            flash(_("Your password was changed."))
            return redirect(url_for("home.index"))
    elif request.method == "POST":
        error = _("Fill in every field; the new password needs at least 10 characters and "
                  "both entries must match.")
    return render_template("password.html", form=form, error=error)


@bp.get("/lang/<code>")
def lang(code: str) -> Response:
    if code in support.LOCALES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
