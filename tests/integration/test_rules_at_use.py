"""The secrecy rules hold at every use, not only at the first (issue 11), through the
services over real storage, keys and audit (SQLite and PostgreSQL).

1. An approval is checked again when it is used: a download, a loan handed over, a
   change applied. A void approval releases nothing, shows "void: reclassified",
   tells requester and approver, is audited; the requester may ask again.
4. No office is ever empty: a GM's own request goes to the HQ executives; the last
   custodian stays; a company without one has its GM keep the lending register; the
   HQ executives hear of a 绝密 file's period ending.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from snapshots import Snapshot, in_one_transaction  # noqa: I001 - tests/snapshots.py
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import db
from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.errors import Conflict, Forbidden, NotFound
from vault.models import CopyRequest, Notification, RegisteredCopy
from vault.policy import Category, CopyKind, Level, Period, Role
from vault.services import accounts, copies, documents, grants, jobs, leaks, samples
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _add_vp(s: Session) -> None:
    accounts.add_user(s, "vp", "vp", "HQ", "OFF", accounts.parse_roles("hq_executive"),
                      "correct horse battery staple")


# Built once per session and database kind on tests/conftest.py's `org`; copied per test.
SNAPSHOT = Snapshot("rules-at-use-group", in_one_transaction(_add_vp), base="org")


@pytest.fixture
def group(snapshot_url: str, org: Infra) -> Infra:
    """tests/conftest.py's organisation and a second HQ executive (副总经理)."""
    return org


def register(infra: Infra, actor: str, level: Level, category: Category = Category.CONTRACT,
             paper: bool = False, period: Period | None = None,
             issued_on: date | None = None) -> int:
    content = None if paper else samples.pdf_pages("季度报告", pages=2)
    with unit_of_work(infra, actor, NOW) as ctx:
        return documents.register(
            ctx, title="季度报告", category=category, level=level, period=period,
            issued_on=issued_on, content=io.BytesIO(content) if content else None,
            filename="doc.pdf" if content else None).id


def ask(infra: Infra, actor: str, doc: int, kind: CopyKind = CopyKind.COPY,
        now: datetime = NOW, **kw: object) -> int:
    with unit_of_work(infra, actor, now) as ctx:
        return copies.request(ctx, doc, kind, "审计需要", **kw).id  # type: ignore[arg-type]


def approve(infra: Infra, actor: str, req: int, now: datetime = NOW) -> None:
    with unit_of_work(infra, actor, now) as ctx:
        copies.approve(ctx, req)


def fetch(infra: Infra, actor: str, req: int, now: datetime = LATER) -> str:
    with unit_of_work(infra, actor, now) as ctx:
        delivery = copies.download(ctx, req)
        b"".join(delivery.chunks)
        return delivery.copy.label


def reclassify(infra: Infra, actor: str, doc: int, level: Level, now: datetime = NOW) -> None:
    with unit_of_work(infra, actor, now) as ctx:
        documents.change_classification(ctx, doc, level=level)


def state(infra: Infra, req: int) -> str:
    with infra.sessions() as s:
        row = s.get(CopyRequest, req)
        assert row is not None
        return copies.state(row, LATER)


def told(infra: Infra, req: int, kind: str) -> dict[str, str]:
    with infra.sessions() as s:
        rows = s.scalars(select(Notification).where(Notification.request_id == req,
                                                    Notification.kind == kind))
        return {n.user.username: n.subject_zh for n in rows}


def events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def registered(infra: Infra, doc: int) -> int:
    with infra.sessions() as s:
        return len(list(s.scalars(select(RegisteredCopy)
                                  .where(RegisteredCopy.document_id == doc))))


# ---------------------------------------------------------------------------
# 1. An approval is re-checked when it is used


