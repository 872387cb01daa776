"""Certificates (证照) through the service (SQLite and PostgreSQL): who records a
certificate's number, custodian, the original's location and validity; the
register with its open loans and who reads it; copies and loans following "Copy
approval"; and `vault certificates …`."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from snapshots import Snapshot, in_one_transaction  # noqa: I001 - tests/snapshots.py
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.errors import Forbidden, InvalidInput, NotFound
from vault.models import Certificate
from vault.policy import Category, CopyKind, Level
from vault.services import accounts, certificates, copies, documents, samples
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def _add_hqkeeper(s: Session) -> None:
    accounts.add_user(s, "hqkeeper", "hqkeeper", "HQ", "OFF",
                      accounts.parse_roles("custodian"), "pw-" * 6 + "violet kettle")


# Built once per session and database kind on tests/conftest.py's `org`; copied per test.
SNAPSHOT = Snapshot("certificates-group", in_one_transaction(_add_hqkeeper), base="org")


@pytest.fixture
def group(snapshot_url: str, org: Infra) -> Infra:
    return org


def _register(infra: Infra, who: str, title: str, category: Category,
              content: bytes | None = None) -> int:
    with unit_of_work(infra, who, NOW) as ctx:
        return documents.register(
            ctx, title=title, category=category,
            content=io.BytesIO(content) if content is not None else None,
            filename=("scan.pdf" if content.startswith(b"%PDF") else "scan.txt")
            if content is not None else None).id


def _set(infra: Infra, who: str, doc: int, **kw: Any) -> Certificate:
    with unit_of_work(infra, who, NOW) as ctx:
        cert = certificates.set_details(ctx, doc, **kw)
        ctx.session.expunge(cert)
        return cert


def test_custodian_and_gm_record_the_details(group: Infra) -> None:
    licence = _register(group, "accountant", "营业执照（深圳公司）", Category.BUSINESS_LICENCE)
    cert = _set(group, "keeper", licence, number="91440300MA5XXXXX1", custodian_username="keeper",
                original_location="行政部保险柜 A-2", valid_until=date(2036, 5, 31))
    assert (cert.number, cert.original_location, cert.valid_until) == (
        "91440300MA5XXXXX1", "行政部保险柜 A-2", date(2036, 5, 31))
    # Only the fields given change (KEEP leaves the rest); empty clears.
    _set(group, "gm", licence, original_location="总经理室保险柜")
    _set(group, "gm", licence, valid_until=None)
    with group.sessions() as s:
        row = s.get(Certificate, licence)
        assert row is not None and row.custodian is not None
        assert (row.number, row.custodian.username, row.original_location, row.valid_until) == (
            "91440300MA5XXXXX1", "keeper", "总经理室保险柜", None)
        events = list(s.scalars(select(AuditEvent).where(
            AuditEvent.action == Action.CERTIFICATE_UPDATE.value).order_by(AuditEvent.seq)))
    assert [(e.actor, e.outcome, e.document_id, e.reason) for e in events] == [
        ("keeper", "allowed", licence, "custodian"),
        ("gm", "allowed", licence, "owning_company_gm"),
        ("gm", "allowed", licence, "owning_company_gm")]
    assert json.loads(events[0].detail or "{}") == {
        "number": "91440300MA5XXXXX1", "custodian": "keeper",
        "original_location": "行政部保险柜 A-2", "valid_until": "2036-05-31"}
    assert json.loads(events[1].detail or "{}") == {"original_location": "总经理室保险柜"}


def test_who_may_not_record_them(group: Infra) -> None:
    licence = _register(group, "accountant", "营业执照（深圳公司）", Category.BUSINESS_LICENCE)
    hq_licence = _register(group, "hqkeeper", "营业执照（总公司）", Category.BUSINESS_LICENCE)
    contract = _register(group, "boss", "物业合同", Category.CONTRACT, b"contract\n")
    refusals: list[tuple[str, int, type[Exception], str]] = [
        # The registrant may see it but does not keep it.
        ("accountant", licence, Forbidden, "not_certificate_keeper"),
        # HQ executives keep HQ's certificates, not a subsidiary's.
        ("ceo", licence, Forbidden, "not_certificate_keeper"),
        ("auditor", licence, Forbidden, "not_certificate_keeper"),
        # Outside the company: as if it did not exist.
        ("outsider", licence, NotFound, "unknown_document"),
        ("clerk", licence, NotFound, "unknown_document"),
        ("gm", hq_licence, NotFound, "unknown_document"),
        ("keeper", contract, InvalidInput, "not_a_certificate"),
    ]
    for who, doc, error, code in refusals:
        with pytest.raises(error) as caught, unit_of_work(group, who, NOW) as ctx:
            certificates.set_details(ctx, doc, number="X-1")
        assert caught.value.code == code, (who, doc)  # type: ignore[attr-defined]
    # HQ's certificate: its custodian and the HQ executives.
    _set(group, "hqkeeper", hq_licence, number="HQ-1")
    _set(group, "ceo", hq_licence, original_location="总公司档案室")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"custodian_username": "outsider"}, "bad_custodian"),  # another company
        ({"custodian_username": "nobody"}, "bad_custodian"),
        ({"number": "x" * 101}, "bad_number"),
        ({"number": "a\nb"}, "bad_number"),
        ({"original_location": "y" * 201}, "bad_location"),
        ({"valid_until": date(3001, 1, 1)}, "bad_valid_until"),
    ]
    for kw, code in bad:
        with pytest.raises(InvalidInput) as caught, unit_of_work(group, "keeper", NOW) as ctx:
            certificates.set_details(ctx, licence, **kw)
        assert caught.value.code == code, kw
    with group.sessions() as s:
        assert s.get(Certificate, licence) is None  # nothing half-written
        denied = s.scalars(select(AuditEvent.actor).where(
            AuditEvent.action == Action.CERTIFICATE_UPDATE.value,
            AuditEvent.outcome == "denied").order_by(AuditEvent.seq)).all()
    assert denied == ["accountant", "ceo", "auditor", "outsider", "clerk", "gm", "keeper"]


def test_the_register_with_open_loans(group: Infra) -> None:
    licence = _register(group, "accountant", "营业执照（深圳公司）", Category.BUSINESS_LICENCE)
    tax = _register(group, "accountant", "税务登记证", Category.TAX_REGISTRATION)
    hq_licence = _register(group, "hqkeeper", "营业执照（总公司）", Category.BUSINESS_LICENCE)
    _register(group, "boss", "物业合同", Category.CONTRACT, b"contract\n")
    _set(group, "keeper", licence, number="L-1", custodian_username="keeper",
         valid_until=date(2026, 12, 15))  # within the warning window
    _set(group, "keeper", tax, number="T-1", valid_until=date(2026, 1, 1))  # expired
    # Lending a certificate needs the GM (Copy approval); the register shows it open.
    with unit_of_work(group, "accountant", NOW) as ctx:
        req = copies.request(ctx, licence, CopyKind.LEND, "工商年检",
                             due_on=date(2026, 12, 1)).id
    with unit_of_work(group, "gm", NOW) as ctx:
        copies.approve(ctx, req)
    with unit_of_work(group, "keeper", NOW) as ctx:
        rows = certificates.list_certificates(ctx)
        got = [(r.document.id, r.certificate.number if r.certificate else None, r.validity,
                [loan.borrower.username for loan in r.open_loans], r.may_edit,
                r.level) for r in rows]
    assert got == [(licence, "L-1", "expiring", ["accountant"], True, Level.CONFIDENTIAL),
                   (tax, "T-1", "expired", [], True, Level.CONFIDENTIAL)]
    with unit_of_work(group, "gm", NOW) as ctx:
        assert [r.document.id for r in certificates.list_certificates(ctx)] == [licence, tax]
    for who in ("ceo", "auditor"):
        with unit_of_work(group, who, NOW) as ctx:
            ids = [r.document.id for r in certificates.list_certificates(ctx)]
            assert sorted(ids) == sorted([licence, tax, hq_licence])
            sz = accounts.get_company(ctx.session, "SZ").id
            assert [r.document.id for r in certificates.list_certificates(ctx, sz)] == [
                licence, tax]
    for who in ("clerk", "accountant", "outsider", "root"):
        with pytest.raises(Forbidden), unit_of_work(group, who, NOW) as ctx:
            certificates.list_certificates(ctx)
    # Once returned, the loan leaves the register's open column.
    with unit_of_work(group, "keeper", NOW) as ctx:
        loan = copies.loans(ctx)[0].id
        copies.hand_over(ctx, loan)
    with unit_of_work(group, "keeper", NOW + timedelta(days=1)) as ctx:
        copies.return_loan(ctx, loan)
        assert [r.open_loans for r in certificates.list_certificates(ctx)] == [[], []]


def test_copies_of_certificates_follow_copy_approval(group: Infra) -> None:
    """A licence copy goes to the owning department's manager or the GM; a tax
    registration copy to the GM only (SPEC.md §3)."""
    licence = _register(group, "manager", "营业执照副本扫描", Category.BUSINESS_LICENCE,
                        samples.pdf_pages("营业执照", pages=1))
    tax = _register(group, "manager", "税务登记证扫描", Category.TAX_REGISTRATION,
                    samples.pdf_pages("税务登记证", pages=1))
    routes = {}
    for doc in (licence, tax):
        with unit_of_work(group, "clerk", NOW) as ctx:
            req = copies.request(ctx, doc, CopyKind.COPY, "银行开户")
            routes[doc] = sorted(u.username for u in copies.approvers_for(ctx, req))
    assert routes == {licence: ["gm", "manager"], tax: ["gm"]}


def _cli(infra: Infra) -> Any:
    env = {"VAULT_HOME": str(infra.settings.home),
           "VAULT_DATABASE_URL": infra.settings.database_url}
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env)

    return run


def test_cli(group: Infra) -> None:
    licence = _register(group, "accountant", "营业执照（深圳公司）", Category.BUSINESS_LICENCE)
    vault = _cli(group)
    res = vault("certificates", "set", str(licence), "--number", "L-9", "--custodian", "keeper",
                "--location", "保险柜 A", "--valid-until", "2030-06-30", "--as", "keeper")
    assert res.exit_code == 0, res.output
    assert "no. L-9, custodian keeper, original at 保险柜 A, valid until 2030-06-30" in res.output
    res = vault("certificates", "set", str(licence), "--location", "保险柜 B", "--as", "gm")
    assert res.exit_code == 0 and "no. L-9" in res.output and "保险柜 B" in res.output
    assert vault("certificates", "set", str(licence), "--as", "gm").exit_code == 2
    bad_date = vault("certificates", "set", str(licence), "--valid-until", "soon", "--as", "gm")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    assert "Traceback" not in bad_date.output
    assert vault("certificates", "set", str(licence), "--number", "x",
                 "--as", "accountant").exit_code == 1
    assert vault("certificates", "set", str(licence), "--number", "x",
                 "--as", "outsider").exit_code == 2
    listed = vault("certificates", "list", "--as", "keeper", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["number"], row["custodian"], row["original_location"],
            row["valid_until"], row["kind"], row["open_loans"]) == (
        licence, "L-9", "keeper", "保险柜 B", "2030-06-30", "business_licence", [])
    text = vault("certificates", "list", "--as", "ceo", "--company", "SZ")
    assert text.exit_code == 0 and "L-9" in text.output and "保险柜 B" in text.output
    assert vault("certificates", "list", "--as", "clerk").exit_code == 1
