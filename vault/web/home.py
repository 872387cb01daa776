"""The home page: what needs me."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required

from vault.services import copy_pages, document_pages, letters
from vault.web import support

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    lang = support.lang()
    with support.work() as ctx:
        needs = document_pages.home(ctx, lang)
        copy_home = copy_pages.home(ctx, lang)
        # Seal requests awaiting the person's step count among the pending decisions
        # and are listed, each linked to its letter (read models of services/letters).
        seals = tuple(letters.to_decide(ctx))
    return render_template("home.html", needs=needs, copy_home=copy_home, seals=seals)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/favicon.ico")
def favicon() -> Any:
    """Browsers ask for /favicon.ico on their own (pages link the SVG)."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
