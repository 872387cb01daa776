"""`vault import`, `ls`, `show`, `export`, `reclassify`, `declassify`: documents."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vault.cli.app import (
    App,
    parse_date,
    parse_when,
    pass_app,
)
from vault.cli.files import atomic_file
from vault.cli.output import echo_json, table
from vault.errors import InvalidInput, VaultError
from vault.policy import marking


@click.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--as", "as_user", required=True, help="The registrant.")
@click.option("--title", help="Title (default: the file name).")
@click.option("--category", required=True, help="Category id, e.g. contract, tenant_archive.")
@click.option("--level", help="top_secret, secret, confidential or internal (default: category's).")
@click.option("--period", help="10y, 6m, 90d, 2030-06-30 or condition:TEXT (default: by level).")
@click.option("--issued", help="Issue date YYYY-MM-DD (default: today).")
@click.option("--supervisor", help="Responsible supervisor (default: the registrant).")
@click.option("--department", help="Owning department code (default: the registrant's).")
@click.option("--tenant", help="Tenant code.")
@click.option("--no-content", is_flag=True, help="Register a paper original without a file.")
@pass_app
def import_(
    app: App, path: Path | None, as_user: str, title: str | None, category: str,
    level: str | None, period: str | None, issued: str | None, supervisor: str | None,
    department: str | None, tenant: str | None, no_content: bool,
) -> None:
    """Register a document (PATH: a file, or a folder to import every file in it)."""
    from vault.services import accounts, documents

    fields: dict[str, Any] = {
        "category": documents.parse_category(category),
        "level": documents.parse_level(level) if level else None,
        "period": documents.parse_period(period) if period else None,
        "issued_on": parse_date(issued, "--issued"),
        "department_code": department,
        "tenant_code": tenant,
    }

    def one(file: Path | None, doc_title: str) -> int:
        with app.work(as_user) as ctx:
            sup = accounts.user_named(ctx, supervisor) if supervisor else None
            if file is None:
                doc = documents.register(ctx, title=doc_title, supervisor=sup,
                                         paper_original=True, **fields)
            else:
                with open(file, "rb") as fh:
                    doc = documents.register(ctx, title=doc_title, supervisor=sup,
                                             content=fh, filename=file.name, **fields)
            return doc.id

    if no_content:
        if not title:
            raise InvalidInput("A paper original needs --title.", code="no_title")
        click.echo(one(None, title))
        return
    if path is None:
        raise InvalidInput("Give a file or folder to import, or --no-content.", code="no_path")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        if not files:
            raise InvalidInput(f"{path} holds no files.", code="empty_folder")
        failures = 0
        with click.progressbar(files, label="importing", file=sys.stderr) as bar:
            for file in bar:
                try:
                    new_id = one(file, f"{title}（{file.name}）" if title else file.stem)
                    click.echo(f"{new_id}\t{file.name}")
                except VaultError as exc:
                    failures += 1
                    click.echo(f"vault: {file.name}: {exc.message}", err=True)
        if failures:
            sys.exit(2)
        return
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file or folder.", code="no_such_file")
    click.echo(one(path, title or path.stem))


def _doc_row(row: Any) -> dict[str, Any]:
    """A document (document_pages.Row) as `vault ls` and `vault search` print it."""
    return {"id": row.id, "title": row.title, "category": row.category, "level": row.level,
            "issued_on": row.issued_on.isoformat(), "company": row.company_code,
            "department": row.department_code}


def document_query(text: str | None, category: str | None, level: str | None,
                   tenant: str | None, company: str | None, department: str | None,
                   issued_from: str | None, issued_to: str | None, page: int,
                   per_page: int) -> Any:
    """The documents query of `vault ls` and `vault search` from their shared options."""
    from vault.services import documents

    return documents.Query(
        text=text,
        category=documents.parse_category(category) if category else None,
        level=documents.parse_level(level) if level else None,
        tenant=tenant, company=company, department=department,
        issued_from=parse_date(issued_from, "--from"),
        issued_to=parse_date(issued_to, "--to"),
        page=page, per_page=per_page,
    )


@click.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--search", "text", help="Words in the title.")
@click.option("--category")
@click.option("--level")
@click.option("--tenant")
@click.option("--company")
@click.option("--department")
@click.option("--from", "issued_from", help="Issued on or after YYYY-MM-DD.")
@click.option("--to", "issued_to", help="Issued on or before YYYY-MM-DD.")
@click.option("--page", default=1, show_default=True, type=int)
@click.option("--per-page", default=100, show_default=True, type=int)
@pass_app
def ls(app: App, as_user: str, as_json: bool, text: str | None, category: str | None,
       level: str | None, tenant: str | None, company: str | None, department: str | None,
       issued_from: str | None, issued_to: str | None, page: int, per_page: int) -> None:
    """List the documents USER may know of."""
    from vault.services import document_pages, documents

    query = document_query(text, category, level, tenant, company, department,
                           issued_from, issued_to, page, per_page)
    query.count_cap = documents.COUNT_CAP  # "1000+": a million files are not counted
    with app.work(as_user) as ctx:
        result = document_pages.listing(ctx, query, "zh")
    rows = [_doc_row(r) for r in result.rows]
    if as_json:
        echo_json(rows)
        return
    table(["id", "level", "category", "title"],
          [(r["id"], r["level"], r["category"], r["title"]) for r in rows], right=[0])
    more = "+" if result.total_capped else ""
    click.echo(f"{result.total}{more} document(s)", err=True)


@click.command("show")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_app
def show(app: App, document: int, as_user: str, as_json: bool, lang: str) -> None:
    """Metadata of DOCUMENT: marking, effective level, declassification, who may view."""
    from vault.services import documents

    with app.work(as_user) as ctx:
        info = documents.show(ctx, document, lang)
    if as_json:
        echo_json(info)
        return
    click.echo(f"[{info['marking']}]  {info['title']}")
    for key in ("id", "category", "level", "effective_level", "period", "issued_on",
                "declassify_at", "company", "department", "supervisor", "registrant", "tenant"):
        click.echo(f"  {key:<16} {info[key] if info[key] is not None else '—'}")
    for v in info["versions"]:
        click.echo(f"  version {v['number']}: {v['name']} ({v['media_type']}, {v['size']} bytes)")
    may = info["may_view"]
    if isinstance(may, str):
        click.echo(f"  may view: {may}")
    else:
        click.echo("  may view: " + ", ".join(f"{m['user']} ({m['reason']})" for m in may))
    for g in info["grants"]:
        if g["revoked"]:
            continue
        tags = [t for t, on in (("by registration", g["basis"] == "registration"),
                                (f"HQ: {g['hq_confirmed_by']}", g["hq_confirmed_by"]))
                if on]
        extra = f" [{', '.join(tags)}]" if tags else ""
        click.echo(f"  designation: {g['grantee']} by {g['grantor']} at {g['level']}{extra}")


@click.command("export")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--version", "version", type=int)
@pass_app
def export(app: App, document: int, as_user: str, out: Path, version: int | None) -> None:
    """Write DOCUMENT's content to OUT (internal files; classified ones need an approved copy)."""
    from vault.actions import Action
    from vault.services import documents

    if out.exists():
        raise InvalidInput(f"{out} exists already; choose another path.", code="out_exists")
    with app.work(as_user) as ctx:
        content = documents.open_content(ctx, document, version, Action.DOCUMENT_EXPORT)
    with atomic_file(out) as fh:
        for chunk in content.chunks:
            fh.write(chunk)
    click.echo(f"wrote {out} ({content.version.size} bytes)")


