"""Administration: the organisation (companies, departments) and its people (add,
change roles, deactivate, reset password, reset second factor).

Administrators manage people, not content: nothing here shows a document. Every
page and act goes through a service that asks `policy.can_administer` and audits
the refusal; each change is an audited use case of `vault.services.accounts` or
`vault.services.totp`. A generated password is shown once, on the response to the
act, and never stored in clear. Acts need a sign-in within the last few minutes
(`fresh_auth_required`).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from vault.actions import Action
from vault.errors import VaultError
from vault.policy import Role
from vault.services import accounts, directory, totp
from vault.web import support
from vault.web.auth import fresh_auth_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

support.NAV.append(("admin.index", lambda: _("Administration"), "administers"))
# The Security page belongs to the auth blueprint; it is listed here so that it sits
# after the content areas in the bar (vault.web.register imports this module late).
support.NAV.append(("auth.security", lambda: _("Security"), None))


def role_labels() -> dict[str, str]:
    return {
        Role.HQ_EXECUTIVE.value: _("HQ executive"),
        Role.COMPANY_GM.value: _("Company general manager"),
        Role.DEPT_MANAGER.value: _("Department manager"),
        Role.SUPERVISOR.value: _("Supervisor"),
        Role.CUSTODIAN.value: _("Custodian"),
        Role.COMPLIANCE.value: _("Compliance officer"),
        Role.ADMIN.value: _("Administrator"),
        Role.STAFF.value: _("Staff"),
    }


def _message(exc: VaultError) -> str:
    """The service's refusal in the reader's language (its English text as a fallback)."""
    messages = {
        "bad_code": _("Codes are 1–32 letters, digits, '_', '-' or '.'."),
        "bad_name": _("Names are 1–200 printable characters."),
        "company_exists": _("A company with this code already exists."),
        "hq_exists": _("There is already an HQ company; only one can be HQ."),
        "unknown_company": _("There is no company with this code."),
        "unknown_department": _("There is no such department in this company."),
        "department_exists": _("This department already exists in that company."),
        "bad_username": _("User names are 2–64 lower-case letters, digits, '_', '-' or '.'."),
        "user_exists": _("This user name is taken."),
        "unknown_user": _("There is no such person."),
        "role_needs_hq": _("The HQ executive role is only for people of the HQ company."),
        "weak_password": _("The password is too short: at least 10 characters."),
        "no_roles": _("Choose at least one role."),
        "unknown_role": _("Unknown role."),
        "no_factor": _("This person has no second factor."),
        "bad_email": _("The e-mail address is not valid."),
        "last_custodian": _(
            "This is the last active custodian of %(company)s, and every company needs one. "
            "Give another person of %(company)s the custodian role first, then try again.",
            company=exc.params.get("company", "")),
    }
    return messages.get(exc.code, exc.message)


def _role_choices() -> list[tuple[str, str]]:
    labels = role_labels()
    return [(r.value, labels[r.value]) for r in Role]


class CompanyForm(FlaskForm):
    code = StringField("code", validators=[DataRequired(), Length(max=32)])
    name = StringField("name", validators=[DataRequired(), Length(max=200)])
    hq = BooleanField("hq")


CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{1,63}")
EMAIL = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$"


class DepartmentForm(FlaskForm):
    company = StringField("company", validators=[DataRequired(), Length(max=32), Regexp(CODE)])
    code = StringField("code", validators=[DataRequired(), Length(max=32)])
    name = StringField("name", validators=[DataRequired(), Length(max=200)])


class PersonForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    name = StringField("name", validators=[DataRequired(), Length(max=200)])
    email = StringField("email", validators=[Optional(), Length(max=254), Regexp(EMAIL)])
    # "COMPANY/DEPARTMENT", both codes
    department = StringField("department", validators=[
        DataRequired(), Length(max=65), Regexp(CODE[:-1] + "/" + CODE[1:])])
    roles = SelectMultipleField("roles", validators=[DataRequired()])


class DetailsForm(FlaskForm):
    name = StringField("name", validators=[DataRequired(), Length(max=200)])
    email = StringField("email", validators=[Optional(), Length(max=254), Regexp(EMAIL)])
    department = StringField("department", validators=[
        DataRequired(), Length(max=65), Regexp(CODE[:-1] + "/" + CODE[1:])])


class RolesForm(FlaskForm):
    roles = SelectMultipleField("roles", validators=[DataRequired()])


class ActForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


@bp.get("/")
@login_required
def index() -> str:
    with support.work() as ctx:
        found = directory.overview(ctx)
    return render_template("admin/index.html", directory=found, role_labels=role_labels())


@bp.get("/organisation")
@login_required
def organisation() -> Any:
    return _organisation_page()


def _organisation_page(company_form: CompanyForm | None = None,
                       department_form: DepartmentForm | None = None,
                       error: str | None = None) -> Any:
    with support.work() as ctx:
        companies = directory.companies(ctx)
    return render_template(
        "admin/organisation.html", companies=companies,
        company_form=company_form or CompanyForm(formdata=None),
        department_form=department_form or DepartmentForm(formdata=None), error=error,
    ), 400 if error else 200


@bp.post("/companies")
@login_required
@fresh_auth_required(back="admin.organisation")
def add_company() -> Any:
    form = CompanyForm()
    if not form.validate_on_submit():
        return _organisation_page(company_form=form,
                                  error=_("Give the company a code and a name."))
    try:
        with support.work() as ctx:
            accounts.create_company(ctx, (form.code.data or "").strip(), form.name.data or "",
                                    hq=bool(form.hq.data))
    except VaultError as exc:
        if exc.status == 403:
            raise
        return _organisation_page(company_form=form, error=_message(exc))
    flash(_("Company %(code)s added.", code=form.code.data))
    return redirect(url_for("admin.organisation"))


@bp.post("/departments")
@login_required
@fresh_auth_required(back="admin.organisation")
def add_department() -> Any:
    form = DepartmentForm()
    if not form.validate_on_submit():
        return _organisation_page(department_form=form,
                                  error=_("Choose the company and give the department a code "
                                          "and a name."))
    try:
        with support.work() as ctx:
            accounts.create_department(ctx, (form.company.data or "").strip(),
                                       (form.code.data or "").strip(), form.name.data or "")
    except VaultError as exc:
        if exc.status == 403:
            raise
        return _organisation_page(department_form=form, error=_message(exc))
    flash(_("Department %(code)s added.", code=form.code.data))
    return redirect(url_for("admin.organisation"))


def _person_form(formdata: Any = None) -> PersonForm:
    form = PersonForm(formdata=formdata)
    form.roles.choices = _role_choices()
    return form


def _new_person_page(form: PersonForm, error: str | None = None) -> Any:
    with support.work() as ctx:
        departments = directory.department_choices(ctx)
    return render_template("admin/new_user.html", form=form, departments=departments,
                           role_choices=_role_choices(), error=error), 400 if error else 200


@bp.get("/users/new")
@login_required
def new_user() -> Any:
    return _new_person_page(_person_form())


@bp.post("/users/new")
@login_required
@fresh_auth_required(back="admin.new_user")
def create_user() -> Any:
    form = _person_form(request.form)
    if not form.validate_on_submit():
        return _new_person_page(form, _("Fill in the user name, the name, the department and "
                                        "at least one role; the e-mail address is optional."))
    company, _sep, dept = (form.department.data or "").partition("/")
    try:
        with support.work() as ctx:
            roles = accounts.parse_roles(form.roles.data or [])
            user, generated = accounts.create_user(
                ctx, (form.username.data or "").strip(), form.name.data or "", company,
                dept or None, roles, None, (form.email.data or "").strip() or None)
            username = user.username
    except VaultError as exc:
        if exc.status == 403:
            raise
        return _new_person_page(form, _message(exc))
    return render_template("admin/password_once.html", username=username, password=generated,
                           created=True)


@bp.url_value_preprocessor
def _check_username(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A name that no user can have answers 404 before any lookup (a NUL byte, say,
    which PostgreSQL would refuse)."""
    if values and "username" in values and not USERNAME.fullmatch(str(values["username"])):
        abort(404)


