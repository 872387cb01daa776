"""Signing in and out, the second factor, re-authentication, password change,
language switch.

Signing in is one or two steps. After a right password, someone with a second
factor is *pending* (``session["pending_2fa"]``: user id, auth epoch, when, where
to go next) — not signed in — until they give a code at ``/login/second-factor``;
someone whose roles require a factor but who has none enrols first at
``/login/enrol`` (QR code, secret, first code, recovery codes shown once). The
pending state expires after ``PENDING_MINUTES``. Everyone else may set a factor
up from the Security page. `fresh_auth_required` guards acts that need the
password (and code) again within the last few minutes.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from vault.errors import VaultError
from vault.services import accounts, totp
from vault.web import support

bp = Blueprint("auth", __name__)

PENDING = "pending_2fa"
PENDING_MINUTES = 10
F = TypeVar("F", bound=Callable[..., Any])


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


def load_user(key: str) -> WebUser | None:
    try:
        user_id, epoch = (int(x) for x in key.split(":"))
    except ValueError:
        return None
    identity = accounts.signed_in(support.infra(), user_id, epoch)
    return _web_user(identity) if identity is not None else None


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField("code", validators=[DataRequired(), Length(max=64)])


class ReauthForm(FlaskForm):
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("code", validators=[Length(max=64)])


class PasswordForm(FlaskForm):
    current = PasswordField("current", validators=[DataRequired(), Length(max=1024)])
    new = PasswordField("new", validators=[DataRequired(), Length(min=10, max=1024)])
    again = PasswordField("again", validators=[DataRequired(), EqualTo("new")])


def _safe_next(target: str | None) -> str:
    """A path on this site, else home: never another site ("//x", and "/\\x", which
    browsers read as "//x")."""
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and target.isprintable()):
        return target
    return url_for("home.index")


def _web_user(identity: accounts.Identity) -> WebUser:
    return WebUser(identity.id, identity.username, identity.name, identity.roles,
                   identity.epoch)


def _fresh_session() -> None:
    """Nothing from before sign-in survives (no fixation) but the language chosen."""
    lang = session.get("lang")
    session.clear()
    if lang in support.LOCALES:
        session["lang"] = lang


def _start_session(web_user: WebUser) -> None:
    _fresh_session()
    now = time.time()
    session.update(started=now, last=now, sid=secrets.token_urlsafe(16), reauth=now)
    login_user(web_user)


def _pending(mode: str) -> dict[str, Any] | None:
    """The half-finished sign-in of this browser, if it is of ``mode`` and recent."""
    pending = session.get(PENDING)
    if (not isinstance(pending, dict) or pending.get("mode") != mode
            or time.time() - float(pending.get("at", 0)) > PENDING_MINUTES * 60):
        return None
    return pending


def _restart_sign_in() -> Response:
    session.pop(PENDING, None)
    flash(_("Your sign-in took too long or is no longer valid. Please sign in again."))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        with support.work(actor="") as ctx:
            # The client's address (VAULT_PROXY_HOPS makes it the one a proxy saw).
            step = totp.sign_in(ctx, form.username.data or "", form.password.data or "",
                                request.remote_addr)
            web_user = (_web_user(accounts.identity_of(step.user)) if step.user is not None
                        else None)
        if web_user is not None:
            target = _safe_next(request.args.get("next"))
            if step.next == "done":
                _start_session(web_user)
                return redirect(target)
            # Password right, sign-in not finished: nothing is accessible yet.
            _fresh_session()
            session[PENDING] = {"uid": web_user.id, "user": web_user.username,
                                "epoch": web_user.epoch, "at": time.time(),
                                "next": target, "mode": step.next}
            if step.next == "second_factor":
                return redirect(url_for("auth.second_factor"))
            return redirect(url_for("auth.enrol_first"))
        error = _("Wrong user name or password. After repeated failures, signing in "
                  "pauses for a while.")
    elif request.method == "POST":
        error = _("Enter your user name and password.")
    return render_template("login.html", form=form, error=error), 401 if error else 200


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> Any:
    """The second step: a code from the authenticator app, or a recovery code."""
    pending = _pending("second_factor")
    if pending is None:
        return _restart_sign_in()
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        with support.work(actor="") as ctx:
            verdict = totp.verify_login(ctx, int(pending["uid"]), int(pending["epoch"]),
                                        form.code.data or "")
            web_user = (_web_user(accounts.identity_of(verdict.user))
                        if verdict.user is not None else None)
        if web_user is not None:
            _start_session(web_user)
            if verdict.reason == "recovery_code":
                flash(_("You signed in with a recovery code; it cannot be used again. "
                        "Renew your codes on the Security page when few are left."))
            return redirect(_safe_next(pending.get("next")))
        if verdict.reason in ("session_expired", "no_factor"):
            return _restart_sign_in()
        error = _("The code is wrong or was already used. After repeated failures, "
                  "signing in pauses for a while.")
        with support.work(actor="") as ctx:
            if totp.just_used(ctx, int(pending["uid"]), form.code.data or ""):
                error = JUST_USED()
    elif request.method == "POST":
        error = _("Enter the six-digit code from your app, or a recovery code.")
    return (render_template("security/second_factor.html", form=form, error=error),
            401 if error else 200)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_first() -> Any:
    """Forced enrolment: the roles require a second factor and there is none yet."""
    pending = _pending("enrol")
    if pending is None:
        return _restart_sign_in()
    return _enrolment(str(pending["user"]), int(pending["epoch"]), pending)


def _enrolment(username: str, epoch: int, pending: dict[str, Any] | None) -> Any:
    """The enrolment page and its confirmation, for a pending sign-in or the Security page."""
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            with support.work(actor=username) as ctx:
                if accounts.still_signed_in(ctx, epoch) is None:
                    return _restart_sign_in()
                codes = totp.confirm_enrolment(ctx, form.code.data or "")
                web_user = _web_user(accounts.me(ctx))
        except VaultError as exc:
            error = (_("The code is wrong or too old. Check the time on your phone and "
                       "enter the code the app shows now.")
                     if exc.code == "wrong_code" else exc.message)
        else:
            if pending is not None:
                _start_session(web_user)
                target = _safe_next(pending.get("next"))
            else:
                target = url_for("auth.security")
            return render_template("security/recovery_codes.html", codes=codes,
                                   target=target, first=True)
    elif request.method == "POST":
        error = _("Enter the six-digit code from your app.")
    try:
        with support.work(actor=username) as ctx:
            if accounts.still_signed_in(ctx, epoch) is None:
                return _restart_sign_in()
            enrolment = totp.begin_enrolment(ctx)
    except VaultError as exc:
        if exc.code == "already_enrolled":
            return redirect(url_for("auth.security"))
        raise
    return (render_template("security/enrol.html", form=form, error=error, enrolment=enrolment,
                            forced=pending is not None),
            400 if error else 200)


def JUST_USED() -> str:  # noqa: N802 - a message, named like a constant
    return _("This code was already used a moment ago (each code works once). Wait for "
             "your app to show the next code, within 30 seconds, and enter that one.")


def fresh_auth_required(minutes: int = 5, back: str | None = None) -> Callable[[F], F]:
    """Guard a view that needs the person's password (and code) again within the last
    ``minutes`` (approvals, turning the second factor off). A stale session is sent to
    ``/reauth``, which sets ``session["reauth"]`` and comes back: to this address for
    a GET; for a form sent too late, to the endpoint ``back`` when given, else to this
    address when it has a page, else home."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path))
            if time.time() - float(session.get("reauth", 0)) > minutes * 60:
                target = (url_for(back, **(request.view_args or {}))
                          if back and request.method != "GET" else None)
                if request.method != "GET":
                    session["reauth_resume"] = True  # say, once back, to send it again
                return redirect(url_for("auth.reauth", next=target or _back_after_reauth()))
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def is_fresh(minutes: int = 5) -> bool:
    """Whether the person proved themselves within the last ``minutes``."""
    return time.time() - float(session.get("reauth", 0)) <= minutes * 60


