"""What the leak-report pages show: read models built in one unit of work.

Plain values for the views to render after the commit (as `document_pages.py`);
`vault.services.leaks` decides and audits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vault import policy
from vault.models import Document
from vault.services import documents, leaks
from vault.services.context import Ctx


@dataclass(frozen=True)
class Pick:
    id: int
    title: str
    level: str


@dataclass(frozen=True)
class Picker:
    """The report form's document picker: what the person searched for (in their
    scope only) and the document chosen, if they may know of it."""

    query: str
    found: tuple[Pick, ...]
    picked: Pick | None


def picker(ctx: Ctx, query: str, chosen: int | None, limit: int) -> Picker:
    found: tuple[Pick, ...] = ()
    if query:
        page = documents.search(ctx, documents.Query(text=query, per_page=limit))
        found = tuple(Pick(d.id, d.title, page.levels[d.id].value) for d in page.items)
    picked = None
    if chosen is not None:
        doc = ctx.session.get(Document, chosen)
        if doc is not None and policy.can_see_metadata(
                ctx.subject, documents.facts(doc, ctx.settings.tz), ctx.now).allowed:
            picked = Pick(doc.id, doc.title, documents.effective_level(ctx, doc).value)
    return Picker(query, found, picked)


@dataclass(frozen=True)
class Listing:
    #: Whether the reader sees every report in full (investigators) or their own.
    full: bool
    rows: tuple[dict[str, Any], ...]


def listing(ctx: Ctx, open_only: bool, limit: int = 500) -> Listing:
    """The leak reports the actor may list (web, API and CLI render this one read)."""
    full = policy.can_investigate_leaks(ctx.subject).allowed
    return Listing(full, tuple(leaks.summary(x, ctx.now, full) for x in
                               leaks.list_reports(ctx, open_only=open_only, limit=limit)))


@dataclass(frozen=True)
class Marking:
    level: str
    text: str


@dataclass(frozen=True)
class ReportPage:
    info: dict[str, Any]
    now: datetime
    may_handle: bool
    #: The reported file's marking, for investigators (None otherwise or without a file).
    marking: Marking | None


def report_page(ctx: Ctx, leak_id: int) -> ReportPage:
    view = leaks.show(ctx, leak_id)
    marking = None
    if view.full and view.report.document is not None:
        marking = Marking(documents.effective_level(ctx, view.report.document).value,
                          (view.live or {}).get("document", {}).get("marking", ""))
    return ReportPage(view.describe(ctx.now), ctx.now, view.may_handle, marking)