@bp.get("/users/<username>")
@login_required
def user(username: str) -> Any:
    with support.work() as ctx:
        person = directory.person(ctx, username)
        departments = directory.department_choices(ctx)
    form = RolesForm(formdata=None, data={"roles": person.roles})
    form.roles.choices = _role_choices()
    return render_template("admin/user.html", person=person, roles_form=form,
                           role_labels=role_labels(), departments=departments,
                           details_form=DetailsForm(formdata=None))


@bp.post("/users/<username>/details")
@login_required
@fresh_auth_required(back="admin.user")
def change_details(username: str) -> Response:
    """Name, e-mail address, company and department (audited with before and after)."""
    form = DetailsForm()
    if not form.validate_on_submit():
        flash(_("Give the name and the company / department; the e-mail address, if "
                "given, must be one address."))
        return redirect(url_for("admin.user", username=username))
    company, _sep, dept = (form.department.data or "").partition("/")
    try:
        with support.work() as ctx:
            accounts.update_person(ctx, username, name=form.name.data or "",
                                   email=form.email.data, company_code=company,
                                   department_code=dept or None)
    except VaultError as exc:
        return _act_failed(username, exc)
    flash(_("The details of %(user)s were saved.", user=username))
    return redirect(url_for("admin.user", username=username))


