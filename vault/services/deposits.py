"""《租户临时物品寄存记录表》: items tenants leave at the front desk — what, whose,
received by whom and when, collected by whom and when; open items are those not
yet collected. The company's employees keep it (`policy.can_keep_deposits`);
those who may know the tenant read it. Every read and change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Deposit
from vault.services import requests, tenants
from vault.services.context import Ctx

MAX_ITEM = 200
MAX_NAME = 200
MAX_NOTE = 2000


@dataclass(frozen=True)
class DepositInfo:
    id: int
    company: str
    tenant_code: str
    tenant_name: str
    item: str
    received_at: datetime
    received_by: str
    received_by_name: str
    collected_at: datetime | None
    collected_by: str | None
    handed_out_by: str | None
    note: str | None


def _info(d: Deposit) -> DepositInfo:
    return DepositInfo(
        id=d.id, company=d.company.code, tenant_code=d.tenant.code, tenant_name=d.tenant.name,
        item=d.item, received_at=d.received_at, received_by=d.received_by.username,
        received_by_name=d.received_by.name, collected_at=d.collected_at,
        collected_by=d.collected_by,
        handed_out_by=d.handed_out_by.username if d.handed_out_by else None, note=d.note,
    )


def _moment(ctx: Ctx, value: datetime | None) -> datetime:
    if value is None:
        return ctx.now
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("The time needs its UTC offset.", code="bad_time")
    at = value.astimezone(UTC)
    if at > ctx.now + timedelta(minutes=5) or at.year < 2000:
        raise InvalidInput("The time lies in the future or before 2000.", code="bad_time")
    return at


def receive(ctx: Ctx, tenant_code: str, item: str, note: str | None = None,
            received_at: datetime | None = None) -> Deposit:
    tenant = tenants.get_tenant(ctx, tenant_code, Action.DEPOSIT_RECEIVE)
    company_id = tenant.company_id
    decision = (policy.can_keep_deposits(ctx.subject, company_id) if company_id is not None
                else policy.Decision(False, policy.Reason.NOT_TENANT_KEEPER))
    if not decision.allowed or company_id is None:
        raise ctx.refuse(Forbidden("The company's own staff keep its deposit register.",
                                   code="not_deposit_keeper"),
                         Action.DEPOSIT_RECEIVE, object_type="tenant", object_id=tenant.code,
                         reason=decision.reason.value)
    what = requests._text(item, "item", "item", MAX_ITEM, True)
    assert what is not None and ctx.actor is not None
    row = Deposit(company_id=company_id, tenant_id=tenant.id, item=what,
                  received_at=_moment(ctx, received_at), received_by_id=ctx.actor.id,
                  note=requests._text(note, "note", "note", MAX_NOTE, False))
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(Action.DEPOSIT_RECEIVE, object_type="deposit", object_id=str(row.id),
               reason=decision.reason.value, detail={"tenant": tenant.code, "item": what})
    return row


def _load(ctx: Ctx, deposit_id: int, action: Action) -> Deposit:
    row = ctx.session.get(Deposit, deposit_id) if 0 < deposit_id < 2**31 else None
    if row is None or not policy.can_read_tenants(ctx.subject, row.company_id).allowed:
        raise ctx.refuse(NotFound(f"No deposit {deposit_id}.", code="unknown_deposit"),
                         action, object_type="deposit", object_id=str(deposit_id),
                         reason="unknown_deposit")
    return row


def collect(ctx: Ctx, deposit_id: int, collected_by: str,
            collected_at: datetime | None = None) -> Deposit:
    row = _load(ctx, deposit_id, Action.DEPOSIT_COLLECT)
    decision = policy.can_keep_deposits(ctx.subject, row.company_id)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("The company's own staff keep its deposit register.",
                                   code="not_deposit_keeper"),
                         Action.DEPOSIT_COLLECT, object_type="deposit", object_id=str(row.id),
                         reason=decision.reason.value)
    if row.collected_at is not None:
        raise ctx.refuse(Conflict("This item was collected already.", code="already_collected"),
                         Action.DEPOSIT_COLLECT, object_type="deposit", object_id=str(row.id))
    who = requests._text(collected_by, "name of who collected it", "collected_by",
                         MAX_NAME, True)
    at = _moment(ctx, collected_at)
    if at < row.received_at:
        raise InvalidInput("Collected before it was received.", code="bad_time")
    assert ctx.actor is not None
    row.collected_at = at
    row.collected_by = who
    row.handed_out_by_id = ctx.actor.id
    ctx.session.flush()
    ctx.record(Action.DEPOSIT_COLLECT, object_type="deposit", object_id=str(row.id),
               reason=decision.reason.value, detail={"collected_by": who})
    return row


def describe(ctx: Ctx, row: Deposit) -> DepositInfo:
    ctx.session.refresh(row)
    return _info(row)


def register(ctx: Ctx, open_only: bool = False, tenant_code: str | None = None,
             limit: int = 500) -> list[DepositInfo]:
    """The register lines the actor may read, newest first (``open_only``: not yet
    collected)."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be 1–1000.", code="bad_limit")
    stmt = select(Deposit).order_by(Deposit.received_at.desc(), Deposit.id.desc())
    if open_only:
        stmt = stmt.where(Deposit.collected_at.is_(None))
    if tenant_code:
        tenant = tenants.get_tenant(ctx, tenant_code, Action.DEPOSIT_VIEW)
        stmt = stmt.where(Deposit.tenant_id == tenant.id)
    out = [_info(d) for d in ctx.session.scalars(stmt)
           if policy.can_read_tenants(ctx.subject, d.company_id).allowed][:limit]
    ctx.record(Action.DEPOSIT_VIEW, object_type="deposit", object_id=None, reason="register",
               detail={"open_only": open_only, "found": len(out)})
    return out
