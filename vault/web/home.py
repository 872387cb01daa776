"""The home page: what needs me."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    return render_template("home.html")


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
