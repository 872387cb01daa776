"""What the document pages show: plain data gathered in one unit of work.

The web views render these after the unit of work has committed (and the session
closed), so every function returns dataclasses of plain values, never ORM rows.
Secrecy decisions come from `vault.policy`; content goes through
`vault.services.viewer` and `documents.open_content`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import or_, select

from vault import policy
from vault.actions import Action
from vault.errors import InvalidInput
from vault.models import (
    ClassificationChange,
    Company,
    Department,
    Document,
    DocumentVersion,
    Grant,
    Tenant,
    User,
)
from vault.policy import Category, Level, Period
from vault.services import accounts, documents, search_index, viewer
from vault.services.context import Ctx

EXPIRING_DAYS = 30
SHARED_DAYS = 90


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class FormOptions:
    """Choices for the register form, for the actor's company."""

    categories: list[str]
    levels: list[str]
    defaults: dict[str, dict[str, Any]]  # category -> {level, years}
    level_years: dict[str, int]  # level -> default period in years (0: none)
    supervisors: list[Choice]
    departments: list[Choice]
    tenants: list[Choice]
    actor: str
    actor_department: str | None
    today: date


def _years(period: Period) -> int:
    return period.years


def form_options(ctx: Ctx) -> FormOptions:
    """Everything the register form offers: categories with their default level and
    period (pre-filled by the page's script), the people of the actor's company who
    may be the responsible supervisor, its departments and the tenants."""
    actor = ctx.actor
    assert actor is not None
    company = actor.company
    people = ctx.session.scalars(
        select(User).where(User.company_id == company.id, User.active.is_(True))
        .order_by(User.name)
    )
    depts = ctx.session.scalars(
        select(Department).where(Department.company_id == company.id).order_by(Department.code)
    )
    tenants = ctx.session.scalars(
        select(Tenant).where(or_(Tenant.company_id == company.id, Tenant.company_id.is_(None)))
        .order_by(Tenant.code)
    )
    return FormOptions(
        categories=[c.value for c in Category],
        levels=[lv.value for lv in reversed(Level)],
        defaults={
            c.value: {"level": policy.DEFAULT_LEVEL[c].value,
                      "years": _years(policy.DEFAULT_PERIOD[policy.DEFAULT_LEVEL[c]])}
            for c in Category
        },
        level_years={lv.value: _years(policy.DEFAULT_PERIOD[lv]) for lv in Level},
        supervisors=[Choice(u.username, f"{u.name} ({u.username})") for u in people],
        departments=[Choice(d.code, f"{d.name} ({d.code})") for d in depts],
        tenants=[Choice(t.code, f"{t.name} {t.unit or ''} ({t.code})".replace("  ", " "))
                 for t in tenants],
        actor=actor.username,
        actor_department=actor.department.code if actor.department else None,
        today=ctx.now.astimezone(ctx.settings.tz).date(),
    )


def register(
    ctx: Ctx,
    *,
    title: str,
    category: Category,
    level: Level | None,
    period: Period | None,
    issued_on: date | None,
    supervisor: str | None,
    department: str | None,
    tenant: str | None,
    paper_original: bool,
    content: BinaryIO | None,
    filename: str | None,
) -> int:
    """Register a document from the form (people and places by code); its id."""
    sup = None
    if supervisor:
        sup = ctx.session.scalar(select(User).where(User.username == supervisor))
        if sup is None:
            raise InvalidInput(f"No person {supervisor!r}.", code="bad_supervisor")
    doc = documents.register(
        ctx, title=title, category=category, level=level, period=period, issued_on=issued_on,
        supervisor=sup, department_code=department or None, tenant_code=tenant or None,
        paper_original=paper_original, content=content, filename=filename,
    )
    return doc.id


def add_version(ctx: Ctx, doc_id: int, content: BinaryIO, filename: str) -> int:
    """A new version (see `documents.add_version`); its number."""
    return documents.add_version(ctx, doc_id, content, filename).number


# ---------------------------------------------------------------------------
# Browse and search


@dataclass
class Row:
    id: int
    title: str
    category: str
    level: str
    marking: str
    company: str
    department: str | None
    tenant: str | None
    issued_on: date
    paper_original: bool
    #: The codes of the company, department and tenant (the names are above).
    company_code: str
    department_code: str | None
    tenant_code: str | None
    #: The first page may be shown small: a PDF or image the actor may view.
    thumbnail: bool = False