def _act_failed(username: str, exc: VaultError) -> Response:
    if exc.status in (403, 404):
        raise exc
    flash(_message(exc))
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/roles")
@login_required
@fresh_auth_required(back="admin.user")
def change_roles(username: str) -> Response:
    form = RolesForm()
    form.roles.choices = _role_choices()
    if not form.validate_on_submit():
        flash(_("Choose at least one role."))
        return redirect(url_for("admin.user", username=username))
    try:
        with support.work() as ctx:
            accounts.change_roles(ctx, username, accounts.parse_roles(form.roles.data or []))
    except VaultError as exc:
        return _act_failed(username, exc)
    flash(_("The roles of %(user)s were changed.", user=username))
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/deactivate")
@login_required
@fresh_auth_required(back="admin.user")
def deactivate(username: str) -> Response:
    if ActForm().validate_on_submit():
        try:
            with support.work() as ctx:
                accounts.deactivate_user(ctx, username)
        except VaultError as exc:
            return _act_failed(username, exc)
        flash(_("%(user)s was deactivated: their sessions and tokens no longer work.",
                user=username))
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/password")
@login_required
@fresh_auth_required(back="admin.user")
def reset_password(username: str) -> Any:
    if not ActForm().validate_on_submit():
        return redirect(url_for("admin.user", username=username))
    try:
        with support.work() as ctx:
            # Not one's own password without the current one (that is /password).
            directory.require_admin(ctx, Action.USER_PASSWORD, object_type="user",
                                    object_id=username[:64])
            _user, generated = accounts.change_password(ctx, username, None)
    except VaultError as exc:
        return _act_failed(username, exc)
    return render_template("admin/password_once.html", username=username, password=generated,
                           created=False)


@bp.post("/users/<username>/second-factor/reset")
@login_required
@fresh_auth_required(back="admin.user")
def reset_second_factor(username: str) -> Response:
    if ActForm().validate_on_submit():
        try:
            with support.work() as ctx:
                totp.reset(ctx, username)
        except VaultError as exc:
            return _act_failed(username, exc)
        flash(_("The second factor of %(user)s was reset. They set it up again at their "
                "next sign-in where their roles require it.", user=username))
    return redirect(url_for("admin.user", username=username))
