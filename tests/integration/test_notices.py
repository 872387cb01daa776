"""Tenants, their archives, and notices with sign-offs through the services, over real
storage, keys and audit (SQLite and PostgreSQL): who keeps tenants, archive counts
scoped to the reader, recipients and their rules, one sign-off per recipient, the
scanned sheet as an encrypted document of the notice's circle, progress, and the
spreadsheet-friendly CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Document, DocumentVersion, NoticeRecipient, SignOff, Tenant
from vault.policy import DEFAULT_LEVEL, Category, Level, Period
from vault.services import accounts, documents, keys, notices, samples, tenants
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 14:00 in the group's time zone
SIGNED = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # 11:30 group time


def _tenant(infra: Infra, code: str, name: str, unit: str, actor: str = "keeper",
            company: str | None = None) -> None:
    with unit_of_work(infra, actor, NOW) as ctx:
        tenants.create_tenant(ctx, code, name, unit, "138-0000-0000", company)


@pytest.fixture
def world(org: Infra) -> Infra:
    """Tenants T1–T3 of SZ, G1 of GZ."""
    _tenant(org, "T1", "华南贸易有限公司", "A座1201")
    _tenant(org, "T2", "深港咨询有限公司", "B座0805")
    _tenant(org, "T3", "王小明", "C座2303")
    _tenant(org, "G1", "广州租户", "G座0101", actor="root", company="GZ")
    return org


def _register(infra: Infra, actor: str, category: Category, title: str = "关于停水的通知",
              level: Level | None = None, tenant: str | None = None,
              department: str | None = None, supervisor: str | None = "boss",
              period: Period | None = None, issued_on: date | None = None) -> int:
    with unit_of_work(infra, actor, NOW) as ctx:
        sup = accounts.get_user(ctx.session, supervisor) if supervisor else None
        return documents.register(
            ctx, title=title, category=category, level=level, supervisor=sup,
            department_code=department, tenant_code=tenant, period=period,
            issued_on=issued_on, content=io.BytesIO(samples.pdf_pages(title)),
            filename="n.pdf").id


def _notice(infra: Infra, level: Level | None = None, **kw: object) -> int:
    return _register(infra, "clerk", Category.NOTICE, level=level, **kw)  # type: ignore[arg-type]


def _events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def _address(infra: Infra, doc_id: int, codes: list[str], actor: str = "clerk"
             ) -> notices.RecipientChange:
    with unit_of_work(infra, actor, NOW) as ctx:
        return notices.set_recipients(ctx, doc_id, codes)


def _sign(infra: Infra, doc_id: int, code: str, actor: str = "clerk", method: str = "on_site",
          sheet: tuple[bytes, str] | None = None, signed_at: datetime = SIGNED,
          signer: str = "张先生", note: str | None = None) -> int:
    with unit_of_work(infra, actor, NOW) as ctx:
        row = notices.record_sign_off(
            ctx, doc_id, code, signer, signed_at, method,
            sheet=(io.BytesIO(sheet[0]), sheet[1]) if sheet else None, note=note)
        return row.id


# ---------------------------------------------------------------------------
# Tenants


def test_tenant_archives_are_confidential_by_default(world: Infra) -> None:
    assert DEFAULT_LEVEL[Category.TENANT_ARCHIVE] is Level.CONFIDENTIAL  # 秘密
    doc_id = _register(world, "clerk", Category.TENANT_ARCHIVE, "租户档案：T1", tenant="T1")
    with world.sessions() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.level == "confidential" and doc.period_years == 10


def test_custodians_and_administrators_keep_tenants(world: Infra) -> None:
    with world.sessions() as s:
        t1 = s.scalar(select(Tenant).where(Tenant.code == "T1"))
        g1 = s.scalar(select(Tenant).where(Tenant.code == "G1"))
        assert t1 is not None and g1 is not None
        assert (t1.status, t1.unit) == ("active", "A座1201")
        assert t1.company_id != g1.company_id
    created = _events(world, Action.TENANT_CREATE)
    assert [(e.actor, e.object_id) for e in created] == [
        ("keeper", "T1"), ("keeper", "T2"), ("keeper", "T3"), ("root", "G1")]
    assert "138" not in (created[0].detail or "")  # the contact is not copied to the trail

    for who in ("clerk", "gm", "ceo", "auditor"):
        with pytest.raises(Forbidden) as err, unit_of_work(world, who, NOW) as ctx:
            tenants.create_tenant(ctx, "T9", "新租户")
        assert err.value.code == "not_tenant_keeper"
    # A custodian keeps their own company's tenants only.
    with pytest.raises(Forbidden), unit_of_work(world, "keeper", NOW) as ctx:
        tenants.create_tenant(ctx, "T9", "新租户", company_code="GZ")
    denied = [e for e in _events(world, Action.TENANT_CREATE) if e.outcome == "denied"]
    assert len(denied) == 5
    with pytest.raises(Conflict), unit_of_work(world, "keeper", NOW) as ctx:
        tenants.create_tenant(ctx, "T1", "重复")
    for code, name, unit in (("../x", "坏编号", None), ("T9", " ", None),
                             ("T9", "名称", "x" * 101)):
        with pytest.raises(InvalidInput), unit_of_work(world, "keeper", NOW) as ctx:
            tenants.create_tenant(ctx, code, name, unit)


def test_update_a_tenant(world: Infra) -> None:
    with unit_of_work(world, "keeper", NOW) as ctx:
        t = tenants.update_tenant(ctx, "T3", unit="D座0101", contact="", status="moved_out")
        assert (t.unit, t.contact, t.status) == ("D座0101", None, "moved_out")
    event = _events(world, Action.TENANT_UPDATE)[-1]
    assert event.object_id == "T3" and "moved_out" in (event.detail or "")
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "keeper", NOW) as ctx:
        tenants.update_tenant(ctx, "T3", status="moved_out")
    assert err.value.code == "no_change"
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "keeper", NOW) as ctx:
        tenants.update_tenant(ctx, "T3", status="gone")
    assert err.value.code == "bad_status"
    with pytest.raises(Forbidden), unit_of_work(world, "clerk", NOW) as ctx:
        tenants.update_tenant(ctx, "T3", name="改名")
    # Another company's tenant does not exist for a subsidiary's people.
    with pytest.raises(NotFound), unit_of_work(world, "keeper", NOW) as ctx:
        tenants.update_tenant(ctx, "G1", name="改名")
    with unit_of_work(world, "root", NOW) as ctx:
        assert tenants.update_tenant(ctx, "G1", name="广州新租户").name == "广州新租户"


def test_list_and_search_tenants_in_scope(world: Infra) -> None:
    def codes(actor: str, text: str | None = None, status: str | None = None) -> list[str]:
        with unit_of_work(world, actor, NOW) as ctx:
            return [t.code for t in tenants.list_tenants(ctx, text, status)]

    assert codes("clerk") == ["T1", "T2", "T3"]
    assert codes("outsider") == ["G1"]
    assert codes("ceo") == codes("auditor") == codes("root") == ["G1", "T1", "T2", "T3"]
    assert codes("clerk", "深港") == ["T2"]  # name
    assert codes("clerk", "c座") == ["T3"]  # unit, case-insensitive
    assert codes("clerk", "t1") == ["T1"]  # code
    assert codes("clerk", "%") == []  # no wildcard
    assert codes("outsider", "华南") == []
    with unit_of_work(world, "keeper", NOW) as ctx:
        tenants.update_tenant(ctx, "T2", status="moved_out")
    assert codes("clerk", status="moved_out") == ["T2"]
    assert codes("clerk", status="active") == ["T1", "T3"]


def test_archive_by_category_counts_only_what_the_reader_may_know(world: Infra) -> None:
    cs_archive = _register(world, "clerk", Category.TENANT_ARCHIVE, "租户档案：华南贸易",
                           tenant="T1")
    _register(world, "clerk", Category.CONTRACT, "A座1201租赁合同", tenant="T1")
    _register(world, "boss", Category.CONTRACT, "A座1201补充协议", tenant="T1")
    # Finance's confidential file on the same tenant: not for customer service staff.
    _register(world, "accountant", Category.FINANCIAL_REPORT, "T1欠费明细", tenant="T1",
              level=Level.CONFIDENTIAL, supervisor="accountant")
    _register(world, "clerk", Category.CONTRACT, "T2合同", tenant="T2")

    with unit_of_work(world, "clerk", NOW) as ctx:
        arch = tenants.archive(ctx, "T1")
        assert arch.catalogue == [("contract", 2), ("tenant_archive", 1)]
        assert arch.total == arch.matches == 3
        assert [c for c, _docs in arch.groups] == ["contract", "tenant_archive"]
        assert arch.groups[1][1][0].id == cs_archive
        assert arch.groups[1][1][0].marking.startswith("秘密★")
    with unit_of_work(world, "clerk", NOW) as ctx:
        found = tenants.archive(ctx, "T1", text="补充")
        assert found.catalogue == [("contract", 2), ("tenant_archive", 1)]
        assert found.matches == 1 and found.groups[0][1][0].title == "A座1201补充协议"
        by_category = tenants.archive(ctx, "T1", category=Category.TENANT_ARCHIVE)
        assert by_category.matches == 1
    with unit_of_work(world, "accountant", NOW) as ctx:
        assert tenants.archive(ctx, "T1").catalogue == [("financial_report", 1)]
    with unit_of_work(world, "ceo", NOW) as ctx:
        assert tenants.archive(ctx, "T1").total == 4
    views = _events(world, Action.TENANT_VIEW)
    assert [(e.actor, e.outcome) for e in views] == [
        ("clerk", "allowed"), ("clerk", "allowed"), ("clerk", "allowed"),
        ("accountant", "allowed"), ("ceo", "allowed")]
    # Another company's tenant is absent, and the try is on the trail.
    with pytest.raises(NotFound), unit_of_work(world, "outsider", NOW) as ctx:
        tenants.archive(ctx, "T1")
    with pytest.raises(NotFound), unit_of_work(world, "clerk", NOW) as ctx:
        tenants.archive(ctx, "NOPE")
    denied = [e for e in _events(world, Action.TENANT_VIEW) if e.outcome == "denied"]
    assert [(e.actor, e.object_id, e.reason) for e in denied] == [
        ("outsider", "T1", "not_in_scope"), ("clerk", "NOPE", "unknown_tenant")]


# ---------------------------------------------------------------------------
# Recipients


def test_recipients_are_chosen_by_those_responsible(world: Infra) -> None:
    doc_id = _notice(world)
    change = _address(world, doc_id, ["T1", "T2", "T3", "T1"])
    assert (change.added, change.removed, change.total) == (["T1", "T2", "T3"], [], 3)
    change = _address(world, doc_id, ["T1", "T2"], actor="boss")  # the supervisor
    assert (change.added, change.removed, change.total) == ([], ["T3"], 2)
    assert _address(world, doc_id, ["T1", "T2", "T3"], actor="manager").added == ["T3"]
    assert _address(world, doc_id, ["T1", "T2", "T3"], actor="ceo").added == []
    events = _events(world, Action.NOTICE_RECIPIENTS)
    assert [e.actor for e in events] == ["clerk", "boss", "manager", "ceo"]
    assert '"removed":["T3"]' in (events[1].detail or "").replace(" ", "")

    # Staff who may read the (internal) notice but are not responsible for it.
    for who in ("accountant", "outsider", "keeper", "gm"):
        with pytest.raises(Forbidden) as err, unit_of_work(world, who, NOW) as ctx:
            notices.set_recipients(ctx, doc_id, [])
        assert err.value.code == "not_responsible"
    # A secret notice is absent for those outside its circle.
    secret = _notice(world, Level.SECRET)
    with pytest.raises(NotFound), unit_of_work(world, "accountant", NOW) as ctx:
        notices.set_recipients(ctx, secret, ["T1"])
    denied = [e for e in _events(world, Action.NOTICE_RECIPIENTS) if e.outcome == "denied"]
    assert len(denied) == 5
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "clerk", NOW) as ctx:
        notices.set_recipients(ctx, secret, ["T1", "G1"])  # another company's tenant
    assert err.value.code == "unknown_tenant"
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "clerk", NOW) as ctx:
        notices.set_recipients(ctx, secret, ["T1", "ZZ"])
    assert err.value.code == "unknown_tenant"
    with world.sessions() as s:
        assert s.scalars(select(NoticeRecipient).where(
            NoticeRecipient.document_id == secret)).all() == []


def test_only_notices_and_letters_have_recipients(world: Infra) -> None:
    contract = _register(world, "clerk", Category.CONTRACT, "合同")
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "clerk", NOW) as ctx:
        notices.set_recipients(ctx, contract, ["T1"])
    assert err.value.code == "not_a_notice"
    letter = _register(world, "clerk", Category.LETTER, "催缴函", level=Level.CONFIDENTIAL)
    assert _address(world, letter, ["T2"]).added == ["T2"]


def test_moved_out_tenants_are_not_added_and_signed_recipients_stay(world: Infra) -> None:
    doc_id = _notice(world)
    _address(world, doc_id, ["T1", "T2"])
    with unit_of_work(world, "keeper", NOW) as ctx:
        tenants.update_tenant(ctx, "T2", status="moved_out")
        tenants.update_tenant(ctx, "T3", status="moved_out")
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "clerk", NOW) as ctx:
        notices.set_recipients(ctx, doc_id, ["T1", "T2", "T3"])
    assert err.value.code == "tenant_moved_out"
    assert _address(world, doc_id, ["T1", "T2"]).added == []  # already there: stays
    _sign(world, doc_id, "T1")
    with pytest.raises(Conflict) as err, unit_of_work(world, "clerk", NOW) as ctx:
        notices.set_recipients(ctx, doc_id, ["T2"])
    assert err.value.code == "recipient_signed"


# ---------------------------------------------------------------------------
# Sign-offs


def test_one_sign_off_per_recipient_and_only_recipients(world: Infra) -> None:
    doc_id = _notice(world)
    _address(world, doc_id, ["T1", "T2"])
    _sign(world, doc_id, "T1", note="前台代签")
    with pytest.raises(Conflict) as err:
        _sign(world, doc_id, "T1", actor="boss")
    assert err.value.code == "already_signed"
    for code in ("T3", "G1", "NOPE", "../x"):
        with pytest.raises(InvalidInput) as err:
            _sign(world, doc_id, code)
        assert err.value.code == "not_a_recipient"
    with world.sessions() as s:
        rows = s.scalars(select(SignOff).where(SignOff.document_id == doc_id)).all()
        assert [(r.tenant.code, r.signer_name, r.method, r.note) for r in rows] == [
            ("T1", "张先生", "on_site", "前台代签")]
        assert rows[0].signed_at == SIGNED and rows[0].recorded_at == NOW
    events = _events(world, Action.NOTICE_SIGN_OFF)
    assert [(e.actor, e.outcome, e.reason) for e in events] == [
        ("clerk", "allowed", "registrant"), ("boss", "denied", "already_signed"),
        *[("clerk", "denied", "not_a_recipient")] * 4]


def test_who_records_sign_offs(world: Infra) -> None:
    doc_id = _notice(world, department="CS")
    _address(world, doc_id, ["T1", "T2", "T3"])
    # A member of the owning department (operations staff) may, another department may not.
    with unit_of_work(world, "clerk", NOW) as ctx:
        accounts.add_user(ctx.session, "cs2", "客服二", "SZ", "CS",
                          accounts.parse_roles("staff"), "pw-" * 6 + "violet kettle")
    _sign(world, doc_id, "T1", actor="cs2")
    for who in ("accountant", "keeper", "outsider"):
        with pytest.raises(Forbidden) as err:
            _sign(world, doc_id, "T2", actor=who)
        assert err.value.code == "not_responsible"
    _sign(world, doc_id, "T2", actor="manager", method="electronic")


def test_checks_on_method_time_signer_and_note(world: Infra) -> None:
    doc_id = _notice(world, issued_on=date(2026, 11, 20))
    _address(world, doc_id, ["T1"])
    cases = [
        ({"method": "scanned"}, "sheet_required"),
        ({"method": "fax"}, "bad_method"),
        ({"signer": "  "}, "bad_signer"),
        ({"signer": "x" * 201}, "bad_signer"),
        ({"note": "x" * 2001}, "bad_note"),
        ({"note": "bell\x07"}, "bad_note"),
        ({"signed_at": NOW + timedelta(hours=1)}, "signed_in_future"),
        # 2026-11-19 23:59 group time: before the notice's issue date.
        ({"signed_at": datetime(2026, 11, 19, 15, 59, tzinfo=UTC)}, "signed_before_issue"),
        ({"signed_at": datetime(2026, 11, 27, 10, 0)}, "bad_signed_at"),  # naive
    ]
    for kwargs, code in cases:
        with pytest.raises(InvalidInput) as err:
            _sign(world, doc_id, "T1", **kwargs)  # type: ignore[arg-type]
        assert err.value.code == code, kwargs
    # Midnight of the issue day (group time) and a few minutes of clock skew are fine.
    _sign(world, doc_id, "T1", signed_at=datetime(2026, 11, 19, 16, 0, tzinfo=UTC),
          note="第一行\r\n第二行")
    with world.sessions() as s:
        row = s.scalar(select(SignOff).where(SignOff.document_id == doc_id))
        assert row is not None and row.note == "第一行\n第二行"


def test_a_scanned_sheet_is_an_encrypted_document_of_the_notices_circle(world: Infra) -> None:
    # A confidential letter of the CS department, supervised by boss, registered by clerk.
    letter = _register(world, "clerk", Category.LETTER, "致租户的催缴函",
                       level=Level.CONFIDENTIAL, period=Period(years=2),
                       issued_on=date(2026, 11, 1), department="CS")
    _address(world, letter, ["T1", "T2"])
    scan = samples.png_card("签收单 T1 张先生 2026-11-27", world.settings.font_file)
    # Recorded by the department manager: the sheet still takes the letter's circle.
    _sign(world, letter, "T1", actor="manager", method="scanned", sheet=(scan, "签收单.png"))
    with world.sessions() as s:
        row = s.scalar(select(SignOff).where(SignOff.document_id == letter))
        assert row is not None and row.sheet_document_id is not None
        sheet = s.get(Document, row.sheet_document_id)
        original = s.get(Document, letter)
        assert sheet is not None and original is not None
        assert sheet.title == "签收单 — 致租户的催缴函 — 华南贸易有限公司"
        assert sheet.category == "notice" and sheet.tenant.code == "T1"
        assert (sheet.company_id, sheet.department_id, sheet.supervisor_id) == (
            original.company_id, original.department_id, original.supervisor_id)
        assert (sheet.level, sheet.period_years, sheet.issued_on, sheet.declassify_at) == (
            "confidential", 2, date(2026, 11, 1), original.declassify_at)
        assert sheet.registrant.username == "manager"
        version = s.scalar(select(DocumentVersion).where(
            DocumentVersion.document_id == sheet.id))
        assert version is not None and version.media_type == "image/png"
        assert version.blob_id is not None and version.wrapped_key is not None
        stored = world.blobs.path_of(version.blob_id).read_bytes()
        assert len(stored) > len(scan) and scan[16:80] not in stored  # encrypted at rest
        sheet_id, old_key = sheet.id, version.master_key_id
    registered = [e for e in _events(world, Action.DOCUMENT_REGISTER)
                  if e.object_id == str(sheet_id)]
    assert len(registered) == 1 and registered[0].actor == "manager"
    # The sheet is known to the letter's circle (and is in the tenant's archive) …
    with unit_of_work(world, "boss", NOW) as ctx:
        assert documents.load(ctx, sheet_id, Action.DOCUMENT_VIEW, need="view")
        arch = tenants.archive(ctx, "T1")
        assert ("notice", 1) in arch.catalogue
    # … not to another department's staff, who do not see it counted either.
    with pytest.raises(NotFound), unit_of_work(world, "accountant", NOW) as ctx:
        documents.load(ctx, sheet_id, Action.DOCUMENT_VIEW)
    with unit_of_work(world, "accountant", NOW) as ctx:
        assert tenants.archive(ctx, "T1").total == 0
    # Key rotation re-wraps the sheet's data key like any other.
    keys.rotate(world)
    with world.sessions() as s:
        version = s.scalar(select(DocumentVersion).where(
            DocumentVersion.document_id == sheet_id))
        assert version is not None and version.master_key_id != old_key
    # A sign-off sheet is not a notice with recipients of its own.
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "boss", NOW) as ctx:
        notices.set_recipients(ctx, sheet_id, ["T1"])
    assert err.value.code == "not_a_notice"


def test_a_refused_sheet_leaves_nothing_behind(world: Infra) -> None:
    doc_id = _notice(world)
    _address(world, doc_id, ["T1"])
    with world.sessions() as s:
        before = s.scalar(select(Document.id).order_by(Document.id.desc()).limit(1))
    with pytest.raises(InvalidInput) as err:
        _sign(world, doc_id, "T1", method="scanned", sheet=(b"MZ\x90\x00" * 100, "sheet.pdf"))
    assert err.value.code in ("type_mismatch", "type_not_allowed")
    with pytest.raises(InvalidInput) as err:
        _sign(world, doc_id, "T1", method="scanned", sheet=(b"", "sheet.pdf"))
    assert err.value.code == "empty_file"
    with world.sessions() as s:
        assert s.scalar(select(Document.id).order_by(Document.id.desc()).limit(1)) == before
        assert s.scalars(select(SignOff)).all() == []
    with world.sessions() as s:
        stored = {v.blob_id for v in s.scalars(select(DocumentVersion))}
    assert set(world.blobs.iter_ids()) == stored  # the refused sheets' blobs are gone


# ---------------------------------------------------------------------------
# Progress and export


def test_progress_lists_signed_and_unsigned(world: Infra) -> None:
    doc_id = _notice(world)
    _address(world, doc_id, ["T1", "T2", "T3"])
    with unit_of_work(world, "clerk", NOW) as ctx:
        p = notices.progress(ctx, doc_id)
        assert (p.total, p.signed_count, p.unsigned_count, p.percent) == (3, 0, 3, 0)
    _sign(world, doc_id, "T1")
    _sign(world, doc_id, "T3", method="electronic", signer="王小明")
    with unit_of_work(world, "outsider", NOW) as ctx:  # internal: anyone may know of it
        p = notices.progress(ctx, doc_id)
        assert (p.total, p.signed_count, p.unsigned_count, p.percent) == (3, 2, 1, 67)
        assert [r.code for r in p.signed] == ["T1", "T3"]
        assert [r.code for r in p.unsigned] == ["T2"]
        assert p.signed[1].signer == "王小明" and p.signed[1].method == "electronic"
        assert p.marking == "内部"
    _sign(world, doc_id, "T2")
    with unit_of_work(world, "clerk", NOW) as ctx:
        assert notices.progress(ctx, doc_id).percent == 100
    secret = _notice(world, Level.SECRET)
    with pytest.raises(NotFound), unit_of_work(world, "accountant", NOW) as ctx:
        notices.progress(ctx, secret)


def test_the_tenant_page_lists_notices_addressed_to_it(world: Infra) -> None:
    doc_id = _notice(world, title="关于12月3日停水的通知")
    secret = _notice(world, Level.SECRET, title="机密通知")
    _address(world, doc_id, ["T1", "T2"])
    _address(world, secret, ["T1"])
    _sign(world, doc_id, "T1")
    with unit_of_work(world, "clerk", NOW) as ctx:  # the registrant: sees both
        rows = tenants.archive(ctx, "T1").notices
        assert [(r["title"], r["signed"]) for r in rows] == [
            ("机密通知", False), ("关于12月3日停水的通知", True)]
    with unit_of_work(world, "keeper", NOW) as ctx:  # the custodian: metadata of both
        assert len(tenants.archive(ctx, "T1").notices) == 2
    with unit_of_work(world, "accountant", NOW) as ctx:  # not the secret one
        assert [r["signed"] for r in tenants.archive(ctx, "T1").notices] == [True]


def test_csv_export_for_spreadsheets(world: Infra) -> None:
    doc_id = _notice(world)
    with unit_of_work(world, "keeper", NOW) as ctx:
        tenants.create_tenant(ctx, "T4", "=HYPERLINK(\"http://evil\")", "-1F")
    _address(world, doc_id, ["T1", "T2", "T3", "T4"])
    scan = samples.png_card("签收单", world.settings.font_file)
    _sign(world, doc_id, "T1", method="scanned", sheet=(scan, "t1.png"))
    _sign(world, doc_id, "T3", method="electronic", signer="王小明", note="微信确认")
    with unit_of_work(world, "clerk", NOW) as ctx:
        text = notices.export_csv(ctx, doc_id)
    assert text.startswith("\ufeff")
    raw = text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["租户编号 Tenant code", "租户名称 Tenant name", "单元 Unit",
                       "已签收 Signed", "签收人 Signer", "签收时间 Signed at (UTC+8)",
                       "签收方式 Method", "签收单文件编号 Sheet document", "备注 Note"]
    assert len(rows) == 5 and "\r\n" in text
    with world.sessions() as s:
        sheet_id = s.scalar(select(SignOff.sheet_document_id).where(
            SignOff.document_id == doc_id, SignOff.sheet_document_id.is_not(None)))
    assert rows[1] == ["T1", "华南贸易有限公司", "A座1201", "是 yes", "张先生",
                       "2026-11-27 11:30", "扫描签收单 scanned sheet", str(sheet_id), ""]
    assert rows[2] == ["T2", "深港咨询有限公司", "B座0805", "否 no", "", "", "", "", ""]
    assert rows[3][:7] == ["T3", "王小明", "C座2303", "是 yes", "王小明", "2026-11-27 11:30",
                           "电子签收 electronic"]
    assert rows[3][8] == "微信确认"
    # A cell that a spreadsheet would read as a formula is defused.
    assert rows[4][1] == "'=HYPERLINK(\"http://evil\")" and rows[4][2] == "'-1F"
    exports = _events(world, Action.NOTICE_EXPORT)
    assert [(e.actor, e.object_id, e.outcome) for e in exports] == [
        ("clerk", str(doc_id), Outcome.ALLOWED.value)]
    secret = _notice(world, Level.SECRET)
    with pytest.raises(NotFound), unit_of_work(world, "accountant", NOW) as ctx:
        notices.export_csv(ctx, secret)
    assert [e.outcome for e in _events(world, Action.NOTICE_EXPORT)] == ["allowed", "denied"]


# ---------------------------------------------------------------------------
# The CLI, on the demo group (whose water-cut notice goes to T001–T003, T001 signed)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli(demo_home: Path, database_url: str, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from vault.cli import main

    home = demo_home  # after `vault init` and `vault demo` (the session's template)
    env = {"VAULT_HOME": str(home), "VAULT_DATABASE_URL": database_url}

    def run(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(main, list(args), env=env)
        assert "Traceback" not in res.output, res.output
        return res.exit_code, res.output

    assert "The demo group is already loaded." in run("demo")[1]  # idempotent
    code, out = run("tenants", "list", "--as", "wu.yuangong")
    assert code == 0 and "T001" in out and "华南贸易有限公司" in out
    assert run("tenants", "list", "--as", "lin.kefu")[1].count("T00") == 0  # GZ staff
    code, out = run("tenants", "add", "T004", "新租户", "--unit", "D座0101",
                    "--as", "sun.baoguan")
    assert (code, out.strip()) == (0, "added tenant T004")
    code, out = run("tenants", "add", "T005", "不行", "--as", "wu.yuangong")
    assert code == 1 and "custodians" in out
    code, out = run("tenants", "show", "T001", "--as", "zhou.zhuguan", "--json")
    info = json.loads(out)
    assert {"category": "tenant_archive", "count": 1} in info["catalogue"]

    with unit_of_work(_infra(home, database_url), None) as ctx:
        notice = ctx.session.scalar(select(Document.id).where(
            Document.title == "关于12月3日停水的通知"))
    doc = str(notice)
    code, out = run("notices", "progress", doc, "--as", "wu.yuangong", "--json")
    info = json.loads(out)
    # The demo has T001 signed on site and T002 on a scanned sheet.
    assert (info["total"], info["signed"]) == (3, 2)
    code, out = run("notices", "recipients", doc, "--tenant", "T001", "--tenant", "T002",
                    "--tenant", "T003", "--tenant", "T004", "--as", "zhou.zhuguan")
    assert code == 0 and "4 recipient(s); added T004" in out
    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(samples.png_card("签收单"))
    code, out = run("notices", "sign-off", doc, "--tenant", "T003", "--signer", "王小明",
                    "--method", "scanned", "--sheet", str(sheet), "--as", "wu.yuangong")
    assert code == 0 and "sheet stored as document" in out, out
    code, out = run("notices", "sign-off", doc, "--tenant", "T003", "--signer", "王小明",
                    "--method", "on_site", "--as", "wu.yuangong")
    assert code == 2 and "already signed" in out
    code, out = run("notices", "sign-off", doc, "--tenant", "T004", "--signer", "新租户",
                    "--method", "scanned", "--as", "wu.yuangong")
    assert code == 2 and "scanned sheet" in out
    code, out = run("notices", "progress", doc, "--as", "wu.yuangong")
    assert code == 0 and "3/4 signed (75%)" in out and out.count("UNSIGNED") == 1
    target = tmp_path / "signoffs.csv"
    code, out = run("notices", "export", doc, "-o", str(target), "--as", "zhao.hegui")
    assert code == 0 and "4 recipient(s)" in out
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    code, out = run("notices", "export", doc, "-o", str(target), "--as", "zhao.hegui")
    assert code == 2 and "exists already" in out
    code, out = run("notices", "export", "99999", "-o", str(tmp_path / "x.csv"),
                    "--as", "zhao.hegui")
    assert code == 2 and not (tmp_path / "x.csv").exists()
    assert not list(tmp_path.glob(".*.part"))


def _infra(home: Path, database_url: str) -> Infra:
    from vault import db
    from vault.config import load_settings

    settings = load_settings(environ={}, home=home, database_url=database_url)
    return Infra.build(settings, db.make_sessionmaker(db.make_engine(database_url)))
