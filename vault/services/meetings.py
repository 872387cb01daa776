"""Tenant meetings (租户大会): the minutes are a document of category
``tenant_meeting_minutes`` (internal by default: the regulation's 通知/行政 are not
secret), issued on the meeting day; the tenants present are recorded against it.

Who records the tenants present: those responsible for the minutes
(`policy.can_address_notice`: registrant, responsible supervisor, owning
department's manager, HQ executives). Who reads the list: whoever may know the
minutes exist. Audited ``meeting:attendance`` / ``document:view_metadata``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Forbidden, InvalidInput, NotFound
from vault.models import Document, MeetingAttendee, Tenant
from vault.policy import Category
from vault.services import accounts, documents
from vault.services.context import Ctx
from vault.services.tenants import MOVED_OUT

MAX_ATTENDEES = 500


@dataclass(frozen=True)
class Meeting:
    document_id: int
    title: str
    meeting_on: date
    level: str
    attendees: tuple[tuple[str, str], ...]  # (tenant code, name)
    may_record: bool = False  # the actor may record who was present
    candidates: tuple[tuple[str, str], ...] = ()  # tenants who may be marked present


def _minutes(ctx: Ctx, doc_id: int, action: Action) -> Document:
    doc = documents.load(ctx, doc_id, action)
    if doc.category != Category.TENANT_MEETING_MINUTES.value:
        raise ctx.refuse(NotFound(f"Document {doc_id} is not the minutes of a tenant meeting.",
                                  code="not_meeting_minutes"),
                         action, object_type="document", object_id=str(doc_id))
    return doc


def _meeting(ctx: Ctx, doc: Document) -> Meeting:
    rows = ctx.session.scalars(select(MeetingAttendee).where(
        MeetingAttendee.document_id == doc.id).order_by(MeetingAttendee.id)).all()
    may_record = policy.can_address_notice(
        ctx.subject, documents.facts(doc, ctx.settings.tz), ctx.now).allowed
    present = {r.tenant_id for r in rows}
    candidates: tuple[tuple[str, str], ...] = ()
    if may_record:
        tenants = ctx.session.scalars(select(Tenant).order_by(Tenant.code))
        candidates = tuple((t.code, t.name) for t in tenants
                           if t.id in present or (t.status != MOVED_OUT
                                                  and t.company_id in (None, doc.company_id)))
    return Meeting(doc.id, doc.title, doc.issued_on, documents.effective_level(ctx, doc).value,
                   tuple((r.tenant.code, r.tenant.name) for r in rows), may_record, candidates)


def set_attendees(ctx: Ctx, doc_id: int, tenant_codes: list[str]) -> Meeting:
    """Make ``tenant_codes`` the tenants present (tenants of the minutes' company)."""
    action = Action.MEETING_ATTENDANCE
    doc = _minutes(ctx, doc_id, action)
    decision = policy.can_address_notice(ctx.subject, documents.facts(doc, ctx.settings.tz),
                                         ctx.now)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("The tenants present are recorded by those responsible for "
                                   "the minutes.", code=decision.reason.value),
                         action, object_type="document", object_id=str(doc.id),
                         reason=decision.reason.value)
    codes = list(dict.fromkeys(c.strip() for c in tenant_codes if isinstance(c, str)
                               and c.strip()))
    if len(codes) > MAX_ATTENDEES:
        raise InvalidInput(f"At most {MAX_ATTENDEES} tenants.", code="too_many_attendees")
    wanted: dict[int, Tenant] = {}
    for code in codes:
        tenant = (ctx.session.scalar(select(Tenant).where(Tenant.code == code))
                  if accounts.CODE_RE.match(code) else None)
        if tenant is None or tenant.company_id not in (None, doc.company_id):
            raise InvalidInput(f"No such tenant of this company: {code[:32]}.",
                               code="unknown_tenant")
        wanted[tenant.id] = tenant
    current = {r.tenant_id: r for r in ctx.session.scalars(select(MeetingAttendee).where(
        MeetingAttendee.document_id == doc.id))}
    for tid, row in current.items():
        if tid not in wanted:
            ctx.session.delete(row)
    assert ctx.actor is not None
    for tid in wanted:
        if tid not in current:
            ctx.session.add(MeetingAttendee(document_id=doc.id, tenant_id=tid,
                                            added_by_id=ctx.actor.id, added_at=ctx.now))
    ctx.session.flush()
    ctx.record(action, object_type="document", object_id=str(doc.id),
               level=documents.effective_level(ctx, doc).value, reason=decision.reason.value,
               detail={"present": [t.code for t in wanted.values()]})
    return _meeting(ctx, doc)


def show(ctx: Ctx, doc_id: int) -> Meeting:
    doc = _minutes(ctx, doc_id, Action.DOCUMENT_VIEW_METADATA)
    meeting = _meeting(ctx, doc)
    ctx.record(Action.DOCUMENT_VIEW_METADATA, object_type="document", object_id=str(doc.id),
               level=meeting.level, reason="metadata", detail={"part": "meeting_attendees"})
    return meeting
