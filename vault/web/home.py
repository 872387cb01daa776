"""The home page: what needs me."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from vault.services import document_pages
from vault.web import support

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    lang = "en" if support.select_locale() == "en" else "zh"
    with support.work() as ctx:
        needs = document_pages.home(ctx, lang)
    return render_template("home.html", needs=needs)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
