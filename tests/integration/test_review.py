"""The annual review (年度审核) through the service and the CLI, on SQLite and
PostgreSQL: who finds which file in their queue and when, confirm, change and
declassify with their history and audit events, and every refusal audited."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from snapshots import Snapshot, in_one_transaction  # noqa: I001 - tests/snapshots.py
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.errors import Forbidden, InvalidInput, NotFound
from vault.models import ClassificationChange, Document, User
from vault.policy import Category, Level, Period
from vault.services import accounts, annual_review, documents, samples, scope
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
YEAR_AGO = NOW - timedelta(days=365)


def _add_hqclerk(s: Session) -> None:
    accounts.add_user(s, "hqclerk", "hqclerk", "HQ", "OFF", accounts.parse_roles("staff"),
                      "pw-" * 6 + "violet kettle")


# Built once per session and database kind on tests/conftest.py's `org`; copied per test.
SNAPSHOT = Snapshot("review-group", in_one_transaction(_add_hqclerk), base="org")


@pytest.fixture
def group(snapshot_url: str, org: Infra) -> Infra:
    """The small organisation plus an HQ staff member who registers HQ files."""
    return org


def register(infra: Infra, title: str, level: Level, at: datetime, *,
             registrant: str = "clerk", supervisor: str = "boss",
             period: Period | None = None, issued_on: date | None = None) -> int:
    with unit_of_work(infra, registrant, at) as ctx:
        return documents.register(
            ctx, title=title, category=Category.CONTRACT, level=level, period=period,
            issued_on=issued_on, supervisor=accounts.get_user(ctx.session, supervisor),
            content=io.BytesIO(samples.pdf_pages(title)), filename="doc.pdf",
        ).id


def queue(infra: Infra, who: str, now: datetime = NOW) -> list[int]:
    with unit_of_work(infra, who, now) as ctx:
        return [i.document.id for i in annual_review.queue(ctx)]


def events(infra: Infra, action: Action, **where: object) -> list[AuditEvent]:
    with infra.sessions() as s:
        stmt = select(AuditEvent).where(AuditEvent.action == action.value)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(s.scalars(stmt.order_by(AuditEvent.seq)))


def history(infra: Infra, doc_id: int) -> list[ClassificationChange]:
    with infra.sessions() as s:
        return documents.history(s, doc_id)


def test_who_finds_what_in_the_queue(group: Infra) -> None:
    old = YEAR_AGO - timedelta(days=30)
    conf = register(group, "秘密合同", Level.CONFIDENTIAL, old)
    secret = register(group, "机密纪要", Level.SECRET, old)
    top = register(group, "绝密方案", Level.TOP_SECRET, old)
    hq = register(group, "总公司合同", Level.CONFIDENTIAL, old, registrant="hqclerk",
                  supervisor="hqclerk")
    register(group, "内部通知", Level.INTERNAL, old)
    ended = register(group, "已到期合同", Level.SECRET, old, period=Period(until=date(2026, 1, 1)),
                     issued_on=date(2025, 1, 1))
    assert queue(group, "clerk") == [conf, secret]  # registrant (not of 绝密)
    assert queue(group, "boss") == [conf, secret]  # responsible supervisor
    assert queue(group, "manager") == [conf]  # owning department's manager: 秘密 only
    assert queue(group, "gm") == [conf, secret]  # owning company's GM
    assert queue(group, "ceo") == [top, hq]  # HQ executives: 绝密 and HQ-owned files
    assert queue(group, "hqclerk") == [hq]
    for nobody in ("accountant", "keeper", "auditor", "root", "outsider"):
        assert queue(group, nobody) == []
    assert ended not in queue(group, "boss")  # its period ended: no longer classified


def test_a_file_falls_due_365_days_after_its_last_review(group: Infra) -> None:
    due = register(group, "整一年", Level.CONFIDENTIAL, YEAR_AGO)
    register(group, "差一秒", Level.CONFIDENTIAL, YEAR_AGO + timedelta(seconds=1))
    assert queue(group, "boss") == [due]
    with unit_of_work(group, "boss", NOW) as ctx:
        (item,) = annual_review.queue(ctx, "en")
        assert (item.level, item.marking) == (Level.CONFIDENTIAL, "CONFIDENTIAL★10 years")
        assert item.last_reviewed == YEAR_AGO and item.reviewed_before is False
        assert item.reason.value == "responsible_supervisor"
        assert (item.may_reclassify, item.may_declassify) == (False, False)
    with unit_of_work(group, "gm", NOW) as ctx:
        (item,) = annual_review.queue(ctx)
        assert item.reason.value == "owning_company_gm"
        assert (item.may_reclassify, item.may_declassify) == (True, True)


def test_the_ways_of_the_queue_cover_the_review_scope(group: Infra) -> None:
    """The queue reads one index per way (supervised, registered, company, 绝密, HQ-owned)
    and merges them: for everyone, exactly the files of scope.review_scope, in order."""
    old = YEAR_AGO - timedelta(days=30)
    for i, (level, registrant, supervisor) in enumerate([
            (Level.CONFIDENTIAL, "clerk", "boss"), (Level.SECRET, "clerk", "boss"),
            (Level.TOP_SECRET, "clerk", "boss"), (Level.CONFIDENTIAL, "hqclerk", "hqclerk"),
            (Level.SECRET, "hqclerk", "hqclerk"), (Level.TOP_SECRET, "hqclerk", "hqclerk"),
            (Level.INTERNAL, "clerk", "boss"), (Level.SECRET, "boss", "gm")]):
        register(group, f"文件 {i}", level, old + timedelta(days=i), registrant=registrant,
                 supervisor=supervisor)
    last = func.coalesce(Document.reviewed_at, Document.created_at)
    with group.sessions() as s:
        people = list(s.scalars(select(User.username).order_by(User.username)))
    assert len(people) > 5
    seen = 0
    for who in people:
        with unit_of_work(group, who, NOW) as ctx:
            expected = list(ctx.session.scalars(
                select(Document.id).where(scope.review_scope(ctx.subject, ctx.now),
                                          last <= NOW - timedelta(days=365))
                .order_by(last, Document.id)))
            assert [i.document.id for i in annual_review.queue(ctx, limit=None)] == expected, who
            seen += len(expected)
    assert seen >= 10


@pytest.mark.parametrize("batch", [1, 2, 400])
def test_the_queue_shows_the_longest_unreviewed_first_up_to_its_limit(
        group: Infra, monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    monkeypatch.setattr(annual_review, "QUEUE_BATCH", batch)
    docs = [register(group, f"合同 {i}", Level.CONFIDENTIAL, YEAR_AGO - timedelta(days=10 - i))
            for i in range(5)]
    # Older still, and the supervisor's, but 机密 is not the department manager's.
    secret = register(group, "机密纪要", Level.SECRET, YEAR_AGO - timedelta(days=30))
    register(group, "近期合同", Level.CONFIDENTIAL, YEAR_AGO + timedelta(days=1))  # not due
    with unit_of_work(group, "boss", NOW) as ctx:
        assert [i.document.id for i in annual_review.queue(ctx, limit=None)] == [secret, *docs]
        assert [i.document.id for i in annual_review.queue(ctx, limit=2)] == [secret, *docs[:1]]
        assert [i.document.id for i in annual_review.queue(ctx, limit=7)] == [secret, *docs]
        assert [i.document.id for i in annual_review.queue(ctx)] == [secret, *docs]
    with unit_of_work(group, "manager", NOW) as ctx:
        assert [i.document.id for i in annual_review.queue(ctx, limit=2)] == docs[:2]
        assert [i.document.id for i in annual_review.queue(ctx, limit=5)] == docs
        assert [i.document.id for i in annual_review.queue(ctx, limit=None)] == docs


def test_confirm_records_history_and_event_and_restarts_the_year(group: Infra) -> None:
    doc = register(group, "秘密合同", Level.CONFIDENTIAL, YEAR_AGO - timedelta(days=1))
    with unit_of_work(group, "boss", NOW) as ctx:
        annual_review.confirm(ctx, doc, "  仍需保密  ")
    with group.sessions() as s:
        row = s.get(Document, doc)
        assert row is not None and row.reviewed_at == NOW
        assert row.level == Level.CONFIDENTIAL.value
    last = history(group, doc)[-1]
    assert (last.kind, last.old_level, last.new_level, last.note) == (
        "review", "confidential", "confidential", "仍需保密")
    assert last.old_period == last.new_period == "10y"
    (event,) = events(group, Action.REVIEW_CONFIRM)
    assert (event.actor, event.outcome, event.reason, event.level, event.document_id) == (
        "boss", "allowed", "confirmed", "confidential", doc)
    assert '"as":"responsible_supervisor"' in (event.detail or "")
    assert "仍需保密" in (event.detail or "")
    assert queue(group, "boss") == []
    assert queue(group, "boss", NOW + timedelta(days=364)) == []
    assert queue(group, "boss", NOW + timedelta(days=365)) == [doc]
    with unit_of_work(group, "boss", NOW + timedelta(days=365)) as ctx:
        (item,) = annual_review.queue(ctx)
        assert item.reviewed_before is True and item.last_reviewed == NOW


def test_change_and_declassify_by_the_approving_office(group: Infra) -> None:
    old = YEAR_AGO - timedelta(days=1)
    minutes = register(group, "机密纪要", Level.SECRET, old)
    contract = register(group, "秘密合同", Level.CONFIDENTIAL, old)
    with unit_of_work(group, "gm", NOW) as ctx:
        annual_review.change(ctx, minutes, level=Level.CONFIDENTIAL, period=Period(years=5),
                      note="降为秘密")
    with unit_of_work(group, "gm", NOW) as ctx:
        annual_review.declassify(ctx, contract, note="已公开")
    with group.sessions() as s:
        m, c = s.get(Document, minutes), s.get(Document, contract)
        assert m is not None and c is not None
        assert (m.level, m.period_years, m.reviewed_at) == ("confidential", 5, NOW)
        assert (c.level, c.declassify_at, c.reviewed_at) == ("internal", None, NOW)
    last = history(group, minutes)[-1]
    assert (last.kind, last.old_level, last.new_level, last.old_period, last.new_period,
            last.note) == ("change", "secret", "confidential", "20y", "5y", "降为秘密")
    last = history(group, contract)[-1]
    assert (last.kind, last.new_level, last.note) == ("declassify", "internal", "已公开")
    reviews = events(group, Action.REVIEW_CONFIRM)
    assert [(e.document_id, e.reason, e.level) for e in reviews] == [
        (minutes, "changed", "confidential"), (contract, "declassified", "internal")]
    changes = events(group, Action.DOCUMENT_LEVEL_CHANGE, outcome=Outcome.ALLOWED.value)
    assert [e.document_id for e in changes] == [minutes, contract]
    assert queue(group, "gm") == []
    # A period alone (the level as it is) is a period change.
    third = register(group, "另一份纪要", Level.SECRET, old)
    with unit_of_work(group, "gm", NOW) as ctx:
        annual_review.change(ctx, third, level=Level.SECRET, period=Period(years=15))
    (event,) = events(group, Action.DOCUMENT_PERIOD_CHANGE)
    assert event.document_id == third


def test_refusals_are_audited_and_change_nothing(group: Infra) -> None:
    old = YEAR_AGO - timedelta(days=1)
    doc = register(group, "机密纪要", Level.SECRET, old)
    # The supervisor reviews it but does not change a classification directly.
    with pytest.raises(Forbidden) as err:
        with unit_of_work(group, "boss", NOW) as ctx:
            annual_review.change(ctx, doc, level=Level.CONFIDENTIAL)
    assert err.value.code == "not_reclassifier"
    with pytest.raises(Forbidden):
        with unit_of_work(group, "boss", NOW) as ctx:
            annual_review.declassify(ctx, doc)
    # The custodian may know of it (metadata) but does not review it.
    with pytest.raises(Forbidden) as err:
        with unit_of_work(group, "keeper", NOW) as ctx:
            annual_review.confirm(ctx, doc)
    assert err.value.code == "not_responsible"
    # Outside the circle: it does not exist.
    with pytest.raises(NotFound):
        with unit_of_work(group, "outsider", NOW) as ctx:
            annual_review.confirm(ctx, doc)
    with pytest.raises(NotFound):
        with unit_of_work(group, "boss", NOW) as ctx:
            annual_review.confirm(ctx, 999999)
    with group.sessions() as s:
        row = s.get(Document, doc)
        assert row is not None and row.reviewed_at == old and row.level == "secret"
    denied = events(group, Action.REVIEW_CONFIRM, outcome=Outcome.DENIED.value)
    assert [(e.actor, e.reason) for e in denied] == [
        ("keeper", "not_responsible"), ("outsider", "secret_not_designated"),
        ("boss", "unknown_document")]
    level_denied = events(group, Action.DOCUMENT_LEVEL_CHANGE, outcome=Outcome.DENIED.value)
    assert [(e.actor, e.reason) for e in level_denied] == [
        ("boss", "not_reclassifier"), ("boss", "not_reclassifier")]
    assert events(group, Action.REVIEW_CONFIRM, outcome=Outcome.ALLOWED.value) == []


def test_bad_input_is_refused_before_anything_changes(group: Infra) -> None:
    doc = register(group, "机密纪要", Level.SECRET, YEAR_AGO - timedelta(days=1))
    cases = [
        (lambda ctx: annual_review.change(ctx, doc), "no_change"),
        (lambda ctx: annual_review.change(ctx, doc, level=Level.SECRET, period=Period(years=20)),
         "no_change"),
        (lambda ctx: annual_review.change(ctx, doc, level=Level.INTERNAL), "use_declassify"),
        (lambda ctx: annual_review.confirm(ctx, doc, "x" * 1001), "bad_note"),
        (lambda ctx: annual_review.confirm(ctx, doc, "坏\x00备注"), "bad_note"),
    ]
    for call, code in cases:
        with pytest.raises(InvalidInput) as err:
            with unit_of_work(group, "gm", NOW) as ctx:
                call(ctx)
        assert err.value.code == code
    with unit_of_work(group, "gm", NOW) as ctx:  # an internal file is not reviewed
        annual_review.declassify(ctx, doc)
    with pytest.raises(Forbidden) as forbidden:
        with unit_of_work(group, "gm", NOW) as ctx:
            annual_review.confirm(ctx, doc)
    assert forbidden.value.code == "not_classified"


def test_the_command_line(group: Infra) -> None:
    old = datetime.now(UTC) - timedelta(days=400)
    minutes = register(group, "机密纪要", Level.SECRET, old)
    contract = register(group, "秘密合同", Level.CONFIDENTIAL, old)
    runner = CliRunner()
    env = {"VAULT_HOME": str(group.settings.home),
           "VAULT_DATABASE_URL": group.settings.database_url}

    def vault(*args: str) -> tuple[int, str]:
        res = runner.invoke(main, list(args), env=env)
        return res.exit_code, res.output

    code, out = vault("review", "queue", "--as", "gm", "--json")
    assert code == 0
    rows = json.loads(out.split("\n2 file(s)")[0])
    assert [(r["id"], r["marking"], r["as"], r["may_change"]) for r in rows] == [
        (minutes, "机密★20年", "owning_company_gm", True),
        (contract, "秘密★10年", "owning_company_gm", True)]
    code, out = vault("review", "queue", "--as", "boss", "--lang", "en")
    assert code == 0
    assert f"{minutes:>5}  [SECRET★20 years]  机密纪要  (last review: registered " in out
    assert "as responsible_supervisor" in out and "2 file(s) to review" in out
    assert vault("review", "confirm", str(minutes), "--as", "boss", "--note", "维持")[1] == (
        f"document {minutes} reviewed: stays [机密★20年]\n")
    code, out = vault("review", "change", str(contract), "--as", "boss", "--period", "5y")
    assert code == 1 and "not_reclassifier" in out
    code, out = vault("review", "change", str(contract), "--as", "gm", "--period", "5y")
    assert (code, out) == (0, f"document {contract} reviewed: now [秘密★5年]\n")
    code, out = vault("review", "change", str(contract), "--as", "gm", "--period", "soon")
    assert code == 2 and "not a period" in out
    code, out = vault("review", "declassify", str(contract), "--as", "gm")
    assert (code, out) == (0, f"document {contract} reviewed: declassified (internal)\n")
    code, out = vault("review", "queue", "--as", "gm")
    assert code == 0 and "0 file(s) to review" in out
    code, out = vault("review", "confirm", "999999", "--as", "gm")
    assert code == 2