def test_a_gm_approved_copy_is_void_once_the_file_is_raised_to_top_secret(group: Infra) -> None:
    doc = register(group, "boss", Level.SECRET)
    req = ask(group, "boss", doc)
    approve(group, "gm", req)
    reclassify(group, "ceo", doc, Level.TOP_SECRET, now=NOW + timedelta(minutes=5))
    with pytest.raises(Conflict) as err:
        fetch(group, "boss", req)
    assert err.value.code == "void_reclassified"
    assert "reclassified" in err.value.message
    assert registered(group, doc) == 0  # nothing released
    assert state(group, req) == "void: reclassified"
    # Requester and approver are told; the GM, who may no longer know of a 绝密 file,
    # is told without its title.
    notes = told(group, req, "request_void")
    assert set(notes) == {"boss", "gm"}
    assert "季度报告" not in notes["gm"] and "已作废" in notes["gm"]
    voided = [(e.actor, e.outcome, e.reason) for e in events(group, Action.COPY_VOID)]
    assert voided == [("boss", Outcome.ALLOWED, "void_reclassified")]
    denied = [(e.actor, e.reason) for e in events(group, Action.COPY_DOWNLOAD)]
    assert denied == [("boss", "void_reclassified")]
    # A second try says the same, and stays void.
    with pytest.raises(Forbidden) as again:
        fetch(group, "boss", req, now=LATER + timedelta(minutes=1))
    assert again.value.code == "not_approved"


def test_an_approver_who_lost_the_office_voids_the_copy_and_the_requester_asks_again(
        group: Infra) -> None:
    doc = register(group, "boss", Level.SECRET)
    req = ask(group, "boss", doc)
    approve(group, "gm", req)
    with unit_of_work(group, None, NOW) as ctx:
        accounts.change_roles(ctx, "gm", frozenset({Role.STAFF}))
    with pytest.raises(Conflict) as err:
        fetch(group, "boss", req)
    assert err.value.code == "void_approver_lost_office"
    assert state(group, req) == "void: approver lost the office"
    again = ask(group, "boss", doc, now=LATER)
    with unit_of_work(group, None, LATER) as ctx:
        row = ctx.session.get(CopyRequest, again)
        assert row is not None
        assert {u.username for u in copies.approvers_for(ctx, row)} == set()  # no GM now
    with unit_of_work(group, None, LATER) as ctx:
        accounts.change_roles(ctx, "gm", frozenset({Role.COMPANY_GM}))
    approve(group, "gm", again, now=LATER)
    assert fetch(group, "boss", again, now=LATER + timedelta(minutes=1)).endswith("副本 1")


def test_a_requester_who_lost_the_right_to_read_gets_nothing(group: Infra) -> None:
    doc = register(group, "boss", Level.SECRET)
    with unit_of_work(group, "boss", NOW) as ctx:
        grants.grant(ctx, doc, "clerk")
    req = ask(group, "clerk", doc)
    approve(group, "gm", req)
    with unit_of_work(group, "boss", NOW) as ctx:
        grants.revoke(ctx, doc, "clerk")
    with pytest.raises(Conflict) as err:
        fetch(group, "clerk", req)
    assert err.value.code == "void_requester_lost_access"
    assert registered(group, doc) == 0
    assert set(told(group, req, "request_void")) == {"clerk", "gm"}


def test_a_loan_whose_approver_lost_the_office_is_not_handed_over(group: Infra) -> None:
    doc = register(group, "boss", Level.INTERNAL, Category.BUSINESS_LICENCE, paper=True)
    req = ask(group, "clerk", doc, CopyKind.LEND, due_on=date(2026, 12, 5))
    approve(group, "gm", req)
    with unit_of_work(group, None, NOW) as ctx:
        accounts.deactivate_user(ctx, "gm")
    with unit_of_work(group, "keeper", NOW) as ctx:
        (loan,) = copies.loans(ctx)
        loan_id = loan.id
    with pytest.raises(Conflict) as err:
        with unit_of_work(group, "keeper", LATER) as ctx:
            copies.hand_over(ctx, loan_id)
    assert err.value.code == "void_approver_lost_office"
    with unit_of_work(group, "keeper", LATER) as ctx:
        (loan,) = copies.loans(ctx)
        assert loan.lent_at is None
    assert state(group, req) == "void: approver lost the office"
    assert [e.reason for e in events(group, Action.LOAN_CREATE)] == ["void_approver_lost_office"]


