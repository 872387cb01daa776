"""`vault review …`: the annual review (年度审核) of classified files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from vault.cli.app import App, pass_app
from vault.cli.output import echo_json
from vault.policy import marking


def _when(app: App, value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(app.settings.tz).isoformat(timespec="seconds")


@click.group()
def review() -> None:
    """The annual review (年度审核) of classified files.

    Every command acts as --as USER; the CLI runs on the server, by an operator who
    speaks for that person."""


@review.command("queue")
@click.option("--as", "as_user", required=True, help="The reviewer.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def review_queue(app: App, as_user: str, lang: str, as_json: bool) -> None:
    """Classified files you review that were not reviewed for 365 days."""
    from vault.services import annual_review as review_service

    with app.work(as_user) as ctx:
        found = review_service.queue_rows(ctx, lang)
    rows = [
        {"id": i.id, "title": i.title, "level": i.level, "marking": i.marking,
         "last_reviewed": _when(app, i.last_reviewed), "reviewed_before": i.reviewed_before,
         "company": i.company_code, "department": i.department_code, "as": i.reason,
         "may_change": i.may_reclassify, "may_declassify": i.may_declassify}
        for i in found
    ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        since = r["last_reviewed"] if r["reviewed_before"] else f"registered {r['last_reviewed']}"
        click.echo(f"{r['id']:>5}  [{r['marking']}]  {r['title']}  (last review: {since}; "
                   f"as {r['as']})")
    click.echo(f"{len(rows)} file(s) to review", err=True)


def _marking_after(ctx: Any, doc: Any) -> str:
    from vault.services import documents

    return marking(documents.effective_level(ctx, doc), documents.period_of(doc))


@review.command("confirm")
@click.argument("document", type=int)
@click.option("--note", help="Why the classification stays as it is.")
@click.option("--as", "as_user", required=True, help="The reviewer.")
@pass_app
def review_confirm(app: App, document: int, note: str | None, as_user: str) -> None:
    """Confirm DOCUMENT's level and period as they are."""
    from vault.services import annual_review as review_service

    with app.work(as_user) as ctx:
        doc = review_service.confirm(ctx, document, note)
        mark = _marking_after(ctx, doc)
    click.echo(f"document {document} reviewed: stays [{mark}]")


@review.command("change")
@click.argument("document", type=int)
@click.option("--level", help="The new level: top_secret, secret or confidential.")
@click.option("--period", help="The new period: 10y, 6m, 2030-06-30 or condition:TEXT.")
@click.option("--note", help="Why.")
@click.option("--as", "as_user", required=True, help="The reviewer (the approving office).")
@pass_app
def review_change(app: App, document: int, level: str | None, period: str | None,
                  note: str | None, as_user: str) -> None:
    """Change DOCUMENT's level and/or period as the outcome of its review."""
    from vault.services import annual_review as review_service
    from vault.services import documents

    new_level = documents.parse_level(level) if level else None
    new_period = documents.parse_period(period) if period else None
    with app.work(as_user) as ctx:
        doc = review_service.change(ctx, document, level=new_level, period=new_period, note=note)
        mark = _marking_after(ctx, doc)
    click.echo(f"document {document} reviewed: now [{mark}]")


@review.command("declassify")
@click.argument("document", type=int)
@click.option("--note", help="Why secrecy ends now.")
@click.option("--as", "as_user", required=True, help="The reviewer (the approving office).")
@pass_app
def review_declassify(app: App, document: int, note: str | None, as_user: str) -> None:
    """Declassify DOCUMENT as the outcome of its review."""
    from vault.services import annual_review as review_service

    with app.work(as_user) as ctx:
        review_service.declassify(ctx, document, note)
    click.echo(f"document {document} reviewed: declassified (internal)")
