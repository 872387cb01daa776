"""Grants and designations (知悉范围): who besides the defaults may view a file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Grant
from vault.policy import Level
from vault.services import accounts, documents
from vault.services.context import Ctx


def _authorise(ctx: Ctx, doc_id: int, action: Action) -> tuple[object, policy.Level]:
    doc = documents.load(ctx, doc_id, action)
    doc_facts = documents.facts(doc, ctx.settings.tz)
    level = policy.effective_level(doc_facts, ctx.now)
    decision = policy.can_grant(ctx.subject, doc_facts, ctx.now)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden(f"You may not grant or revoke access to this file ({decision.reason.value}).",
                      code=decision.reason.value),
            action, object_type="document", object_id=str(doc_id), level=level.value,
        )
    return doc, level


def grant(ctx: Ctx, doc_id: int, grantee_username: str, until: datetime | None = None) -> Grant:
    """Grant (秘密) or designate (机密, 绝密) ``grantee`` at the file's current level.

    An HQ executive's designation holds at every level; an HQ executive granting a
    person who holds a designation already (the registrant's "by registration", or a
    supervisor's) confirms it instead. A grant made at a lower level that no longer
    counts (the file was raised) gives way to a new one."""
    doc, level = _authorise(ctx, doc_id, Action.GRANT_CREATE)
    grantee = accounts.get_user(ctx.session, grantee_username)
    if not grantee.active:
        raise InvalidInput(f"{grantee.username} is deactivated.", code="inactive_user")
    if until is not None and until <= ctx.now:
        raise InvalidInput("The end of a grant must be in the future.", code="until_in_past")
    existing = [g for g in ctx.session.scalars(
        select(Grant).where(
            Grant.document_id == doc_id,
            Grant.grantee_id == grantee.id,
            Grant.revoked_at.is_(None),
        )
    ).all() if g.until is None or g.until > ctx.now]
    assert ctx.actor is not None
    by_hq = ctx.subject.is_hq_executive
    # A designation that still counts at the file's level: an HQ executive confirms it
    # (it then holds at every level, 绝密 included); anyone else finds it exists.
    counting = [g for g in existing
                if Level(g.level).rank >= level.rank or g.hq_confirmed_by_id is not None]
    if counting:
        unconfirmed = [g for g in counting if g.hq_confirmed_by_id is None]
        if not by_hq or not unconfirmed:
            raise Conflict(f"{grantee.username} already has a grant on this file.",
                           code="grant_exists")
        for g in unconfirmed:
            g.hq_confirmed_by_id, g.hq_confirmed_at = ctx.actor.id, ctx.now
        ctx.session.flush()
        ctx.session.expire(doc, ["grants"])
        ctx.record(Action.GRANT_CREATE, object_type="document", object_id=str(doc_id),
                   level=level.value, reason="confirmed",
                   detail={"grantee": grantee.username, "basis": unconfirmed[0].basis})
        return unconfirmed[0]
    row = Grant(document_id=doc_id, grantee_id=grantee.id, grantor_id=ctx.actor.id,
                level=level.value, created_at=ctx.now, until=until,
                hq_confirmed_by_id=ctx.actor.id if by_hq else None,
                hq_confirmed_at=ctx.now if by_hq else None)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.session.expire(doc, ["grants"])
    ctx.record(Action.GRANT_CREATE, object_type="document", object_id=str(doc_id),
               level=level.value, reason="granted",
               detail={"grantee": grantee.username,
                       "until": until.isoformat() if until else None})
    return row


def revoke(ctx: Ctx, doc_id: int, grantee_username: str) -> int:
    """Revoke every active grant of ``grantee`` on the file at once."""
    doc, level = _authorise(ctx, doc_id, Action.GRANT_REVOKE)
    grantee = accounts.get_user(ctx.session, grantee_username)
    rows = ctx.session.scalars(
        select(Grant).where(
            Grant.document_id == doc_id,
            Grant.grantee_id == grantee.id,
            Grant.revoked_at.is_(None),
        )
    ).all()
    if not rows:
        raise NotFound(f"{grantee.username} has no grant on this file.", code="no_grant")
    assert ctx.actor is not None
    for row in rows:
        row.revoked_at = ctx.now
        row.revoked_by_id = ctx.actor.id
    ctx.session.expire(doc, ["grants"])
    ctx.record(Action.GRANT_REVOKE, object_type="document", object_id=str(doc_id),
               level=level.value, reason="revoked", detail={"grantee": grantee.username})
    return len(rows)