def _row(ctx: Ctx, doc: Document, level: Level, lang: str, thumbnail: bool = False) -> Row:
    return Row(
        id=doc.id, title=doc.title, category=doc.category, level=level.value,
        marking=policy.marking(level, documents.period_of(doc), lang),
        company=doc.company.name, department=doc.department.name if doc.department else None,
        tenant=doc.tenant.name if doc.tenant else None, issued_on=doc.issued_on,
        paper_original=doc.has_paper_original, company_code=doc.company.code,
        department_code=doc.department.code if doc.department else None,
        tenant_code=doc.tenant.code if doc.tenant else None, thumbnail=thumbnail,
    )


@dataclass(frozen=True)
class Listing:
    """A page of the documents the actor may know of (the API's list, `vault ls`)."""

    rows: tuple[Row, ...]
    total: int
    page: int
    per_page: int
    #: More than ``total`` (`documents.COUNT_CAP`) match.
    total_capped: bool


def listing(ctx: Ctx, query: documents.Query, lang: str) -> Listing:
    found = documents.search(ctx, query)
    return Listing(tuple(_row(ctx, d, found.levels[d.id], lang) for d in found.items),
                   found.total, found.page, found.per_page, found.total_capped)


def _with_thumbnails(ctx: Ctx, docs: list[Document]) -> set[int]:
    """Which of ``docs`` get a thumbnail: the latest stored version is a PDF or an
    image the viewer draws, and `policy.can_view` lets the actor read it."""
    if not docs:
        return set()
    latest: dict[int, DocumentVersion] = {}
    for ver in ctx.session.scalars(
        select(DocumentVersion)
        .where(DocumentVersion.document_id.in_([d.id for d in docs]),
               DocumentVersion.blob_id.is_not(None))
        .order_by(DocumentVersion.number)
    ):
        latest[ver.document_id] = ver
    drawn = (viewer.Kind.PDF, viewer.Kind.IMAGE)
    return {
        d.id for d in docs
        if d.id in latest and viewer.kind_of(latest[d.id].media_type, latest[d.id].size) in drawn
        and policy.can_view(ctx.subject, documents.facts(d, ctx.settings.tz), ctx.now).allowed
    }


@dataclass
class Browse:
    rows: list[Row]
    total: int
    page: int
    per_page: int
    companies: list[Choice]
    departments: list[Choice]  # value "COMPANY/DEPT"
    tenants: list[Choice]
    #: More than ``total`` (`documents.COUNT_CAP`) match: the list says "1,000+".
    total_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def browse(ctx: Ctx, query: documents.Query, lang: str = "zh") -> Browse:
    """One page of the documents in the actor's scope matching ``query`` (audited as a
    search); the filters' choices. Documents out of scope are absent, counts included
    (up to `documents.COUNT_CAP`: beyond it the list says "1,000+")."""
    found = documents.search(ctx, replace(query, count_cap=documents.COUNT_CAP))
    drawn = _with_thumbnails(ctx, found.items)
    rows = [_row(ctx, d, found.levels[d.id], lang, d.id in drawn) for d in found.items]
    companies = list(ctx.session.scalars(select(Company).order_by(Company.is_hq.desc(),
                                                                   Company.code)))
    depts = ctx.session.execute(
        select(Department, Company.code).join(Company, Department.company_id == Company.id)
        .order_by(Company.code, Department.code)
    ).all()
    tenants = ctx.session.scalars(select(Tenant).order_by(Tenant.code))
    ctx.record(Action.DOCUMENT_SEARCH, object_type="search", reason="search",
               detail={"results": found.total, "page": query.page,
                       "filters": sorted(k for k, v in vars(query).items()
                                         if v and k not in ("page", "per_page", "sort"))})
    return Browse(
        rows=rows, total=found.total, page=found.page, per_page=found.per_page,
        companies=[Choice(c.code, c.name) for c in companies],
        departments=[Choice(f"{code}/{d.code}", f"{d.name} ({code})") for d, code in depts],
        tenants=[Choice(t.code, f"{t.name} ({t.code})") for t in tenants],
        total_capped=found.total_capped,
    )


