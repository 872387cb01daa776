"""The secrecy rules of SPEC.md §1–3, as tables and pure functions.

Nothing here touches Flask, the database or the clock: callers load the facts
(`Subject`, `DocumentFacts`, `CopyFacts`), pass an explicit ``now`` and get a
`Decision` whose ``reason`` code goes into the audit event.

Readings of SPEC.md chosen here (also listed in the README):

- A period given as a duration ends at 00:00 (group time zone) of the day the
  duration reaches from the issue date; when that day does not exist (29
  February, 31st of a short month) the period runs to the first day of the next
  month, so secrecy is never shortened by calendar arithmetic.
- A period given as a fixed date names the last day of secrecy: the file
  declassifies at 00:00 of the following day.
- A condition period never ends by time; an approver declares it met, which is
  recorded as an early declassification.
- A grant counts only while the file's effective level is not above the level
  it was granted at: an upgrade silently narrows the scope to those entitled at
  the new level — unless an HQ executive made or confirmed it (they designate for
  every level, 绝密 included).
- 绝密 and 机密 are known by designation, not by having registered a file: the
  registrant's access is a designation "by registration" (for 机密 in the
  responsible supervisor's name), revocable like any other.
- HQ executives may designate at every level (they may know everything and are
  the designating authority for 绝密).
- Certificates (证照) keep their copy and lending approval even when
  declassified: regulation §保管备份 4) speaks of the documents, not the level.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum


class Level(StrEnum):
    """Secrecy levels, lowest first."""

    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"
    TOP_SECRET = "top_secret"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)

    @property
    def classified(self) -> bool:
        return self is not Level.INTERNAL


_LEVEL_ORDER = (Level.INTERNAL, Level.CONFIDENTIAL, Level.SECRET, Level.TOP_SECRET)


class Role(StrEnum):
    HQ_EXECUTIVE = "hq_executive"
    COMPANY_GM = "company_gm"
    DEPT_MANAGER = "dept_manager"
    SUPERVISOR = "supervisor"
    CUSTODIAN = "custodian"
    COMPLIANCE = "compliance"
    ADMIN = "admin"
    STAFF = "staff"


class Category(StrEnum):
    """Document categories (regulation §保密范围), each with a default level."""

    STRATEGY = "strategy"  # 重大决策、未实施的经营战略
    ANNUAL_PLAN = "annual_plan"  # 年度规划
    FINANCIAL_REPORT = "financial_report"  # 财务报表、审计报告
    STATISTICAL_REPORT = "statistical_report"  # 统计报表
    MEETING_MINUTES = "meeting_minutes"  # 重要会议记录
    OPERATIONS_REPORT = "operations_report"  # 经营情况
    SUPPLIER_TECHNICAL = "supplier_technical"  # 厂家技术资料
    CONTRACT = "contract"  # 合同
    AGREEMENT = "agreement"  # 协议、意见书、可行性报告
    PERSONNEL_FILE = "personnel_file"  # 人事档案
    SALARY = "salary"  # 工资、奖金
    UNPUBLISHED_INFO = "unpublished_info"  # 尚未公开的信息
    CUSTOMER_INFO = "customer_info"  # 客户信息
    TENANT_ARCHIVE = "tenant_archive"  # 租户档案
    CALL_RECORDING = "call_recording"  # 录音
    BUSINESS_LICENCE = "business_licence"  # 营业执照
    ORG_CODE_CERTIFICATE = "org_code_certificate"  # 组织机构代码证
    TAX_REGISTRATION = "tax_registration"  # 税务登记证
    OTHER_CERTIFICATE = "other_certificate"  # 其他证照
    NOTICE = "notice"  # 通知
    LETTER = "letter"  # 函件
    ADMINISTRATIVE = "administrative"  # 一般性决定、行政管理资料
    TENANT_MEETING_MINUTES = "tenant_meeting_minutes"  # 租户大会记录 (not a secret)


DEFAULT_LEVEL: Mapping[Category, Level] = {
    Category.STRATEGY: Level.TOP_SECRET,
    Category.ANNUAL_PLAN: Level.SECRET,
    Category.FINANCIAL_REPORT: Level.SECRET,
    Category.STATISTICAL_REPORT: Level.SECRET,
    Category.MEETING_MINUTES: Level.SECRET,
    Category.OPERATIONS_REPORT: Level.SECRET,
    Category.SUPPLIER_TECHNICAL: Level.SECRET,
    Category.CONTRACT: Level.CONFIDENTIAL,
    Category.AGREEMENT: Level.CONFIDENTIAL,
    Category.PERSONNEL_FILE: Level.CONFIDENTIAL,
    Category.SALARY: Level.CONFIDENTIAL,
    Category.UNPUBLISHED_INFO: Level.CONFIDENTIAL,
    Category.CUSTOMER_INFO: Level.CONFIDENTIAL,
    Category.TENANT_ARCHIVE: Level.CONFIDENTIAL,
    Category.CALL_RECORDING: Level.CONFIDENTIAL,
    Category.BUSINESS_LICENCE: Level.CONFIDENTIAL,
    Category.ORG_CODE_CERTIFICATE: Level.CONFIDENTIAL,
    Category.TAX_REGISTRATION: Level.CONFIDENTIAL,
    Category.OTHER_CERTIFICATE: Level.CONFIDENTIAL,
    Category.NOTICE: Level.INTERNAL,
    Category.LETTER: Level.INTERNAL,
    Category.ADMINISTRATIVE: Level.INTERNAL,
    # 每季或有重大事件时召开全体租户大会，并形成记录: an internal record by default
    # (通知、行政管理资料不属于保密范围); a meeting that discussed secrets is marked up.
    Category.TENANT_MEETING_MINUTES: Level.INTERNAL,
}

CERTIFICATES = frozenset(
    {
        Category.BUSINESS_LICENCE,
        Category.ORG_CODE_CERTIFICATE,
        Category.TAX_REGISTRATION,
        Category.OTHER_CERTIFICATE,
    }
)
# 营业执照、组织机构代码证经部门经理批准后，可复印 (regulation §保管备份 4).
DEPT_MANAGER_MAY_APPROVE_COPY = frozenset(
    {Category.BUSINESS_LICENCE, Category.ORG_CODE_CERTIFICATE}
)


class Reason(StrEnum):
    """Reason codes carried by every decision (and written to the audit trail)."""

    # allowed
    INTERNAL_EMPLOYEE = "internal_employee"
    HQ_EXECUTIVE = "hq_executive"
    REGISTRANT = "registrant"
    RESPONSIBLE_SUPERVISOR = "responsible_supervisor"
    OWNING_DEPARTMENT = "owning_department"
    OWNING_DEPT_MANAGER = "owning_dept_manager"
    DESIGNEE = "designee"
    OWNING_COMPANY_GM = "owning_company_gm"
    NO_APPROVAL_NEEDED = "no_approval_needed"
    APPROVAL_REQUIRED = "approval_required"
    APPROVER = "approver"
    # denied
    INACTIVE_USER = "inactive_user"
    NOT_IN_SCOPE = "not_in_scope"
    TOP_SECRET_NOT_DESIGNATED = "top_secret_not_designated"
    SECRET_NOT_DESIGNATED = "secret_not_designated"
    REGISTRANT_REMOVED = "registrant_removed"
    NOT_AUTHORISED_TO_GRANT = "not_authorised_to_grant"
    INTERNAL_NEEDS_NO_GRANT = "internal_needs_no_grant"
    REQUESTER_CANNOT_APPROVE = "requester_cannot_approve"
    NOT_AN_APPROVER = "not_an_approver"
    NOT_CLASSIFIED = "not_classified"
    PERIOD_ALREADY_ENDED = "period_already_ended"
    NO_FIXED_END = "no_fixed_end"
    NOT_RESPONSIBLE = "not_responsible"
    CANNOT_VIEW = "cannot_view"
    NO_CONTENT = "no_content"  # a copy asked of a paper original with no stored file
    NOTHING_TO_LEND = "nothing_to_lend"  # a loan asked of a file that exists only in Vault
    # metadata only
    COMPLIANCE = "compliance"
    CUSTODIAN = "custodian"
    APPROVING_OFFICE = "approving_office"
    # classification changes made directly
    NOT_RECLASSIFIER = "not_reclassifier"
    # raw bytes
    COPY_APPROVAL_REQUIRED = "copy_approval_required"
    # the audit trail
    NOT_COMPLIANCE = "not_compliance"
    # administration
    ADMIN = "admin"
    NOT_ADMIN = "not_admin"
    NOT_REGISTER_READER = "not_register_reader"
    NOT_CUSTODIAN = "not_custodian"
    # leak reports and certificates
    REPORTER = "reporter"
    NOT_LEAK_READER = "not_leak_reader"
    NOT_HQ_EXECUTIVE = "not_hq_executive"
    NOT_CERTIFICATE_KEEPER = "not_certificate_keeper"
    # tenants and notices
    NOT_TENANT_KEEPER = "not_tenant_keeper"
    # customer-service records (诉求、回访、寄存)
    HANDLER = "handler"
    COMPANY_SUPERVISOR = "company_supervisor"
    NOT_REQUEST_KEEPER = "not_request_keeper"
    NOT_FOLLOW_UP_OWNER = "not_follow_up_owner"
    VISITOR_CANNOT_REVIEW = "visitor_cannot_review"
    NOT_FOLLOW_UP_REVIEWER = "not_follow_up_reviewer"
    ON_SITE_REQUIRED = "on_site_required"
    NOT_REPORT_READER = "not_report_reader"
    # using an approval (download, hand-over, issue, applying a change)
    APPROVED = "approved"
    ESCALATED = "escalated"
    NOT_REQUESTER = "not_requester"
    NOT_APPROVED = "not_approved"
    ALREADY_USED = "already_used"
    WINDOW_OVER = "window_over"
    VOID_RECLASSIFIED = "void_reclassified"
    VOID_APPROVER_LOST_OFFICE = "void_approver_lost_office"
    VOID_REQUESTER_LOST_ACCESS = "void_requester_lost_access"
    # outgoing letters and seal requests (对外发文与用章申请)
    SEALED = "sealed"
    LETTER_NOT_SEALED = "letter_not_sealed"
    ALREADY_DECIDED_STEP = "already_decided_step"
    # every company keeps a custodian
    LAST_CUSTODIAN = "last_custodian"
    NO_CUSTODIAN_GM = "no_custodian_gm"


class CopyKind(StrEnum):
    """What a request asks for (SPEC.md §3 and the classification changes of §1)."""

    COPY = "copy"  # 复制 / download
    EXCERPT = "excerpt"  # 摘抄 (pages)
    PRINT = "print"
    LEND = "lend"  # 借出 (paper originals, certificates)
    EXTEND = "extend"  # 延长保密期限
    DOWNGRADE = "downgrade"  # 降密
    DECLASSIFY = "declassify"  # 提前解密 / 解密条件已满足


REPRODUCTION_KINDS = frozenset({CopyKind.COPY, CopyKind.EXCERPT, CopyKind.PRINT})
CLASSIFICATION_KINDS = frozenset({CopyKind.EXTEND, CopyKind.DOWNGRADE, CopyKind.DECLASSIFY})


class ApproverScope(StrEnum):
    """Who, relative to the document, may approve."""

    HQ_EXECUTIVES = "hq_executives"  # 总公司总经理/副总经理
    OWNING_COMPANY_GM = "owning_company_gm"  # 子公司总经理 (HQ-owned: HQ executives)
    OWNING_DEPT_MANAGER = "owning_dept_manager"  # 部门经理 of the owning department


# ---------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class Subject:
    """The person asking, as loaded by a service."""

    user_id: int
    company_id: int
    department_id: int | None
    roles: frozenset[Role]
    active: bool = True
    at_hq: bool = False

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_hq_executive(self) -> bool:
        # The role only counts for someone employed by the HQ company.
        return self.at_hq and Role.HQ_EXECUTIVE in self.roles


@dataclass(frozen=True)
class Period:
    """A secrecy period: a duration, a fixed last day, a condition, or none."""

    years: int = 0
    months: int = 0
    days: int = 0
    until: date | None = None
    condition: str | None = None

    @property
    def kind(self) -> str:
        if self.condition is not None:
            return "condition"
        if self.until is not None:
            return "date"
        if self.years or self.months or self.days:
            return "duration"
        return "none"

    def spec(self) -> str:
        """The compact form used by the CLI: ``10y``, ``1y6m``, ``2030-06-30``, ``condition:…``."""
        kind = self.kind
        if kind == "condition":
            return f"condition:{self.condition}"
        if kind == "date":
            assert self.until is not None
            return self.until.isoformat()
        if kind == "none":
            return ""
        units = ((self.years, "y"), (self.months, "m"), (self.days, "d"))
        return "".join(f"{n}{u}" for n, u in units if n)


NO_PERIOD = Period()

# China keeps no daylight saving time, so a fixed offset is exact and needs no tz database.
GROUP_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

DEFAULT_PERIOD: Mapping[Level, Period] = {
    Level.TOP_SECRET: Period(years=30),
    Level.SECRET: Period(years=20),
    Level.CONFIDENTIAL: Period(years=10),
    Level.INTERNAL: NO_PERIOD,
}


# The longest period accepted (the state-secrets maximum is 30 years; a company may
# extend, but a century is past any sensible review) and the calendar range of dates.
MAX_PERIOD_MONTHS = 100 * 12
FIRST_YEAR, LAST_YEAR = 1900, 2999


class PeriodError(ValueError):
    """A period specification that cannot be read."""


def parse_period(text: str) -> Period:
    """Read ``10y``, ``6m``, ``90d``, ``1y6m``, ``2030-06-30`` or ``condition:TEXT``."""
    text = text.strip()
    if not text:
        raise PeriodError("empty period")
    if text.startswith("condition:"):
        cond = text[len("condition:") :].strip()
        if not cond:
            raise PeriodError("a condition period needs the condition text")
        return Period(condition=cond)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            until = date.fromisoformat(text)
        except ValueError as exc:
            raise PeriodError(f"not a date: {text}") from exc
        if not FIRST_YEAR <= until.year <= LAST_YEAR:
            raise PeriodError(f"a date between {FIRST_YEAR} and {LAST_YEAR}, please: {text}")
        return Period(until=until)
    values = {"y": 0, "m": 0, "d": 0}
    number = ""
    seen: list[str] = []
    for ch in text.lower():
        if ch.isdigit():
            number += ch
        elif ch in values and number and ch not in seen:
            if len(number) > 6:
                raise PeriodError(
                    f"a period longer than {MAX_PERIOD_MONTHS // 12} years is not allowed"
                )
            values[ch] = int(number)
            seen.append(ch)
            number = ""
        else:
            raise PeriodError(f"not a period: {text} (use 10y, 6m, 90d, a date or condition:TEXT)")
    if number or not seen:
        raise PeriodError(f"not a period: {text} (use 10y, 6m, 90d, a date or condition:TEXT)")
    period = Period(years=values["y"], months=values["m"], days=values["d"])
    if period.kind == "none":
        raise PeriodError("a period of zero length is not a period")
    if period.years * 12 + period.months + period.days // 31 > MAX_PERIOD_MONTHS:
        raise PeriodError(f"a period longer than {MAX_PERIOD_MONTHS // 12} years is not allowed")
    return period


def validate_period(issued_on: date, period: Period) -> None:
    """Refuse (PeriodError) an issue date or period outside the supported calendar,
    so that period arithmetic can never overflow."""
    if not FIRST_YEAR <= issued_on.year <= LAST_YEAR:
        raise PeriodError(f"the issue date must fall between {FIRST_YEAR} and {LAST_YEAR}")
    if period.until is not None and not FIRST_YEAR <= period.until.year <= LAST_YEAR:
        raise PeriodError(f"the period must end between {FIRST_YEAR} and {LAST_YEAR}")
    if period.years * 12 + period.months + period.days // 31 > MAX_PERIOD_MONTHS:
        raise PeriodError(f"a period longer than {MAX_PERIOD_MONTHS // 12} years is not allowed")


@dataclass(frozen=True)
class GrantFact:
    """A grant or designation as the policy needs it."""

    grantee_id: int
    level: Level  # the file's level when the grant was made
    until: datetime | None = None
    revoked: bool = False
    hq_confirmed: bool = False  # an HQ executive made or confirmed it: holds at every level
    by_registration: bool = False  # the registrant's own access (绝密, or 机密 not supervised)

    def active(self, now: datetime) -> bool:
        return not self.revoked and (self.until is None or now < self.until)


@dataclass(frozen=True)
class DocumentFacts:
    """A document as the policy needs it."""

    id: int
    category: Category
    level: Level  # the stored (materialised) level
    period: Period
    issued_on: date
    company_id: int
    company_is_hq: bool
    department_id: int | None
    supervisor_id: int | None
    registrant_id: int | None
    grants: tuple[GrantFact, ...] = ()
    paper_original: bool = False  # a paper original is kept (it can be lent)
    tz: tzinfo = field(default_factory=lambda: GROUP_TZ)  # periods end at midnight here


@dataclass(frozen=True)
class CopyFacts:
    """A request for a copy, excerpt, print, loan or classification change.

    ``requester`` (the asking person as they are now) lets the route go one level up
    when the requester holds the only approving office themselves."""

    document: DocumentFacts
    kind: CopyKind
    requester_id: int
    requester: Subject | None = None


class RequestState(StrEnum):
    """Where a request stands (``expired`` is computed from the window, not stored)."""

    PENDING = "pending"
    APPROVED = "approved"
    SPENT = "spent"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    VOID = "void"


@dataclass(frozen=True)
class ApprovalFacts:
    """An approval about to be used: the request (document as it is now), where it
    stands, the level it was asked at, its approver as they are now, and the
    download window (None: no window, e.g. a loan)."""

    request: CopyFacts
    state: RequestState
    asked_level: Level
    approver: Subject | None = None
    window_until: datetime | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason

    def __bool__(self) -> bool:
        return self.allowed


def _allow(reason: Reason) -> Decision:
    return Decision(True, reason)


def _deny(reason: Reason) -> Decision:
    return Decision(False, reason)


@dataclass(frozen=True)
class Route:
    """Who must approve a request, and how the form frames it."""

    required: bool
    approvers: tuple[ApproverScope, ...] = ()
    default_no: bool = False  # 绝密: 原则上不允许
    reason: Reason = Reason.APPROVAL_REQUIRED
    refused: bool = False  # the request cannot be made at all (reason says why)


# ---------------------------------------------------------------------------
# Periods and levels


def add_period(issued_on: date, period: Period) -> date | None:
    """The first day after the period, or None when it never ends by time.

    A duration missing its day in the target month (29 February, 31st) runs to
    the first day of the next month: calendar arithmetic never shortens secrecy.
    """
    kind = period.kind
    if kind == "date":
        assert period.until is not None
        return period.until + timedelta(days=1)
    if kind != "duration":
        return None
    month_index = issued_on.month - 1 + period.months
    year = issued_on.year + period.years + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if issued_on.day > last:
        end = date(year, month, last) + timedelta(days=1)
    else:
        end = date(year, month, issued_on.day)
    return end + timedelta(days=period.days)


def declassify_at(issued_on: date, period: Period, tz: tzinfo) -> datetime | None:
    """The instant a period ends (midnight, group time zone), or None."""
    end = add_period(issued_on, period)
    if end is None:
        return None
    return datetime.combine(end, time(0, 0), tzinfo=tz)


def effective_level(doc: DocumentFacts, now: datetime) -> Level:
    """The level in force at ``now``: internal from the instant the period ends."""
    if now.tzinfo is None:
        raise ValueError("policy needs an aware datetime for now")
    if not doc.level.classified:
        return Level.INTERNAL
    end = declassify_at(doc.issued_on, doc.period, doc.tz)
    if end is not None and now >= end:
        return Level.INTERNAL
    return doc.level


def period_ended(doc: DocumentFacts, now: datetime) -> bool:
    return doc.level.classified and effective_level(doc, now) is Level.INTERNAL


# ---------------------------------------------------------------------------
# Who may know a file


def _designation(
    subject: Subject, doc: DocumentFacts, level: Level, now: datetime
) -> GrantFact | None:
    """The subject's designation that counts at ``level`` (a plain one first)."""
    counting = [
        g for g in doc.grants
        if g.grantee_id == subject.user_id and g.active(now)
        and (level.rank <= g.level.rank or g.hq_confirmed)
    ]
    counting.sort(key=lambda g: g.by_registration)
    return counting[0] if counting else None