def test_a_downgrade_asked_before_a_raise_is_void_not_applied(group: Infra) -> None:
    doc = register(group, "boss", Level.SECRET)
    req = ask(group, "boss", doc, CopyKind.DOWNGRADE, new_level=Level.CONFIDENTIAL)
    reclassify(group, "ceo", doc, Level.TOP_SECRET)
    with pytest.raises(Conflict) as err:
        approve(group, "ceo", req, now=LATER)
    assert err.value.code == "void_reclassified"
    with group.sessions() as s:
        row = s.get(CopyRequest, req)
        assert row is not None and row.status == "void"
        assert row.document.level == Level.TOP_SECRET.value  # not brought down to 秘密
    assert set(told(group, req, "request_void")) >= {"ceo"}


# ---------------------------------------------------------------------------
# 4. No office is ever empty


def test_a_subsidiary_gm_asking_for_a_copy_is_approved_by_the_hq_executives(
        group: Infra) -> None:
    doc = register(group, "boss", Level.SECRET)
    with unit_of_work(group, "boss", NOW) as ctx:
        grants.grant(ctx, doc, "gm")
    req = ask(group, "gm", doc)
    with unit_of_work(group, None, NOW) as ctx:
        row = ctx.session.get(CopyRequest, req)
        assert row is not None
        assert {u.username for u in copies.approvers_for(ctx, row)} == {"ceo", "vp"}
    assert set(told(group, req, "request_pending")) == {"ceo", "vp"}
    with pytest.raises(Forbidden):
        approve(group, "gm", req)
    approve(group, "vp", req)
    assert fetch(group, "gm", req).startswith("机密-2026-")


def test_the_last_custodian_stays_until_another_is_named(group: Infra) -> None:
    for change in (lambda ctx: accounts.change_roles(ctx, "keeper", frozenset({Role.STAFF})),
                   lambda ctx: accounts.deactivate_user(ctx, "keeper")):
        with pytest.raises(Conflict) as err:
            with unit_of_work(group, None, NOW) as ctx:
                change(ctx)
        assert err.value.code == "last_custodian"
        assert "custodian role" in err.value.message and "SZ" in err.value.message
    with group.sessions() as s:
        assert [c.code for c in accounts.companies_without_custodian(s)] == ["GZ", "HQ"]
    with unit_of_work(group, None, NOW) as ctx:
        accounts.change_roles(ctx, "clerk", frozenset({Role.STAFF, Role.CUSTODIAN}))
    with unit_of_work(group, None, NOW) as ctx:
        accounts.deactivate_user(ctx, "keeper")
    with group.sessions() as s:
        assert accounts.get_user(s, "keeper").active is False


def test_without_a_custodian_the_gm_hands_over_and_takes_back(group: Infra) -> None:
    with db.transaction(group.sessions) as s:
        accounts.add_user(s, "gzgm", "gzgm", "GZ", "CS", accounts.parse_roles("company_gm"),
                          "correct horse battery staple")
    doc = register(group, "outsider", Level.INTERNAL, Category.TAX_REGISTRATION, paper=True)
    req = ask(group, "outsider", doc, CopyKind.LEND, due_on=date(2026, 12, 5))
    approve(group, "gzgm", req)
    with unit_of_work(group, "gzgm", NOW) as ctx:
        (loan,) = copies.loans(ctx)
        loan_id = loan.id
    with unit_of_work(group, "gzgm", LATER) as ctx:
        copies.hand_over(ctx, loan_id)
    with unit_of_work(group, "gzgm", LATER) as ctx:
        copies.return_loan(ctx, loan_id)
    # Another company's custodian still may not.
    with pytest.raises(Exception) as err:
        with unit_of_work(group, "keeper", LATER) as ctx:
            copies.return_loan(ctx, loan_id)
    assert getattr(err.value, "code", "") in {"unknown_loan", "not_custodian"}


def test_hq_executives_hear_that_a_top_secret_period_is_ending(group: Infra) -> None:
    issued = date(2016, 12, 10)
    doc = register(group, "ceo", Level.TOP_SECRET, Category.STRATEGY,
                   period=Period(years=10), issued_on=issued)
    jobs.run(group, ["expiry_notices"], now=NOW)
    with group.sessions() as s:
        people = {n.user.username for n in s.scalars(
            select(Notification).where(Notification.document_id == doc,
                                       Notification.kind == "period_ending"))}
    assert people == {"ceo", "vp"}