# ---------------------------------------------------------------------------
# The document page


@dataclass
class VersionInfo:
    number: int
    name: str | None
    size: int
    media_type: str | None
    created_at: datetime
    created_by: str | None


@dataclass
class ChangeInfo:
    at: datetime
    actor: str | None
    kind: str
    old_level: str | None
    new_level: str
    old_period: str | None  # shown as period text
    new_period: str | None
    note: str | None


@dataclass
class GrantInfo:
    grantee: str
    grantee_name: str
    grantor_name: str
    level: str
    created_at: datetime
    until: datetime | None
    revoked_at: datetime | None
    active: bool
    # The registrant's own designation (绝密; 机密 in the supervisor's name).
    by_registration: bool = False
    # Made or confirmed by an HQ executive: holds at every level.
    hq_confirmed: bool = False


@dataclass
class Knower:
    username: str
    name: str
    company: str
    reason: str


@dataclass
class DocPage:
    id: int
    title: str
    category: str
    level: str  # effective
    stored_level: str
    marking: str
    period: str  # period text in the page's language
    issued_on: date
    declassify_at: datetime | None
    condition: str | None
    company: str
    department: str | None
    supervisor: str | None
    registrant: str | None
    tenant: str | None
    paper_original: bool
    versions: list[VersionInfo]
    changes: list[ChangeInfo]
    grants: list[GrantInfo]
    everyone_may_view: bool
    may_view_list: list[Knower]
    may_view: bool
    view_reason: str
    may_download: bool
    may_grant: bool
    may_add_version: bool
    grant_candidates: list[Choice] = field(default_factory=list)
    viewer_kind: str = "none"


def page(ctx: Ctx, doc_id: int, lang: str = "zh") -> DocPage:
    """The document page: metadata, versions, classification history, who may view and
    why, grants, and what the actor may do here. Audited as a metadata view."""
    doc = documents.load(ctx, doc_id, Action.DOCUMENT_VIEW_METADATA)
    tz = ctx.settings.tz
    doc_facts = documents.facts(doc, tz)
    subject = ctx.subject
    now = ctx.now
    level = policy.effective_level(doc_facts, now)
    period = documents.period_of(doc)
    view = policy.can_view(subject, doc_facts, now)
    may_grant = policy.can_grant(subject, doc_facts, now).allowed
    knowers: list[Knower] = []
    candidates: list[Choice] = []
    # Who may view is listed for classified files; people to grant to, for those who
    # may grant: otherwise nobody needs the list of people.
    people = (accounts.active_people(ctx.session) if level.classified or may_grant else [])
    for person in people:
        decision = policy.can_view(person.subject, doc_facts, now)
        if decision.allowed:
            knowers.append(Knower(person.username, person.name, person.company,
                                  decision.reason.value))
        elif may_grant:
            candidates.append(Choice(person.username,
                                     f"{person.name} ({person.username}, {person.company})"))
    latest = [v for v in doc.versions if v.blob_id]
    changes = ctx.session.scalars(
        select(ClassificationChange).where(ClassificationChange.document_id == doc.id)
        .order_by(ClassificationChange.id))
    grants = ctx.session.scalars(
        select(Grant).where(Grant.document_id == doc.id).order_by(Grant.id))
    result = DocPage(
        id=doc.id, title=doc.title, category=doc.category, level=level.value,
        stored_level=doc.level, marking=policy.marking(level, period, lang),
        period=policy.period_text(period, lang), issued_on=doc.issued_on,
        declassify_at=doc.declassify_at.astimezone(tz) if doc.declassify_at else None,
        condition=doc.condition, company=doc.company.name,
        department=doc.department.name if doc.department else None,
        supervisor=doc.supervisor.name if doc.supervisor else None,
        registrant=doc.registrant.name if doc.registrant else None,
        tenant=(f"{doc.tenant.name} ({doc.tenant.unit})" if doc.tenant and doc.tenant.unit
                else doc.tenant.name if doc.tenant else None),
        paper_original=doc.has_paper_original,
        versions=[VersionInfo(v.number, v.original_name, v.size, v.media_type,
                              v.created_at.astimezone(tz), _name_of(ctx, v.created_by_id))
                  for v in doc.versions],
        changes=[ChangeInfo(c.at.astimezone(tz), c.actor.name if c.actor else None, c.kind,
                            c.old_level, c.new_level, documents.period_words(c.old_period, lang),
                            documents.period_words(c.new_period, lang), c.note) for c in changes],
        grants=[GrantInfo(g.grantee.username, g.grantee.name, g.grantor.name, g.level,
                          g.created_at.astimezone(tz),
                          g.until.astimezone(tz) if g.until else None,
                          g.revoked_at.astimezone(tz) if g.revoked_at else None,
                          g.revoked_at is None and (g.until is None or g.until > now),
                          g.basis == documents.REGISTRATION, g.hq_confirmed_by_id is not None)
                for g in grants],
        everyone_may_view=not level.classified,
        may_view_list=knowers if level.classified else [],
        may_view=view.allowed,
        view_reason=view.reason.value,
        may_download=bool(latest) and policy.can_download(subject, doc_facts, now).allowed,
        may_grant=may_grant,
        may_add_version=policy.can_add_version(subject, doc_facts, now).allowed,
        grant_candidates=candidates,
        viewer_kind=(viewer.kind_of(latest[-1].media_type, latest[-1].size).value
                     if latest else viewer.Kind.NONE.value),
    )
    ctx.record(Action.DOCUMENT_VIEW_METADATA, object_type="document", object_id=str(doc.id),
               level=level.value, reason="metadata", detail={"part": "page"})
    return result


