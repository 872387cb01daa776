"""`vault search` (title and content, in the person's scope) and `vault index …`
(the extraction queue and rebuilds)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from vault.cli.app import App, pass_app
from vault.cli.documents import document_query
from vault.cli.output import echo_json


def _pieces(snippet: Any) -> str:
    return "".join(click.style(p.text, bold=True, underline=True) if p.hit else p.text
                   for p in snippet)


@click.command("search")
@click.argument("text")
@click.option("--as", "as_user", required=True, help="Who searches (their scope applies).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--category")
@click.option("--level", help="The effective level: top_secret, secret, confidential, internal.")
@click.option("--tenant")
@click.option("--company")
@click.option("--department")
@click.option("--from", "issued_from", help="Issued on or after YYYY-MM-DD.")
@click.option("--to", "issued_to", help="Issued on or before YYYY-MM-DD.")
@click.option("--page", default=1, show_default=True, type=int)
@click.option("--per-page", default=20, show_default=True, type=int)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_app
def search(app: App, text: str, as_user: str, as_json: bool, category: str | None,
           level: str | None, tenant: str | None, company: str | None, department: str | None,
           issued_from: str | None, issued_to: str | None, page: int, per_page: int,
           lang: str) -> None:
    """Find documents by title and content among those USER may know of; snippets
    only from files USER may view (each audited as a view)."""
    from vault.services import search as search_service

    query = document_query(text, category, level, tenant, company, department,
                           issued_from, issued_to, page, per_page)
    with app.work(as_user) as ctx:
        found = search_service.search(ctx, query, lang)
    if as_json:
        echo_json(search_service.as_dict(found))
        return
    for hit in found.hits:
        click.echo(f"{hit.id:>6}  [{hit.marking}]  {hit.title}  ({hit.score:.2f})")
        if hit.snippet:
            click.echo(f"        {_pieces(hit.snippet)}")
    note = f"; {found.unindexed} file(s) still being indexed" if found.unindexed else ""
    more = "+" if found.total_capped else ""  # "2000+": the newest 2000 ranked, as `vault ls`
    click.echo(f"{found.total}{more} document(s){note}", err=True)


@click.group("index")
def index() -> None:
    """The content index: extraction queue, rebuilds."""


@index.command("rebuild")
@click.option("--document", type=int, help="Only this document.")
@click.option("--no-ocr", is_flag=True, help="Skip OCR (text layers and text files only).")
@pass_app
def index_rebuild(app: App, document: int | None, no_ocr: bool) -> None:
    """Re-extract and re-index every document (or one), with a progress bar."""
    from vault.errors import NotFound
    from vault.services import search_index

    infra = app.infra
    queued = search_index.enqueue_all(infra, document)
    if document is not None and not queued:
        raise NotFound(f"No document {document}.", code="unknown_document")
    total = search_index.queued(infra)
    counts = {"done": 0, "failed": 0, "superseded": 0}
    with click.progressbar(length=total, label="indexing", file=sys.stderr) as bar:
        def done(outcome: Any) -> None:
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
            bar.update(1)

        search_index.work(infra, on_done=done, ocr=not no_ocr)
    click.echo(f"indexed {counts['done']}, failed {counts['failed']}")
    if counts["failed"]:
        sys.exit(1)


@index.command("work")
@click.option("--follow", is_flag=True, help="Keep polling the queue until stopped.")
@click.option("--poll", default=2.0, show_default=True, type=float, help="Seconds between polls.")
@click.option("--max-docs", type=int, help="Stop after this many documents.")
@click.option("-q", "--quiet", is_flag=True)
@pass_app
def index_work(app: App, follow: bool, poll: float, max_docs: int | None, quiet: bool) -> None:
    """Extract and index what is queued (new files and versions), then stop — or,
    with --follow, wait for more (`make run` starts one)."""
    from vault.services import search_index

    infra = app.infra

    def show(outcome: Any) -> None:
        if not quiet or outcome.state == "failed":
            click.echo(f"document {outcome.document_id}: {outcome.state} ({outcome.method})",
                       err=outcome.state == "failed")

    parent = os.getppid()
    while True:
        search_index.work(infra, on_done=show, max_docs=max_docs)
        # Following ends with whoever started it (`make run`'s shell), even if killed.
        if not follow or os.getppid() != parent:
            return
        time.sleep(max(0.2, poll))


@index.command("status")
@click.option("--document", type=int, help="One document's extraction state.")
@pass_app
def index_status(app: App, document: int | None) -> None:
    """How many documents wait for extraction (or one document's state)."""
    from vault.services import search_index

    infra = app.infra
    if document is None:
        click.echo(f"queued: {search_index.queued(infra)}")
        return
    st = search_index.status_of(infra, document)
    click.echo(f"document {document}: {st.state} version {st.version} method {st.method or '—'} "
               f"pages {st.pages_done}/{st.pages_total}"
               + (f" error: {st.error}" if st.error else ""))
