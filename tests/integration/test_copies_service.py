"""Copy requests, decisions, registered copies, loans and classification-change
requests through the service, over real storage, keys and audit (SQLite and
PostgreSQL). Routing is checked against named people: the expected approvers are
written out for every level × category group × owner."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader
from snapshots import Snapshot, in_one_transaction  # noqa: I001 - tests/snapshots.py
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import ClassificationChange, CopyRequest, Document, Notification, RegisteredCopy
from vault.policy import Category, CopyKind, Level, Period, Role
from vault.services import accounts, copies, documents, samples
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

# Extra people: a second HQ executive, an HQ staff member, the GZ general manager.
EXTRA = {
    "vp": ("HQ", "OFF", "hq_executive"),
    "hqclerk": ("HQ", "OFF", "staff"),
    "gzgm": ("GZ", "CS", "company_gm"),
}


def _add_extra(s: Session) -> None:
    for username, (company, dept, roles) in EXTRA.items():
        accounts.add_user(s, username, username, company, dept,
                          accounts.parse_roles(roles), "pw-" * 6 + "violet kettle")


# The small organisation (tests/conftest.py, `org`) and EXTRA, built once per session
# and database kind; each test gets its own copy.
SNAPSHOT = Snapshot("copies-group", in_one_transaction(_add_extra), base="org")


@pytest.fixture
def group(snapshot_url: str, org: Infra) -> Infra:
    return org


def register(infra: Infra, actor: str, category: Category, level: Level,
             content: bytes | None = None, filename: str = "doc.pdf",
             period: Period | None = None, issued_on: date | None = None) -> int:
    if content is None and category is not Category.BUSINESS_LICENCE:
        content = samples.pdf_pages("季度报告", pages=3)
    with unit_of_work(infra, actor, NOW) as ctx:
        return documents.register(
            ctx, title="季度报告", category=category, level=level, period=period,
            issued_on=issued_on,
            content=io.BytesIO(content) if content is not None else None,
            filename=filename if content is not None else None,
        ).id


def ask(infra: Infra, actor: str, doc_id: int, kind: CopyKind = CopyKind.COPY,
        now: datetime = NOW, **kw: object) -> int:
    with unit_of_work(infra, actor, now) as ctx:
        return copies.request(ctx, doc_id, kind, "审计需要", **kw).id  # type: ignore[arg-type]


def approvers(infra: Infra, req_id: int, now: datetime = NOW) -> set[str]:
    with unit_of_work(infra, None, now) as ctx:
        req = ctx.session.get(CopyRequest, req_id)
        assert req is not None
        return {u.username for u in copies.approvers_for(ctx, req)}


def approve(infra: Infra, actor: str, req_id: int, now: datetime = NOW, **kw: object) -> None:
    with unit_of_work(infra, actor, now) as ctx:
        copies.approve(ctx, req_id, **kw)  # type: ignore[arg-type]


def fetch(infra: Infra, actor: str, req_id: int, now: datetime = LATER) -> tuple[bytes, str]:
    with unit_of_work(infra, actor, now) as ctx:
        delivery = copies.download(ctx, req_id)
        copy_label = delivery.copy.label
    return b"".join(delivery.chunks), copy_label


def events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


# ---------------------------------------------------------------------------
# Routing: who is asked to decide, by name

# (category, owner) -> approvers per level (internal, confidential, secret, top_secret).
# Subsidiary files are registered by boss (SZ customer service), HQ files by hqclerk.
# gzgm (another company's GM) and the requester never appear. None: no request needed.
ROUTES = {
    (Category.CONTRACT, "SZ"): (None, {"gm"}, {"gm"}, {"ceo", "vp"}),
    (Category.CONTRACT, "HQ"): (None, {"ceo", "vp"}, {"ceo", "vp"}, {"ceo", "vp"}),
    (Category.BUSINESS_LICENCE, "SZ"): (
        {"manager", "gm"}, {"manager", "gm"}, {"manager", "gm"}, {"ceo", "vp"}),
    (Category.ORG_CODE_CERTIFICATE, "SZ"): (
        {"manager", "gm"}, {"manager", "gm"}, {"manager", "gm"}, {"ceo", "vp"}),
    (Category.TAX_REGISTRATION, "SZ"): ({"gm"}, {"gm"}, {"gm"}, {"ceo", "vp"}),
    (Category.TAX_REGISTRATION, "HQ"): ({"ceo", "vp"}, {"ceo", "vp"}, {"ceo", "vp"},
                                        {"ceo", "vp"}),
}
LEVELS = (Level.INTERNAL, Level.CONFIDENTIAL, Level.SECRET, Level.TOP_SECRET)


@pytest.mark.parametrize(("category", "owner"), list(ROUTES), ids=lambda v: str(v))
def test_routing_names_exactly_the_approvers(group: Infra, category: Category,
                                             owner: str) -> None:
    registrant = "boss" if owner == "SZ" else "hqclerk"
    for level, expected in zip(LEVELS, ROUTES[(category, owner)], strict=True):
        content = samples.png_card("营业执照") if category in {
            Category.BUSINESS_LICENCE, Category.ORG_CODE_CERTIFICATE,
            Category.TAX_REGISTRATION} else None
        doc = register(group, registrant, category, level, content=content,
                       filename="scan.png" if content else "doc.pdf")
        if expected is None:
            with pytest.raises(InvalidInput) as err:
                ask(group, registrant, doc)
            assert err.value.code == "no_approval_needed"
            continue
        req = ask(group, registrant, doc)
        assert approvers(group, req) == expected, (level, category, owner)
        # Everyone routed got a notification; nobody else did.
        with group.sessions() as s:
            told = {n.user.username for n in s.scalars(
                select(Notification).where(Notification.request_id == req))}
        assert told == expected


def test_the_requester_never_approves_even_when_holding_the_office(group: Infra) -> None:
    doc = register(group, "hqclerk", Category.CONTRACT, Level.TOP_SECRET)
    req = ask(group, "ceo", doc)
    assert approvers(group, req) == {"vp"}
    with pytest.raises(Forbidden) as err:
        approve(group, "ceo", req)
    assert err.value.code == "requester_cannot_approve"
    denied = [e for e in events(group, Action.COPY_APPROVE) if e.outcome == Outcome.DENIED]
    assert [(e.actor, e.reason) for e in denied] == [("ceo", "requester_cannot_approve")]
    approve(group, "vp", req)


def test_top_secret_needs_an_hq_executive(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.TOP_SECRET)
    req = ask(group, "boss", doc)
    for person in ("gm", "gzgm", "manager", "keeper", "auditor"):
        with pytest.raises((Forbidden, NotFound)):
            approve(group, person, req)
    with group.sessions() as s:
        row = s.get(CopyRequest, req)
        assert row is not None and row.status == "pending" and row.default_no
    approve(group, "ceo", req)
    data, label = fetch(group, "boss", req)
    assert label == f"绝密-2026-{doc:04d} 副本 1"
    assert data.startswith(b"%PDF")


def test_an_approver_who_lost_the_role_meanwhile_cannot_decide(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    with unit_of_work(group, None, NOW) as ctx:
        accounts.change_roles(ctx, "gm", frozenset({Role.STAFF}))
    with pytest.raises((Forbidden, NotFound)):
        approve(group, "gm", req)
    assert approvers(group, req) == set()


def test_another_companys_gm_cannot_decide_or_even_see(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    with pytest.raises(NotFound):
        approve(group, "gzgm", req)
    with pytest.raises(NotFound):
        with unit_of_work(group, "gzgm", NOW) as ctx:
            copies.show(ctx, req)


def test_only_those_who_may_view_may_ask(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.SECRET)
    with pytest.raises(Forbidden) as err:
        ask(group, "keeper", doc)  # knows of it (keeps the registers), may not read it
    assert err.value.code == "cannot_view"
    for person in ("clerk", "outsider"):  # 秘密 not designated / out of scope: looks absent
        with pytest.raises(NotFound):
            ask(group, person, doc)
    refused = [e.actor for e in events(group, Action.COPY_REQUEST) if e.outcome == "denied"]
    assert refused == ["keeper", "clerk", "outsider"]


# ---------------------------------------------------------------------------
# One approved download, stamped and registered


def test_copy_is_stamped_registered_and_spent(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    with unit_of_work(group, "gm", NOW) as ctx:
        view = copies.show(ctx, req)
        assert view.may_decide and not view.may_download
    approve(group, "gm", req)
    data, label = fetch(group, "clerk", req)
    assert label == f"秘密-2026-{doc:04d} 副本 1"  # confidential is 秘密
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) == 3
    for page in pages:
        text = page.extract_text()
        assert label in text and "clerk" in text and "秘密★10年" in text
    with group.sessions() as s:
        copy = s.scalar(select(RegisteredCopy).where(RegisteredCopy.request_id == req))
        assert copy is not None
        assert copy.sha256 == hashlib.sha256(data).hexdigest() and copy.stamped
        assert (copy.recipient.username, copy.approved_by and copy.approved_by.username) == (
            "clerk", "gm")
    # Spent: a second download, another person, are refused and audited.
    with pytest.raises(Conflict) as err:
        fetch(group, "clerk", req)
    assert err.value.code == "already_downloaded"
    with pytest.raises(NotFound):
        fetch(group, "boss", req)
    outcomes = [(e.actor, e.outcome, e.reason) for e in events(group, Action.COPY_DOWNLOAD)]
    assert outcomes == [("clerk", "allowed", "released"),
                        ("clerk", "denied", "already_downloaded"),
                        ("boss", "denied", "not_requester")]
    # The next copy gets the next number.
    req2 = ask(group, "clerk", doc)
    approve(group, "gm", req2)
    assert fetch(group, "clerk", req2)[1] == f"秘密-2026-{doc:04d} 副本 2"


def test_window_expiry_and_shorter_window(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    approve(group, "gm", req, window_hours=2)
    with pytest.raises(Forbidden) as err:
        fetch(group, "clerk", req, now=NOW + timedelta(hours=2))
    assert err.value.code == "window_expired"
    with pytest.raises(InvalidInput):
        approve(group, "gm", ask(group, "clerk", doc), window_hours=25)


def test_excerpt_holds_only_the_approved_pages(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc, CopyKind.EXCERPT, pages="1-3")
    with pytest.raises(InvalidInput):
        approve(group, "gm", req, pages="4")  # more than asked
    approve(group, "gm", req, pages="2")
    data, label = fetch(group, "clerk", req)
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) == 1
    assert "第 2 页" in pages[0].extract_text() and label in pages[0].extract_text()


def test_unstampable_format_is_delivered_as_is_with_its_fingerprint(group: Infra) -> None:
    body = "通话记录摘要 unique-marker-7731\n".encode()
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL, content=body,
                   filename="summary.txt")
    with pytest.raises(InvalidInput):
        ask(group, "clerk", doc, CopyKind.EXCERPT, pages="1")
    req = ask(group, "clerk", doc)
    approve(group, "gm", req)
    data, _ = fetch(group, "clerk", req)
    assert data == body
    with group.sessions() as s:
        copy = s.scalar(select(RegisteredCopy).where(RegisteredCopy.request_id == req))
        assert copy is not None and not copy.stamped
        assert copy.sha256 == hashlib.sha256(body).hexdigest()


def test_reject_needs_a_reason_and_tells_the_requester(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    with pytest.raises(InvalidInput):
        with unit_of_work(group, "gm", NOW) as ctx:
            copies.reject(ctx, req, "  ")
    with unit_of_work(group, "gm", NOW) as ctx:
        copies.reject(ctx, req, "用途不明确")
    with pytest.raises(Conflict):
        approve(group, "gm", req)
    with pytest.raises(Forbidden):
        fetch(group, "clerk", req)
    with unit_of_work(group, "clerk", NOW) as ctx:
        subjects = [n.subject_zh for n in copies.notifications.inbox(ctx)]
    assert any(s.startswith("未批准") for s in subjects)


def test_copies_declassify_with_their_original(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL,
                   period=Period(until=date(2026, 12, 31)))
    req = ask(group, "clerk", doc)
    approve(group, "gm", req)
    fetch(group, "clerk", req)
    for when, expected in ((NOW, Level.CONFIDENTIAL),
                           (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), Level.INTERNAL)):
        with unit_of_work(group, "keeper", when) as ctx:
            (copy,) = copies.copy_register(ctx)
            assert copies.copy_level(ctx, copy) is expected
            assert copy.level_at_issue == "confidential"


def test_register_close_and_lookup(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    approve(group, "gm", req)
    _, label = fetch(group, "clerk", req)
    with pytest.raises(Forbidden):
        with unit_of_work(group, "clerk", NOW) as ctx:
            copies.copy_register(ctx)
    with unit_of_work(group, "gm", NOW) as ctx:
        (copy,) = copies.copy_register(ctx)
        copy_id = copy.id
    with pytest.raises(Forbidden):  # the GM reads the register; the custodian keeps it
        with unit_of_work(group, "gm", NOW) as ctx:
            copies.close_copy(ctx, copy_id, copies.DESTROYED)
    with unit_of_work(group, "keeper", NOW) as ctx:
        copies.close_copy(ctx, copy_id, copies.DESTROYED, "碎纸机")
    with pytest.raises(Conflict):
        with unit_of_work(group, "keeper", NOW) as ctx:
            copies.close_copy(ctx, copy_id, copies.RETURNED)
    for text in (label, f"CONFIDENTIAL-2026-{doc:04d} copy 1", f"{doc}-1"):
        with unit_of_work(group, "auditor", NOW) as ctx:
            found = copies.lookup(ctx, text)
            assert (found.recipient.username, found.approved_by.username if found.approved_by
                    else None, found.status) == ("clerk", "gm", "destroyed")
    with pytest.raises(NotFound):
        with unit_of_work(group, "outsider", NOW) as ctx:
            copies.lookup(ctx, label)
    with pytest.raises(InvalidInput):
        with unit_of_work(group, "auditor", NOW) as ctx:
            copies.lookup(ctx, "no number here")


# ---------------------------------------------------------------------------
# Loans


def test_loan_of_a_certificate(group: Infra) -> None:
    doc = register(group, "boss", Category.BUSINESS_LICENCE, Level.INTERNAL,
                   content=samples.png_card("营业执照"), filename="scan.png")
    with pytest.raises(InvalidInput):
        ask(group, "clerk", doc, CopyKind.LEND)  # no return date
    req = ask(group, "clerk", doc, CopyKind.LEND, due_on=date(2026, 12, 5))
    assert approvers(group, req) == {"gm"}  # loans: the GM only, not the department manager
    with pytest.raises(NotFound):  # not the deciding office: the request stays out of sight
        approve(group, "manager", req)
    approve(group, "gm", req)
    with unit_of_work(group, "keeper", NOW) as ctx:
        (loan,) = copies.loans(ctx)
        loan_id = loan.id
        assert copies.loan_state(loan, date(2026, 11, 27)) == "approved"
    with pytest.raises(Conflict):
        with unit_of_work(group, "keeper", NOW) as ctx:
            copies.return_loan(ctx, loan_id)
    with unit_of_work(group, "keeper", NOW) as ctx:
        copies.hand_over(ctx, loan_id)
    late = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
    with unit_of_work(group, "keeper", late) as ctx:
        assert [ln.id for ln in copies.loans(ctx, overdue=True)] == [loan_id]
        copies.return_loan(ctx, loan_id)
    with unit_of_work(group, "keeper", late) as ctx:
        assert copies.loans(ctx, overdue=True) == []


def test_loan_of_an_electronic_only_contract_is_refused(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    with pytest.raises(InvalidInput) as err:
        ask(group, "clerk", doc, CopyKind.LEND, due_on=date(2026, 12, 5))
    assert err.value.code == "nothing_to_lend"


# ---------------------------------------------------------------------------
# Extensions, downgrades, early declassification


def test_extension_before_the_end_changes_the_period_and_history(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL,
                   period=Period(until=date(2026, 12, 31)))
    with pytest.raises(InvalidInput):
        ask(group, "boss", doc, CopyKind.EXTEND, new_period=Period(until=date(2026, 12, 1)))
    req = ask(group, "boss", doc, CopyKind.EXTEND, new_period=Period(years=5))
    approve(group, "gm", req)
    with group.sessions() as s:
        row = s.get(Document, doc)
        assert row is not None and row.period_years == 5 and row.period_until is None
        kinds = [c.kind for c in s.scalars(select(ClassificationChange)
                                           .where(ClassificationChange.document_id == doc))]
        assert kinds == ["register", "extend"]


def test_extension_after_the_end_is_refused(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL,
                   period=Period(until=date(2026, 12, 31)))
    after = datetime(2027, 1, 2, tzinfo=UTC)
    with pytest.raises(Forbidden):
        ask(group, "boss", doc, CopyKind.EXTEND, now=after, new_period=Period(years=5))
    # Asked in time but decided after the end: refused too.
    req = ask(group, "boss", doc, CopyKind.EXTEND, new_period=Period(years=5))
    with pytest.raises(Forbidden):
        approve(group, "gm", req, now=after)


def test_downgrade_and_early_declassification(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.SECRET)
    with pytest.raises(InvalidInput):
        ask(group, "boss", doc, CopyKind.DOWNGRADE, new_level=Level.TOP_SECRET)
    with pytest.raises(Forbidden) as err:
        ask(group, "keeper", doc, CopyKind.DOWNGRADE, new_level=Level.CONFIDENTIAL)
    assert err.value.code == "cannot_view"
    req = ask(group, "boss", doc, CopyKind.DOWNGRADE, new_level=Level.CONFIDENTIAL)
    approve(group, "gm", req)
    req = ask(group, "boss", doc, CopyKind.DECLASSIFY)
    approve(group, "gm", req)
    with group.sessions() as s:
        row = s.get(Document, doc)
        assert row is not None and row.level == "internal"
        changes = [(c.kind, c.old_level, c.new_level) for c in s.scalars(
            select(ClassificationChange).where(ClassificationChange.document_id == doc)
            .order_by(ClassificationChange.id))]
    assert changes == [("register", None, "secret"), ("downgrade", "secret", "confidential"),
                       ("declassify", "confidential", "internal")]


def test_bad_requests_are_refused_with_a_reason(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    cases = [
        dict(kind=CopyKind.COPY, purpose=""),
        dict(kind=CopyKind.EXCERPT, purpose="x", pages="5-3"),
        dict(kind=CopyKind.EXCERPT, purpose="x", pages=""),
        dict(kind=CopyKind.COPY, purpose="x", pages="1"),
        dict(kind=CopyKind.COPY, purpose="x" * 3000),
        dict(kind=CopyKind.EXTEND, purpose="x"),
    ]
    for case in cases:
        with pytest.raises(InvalidInput):
            with unit_of_work(group, "boss", NOW) as ctx:
                copies.request(ctx, doc, case.pop("kind"), case.pop("purpose"), **case)
    with group.sessions() as s:
        assert s.scalars(select(CopyRequest)).all() == []


def test_a_copy_recipient_is_among_the_files_knowers(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.CONFIDENTIAL)
    req = ask(group, "clerk", doc)
    approve(group, "gm", req)
    fetch(group, "clerk", req)
    with group.sessions() as s:
        knowers = group.audit.knowers(s, doc)
        history = {e.action for e in group.audit.history(s, doc)}
    assert [(k.actor, k.action) for k in knowers] == [("clerk", "copy:download")]
    assert {"copy:request", "copy:approve", "copy:download"} <= history


def test_a_subsidiary_gm_never_learns_of_top_secret_copies(group: Infra) -> None:
    doc = register(group, "boss", Category.CONTRACT, Level.TOP_SECRET)
    req = ask(group, "boss", doc)
    approve(group, "ceo", req)
    _, label = fetch(group, "boss", req)
    with unit_of_work(group, "gm", NOW) as ctx:
        assert copies.copy_register(ctx) == []
    for call in (lambda ctx: copies.show(ctx, req), lambda ctx: copies.lookup(ctx, label)):
        with pytest.raises(NotFound):
            with unit_of_work(group, "gm", NOW) as ctx:
                call(ctx)
    # The custodian keeps the register of every file of the company (SPEC.md §2).
    with unit_of_work(group, "keeper", NOW) as ctx:
        assert [c.label for c in copies.copy_register(ctx)] == [label]