def _name_of(ctx: Ctx, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = ctx.session.get(User, user_id)
    return user.name if user else None


# ---------------------------------------------------------------------------
# Home: what needs me


@dataclass
class HomeItem:
    id: int
    title: str
    level: str
    marking: str
    when: datetime  # granted at / declassifies at
    by: str | None = None  # the grantor


@dataclass
class Home:
    shared: list[HomeItem]
    expiring: list[HomeItem]


def home(ctx: Ctx, lang: str = "zh") -> Home:
    """Documents shared with the actor recently (active grants of the last
    `SHARED_DAYS` days) and classified files the actor is responsible for
    (supervisor or registrant) whose period ends within `EXPIRING_DAYS` days."""
    actor = ctx.actor
    assert actor is not None
    subject = ctx.subject
    now = ctx.now
    tz = ctx.settings.tz
    shared: list[HomeItem] = []
    seen: set[int] = set()
    rows = ctx.session.scalars(
        select(Grant).where(Grant.grantee_id == actor.id, Grant.revoked_at.is_(None),
                            Grant.created_at >= now - timedelta(days=SHARED_DAYS))
        .order_by(Grant.created_at.desc()).limit(50))
    for g in rows:
        if g.document_id in seen or (g.until is not None and g.until <= now):
            continue
        doc = g.document
        doc_facts = documents.facts(doc, tz)
        if not policy.can_see_metadata(subject, doc_facts, now).allowed:
            continue
        seen.add(doc.id)
        level = policy.effective_level(doc_facts, now)
        shared.append(HomeItem(doc.id, doc.title, level.value,
                               policy.marking(level, documents.period_of(doc), lang),
                               g.created_at.astimezone(tz), g.grantor.name))
    expiring: list[HomeItem] = []
    docs = ctx.session.scalars(
        select(Document).where(
            or_(Document.supervisor_id == actor.id, Document.registrant_id == actor.id),
            Document.declassify_at.is_not(None),
            Document.declassify_at > now,
            Document.declassify_at <= now + timedelta(days=EXPIRING_DAYS),
        ).order_by(Document.declassify_at))
    for doc in docs:
        doc_facts = documents.facts(doc, tz)
        level = policy.effective_level(doc_facts, now)
        if not level.classified or not policy.can_see_metadata(subject, doc_facts, now).allowed:
            continue
        assert doc.declassify_at is not None
        expiring.append(HomeItem(doc.id, doc.title, level.value,
                                 policy.marking(level, documents.period_of(doc), lang),
                                 doc.declassify_at.astimezone(tz)))
    return Home(shared, expiring)


def text_status(ctx: Ctx, doc_id: int) -> search_index.TextStatus:
    """How far the file's text is indexed (shown on its page; the page was audited)."""
    return search_index.status(ctx.session, doc_id)