@click.command("reclassify")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True, help="Who decides (the approving office).")
@click.option("--level", help="New level.")
@click.option("--period", help="New period: 10y, 6m, 90d, 2030-06-30 or condition:TEXT.")
@click.option("--note", help="Why (kept in the classification history).")
@pass_app
def reclassify(app: App, document: int, as_user: str, level: str | None, period: str | None,
               note: str | None) -> None:
    """Change DOCUMENT's level and/or period directly (recorded in its history)."""
    from vault.services import documents

    if level is None and period is None:
        raise InvalidInput("Give --level, --period or both.", code="no_change")
    new_level = documents.parse_level(level) if level else None
    new_period = documents.parse_period(period) if period else None
    with app.work(as_user) as ctx:
        doc = documents.change_classification(ctx, document, level=new_level,
                                              period=new_period, note=note)
        mark = marking(documents.effective_level(ctx, doc), documents.period_of(doc))
    click.echo(f"document {document} is now [{mark}]")


@click.command("declassify")
@click.option("--as-of", "as_of", help="Date-time to declassify as of (default: now).")
@click.option("--dry-run", is_flag=True, help="List what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def declassify_cmd(app: App, as_of: str | None, dry_run: bool, as_json: bool) -> None:
    """Materialise every secrecy period that has ended (自行解密); idempotent."""
    from vault.services import declassify

    when = parse_when(as_of, app.settings) or app.now()
    with app.work(None) as ctx:
        changed = declassify.run(ctx, when, dry_run=dry_run)
    if as_json:
        echo_json(changed)
        return
    verb = "would declassify" if dry_run else "declassified"
    for item in changed:
        click.echo(f"{verb} {item.document_id} 《{item.title}》 {item.old_level} "
                   f"(period {item.period} ended {item.ended_at.astimezone(app.settings.tz)})")
    click.echo(f"{len(changed)} document(s) {verb}")