def _designated_reason(grant: GrantFact) -> Reason:
    return Reason.REGISTRANT if grant.by_registration else Reason.DESIGNEE


def can_view(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """知悉范围 (SPEC.md §2). Roles such as GM, custodian, compliance or admin give no content."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    level = effective_level(doc, now)
    if level is Level.INTERNAL:
        return _allow(Reason.INTERNAL_EMPLOYEE)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    designation = _designation(subject, doc, level, now)
    if level is Level.TOP_SECRET:
        # 只限总公司副/总经理指定的人员: a designation, a registrant's included.
        if designation is not None:
            return _allow(_designated_reason(designation))
        return _deny(Reason.TOP_SECRET_NOT_DESIGNATED)
    if subject.user_id == doc.supervisor_id:
        return _allow(Reason.RESPONSIBLE_SUPERVISOR)
    if designation is not None:
        return _allow(_designated_reason(designation))
    # 机密 is known by designation (the registrant's in the supervisor's name); 秘密
    # also by its registrant and its owning department.
    if level is Level.SECRET:
        return _deny(Reason.SECRET_NOT_DESIGNATED)
    if subject.user_id == doc.registrant_id:
        return _allow(Reason.REGISTRANT)
    if _in_owning_department(subject, doc):
        return _allow(Reason.OWNING_DEPARTMENT)
    return _deny(Reason.NOT_IN_SCOPE)


def _in_owning_department(subject: Subject, doc: DocumentFacts) -> bool:
    """Whether the person works in the document's owning department (of its company)."""
    return (
        doc.department_id is not None
        and subject.company_id == doc.company_id
        and subject.department_id == doc.department_id
    )


def _is_owning_dept_manager(subject: Subject, doc: DocumentFacts) -> bool:
    return subject.has(Role.DEPT_MANAGER) and _in_owning_department(subject, doc)


def can_grant(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Who may grant (秘密) or designate (机密, 绝密) others, and revoke them."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    level = effective_level(doc, now)
    if level is Level.INTERNAL:
        return _deny(Reason.INTERNAL_NEEDS_NO_GRANT)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if level is Level.TOP_SECRET:
        return _deny(Reason.NOT_AUTHORISED_TO_GRANT)
    if subject.user_id == doc.supervisor_id:
        return _allow(Reason.RESPONSIBLE_SUPERVISOR)
    if level is Level.CONFIDENTIAL and _is_owning_dept_manager(subject, doc):
        return _allow(Reason.OWNING_DEPT_MANAGER)
    return _deny(Reason.NOT_AUTHORISED_TO_GRANT)


# ---------------------------------------------------------------------------
# Copies, loans and classification changes


def _level_route(level: Level) -> Route:
    if level is Level.TOP_SECRET:
        return Route(True, (ApproverScope.HQ_EXECUTIVES,), default_no=True)
    return Route(True, (ApproverScope.OWNING_COMPANY_GM,))


def copy_route(
    doc: DocumentFacts, kind: CopyKind, now: datetime, requester: Subject | None = None
) -> Route:
    """Who must approve ``kind`` on ``doc`` at ``now`` (SPEC.md §3).

    No office is ever empty: when ``requester`` holds every approving office of the
    route themselves (a subsidiary GM asking for a copy of their company's file), the
    request goes one level up, to the HQ executives (of whom there are several: the
    总经理 and the 副总经理; the requester is never among their approvers)."""
    route = _base_route(doc, kind, now)
    if (
        requester is not None
        and route.required
        and ApproverScope.HQ_EXECUTIVES not in route.approvers
        and all(matches_scope(requester, doc, s) for s in route.approvers)
    ):
        return Route(True, (ApproverScope.HQ_EXECUTIVES,), default_no=route.default_no,
                     reason=Reason.ESCALATED)
    return route


def _base_route(doc: DocumentFacts, kind: CopyKind, now: datetime) -> Route:
    level = effective_level(doc, now)
    if kind in CLASSIFICATION_KINDS:
        if not level.classified:
            return Route(False, reason=Reason.NOT_CLASSIFIED, refused=True)
        if kind is CopyKind.EXTEND and doc.period.kind == "condition":
            return Route(False, reason=Reason.NO_FIXED_END, refused=True)
        return _level_route(level)
    if level is Level.TOP_SECRET:
        return _level_route(level)
    if doc.category in CERTIFICATES:
        if kind in REPRODUCTION_KINDS and doc.category in DEPT_MANAGER_MAY_APPROVE_COPY:
            return Route(True, (ApproverScope.OWNING_DEPT_MANAGER, ApproverScope.OWNING_COMPANY_GM))
        return Route(True, (ApproverScope.OWNING_COMPANY_GM,))
    if kind is CopyKind.LEND:
        return Route(True, (ApproverScope.OWNING_COMPANY_GM,))
    if level is Level.INTERNAL:
        return Route(False, reason=Reason.NO_APPROVAL_NEEDED)
    return _level_route(level)


def can_request(subject: Subject, doc: DocumentFacts, kind: CopyKind, now: datetime) -> Decision:
    """Who may ask. Copies and loans: anyone who may view. Classification
    changes: the responsible supervisor, the registrant (drafter) or an HQ
    executive, and an extension only before the period ends."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    view = can_view(subject, doc, now)
    if not view.allowed:
        return _deny(Reason.CANNOT_VIEW)
    if kind not in CLASSIFICATION_KINDS:
        return view
    if kind is CopyKind.EXTEND and period_ended(doc, now):
        return _deny(Reason.PERIOD_ALREADY_ENDED)
    route = copy_route(doc, kind, now)
    if route.refused:
        return _deny(route.reason)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.user_id == doc.supervisor_id:
        return _allow(Reason.RESPONSIBLE_SUPERVISOR)
    if subject.user_id == doc.registrant_id:
        return _allow(Reason.REGISTRANT)
    return _deny(Reason.NOT_RESPONSIBLE)


MAX_LOAN_DAYS = 366


def lendable(doc: DocumentFacts) -> bool:
    """Only certificates and paper originals are lent (借出); a file that exists only
    in Vault leaves as a registered copy instead."""
    return doc.category in CERTIFICATES or doc.paper_original


def photocopiable(doc: DocumentFacts, kind: CopyKind) -> bool:
    """A paper-only certificate (营业执照, 组织机构代码证, …) is copied as a photocopy: a
    copy request like any other, which the custodian issues once approved, writing the
    copy number on the paper (复印件视同原件)."""
    return kind is CopyKind.COPY and doc.paper_original and doc.category in CERTIFICATES


def can_ask(
    subject: Subject, doc: DocumentFacts, kind: CopyKind, stored: bool, now: datetime
) -> Decision:
    """Whether ``subject`` may send a request of ``kind`` for ``doc`` now, as the
    request form and the document page offer it and the service accepts it
    (``stored``: the file has a stored version). In this order:

    - `can_request` (who may ask at all; it refuses what no route takes, e.g. a
      change asked of an internal file);
    - no approval needed (an internal file is downloaded directly:
      ``no_approval_needed``);
    - what is asked must exist: a copy, excerpt or print needs stored content,
      except a photocopy of a paper-only certificate (`photocopiable`); a loan needs
      a certificate or a paper original (`lendable`)."""
    decision = can_request(subject, doc, kind, now)
    if not decision.allowed:
        return decision
    if not copy_route(doc, kind, now, subject).required:
        return _deny(Reason.NO_APPROVAL_NEEDED)
    if kind in REPRODUCTION_KINDS and not stored and not photocopiable(doc, kind):
        return _deny(Reason.NO_CONTENT)
    if kind is CopyKind.LEND and not lendable(doc):
        return _deny(Reason.NOTHING_TO_LEND)
    return decision


def loan_due_ok(today: date, due_on: date) -> bool:
    """A loan's return date: from today up to ``MAX_LOAN_DAYS`` ahead."""
    return today <= due_on <= today + timedelta(days=MAX_LOAN_DAYS)


def matches_scope(subject: Subject, doc: DocumentFacts, scope: ApproverScope) -> bool:
    """Whether ``subject`` holds the approving office ``scope`` for ``doc``."""
    if scope is ApproverScope.HQ_EXECUTIVES:
        return subject.is_hq_executive
    if scope is ApproverScope.OWNING_COMPANY_GM:
        if doc.company_is_hq:
            return subject.is_hq_executive
        return subject.has(Role.COMPANY_GM) and subject.company_id == doc.company_id
    return _is_owning_dept_manager(subject, doc)


_SCOPE_REASON = {
    ApproverScope.HQ_EXECUTIVES: Reason.HQ_EXECUTIVE,
    ApproverScope.OWNING_COMPANY_GM: Reason.OWNING_COMPANY_GM,
    ApproverScope.OWNING_DEPT_MANAGER: Reason.OWNING_DEPT_MANAGER,
}


def can_approve(subject: Subject, request: CopyFacts, now: datetime) -> Decision:
    """Whether ``subject`` may decide ``request`` now: never the requester, never
    someone who lost the office meanwhile (the route is recomputed at decision time)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.user_id == request.requester_id:
        return _deny(Reason.REQUESTER_CANNOT_APPROVE)
    route = copy_route(request.document, request.kind, now, request.requester)
    if not route.required:
        return _deny(route.reason)
    for scope in route.approvers:
        if matches_scope(subject, request.document, scope):
            return _allow(_SCOPE_REASON[scope])
    return _deny(Reason.NOT_AN_APPROVER)


# The roles that hold an approving office (`matches_scope`) for some file: the SQL
# prefilter of approver candidates and of the "to decide" list selects them.
APPROVING_ROLES = frozenset({Role.HQ_EXECUTIVE, Role.COMPANY_GM, Role.DEPT_MANAGER})


def may_approve_some(subject: Subject) -> bool:
    """Whether ``subject`` could approve any request at all: active and holding a role
    of ``APPROVING_ROLES``. A prefilter only (who approves *this* request is
    `can_approve`); tests check that nobody outside it approves anything."""
    if not subject.active:
        return False
    # The hq_executive role counts only for someone employed by the HQ company.
    return subject.is_hq_executive or any(
        subject.has(r) for r in APPROVING_ROLES - {Role.HQ_EXECUTIVE})


def eligible_approvers(
    candidates: Iterable[Subject], request: CopyFacts, now: datetime
) -> list[Subject]:
    """The candidates who may decide ``request`` (for routing and notifications)."""
    return [s for s in candidates if can_approve(s, request, now).allowed]


def approval_void(
    requester: Subject, approver: Subject, request: CopyFacts, asked_level: Level,
    now: datetime,
) -> Decision:
    """Whether an approval still holds at the moment it is used (a download, a loan
    handed over, a photocopy issued, a classification change applied). It is void:

    - when the file was raised above the level it was asked at (the requester asked
      for a copy of a 机密 file, not of a 绝密 one; the approver weighed that, too);
    - when the requester may no longer read the file;
    - when the file's route was refused meanwhile (e.g. a change asked of a file that
      has declassified);
    - when the approver no longer holds an office that approves it now (lost the
      role, left, was deactivated). An HQ executive's approval stands for any lower
      office (they are the group's highest approving office).

    A file that needs no approval any more (declassified) keeps the approval good."""
    request = replace(request, requester=requester)
    if effective_level(request.document, now).rank > asked_level.rank:
        return _deny(Reason.VOID_RECLASSIFIED)
    if not can_view(requester, request.document, now).allowed:
        return _deny(Reason.VOID_REQUESTER_LOST_ACCESS)
    route = copy_route(request.document, request.kind, now, requester)
    if route.refused:
        return _deny(Reason.VOID_RECLASSIFIED)
    if not route.required:
        return _allow(Reason.NO_APPROVAL_NEEDED)
    if can_approve(approver, request, now).allowed:
        return _allow(Reason.APPROVED)
    if approver.is_hq_executive and approver.active and approver.user_id != requester.user_id:
        return _allow(Reason.HQ_EXECUTIVE)
    return _deny(Reason.VOID_APPROVER_LOST_OFFICE)


def can_collect(subject: Subject, approval: ApprovalFacts, now: datetime) -> Decision:
    """Whether ``subject`` may now collect what ``approval`` gave: the one download
    of a copy, the original handed over on a loan, the issued photocopy of a paper
    certificate. Only the requester, only an approved and unused approval, only
    within its window — and only if the approval still holds (`approval_void`)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.user_id != approval.request.requester_id:
        return _deny(Reason.NOT_REQUESTER)
    if approval.state is RequestState.SPENT:
        return _deny(Reason.ALREADY_USED)
    if approval.state is not RequestState.APPROVED or approval.approver is None:
        return _deny(Reason.NOT_APPROVED)
    if approval.window_until is not None and now >= approval.window_until:
        return _deny(Reason.WINDOW_OVER)
    return approval_void(subject, approval.approver, approval.request, approval.asked_level, now)


def keeps_a_custodian(active_custodians_after: int) -> Decision:
    """Every company needs a custodian (各公司指派专人保管): a change that would leave
    a company that had one with none (removing the role, deactivating) is refused."""
    if active_custodians_after > 0:
        return _allow(Reason.CUSTODIAN)
    return _deny(Reason.LAST_CUSTODIAN)


# ---------------------------------------------------------------------------
# Knowing that a file exists (metadata) and changing its classification


def can_see_metadata(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Who may know that a file exists and read its metadata (title, level, registers).

    Everyone who may view it; compliance (reviewing trails, group-wide); the
    custodians of the owning company (keeping its registers); and whoever holds
    an approving office for it. None of the latter gives content (SPEC.md §2).
    """
    view = can_view(subject, doc, now)
    if view.allowed or not subject.active:
        return view
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    if subject.has(Role.CUSTODIAN) and subject.company_id == doc.company_id:
        return _allow(Reason.CUSTODIAN)
    for kind in (CopyKind.COPY, CopyKind.LEND):
        for scope in copy_route(doc, kind, now).approvers:
            if matches_scope(subject, doc, scope):
                return _allow(Reason.APPROVING_OFFICE)
    return view


def can_download(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Raw bytes: directly only for internal files in scope; a classified file leaves
    the vault only as an approved, registered copy (SPEC.md §2–3)."""
    view = can_view(subject, doc, now)
    if not view.allowed:
        return view
    # Not just "classified": a certificate keeps its copy approval when declassified
    # (module docstring), and a direct download must not bypass copy_route.
    if copy_route(doc, CopyKind.COPY, now).required:
        return _deny(Reason.COPY_APPROVAL_REQUIRED)
    return view


def can_reclassify(
    subject: Subject, doc: DocumentFacts, new_level: Level, extends: bool, now: datetime
) -> Decision:
    """A direct change of level or period: only by whoever would approve such a
    request, for both the current and the new level (HQ executives, the group's
    highest authority, for any file); never an extension once the period has
    ended (the file is then already declassified)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if extends and period_ended(doc, now):
        return _deny(Reason.PERIOD_ALREADY_ENDED)
    current = effective_level(doc, now)
    for level in {current, new_level}:
        if not level.classified or subject.is_hq_executive:
            continue
        if not any(matches_scope(subject, doc, s) for s in _level_route(level).approvers):
            return _deny(Reason.NOT_RECLASSIFIER)
    if not (current.classified or new_level.classified):
        return _deny(Reason.NOT_CLASSIFIED)
    return _allow(Reason.APPROVER)


def can_add_version(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Who may store a new version of a file: someone who may read it and is its
    registrant or responsible supervisor, or an HQ executive."""
    view = can_view(subject, doc, now)
    if not view.allowed:
        return view
    if subject.user_id == doc.registrant_id:
        return _allow(Reason.REGISTRANT)
    if subject.user_id == doc.supervisor_id:
        return _allow(Reason.RESPONSIBLE_SUPERVISOR)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    return _deny(Reason.NOT_RESPONSIBLE)


# The annual review (年度审核): a classified file is due once this long has passed
# since its last review (or its registration).
REVIEW_INTERVAL = timedelta(days=365)


def can_review(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Who reviews a classified file once a year (confirms, changes or declassifies it),
    and so finds it in their review queue:

    - 绝密: HQ executives only (they designate its readers);
    - an HQ-owned file: HQ executives (the owning "company GM"), and as below;
    - the responsible supervisor and the registrant (drafter);
    - for 秘密 the owning department's manager (who may read and grant it);
    - the owning company's general manager (who approves its copies).

    Each of them may know of the file (`can_see_metadata`). Confirming is theirs;
    a change of level or period still needs `can_reclassify`."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    level = effective_level(doc, now)
    if not level.classified:
        return _deny(Reason.NOT_CLASSIFIED)
    if subject.is_hq_executive and (doc.company_is_hq or level is Level.TOP_SECRET):
        return _allow(Reason.HQ_EXECUTIVE)
    if level is Level.TOP_SECRET:
        return _deny(Reason.NOT_RESPONSIBLE)
    if subject.user_id == doc.supervisor_id:
        return _allow(Reason.RESPONSIBLE_SUPERVISOR)
    if subject.user_id == doc.registrant_id:
        return _allow(Reason.REGISTRANT)
    if level is Level.CONFIDENTIAL and _is_owning_dept_manager(subject, doc):
        return _allow(Reason.OWNING_DEPT_MANAGER)
    if matches_scope(subject, doc, ApproverScope.OWNING_COMPANY_GM):
        return _allow(Reason.OWNING_COMPANY_GM)
    return _deny(Reason.NOT_RESPONSIBLE)


def can_review_audit(subject: Subject) -> Decision:
    """Reading, filtering and exporting the audit trail: compliance officers only
    (SPEC.md §6). Nobody may edit an event; there is no rule for that to allow."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    return _deny(Reason.NOT_COMPLIANCE)


def can_read_overview(subject: Subject) -> Decision:
    """The executives' overview (pending approvals and leak reports group-wide, as
    counts and charts): the HQ executives, who decide the top approvals and must act
    on a leak within 24 hours. Compliance has its own dashboard (`can_review_audit`)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    return _deny(Reason.NOT_HQ_EXECUTIVE)


def can_administer(subject: Subject) -> Decision:
    """Managing people, the organisation and keys: administrators, who get no
    content by that role (SPEC.md §2)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.has(Role.ADMIN):
        return _allow(Reason.ADMIN)
    return _deny(Reason.NOT_ADMIN)


def reads_every_company(subject: Subject) -> bool:
    """Whether ``subject`` reads group-wide (HQ executives and compliance): the offices
    whose registers, request records and document metadata are not bounded by their
    own company. SQL prefilters and company selectors use this; each row is still
    decided by its own rule."""
    return subject.active and (subject.is_hq_executive or subject.has(Role.COMPLIANCE))


def can_read_register(subject: Subject, company_id: int) -> Decision:
    """Reading a company's copy and lending registers (metadata only, never content):
    its custodians and general manager, HQ executives and compliance, group-wide
    for the last two."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.company_id == company_id:
        if subject.has(Role.CUSTODIAN):
            return _allow(Reason.CUSTODIAN)
        if subject.has(Role.COMPANY_GM):
            return _allow(Reason.OWNING_COMPANY_GM)
    return _deny(Reason.NOT_REGISTER_READER)


def can_keep_register(subject: Subject, company_id: int) -> Decision:
    """Recording that a copy came back or was destroyed, or that a loan was handed
    over or returned: the custodians (保管员) of the owning company."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.has(Role.CUSTODIAN) and subject.company_id == company_id:
        return _allow(Reason.CUSTODIAN)
    return _deny(Reason.NOT_CUSTODIAN)


def can_keep_loans(
    subject: Subject, company_id: int, company_is_hq: bool, has_custodian: bool
) -> Decision:
    """Handing over and taking back a company's lent originals (and issuing photocopies
    of its paper certificates): its custodians; while the company has no active
    custodian, its general manager (for the HQ company, the HQ executives), so that
    the office is never empty."""
    keep = can_keep_register(subject, company_id)
    if keep.allowed or not subject.active or has_custodian:
        return keep
    if company_is_hq:
        if subject.is_hq_executive:
            return _allow(Reason.NO_CUSTODIAN_GM)
    elif subject.has(Role.COMPANY_GM) and subject.company_id == company_id:
        return _allow(Reason.NO_CUSTODIAN_GM)
    return keep


# ---------------------------------------------------------------------------
# Leak reports (泄密报告) and certificates (证照)


def can_investigate_leaks(subject: Subject) -> Decision:
    """Reading every leak report with its trace (who knew the file, who holds its
    copies and loans): the HQ executives, who must act within 24 hours, and
    compliance, who review trails group-wide. Anyone may *report* a leak; that
    needs no rule."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    return _deny(Reason.NOT_LEAK_READER)


def can_read_leak(subject: Subject, reporter_id: int) -> Decision:
    """Reading one leak report: the investigators (`can_investigate_leaks`, with the
    trace), and its reporter (their own report's status, never the trace: the trace
    names people and copies of a file they may not know of)."""
    investigate = can_investigate_leaks(subject)
    if investigate.allowed or not subject.active:
        return investigate
    if subject.user_id == reporter_id:
        return _allow(Reason.REPORTER)
    return investigate


def can_handle_leak(subject: Subject) -> Decision:
    """Marking a leak report handled (remedial action taken, reported onward): an HQ
    executive (regulation: 立即向总公司领导报告，以便及时采取补救措施)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    return _deny(Reason.NOT_HQ_EXECUTIVE)


def can_edit_certificate(subject: Subject, company_id: int, company_is_hq: bool) -> Decision:
    """Recording a certificate's number, custodian, the paper original's location and
    validity: the owning company's custodians (保管员) and general manager; for a
    certificate of the HQ company, whose general manager is an HQ executive, the HQ
    executives."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.company_id == company_id:
        if subject.has(Role.CUSTODIAN):
            return _allow(Reason.CUSTODIAN)
        if subject.has(Role.COMPANY_GM):
            return _allow(Reason.OWNING_COMPANY_GM)
    if company_is_hq and subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    return _deny(Reason.NOT_CERTIFICATE_KEEPER)


# ---------------------------------------------------------------------------
# Tenants (租户档案) and notices with sign-off sheets (通知、函件与签收记录)


def can_read_tenants(subject: Subject, company_id: int | None) -> Decision:
    """Knowing a company's tenants (the catalogue: code, name, unit, contact): its
    own employees, who serve them; HQ executives and compliance group-wide; the
    administrators, who keep the directory. A tenant of no company is the group's:
    every employee. The tenants' *documents* follow `can_see_metadata` one by one."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if company_id is None or subject.company_id == company_id:
        return _allow(Reason.INTERNAL_EMPLOYEE)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    if subject.has(Role.ADMIN):
        return _allow(Reason.ADMIN)
    return _deny(Reason.NOT_IN_SCOPE)


def can_keep_tenants(subject: Subject, company_id: int | None) -> Decision:
    """Adding and updating a company's tenants (name, unit, contact, moved out): its
    custodians (保管员, who keep the archives) and the administrators. A tenant of no
    company: the administrators only."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.has(Role.ADMIN):
        return _allow(Reason.ADMIN)
    if company_id is not None and subject.has(Role.CUSTODIAN) and subject.company_id == company_id:
        return _allow(Reason.CUSTODIAN)
    return _deny(Reason.NOT_TENANT_KEEPER)


def can_address_notice(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Choosing a notice's (or letter's) recipients: those responsible for it who may
    read it — its registrant (the drafter), its responsible supervisor, the owning
    department's manager, and HQ executives."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if not can_view(subject, doc, now).allowed:
        return _deny(Reason.CANNOT_VIEW)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.user_id == doc.supervisor_id:
        return _allow(Reason.RESPONSIBLE_SUPERVISOR)
    if subject.user_id == doc.registrant_id:
        return _allow(Reason.REGISTRANT)
    if _is_owning_dept_manager(subject, doc):
        return _allow(Reason.OWNING_DEPT_MANAGER)
    return _deny(Reason.NOT_RESPONSIBLE)


def can_record_sign_off(subject: Subject, doc: DocumentFacts, now: datetime) -> Decision:
    """Recording a recipient's sign-off (签收): whoever may address the notice, and the
    members of the owning department who may read it — the operations staff who hand
    notices out and collect the signatures (营运人员…完成签收工作)."""
    address = can_address_notice(subject, doc, now)
    if address.allowed or address.reason is not Reason.NOT_RESPONSIBLE:
        return address
    if _in_owning_department(subject, doc):
        return _allow(Reason.OWNING_DEPARTMENT)
    return address


# ---------------------------------------------------------------------------
# Customer-service records: the request register (诉求记录), follow-up visits (回访),
# the monthly follow-up report (客户回访记录) and the deposit register (寄存记录)


class RequestKind(StrEnum):
    REPAIR = "repair"  # 报修
    COMPLAINT = "complaint"  # 投诉
    ENQUIRY = "enquiry"  # 咨询
    EMERGENCY = "emergency"  # 紧急
    SUGGESTION = "suggestion"  # 建议


class ComplaintGrade(StrEnum):
    NORMAL = "normal"  # 一般
    IMPORTANT = "important"  # 重要
    MAJOR = "major"  # 重大


class FollowUpKind(StrEnum):
    COMPLAINT = "complaint"  # 投诉处理完毕
    REPAIR = "repair"  # 维修工程处理完毕
    EVENT = "event"  # 文体活动结束
    MOVE_IN = "move_in"  # 入伙
    EMERGENCY = "emergency"  # 突发事件处理完毕


class VisitMethod(StrEnum):
    ON_SITE = "on_site"  # 上门回访: the customer signs
    TELEPHONE = "telephone"  # 电话回访


@dataclass(frozen=True)
class RequestFacts:
    """A request record as the rules see it: whose it is and who handles it."""

    company_id: int
    department_id: int | None  # the customer-service department keeping it
    handler_id: int | None = None


@dataclass(frozen=True)
class FollowUpRule:
    """When a follow-up falls due after its trigger, and who makes it."""

    days: int = 0
    months: int = 0


#: 投诉处理完毕后三天内…维修工程处理完毕后一个月内…文体活动结束后一个月内…
#: 入伙回访、突发事件处理完毕后回访 (no time given: within a month, and three days for an
#: emergency, which is handled like a complaint).
FOLLOW_UP_DUE: Mapping[FollowUpKind, FollowUpRule] = {
    FollowUpKind.COMPLAINT: FollowUpRule(days=3),
    FollowUpKind.REPAIR: FollowUpRule(months=1),
    FollowUpKind.EVENT: FollowUpRule(months=1),
    FollowUpKind.MOVE_IN: FollowUpRule(months=1),
    FollowUpKind.EMERGENCY: FollowUpRule(days=3),
}

#: The follow-up rates the regulation sets (回访率), in per cent; ``handling`` is the
#: share of requests answered (件件有着落，事事有回音：回访处理率达100%).
REPORT_TARGETS: Mapping[str, int] = {
    FollowUpKind.COMPLAINT.value: 50,
    FollowUpKind.REPAIR.value: 30,
    FollowUpKind.EVENT.value: 10,
    "handling": 100,
}

#: 一般投诉由物业助理回访，重要投诉由部门主管回访，重大投诉由公司经理回访.
COMPLAINT_FOLLOW_UP_OWNER: Mapping[ComplaintGrade, Role] = {
    ComplaintGrade.NORMAL: Role.STAFF,
    ComplaintGrade.IMPORTANT: Role.SUPERVISOR,
    ComplaintGrade.MAJOR: Role.COMPANY_GM,
}


def follow_up_due_on(kind: FollowUpKind, trigger: date) -> date:
    """The last day a follow-up may be made: ``trigger`` (the day the matter was
    handled or the event ended) plus the rule's days or months; a month without
    that day ends on its last day (a deadline is never lengthened)."""
    rule = FOLLOW_UP_DUE[kind]
    month_index = trigger.month - 1 + rule.months
    year = trigger.year + month_index // 12
    month = month_index % 12 + 1
    day = min(trigger.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=rule.days)


def follow_up_kind(kind: RequestKind) -> FollowUpKind | None:
    """Which follow-up closing a request of ``kind`` calls for (None: none)."""
    return {
        RequestKind.COMPLAINT: FollowUpKind.COMPLAINT,
        RequestKind.REPAIR: FollowUpKind.REPAIR,
        RequestKind.EMERGENCY: FollowUpKind.EMERGENCY,
    }.get(kind)


def follow_up_needed(kind: RequestKind, anonymous: bool, reply_only: bool) -> bool:
    """Whether closing a request schedules a follow-up: complaints, repairs and
    emergencies do — except a complaint whose complainant left no name or whose
    higher office asked only for a reply letter (可不进行回访)."""
    if follow_up_kind(kind) is None:
        return False
    return not (kind is RequestKind.COMPLAINT and (anonymous or reply_only))


def reply_letter_required(kind: RequestKind, anonymous: bool, reply_only: bool) -> bool:
    """An anonymous or reply-only complaint cannot close without its reply letter
    (应将复函情况附在投诉表后)."""
    return kind is RequestKind.COMPLAINT and (anonymous or reply_only)


def follow_up_owner(kind: FollowUpKind, grade: ComplaintGrade | None) -> Role:
    """Who makes the follow-up: by the complaint's grade; otherwise the staff
    (物业助理) of the area."""
    if kind is FollowUpKind.COMPLAINT and grade is not None:
        return COMPLAINT_FOLLOW_UP_OWNER[grade]
    return Role.STAFF


def visit_method_allowed(method: VisitMethod, sequence: int,
                         grade: ComplaintGrade | None) -> Decision:
    """A first visit may be on site or by telephone (电话回访 needs no signature); a
    second visit of an unresolved matter is made on site; from the third on the
    telephone will do, except for a major complaint (第二次以后的不属于第三类投诉的
    回访可采用电话作回访形式)."""
    if method is VisitMethod.ON_SITE or sequence <= 1:
        return _allow(Reason.NO_APPROVAL_NEEDED)
    if sequence == 2 or grade is ComplaintGrade.MAJOR:
        return _deny(Reason.ON_SITE_REQUIRED)
    return _allow(Reason.NO_APPROVAL_NEEDED)


def _in_customer_service(subject: Subject, req: RequestFacts) -> bool:
    return (subject.company_id == req.company_id and req.department_id is not None
            and subject.department_id == req.department_id)


def can_handle_request(subject: Subject, req: RequestFacts) -> Decision:
    """Recording, handling, replying to and closing a company's requests: its
    handler; the customer-service department that keeps the register; the
    company's supervisors (主管), the department's manager and the general manager."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if req.handler_id is not None and subject.user_id == req.handler_id:
        return _allow(Reason.HANDLER)
    if subject.company_id == req.company_id:
        if subject.has(Role.COMPANY_GM):
            return _allow(Reason.OWNING_COMPANY_GM)
        if subject.has(Role.SUPERVISOR):
            return _allow(Reason.COMPANY_SUPERVISOR)
        if _in_customer_service(subject, req):
            if subject.has(Role.DEPT_MANAGER):
                return _allow(Reason.OWNING_DEPT_MANAGER)
            return _allow(Reason.OWNING_DEPARTMENT)
    return _deny(Reason.NOT_REQUEST_KEEPER)


def can_read_request(subject: Subject, req: RequestFacts) -> Decision:
    """Reading a request record with its content (customer information, 秘密): whoever
    may handle it, HQ executives and compliance; nobody else learns it exists."""
    handle = can_handle_request(subject, req)
    if handle.allowed or not subject.active:
        return handle
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    return _deny(Reason.NOT_IN_SCOPE)


def can_follow_up(subject: Subject, req: RequestFacts, owner: Role) -> Decision:
    """Recording a follow-up visit: the person the rule names (``owner``) or someone
    above them in the owning company — the customer-service staff (物业助理) for
    ordinary matters, the supervisor or department manager (部门主管) for important
    complaints, the general manager (公司经理) for major ones."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.company_id == req.company_id:
        if subject.has(Role.COMPANY_GM):
            return _allow(Reason.OWNING_COMPANY_GM)
        if owner is not Role.COMPANY_GM:
            if subject.has(Role.SUPERVISOR):
                return _allow(Reason.COMPANY_SUPERVISOR)
            if subject.has(Role.DEPT_MANAGER) and (req.department_id is None
                                                   or _in_customer_service(subject, req)):
                return _allow(Reason.OWNING_DEPT_MANAGER)
        if owner is Role.STAFF and (req.department_id is None
                                    or _in_customer_service(subject, req)):
            return _allow(Reason.OWNING_DEPARTMENT)
    return _deny(Reason.NOT_FOLLOW_UP_OWNER)


def can_review_follow_up(subject: Subject, req: RequestFacts, visitor_id: int | None) -> Decision:
    """Reviewing a visit record and signing an opinion (客服部主管…检查并签署意见): the
    company's supervisors and the customer-service department's manager, never on
    a visit of their own."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.company_id != req.company_id:
        return _deny(Reason.NOT_FOLLOW_UP_REVIEWER)
    if visitor_id is not None and subject.user_id == visitor_id:
        return _deny(Reason.VISITOR_CANNOT_REVIEW)
    if subject.has(Role.SUPERVISOR):
        return _allow(Reason.COMPANY_SUPERVISOR)
    if subject.has(Role.DEPT_MANAGER) and (req.department_id is None
                                           or _in_customer_service(subject, req)):
        return _allow(Reason.OWNING_DEPT_MANAGER)
    return _deny(Reason.NOT_FOLLOW_UP_REVIEWER)


def can_read_follow_up_report(subject: Subject, company_id: int) -> Decision:
    """The monthly 客户回访记录 of a company: its leadership (general manager) and
    supervisors who compile it, HQ executives and compliance."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.company_id == company_id:
        if subject.has(Role.COMPANY_GM):
            return _allow(Reason.OWNING_COMPANY_GM)
        if subject.has(Role.SUPERVISOR):
            return _allow(Reason.COMPANY_SUPERVISOR)
    if subject.is_hq_executive:
        return _allow(Reason.HQ_EXECUTIVE)
    if subject.has(Role.COMPLIANCE):
        return _allow(Reason.COMPLIANCE)
    return _deny(Reason.NOT_REPORT_READER)


def can_keep_deposits(subject: Subject, company_id: int) -> Decision:
    """Writing a company's deposit register (前台人员…准确填写《租户临时物品寄存记录表》):
    its employees. Reading it follows `can_read_tenants`."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.company_id == company_id:
        return _allow(Reason.INTERNAL_EMPLOYEE)
    return _deny(Reason.NOT_TENANT_KEEPER)


# ---------------------------------------------------------------------------
# Outgoing letters with seal approval (对外发文与用章申请)


@dataclass(frozen=True)
class LetterFacts:
    """An outgoing letter as the seal rules see it: whose it is and who asks."""

    company_id: int
    company_is_hq: bool
    department_id: int | None  # the owning (drafting) department


def _holds_seal_office(subject: Subject, letter: LetterFacts, scope: ApproverScope) -> bool:
    if scope is ApproverScope.OWNING_DEPT_MANAGER:
        return (subject.has(Role.DEPT_MANAGER) and letter.department_id is not None
                and subject.company_id == letter.company_id
                and subject.department_id == letter.department_id)
    if scope is ApproverScope.OWNING_COMPANY_GM and not letter.company_is_hq:
        return subject.has(Role.COMPANY_GM) and subject.company_id == letter.company_id
    return subject.is_hq_executive


def seal_route(letter: LetterFacts, requester: Subject,
               vacant: Iterable[ApproverScope] = ()) -> tuple[ApproverScope, ...]:
    """Who approves a seal request, in order (对外发文需经领导同意，提交用章申请并获得批准后
    至总经办盖章): the owning department's manager, then the company's general
    manager (for HQ: an HQ executive). A step whose office the requester holds, or
    that is ``vacant`` (nobody holds it), is left out: a department manager's own
    letter, a letter of a department without a manager, and the general manager's or
    an HQ executive's own letter skip the manager; a subsidiary GM's own letter goes
    up to the HQ executives. The last step is never left out."""
    gm = ApproverScope.OWNING_COMPANY_GM
    senior = _holds_seal_office(requester, letter, gm)
    steps: list[ApproverScope] = []
    if (letter.department_id is not None and not senior
            and ApproverScope.OWNING_DEPT_MANAGER not in set(vacant)
            and not _holds_seal_office(requester, letter, ApproverScope.OWNING_DEPT_MANAGER)):
        steps.append(ApproverScope.OWNING_DEPT_MANAGER)
    steps.append(ApproverScope.HQ_EXECUTIVES if senior and not letter.company_is_hq else gm)
    return tuple(steps)


def can_decide_seal(subject: Subject, letter: LetterFacts, scope: ApproverScope,
                    requester_id: int, earlier_deciders: Iterable[int] = ()) -> Decision:
    """Whether ``subject`` may decide the step of a seal request awaiting ``scope``:
    who holds that office for the letter, never the requester, and never twice in
    one request (one person approving both steps is no second look)."""
    if not subject.active:
        return _deny(Reason.INACTIVE_USER)
    if subject.user_id == requester_id:
        return _deny(Reason.REQUESTER_CANNOT_APPROVE)
    if subject.user_id in set(earlier_deciders):
        return _deny(Reason.ALREADY_DECIDED_STEP)
    if _holds_seal_office(subject, letter, scope):
        return _allow(_SCOPE_REASON[scope])
    return _deny(Reason.NOT_AN_APPROVER)


def can_send_letter(status: str) -> Decision:
    """A letter drawn from the template goes out to tenants only once sealed
    (已用印); a notice or letter registered as a file of its own is not held."""
    if status == "sealed":
        return _allow(Reason.SEALED)
    return _deny(Reason.LETTER_NOT_SEALED)


def can_manage_letter_templates(subject: Subject) -> Decision:
    """对外发文模版 are kept by administrators."""
    return can_administer(subject)




def second_factor_required(subject: Subject, required_roles: Iterable[Role]) -> bool:
    """Whether signing in needs a second factor (TOTP): it does for anyone holding
    one of ``required_roles`` (the ``require_2fa_roles`` setting; by default HQ
    executives, company GMs, compliance and administrators). Everyone else may
    enrol by choice. Roles count as held whatever the company: the role table
    already keeps ``hq_executive`` to HQ people."""
    return not subject.roles.isdisjoint(required_roles)


# ---------------------------------------------------------------------------
# Markings (标志)


LEVEL_LABELS: Mapping[str, Mapping[Level, str]] = {
    "zh": {
        Level.TOP_SECRET: "绝密",
        Level.SECRET: "机密",
        Level.CONFIDENTIAL: "秘密",
        Level.INTERNAL: "内部",
    },
    "en": {
        Level.TOP_SECRET: "TOP SECRET",
        Level.SECRET: "SECRET",
        Level.CONFIDENTIAL: "CONFIDENTIAL",
        Level.INTERNAL: "INTERNAL",
    },
}


@dataclass(frozen=True)
class MarkingStyle:
    """The marking template is configuration (a company may prefer 核心商密)."""

    labels: Mapping[str, Mapping[Level, str]] = field(default_factory=lambda: LEVEL_LABELS)
    star: str = "★"


def _lang(lang: str) -> str:
    return "en" if lang.lower().startswith("en") else "zh"


# Fixed names: calendar.month_name follows the process locale.
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def period_text(period: Period, lang: str = "zh") -> str:
    """``10年`` / ``2027年6月30日`` / ``10 years`` / ``until 30 June 2027``."""
    kind = period.kind
    zh = _lang(lang) == "zh"
    if kind == "condition":
        return f"解密条件：{period.condition}" if zh else f"until {period.condition}"
    if kind == "date":
        d = period.until
        assert d is not None
        if zh:
            return f"{d.year}年{d.month}月{d.day}日"
        return f"until {d.day} {_MONTHS[d.month - 1]} {d.year}"
    if kind == "none":
        return ""
    parts: list[str] = []
    units_zh = (("年", period.years), ("个月", period.months), ("天", period.days))
    units_en = (("year", period.years), ("month", period.months), ("day", period.days))
    if zh:
        parts = [f"{n}{u}" for u, n in units_zh if n]
        return "".join(parts)
    parts = [f"{n} {u}{'' if n == 1 else 's'}" for u, n in units_en if n]
    return " ".join(parts)


def marking(
    level: Level, period: Period, lang: str = "zh", style: MarkingStyle | None = None
) -> str:
    """The marking 密级★保密期限: ``机密★10年``, ``SECRET★10 years``; internal: its label alone."""
    style = style or MarkingStyle()
    label = style.labels[_lang(lang)][level]
    if not level.classified:
        return label
    text = period_text(period, lang)
    return f"{label}{style.star}{text}" if text else label