def _back_after_reauth() -> str:
    if request.method == "GET":
        return request.full_path
    rule = request.url_rule
    if rule is not None and rule.methods is not None and "GET" in rule.methods:
        return request.path
    return url_for("home.index")


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
def reauth() -> Any:
    """Confirm it is still you: password, and a code when you have a second factor."""
    form = ReauthForm()
    error = None
    if form.validate_on_submit():
        with support.work() as ctx:
            ok = totp.reauthenticate(ctx, form.password.data or "", form.code.data)
        if ok:
            session["reauth"] = time.time()
            if session.pop("reauth_resume", False):
                flash(_("It is you: what you had typed is back in the form. Press the "
                        "button again to finish."))
            return redirect(_safe_next(request.args.get("next")))
        error = _("That did not match. After repeated failures, signing in pauses for a while.")
        with support.work() as ctx:
            if totp.just_used(ctx, current_user.id, form.code.data or ""):
                error = JUST_USED()
    elif request.method == "POST":
        error = _("Enter your password.")
    with support.work() as ctx:
        needs_code = totp.state(ctx).confirmed
    return (render_template("security/reauth.html", form=form, error=error,
                            needs_code=needs_code),
            401 if error else 200)


@bp.get("/security")
@login_required
def security() -> str:
    """The person's own second factor: status, set up, new recovery codes, turn off."""
    with support.work() as ctx:
        state = totp.state(ctx)
    return render_template("security/index.html", state=state)


