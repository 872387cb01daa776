"""Pictures where people would rather look (issue 16): the compliance dashboard and
the executives' overview, as frozen read models of counts aggregated in SQL.

- `compliance_dashboard` (compliance officers, `policy.can_review_audit`): events
  per day by outcome, denied attempts by action, copies issued per day, and files
  reaching the end of their secrecy period week by week (with the next few named).
- `executive_overview` (HQ executives, `policy.can_read_overview`): pending
  approvals by kind and how long they have waited, and by company; leak reports
  per week, the open ones and those past their 24-hour deadline.

Days and weeks are the group's local days (`Settings.tz`). Every bucket is a CASE
over precomputed UTC boundaries, so SQLite and PostgreSQL count the same way and
only the counts leave the database. Reading either page is audited; a refusal too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from vault import policy
from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.errors import Forbidden
from vault.models import Company, CopyRequest, Document, LeakReport, RegisteredCopy
from vault.policy import Level
from vault.services.context import Ctx

DAYS = 30  # the dashboard's window, local days up to today
DECLASSIFY_WEEKS = 13  # a quarter ahead
LEAK_WEEKS = 12
NEXT_FILES = 8  # files nearing declassification named on the dashboard
TOP_DENIED = 8
AGE_BUCKETS = ("under_1_day", "1_to_3_days", "3_to_7_days", "over_7_days")
_AGE_LIMITS = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
LEVELS = (Level.TOP_SECRET.value, Level.SECRET.value, Level.CONFIDENTIAL.value)
OUTCOMES = tuple(o.value for o in Outcome)
LEAK_STATES = ("open", "handled")


@dataclass(frozen=True)
class Count:
    key: str  # a code (action, kind, company code) the page puts into words
    label: str  # a name from the database (a company's) or "" when the page labels it
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True)
class NearingFile:
    id: int
    title: str
    level: str
    declassify_on: date


@dataclass(frozen=True)
class ComplianceDashboard:
    days: tuple[date, ...]  # oldest first, ending today
    by_outcome: tuple[Count, ...]  # one per outcome, a value per day
    denied_by_action: tuple[Count, ...]  # top actions, one value each
    copies_per_day: tuple[int, ...]
    weeks: tuple[date, ...]  # first day of each week ahead, from today
    declassifying: tuple[Count, ...]  # one per classified level, a value per week
    next_files: tuple[NearingFile, ...]

    @property
    def events(self) -> int:
        return sum(c.total for c in self.by_outcome)

    @property
    def denied(self) -> int:
        return sum(c.total for c in self.by_outcome if c.key == Outcome.DENIED.value)

    @property
    def copies(self) -> int:
        return sum(self.copies_per_day)

    @property
    def nearing(self) -> int:
        return sum(c.total for c in self.declassifying)


@dataclass(frozen=True)
class OpenLeak:
    id: int
    reported_at: datetime
    deadline_at: datetime
    overdue: bool


@dataclass(frozen=True)
class ExecutiveOverview:
    pending_by_kind: tuple[Count, ...]  # one per request kind, a value per age bucket
    pending_by_company: tuple[Count, ...]  # one per company, one value
    weeks: tuple[date, ...]  # first day of each of the last weeks, oldest first
    leaks_per_week: tuple[Count, ...]  # "open" and "handled", a value per week
    open_leaks: tuple[OpenLeak, ...]

    @property
    def pending(self) -> int:
        return sum(c.total for c in self.pending_by_kind)

    @property
    def overdue_leaks(self) -> int:
        return sum(1 for leak in self.open_leaks if leak.overdue)


def _start_of(ctx: Ctx, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ctx.settings.tz).astimezone(UTC)


def _bucket(column: Any, bounds: list[datetime]) -> ColumnElement[int]:
    """The index of the interval [bounds[i], bounds[i+1]) ``column`` falls in (the
    caller keeps rows within [bounds[0], bounds[-1]))."""
    return case(*((column < b, i) for i, b in enumerate(bounds[1:])), else_=len(bounds) - 2)


def _counted(ctx: Ctx, key: Any, bucket: ColumnElement[int], where: list[Any],
             table: Any) -> dict[tuple[Any, int], int]:
    """{(key, bucket): rows} — grouped over a subquery, so PostgreSQL groups by the
    bucket column rather than by a second copy of the CASE with new parameters."""
    sub = select(key.label("k"), bucket.label("b")).select_from(table).where(*where).subquery()
    rows = ctx.session.execute(
        select(sub.c.k, sub.c.b, func.count()).group_by(sub.c.k, sub.c.b))
    return {(k, int(b)): int(n) for k, b, n in rows}


def _refuse(decision: policy.Decision, what: str) -> Forbidden:
    return Forbidden(f"Only {what} may read this page.", code=decision.reason.value)


# ---------------------------------------------------------------------------
# The compliance dashboard


def compliance_dashboard(ctx: Ctx, days: int = DAYS) -> ComplianceDashboard:
    """The last ``days`` local days of the trail and the quarter ahead of the files."""
    decision = policy.can_review_audit(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(_refuse(decision, "compliance officers"),
                         Action.AUDIT_VIEW, object_type="audit")
    today = ctx.now.astimezone(ctx.settings.tz).date()
    day_list = [today - timedelta(days=days - 1 - i) for i in range(days)]
    bounds = [_start_of(ctx, d) for d in day_list] + [_start_of(ctx, today + timedelta(days=1))]
    in_window = [AuditEvent.ts >= bounds[0], AuditEvent.ts < bounds[-1]]

    per_day = _counted(ctx, AuditEvent.outcome, _bucket(AuditEvent.ts, bounds), in_window,
                       AuditEvent)
    by_outcome = tuple(Count(o, "", tuple(per_day.get((o, i), 0) for i in range(days)))
                       for o in OUTCOMES)
    denied_rows = ctx.session.execute(
        select(AuditEvent.action, func.count().label("n"))
        .where(*in_window, AuditEvent.outcome == Outcome.DENIED.value)
        .group_by(AuditEvent.action).order_by(func.count().desc(), AuditEvent.action)
        .limit(TOP_DENIED))
    denied = tuple(Count(a, "", (int(n),)) for a, n in denied_rows)

    copies = _counted(ctx, RegisteredCopy.kind, _bucket(RegisteredCopy.issued_at, bounds),
                      [RegisteredCopy.issued_at >= bounds[0],
                       RegisteredCopy.issued_at < bounds[-1]], RegisteredCopy)
    copies_per_day = tuple(sum(n for (_k, b), n in copies.items() if b == i)
                           for i in range(days))

    weeks = [today + timedelta(weeks=i) for i in range(DECLASSIFY_WEEKS)]
    wbounds = [ctx.now] + [_start_of(ctx, w) for w in weeks[1:]] + [
        _start_of(ctx, today + timedelta(weeks=DECLASSIFY_WEEKS))]
    ahead = [Document.declassify_at > wbounds[0], Document.declassify_at < wbounds[-1],
             Document.level.in_(LEVELS)]
    per_week = _counted(ctx, Document.level, _bucket(Document.declassify_at, wbounds), ahead,
                        Document)
    declassifying = tuple(
        Count(lv, "", tuple(per_week.get((lv, i), 0) for i in range(DECLASSIFY_WEEKS)))
        for lv in LEVELS)
    tz = ctx.settings.tz
    nearest = ctx.session.execute(
        select(Document.id, Document.title, Document.level, Document.declassify_at)
        .where(*ahead).order_by(Document.declassify_at, Document.id).limit(NEXT_FILES))
    next_files = tuple(NearingFile(i, t, lv, at.astimezone(tz).date())
                       for i, t, lv, at in nearest if at is not None)

    ctx.record(Action.AUDIT_VIEW, object_type="audit", reason="dashboard",
               detail={"days": days})
    return ComplianceDashboard(tuple(day_list), by_outcome, denied, copies_per_day,
                               tuple(weeks), declassifying, next_files)


# ---------------------------------------------------------------------------
# The executives' overview


def executive_overview(ctx: Ctx) -> ExecutiveOverview:
    """Pending approvals and leak reports, group-wide, for the HQ executives."""
    decision = policy.can_read_overview(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(_refuse(decision, "HQ executives"),
                         Action.OVERVIEW_VIEW, object_type="overview")
    now = ctx.now
    # Ages as intervals of creation time: waited under a day = created after now − 1 d.
    age_bounds = [datetime.min.replace(tzinfo=UTC)] + [now - a for a in reversed(_AGE_LIMITS)]
    age_bounds.append(now + timedelta(days=1))
    ages = _counted(ctx, CopyRequest.kind, _bucket(CopyRequest.created_at, age_bounds),
                    [CopyRequest.status == "pending"], CopyRequest)
    order = [c.value for c in policy.CopyKind]
    kinds = sorted({k for k, _b in ages}, key=lambda k: order.index(k) if k in order else 99)
    # Oldest first in the CASE; the page reads youngest first.
    pending_by_kind = tuple(
        Count(k, "", tuple(ages.get((k, len(AGE_BUCKETS) - 1 - i), 0)
                           for i in range(len(AGE_BUCKETS))))
        for k in kinds)
    by_company = ctx.session.execute(
        select(Company.code, Company.name, func.count(CopyRequest.id))
        .join(Document, CopyRequest.document_id == Document.id)
        .join(Company, Document.company_id == Company.id)
        .where(CopyRequest.status == "pending")
        .group_by(Company.code, Company.name, Company.is_hq)
        .order_by(Company.is_hq.desc(), Company.code))
    pending_by_company = tuple(Count(code, name, (int(n),)) for code, name, n in by_company)

    today = now.astimezone(ctx.settings.tz).date()
    monday = today - timedelta(days=today.weekday())
    weeks = [monday - timedelta(weeks=LEAK_WEEKS - 1 - i) for i in range(LEAK_WEEKS)]
    lbounds = [_start_of(ctx, w) for w in weeks] + [_start_of(ctx, monday + timedelta(weeks=1))]
    leaks = _counted(ctx, LeakReport.status, _bucket(LeakReport.reported_at, lbounds),
                     [LeakReport.reported_at >= lbounds[0], LeakReport.reported_at < lbounds[-1]],
                     LeakReport)
    leaks_per_week = tuple(
        Count(status, "", tuple(leaks.get((status, i), 0) for i in range(LEAK_WEEKS)))
        for status in LEAK_STATES)
    open_rows = ctx.session.execute(
        select(LeakReport.id, LeakReport.reported_at, LeakReport.deadline_at)
        .where(LeakReport.status == "open").order_by(LeakReport.deadline_at, LeakReport.id)
        .limit(50))
    open_leaks = tuple(OpenLeak(i, r, d, d < now) for i, r, d in open_rows)

    ctx.record(Action.OVERVIEW_VIEW, object_type="overview", reason=decision.reason.value,
               detail={"pending": sum(c.total for c in pending_by_kind),
                       "open_leaks": len(open_leaks)})
    return ExecutiveOverview(pending_by_kind, pending_by_company, tuple(weeks), leaks_per_week,
                             open_leaks)
