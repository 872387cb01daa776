"""A scanner's folder (`vault watch DIR --as USER --category …`): every file dropped
there is registered as USER (encrypted on the way in, audited as a registration
from source ``watch``), its text extracted and indexed (OCR included), and the
original removed once the registration has committed (``keep`` leaves it; it is
then remembered by name and size and not imported twice).

A file is taken only once it has stopped changing for ``settle`` seconds (a
scanner still writing it is left for the next scan). A file Vault refuses (wrong
type, empty, too large) is moved to ``DIR/refused/`` and recorded with the
reason, so it is not tried again; the refusal is audited too. Hidden files and
folders are ignored.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from vault import policy
from vault.actions import Action, Outcome
from vault.errors import InvalidInput, VaultError
from vault.models import Document, WatchImport
from vault.policy import Category, Level
from vault.services import accounts, documents
from vault.services.context import Ctx, Infra, unit_of_work

REFUSED_DIR = "refused"


@dataclass(frozen=True)
class Imported:
    filename: str
    document_id: int | None
    outcome: str  # imported, refused
    error: str | None = None


@dataclass(frozen=True)
class Options:
    category: Category
    level: Level | None = None
    tenant_code: str | None = None
    department_code: str | None = None
    keep: bool = False
    settle: float = 2.0


def folder_key(folder: Path) -> str:
    return str(folder.resolve())[-500:]


def _ready(folder: Path, settle: float, now: float) -> list[Path]:
    files = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        if st.st_size == 0 and now - st.st_mtime < max(settle, 10.0):
            continue  # just created, nothing written yet
        if now - st.st_mtime < settle:
            continue
        files.append(entry)
    return files


def _already(infra: Infra, key: str, path: Path) -> bool:
    with infra.sessions() as session:
        return session.scalar(
            select(WatchImport.id).where(
                WatchImport.folder == key, WatchImport.filename == path.name[:255],
                WatchImport.size == path.stat().st_size, WatchImport.outcome == "imported")
            .limit(1)
        ) is not None


def scan(infra: Infra, folder: Path, actor: str, options: Options,
         now: datetime | None = None) -> list[Imported]:
    """Import what is ready in ``folder`` once; returns what happened to each file."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder.", code="not_a_folder")
    key = folder_key(folder)
    out: list[Imported] = []
    for path in _ready(folder, options.settle, time.time()):
        if options.keep and _already(infra, key, path):
            continue
        out.append(_one(infra, key, folder, path, actor, options, now))
    return out


def _one(infra: Infra, key: str, folder: Path, path: Path, actor: str, options: Options,
         now: datetime | None) -> Imported:
    size = path.stat().st_size
    try:
        with unit_of_work(infra, actor, now or datetime.now(UTC), source="watch") as ctx:
            with open(path, "rb") as fh:
                doc = documents.register(
                    ctx, title=path.stem[:500] or path.name, category=options.category,
                    level=options.level, tenant_code=options.tenant_code,
                    department_code=options.department_code, content=fh, filename=path.name,
                )
            assert ctx.actor is not None
            ctx.session.add(WatchImport(folder=key, filename=path.name[:255], size=size,
                                        actor_id=ctx.actor.id, document_id=doc.id,
                                        outcome="imported", at=ctx.now))
            doc_id = doc.id
    except VaultError as exc:
        if exc.code in ("unknown_user", "inactive_user", "audit_unavailable"):
            raise  # the watcher itself is misconfigured: stop, do not move files
        _refused(infra, key, folder, path, actor, size, exc, now)
        return Imported(path.name, None, "refused", exc.code)
    if not options.keep:
        path.unlink(missing_ok=True)
    return Imported(path.name, doc_id, "imported")


def _refused(infra: Infra, key: str, folder: Path, path: Path, actor: str, size: int,
             exc: VaultError, now: datetime | None) -> None:
    target = folder / REFUSED_DIR
    target.mkdir(mode=0o700, exist_ok=True)
    os.replace(path, target / path.name)
    with unit_of_work(infra, actor, now or datetime.now(UTC), source="watch") as ctx:
        assert ctx.actor is not None
        ctx.session.add(WatchImport(folder=key, filename=path.name[:255], size=size,
                                    actor_id=ctx.actor.id, outcome="refused",
                                    error=exc.code[:300], at=ctx.now))
        ctx.record(Action.DOCUMENT_REGISTER, Outcome.DENIED, object_type="document",
                   reason=exc.code, detail={"via": "watch"})


@dataclass(frozen=True)
class ImportRow:
    at: datetime
    folder: str
    filename: str
    outcome: str
    error: str | None
    document_id: int | None
    title: str | None
    by: str


def recent(ctx: Ctx, limit: int = 50) -> list[ImportRow]:
    """Recent imports the reader may know of: their own, and files in their scope."""
    subject = ctx.subject
    stmt = (
        select(WatchImport, Document)
        .outerjoin(Document, Document.id == WatchImport.document_id)
        .order_by(WatchImport.at.desc(), WatchImport.id.desc())
        .limit(limit * 4)
    )
    rows: list[ImportRow] = []
    for imp, doc in ctx.session.execute(stmt):
        mine = imp.actor_id == subject.user_id
        known = doc is not None and policy.can_see_metadata(
            subject, documents.facts(doc, ctx.settings.tz), ctx.now).allowed
        if not (mine or known):
            continue
        rows.append(ImportRow(imp.at, imp.folder, imp.filename, imp.outcome, imp.error,
                              doc.id if known and doc else None,
                              doc.title if known and doc else None, imp.actor.username))
        if len(rows) >= limit:
            break
    ctx.record(Action.DOCUMENT_SEARCH, object_type="watch_imports", reason="recent_imports",
               detail={"rows": len(rows)})
    return rows


def check_actor(infra: Infra, actor: str) -> None:
    """Refuse to start for an unknown or deactivated person."""
    with infra.sessions() as session:
        user = accounts.get_user(session, actor)
        if not user.active:
            raise InvalidInput(f"{actor} is deactivated.", code="inactive_user")