# ---------------------------------------------------------------------------
# 2. 绝密 is known only to persons an HQ executive designated


def may_view(infra: Infra, actor: str, doc: int) -> bool:
    try:
        with unit_of_work(infra, actor, LATER) as ctx:
            documents.load(ctx, doc, Action.DOCUMENT_VIEW, need="view")
    except (NotFound, Forbidden):
        return False
    return True


def designations(infra: Infra, doc: int) -> list[tuple[str, str, str, str | None]]:
    """Active designations: (grantee, grantor, basis, confirmed by)."""
    with unit_of_work(infra, "ceo", LATER) as ctx:
        info = documents.show(ctx, doc)
    return sorted((g["grantee"], g["grantor"], g["basis"], g["hq_confirmed_by"])
                  for g in info["grants"] if not g["revoked"])


def register_for(infra: Infra, actor: str, level: Level, supervisor: str) -> int:
    with unit_of_work(infra, actor, NOW) as ctx:
        return documents.register(
            ctx, title="董事会决议", category=Category.MEETING_MINUTES, level=level,
            supervisor=accounts.get_user(ctx.session, supervisor),
            content=io.BytesIO(samples.pdf_pages("决议", pages=1)), filename="d.pdf").id


def test_registering_a_top_secret_file_tells_every_hq_executive(group: Infra) -> None:
    doc = register(group, "boss", Level.TOP_SECRET, Category.STRATEGY)
    with group.sessions() as s:
        notes = {n.user.username: n.subject_zh for n in s.scalars(
            select(Notification).where(Notification.document_id == doc,
                                       Notification.kind == "top_secret"))}
    assert set(notes) == {"ceo", "vp"}
    assert all("季度报告" in text and "绝密★" in text and "boss" in text and "SZ-CS" in text
               for text in notes.values())
    # The registrant knows it by a designation "by registration", which an HQ
    # executive ends with the ordinary revoke.
    assert designations(group, doc) == [("boss", "boss", "registration", None)]
    assert may_view(group, "boss", doc)
    with unit_of_work(group, "vp", LATER) as ctx:
        assert grants.revoke(ctx, doc, "boss") == 1
    assert not may_view(group, "boss", doc)


def test_a_secret_registrant_is_designated_in_the_supervisors_name(group: Infra) -> None:
    doc = register_for(group, "clerk", Level.SECRET, supervisor="boss")
    assert designations(group, doc) == [("clerk", "boss", "registration", None)]
    assert may_view(group, "clerk", doc)
    with unit_of_work(group, "boss", LATER) as ctx:  # the supervisor ends it
        grants.revoke(ctx, doc, "clerk")
    assert not may_view(group, "clerk", doc)


def test_raising_to_top_secret_keeps_only_hq_made_or_confirmed_designations(
        group: Infra) -> None:
    doc = register_for(group, "clerk", Level.SECRET, supervisor="boss")
    with unit_of_work(group, "boss", NOW) as ctx:
        grants.grant(ctx, doc, "accountant")  # the supervisor's designee
    with unit_of_work(group, "ceo", NOW) as ctx:
        grants.grant(ctx, doc, "manager")  # an HQ executive's designation
    with unit_of_work(group, "ceo", NOW) as ctx:
        grants.grant(ctx, doc, "clerk")  # confirms the registrant's
    assert designations(group, doc) == [
        ("accountant", "boss", "grant", None), ("clerk", "boss", "registration", "ceo"),
        ("manager", "ceo", "grant", "ceo")]
    reclassify(group, "ceo", doc, Level.TOP_SECRET)
    assert designations(group, doc) == [
        ("clerk", "boss", "registration", "ceo"), ("manager", "ceo", "grant", "ceo")]
    assert {p: may_view(group, p, doc) for p in ("clerk", "manager", "accountant", "boss")} == {
        "clerk": True, "manager": True, "accountant": False, "boss": False}
    ended = [e.reason for e in events(group, Action.GRANT_REVOKE)]
    assert ended == ["raised_to_top_secret"]
    with group.sessions() as s:
        told_hq = {n.user.username for n in s.scalars(
            select(Notification).where(Notification.document_id == doc,
                                       Notification.kind == "top_secret"))}
    assert told_hq == {"vp"}  # the HQ executive who raised it knows


