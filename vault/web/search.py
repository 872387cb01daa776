"""One search box over title and content (`/search`), the results with snippets and
facets. The form is POSTed (with its CSRF token): the words someone looks for stay
out of URLs, browser history and request logs. The service decides scope, ranking
and who gets snippets; this view parses the form and renders.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput, VaultError
from vault.policy import Category, Level
from vault.services import documents, watch
from vault.services import search as search_service
from vault.web import forms, support

bp = Blueprint("search", __name__, url_prefix="/search")
support.NAV.append(("search.index", lambda: lazy_gettext("Search"), None))

PER_PAGE = 20

ERRORS: dict[str, Any] = {
    "empty_query": lazy_gettext("Type words, numbers or Chinese characters to search for."),
    "query_too_long": lazy_gettext("A search is at most 200 characters (32 words or "
                                   "character pairs)."),
    "bad_page": lazy_gettext("No such page of results."),
}


def _date(value: str | None) -> Any:
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("bad date", code="bad_date") from None


@bp.get("")
@login_required
def index() -> Any:
    return render_template("search/index.html", form={}, found=None, errors=[])


@bp.post("")
@login_required
def results() -> Any:
    form = forms.posted(forms.SearchForm)
    errors: list[str] = []
    query = documents.Query(per_page=PER_PAGE)
    query.text = forms.text(form.q, 400)
    category, level = forms.text(form.category), forms.text(form.level)
    if category in {c.value for c in Category}:
        query.category = Category(category)
    if level in {lv.value for lv in Level}:
        query.level = Level(level)
    query.tenant = forms.text(form.tenant).strip()[:32] or None
    query.company = forms.text(form.company).strip()[:32] or None
    query.department = forms.text(form.department).strip()[:32] or None
    try:
        query.issued_from = _date(forms.text(form.issued_from))
        query.issued_to = _date(forms.text(form.issued_to))
    except InvalidInput:
        errors.append(_("Dates are written YYYY-MM-DD."))
    page = forms.text(form.page, default="1")
    query.page = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    found = None
    if not errors:
        try:
            with support.work() as ctx:
                found = search_service.search(ctx, query, support.lang())
        except VaultError as exc:
            if exc.code not in ERRORS:
                raise
            errors.append(str(ERRORS[exc.code]))
    return render_template("search/index.html", form=request.form, found=found, errors=errors)


@bp.get("/imports")
@login_required
def imports() -> Any:
    """Recent imports from watched folders (`vault watch`): the reader's own and those
    of files in their scope."""
    with support.work() as ctx:
        rows = watch.recent(ctx)
    return render_template("search/imports.html", rows=rows)