@bp.route("/security/enrol", methods=["GET", "POST"])
@login_required
def enrol() -> Any:
    return _enrolment(current_user.username, current_user.epoch, None)


@bp.post("/security/recovery-codes")
@login_required
@fresh_auth_required(back="auth.security")
def recovery_codes() -> Any:
    form = FlaskForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.security"))
    with support.work() as ctx:
        codes = totp.renew_recovery_codes(ctx)
    return render_template("security/recovery_codes.html", codes=codes,
                           target=url_for("auth.security"), first=False)


@bp.post("/security/disable")
@login_required
@fresh_auth_required(back="auth.security")
def disable() -> Response:
    form = FlaskForm()
    if form.validate_on_submit():
        with support.work() as ctx:
            totp.disable_own(ctx)
        flash(_("The second factor is off. Your recovery codes no longer work."))
    return redirect(url_for("auth.security"))


@bp.post("/logout")
@login_required
def logout() -> Response:
    # The epoch moves on: this cookie, and any copy of it, no longer signs anyone in.
    with support.work() as ctx:
        accounts.sign_out(ctx)
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
                changed = accounts.change_own_password(ctx, form.current.data or "",
                                                       form.new.data)
            if changed is None:
                error = _("The current password is wrong.")
            else:
                epoch = changed
        except VaultError as exc:
            error = _password_refusal(exc)
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


def _password_refusal(exc: VaultError) -> str:
    """Why a new password was refused, in the reader's language."""
    if exc.code != "weak_password":
        return exc.message
    texts = {
        "too_short": _("The password is too short: at least 10 characters."),
        "username": _("The password must not be the user name, nor the user name with "
                      "digits."),
        "current": _("The new password must differ from the current one."),
        "guessable": _("The password is too easy to guess (a common password, a word, a "
                       "repeat or a sequence such as 1234). Use a longer phrase of "
                       "unrelated words."),
    }
    return texts.get(str(exc.params.get("why")), exc.message)


@bp.get("/lang/<code>")
def lang(code: str) -> Response:
    if code in support.LOCALES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