# ---------------------------------------------------------------------------
# 3. Anyone can report a suspected leak of anything


def test_anyone_reports_any_document_and_learns_nothing(group: Infra) -> None:
    doc = register(group, "boss", Level.SECRET)  # SZ 机密: the GZ outsider may not know of it
    answers = []
    for document_id in (doc, 999_999):
        with unit_of_work(group, "outsider", NOW) as ctx:
            leak = leaks.report(ctx, document_id=document_id, description="在餐厅捡到一页")
            answers.append({k: v for k, v in leaks.summary(leak, ctx.now, full=False).items()
                            if k not in ("id", "document")})
            assert leaks.summary(leak, ctx.now, full=False)["document"] == document_id
    assert answers[0] == answers[1]
    assert answers[0]["by"] == "document"
    with unit_of_work(group, "ceo", NOW) as ctx:
        rows = {r["given_document"]: r for r in (
            leaks.summary(x, ctx.now, full=True) for x in leaks.list_reports(ctx))}
    assert rows[doc]["title"] == "季度报告" and rows[doc]["document"] == doc
    assert rows[999_999]["title"] is None and rows[999_999]["document"] is None
    with group.sessions() as s:
        subjects = [n.subject_en for n in s.scalars(
            select(Notification).where(Notification.kind == "leak_report",
                                       Notification.user.has(username="ceo")))]
    assert any("季度报告" in t for t in subjects) and any("999999" in t for t in subjects)


def test_a_leak_is_reported_by_its_description_alone(group: Infra) -> None:
    with unit_of_work(group, "clerk", NOW) as ctx:
        leak = leaks.report(ctx, description="打印室废纸篓中发现带密级标志的合同复印件")
        receipt = leaks.receipt(leak, ctx.now)
    assert receipt["by"] == "description" and receipt["document"] is None
    with group.sessions() as s:
        notes = [(n.user.username, n.subject_en) for n in s.scalars(
            select(Notification).where(Notification.kind == "leak_report"))]
    assert {who for who, _ in notes} == {"ceo", "vp"}
    assert all("see the description" in text for _, text in notes)


# ---------------------------------------------------------------------------
# 5. Paper certificates: a photocopy is a copy request the custodian issues


def test_a_photocopy_of_a_paper_licence_is_approved_and_issued_into_the_register(
        group: Infra) -> None:
    doc = register(group, "boss", Level.CONFIDENTIAL, Category.BUSINESS_LICENCE, paper=True)
    req = ask(group, "clerk", doc)
    with unit_of_work(group, None, NOW) as ctx:
        row = ctx.session.get(CopyRequest, req)
        assert row is not None and row.version_number is None
        assert {u.username for u in copies.approvers_for(ctx, row)} == {"manager", "gm"}
    approve(group, "manager", req)
    with pytest.raises(Conflict) as paper:  # nothing to download: the custodian issues it
        fetch(group, "clerk", req)
    assert paper.value.code == "paper_copy"
    with pytest.raises(Forbidden):  # the company has a custodian: not the GM
        with unit_of_work(group, "gm", LATER) as ctx:
            copies.issue_photocopy(ctx, req)
    with unit_of_work(group, "keeper", LATER) as ctx:
        assert copies.show(ctx, req).may_issue
        copy = copies.issue_photocopy(ctx, req, note="盖章复印")
        issued = (copy.label, copy.recipient.username, copy.approved_by.username
                  if copy.approved_by else None)
    assert issued == (f"秘密-2026-{doc:04d} 副本 1", "clerk", "manager")
    with unit_of_work(group, "keeper", LATER) as ctx:
        (row_copy,) = copies.copy_register(ctx, document_id=doc)
        assert row_copy.label == issued[0] and row_copy.status == "issued"
    with pytest.raises(Conflict) as twice:
        with unit_of_work(group, "keeper", LATER) as ctx:
            copies.issue_photocopy(ctx, req)
    assert twice.value.code == "already_issued"
    assert [e.reason for e in events(group, Action.COPY_ISSUE)] == [
        "not_custodian", "issued", "already_issued"]
    assert "已发放" in told(group, req, "copy_issued")["clerk"]
