"""Outgoing letters with seal approval (对外发文与用章申请) and open letters (公开信)
through the services, on SQLite and PostgreSQL: templates kept by administrators,
a letter drawn as an encrypted PDF, the seal request decided by the department's
manager then the general manager, 已用印 (who, when), sending only once sealed, the
notice sign-offs; refusals with their reasons; open letters on each request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pypdfium2
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from vault.audit.models import AuditEvent
from vault.cli import main
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import DocumentVersion, Letter, Notification
from vault.policy import Level
from vault.services import accounts, documents, letters, notices, requests, tenants
from vault.services.context import Infra, unit_of_work

BODY = "因大厦电梯年度检修，十二月十日九时至十二时停用，请各位租户提前安排。"


@pytest.fixture
def world(org: Infra) -> Infra:
    with unit_of_work(org, "root") as ctx:
        company = accounts.get_company(ctx.session, "SZ")
        tenants.add_tenant(ctx.session, "T001", "华南贸易", "A1201", "张先生",
                           company_id=company.id)
        tenants.add_tenant(ctx.session, "T002", "北方科技", "B0301", "李女士",
                           company_id=company.id)
        letters.save_template(ctx, name="深圳公司函头", letterhead="深圳公司\n深圳市福田区",
                              closing="客户服务部\n深圳公司", company_code="SZ")
    return org


def _template(infra: Infra) -> int:
    with unit_of_work(infra, "clerk") as ctx:
        return letters.templates(ctx)[0].id


def _draft(infra: Infra, who: str = "clerk", **kw: object) -> letters.LetterView:
    fields: dict[str, object] = {"template_id": _template(infra), "title": "电梯检修通知",
                                 "addressee": "全体租户", "body": BODY}
    fields.update(kw)
    with unit_of_work(infra, who) as ctx:
        return letters.draft(ctx, **fields)  # type: ignore[arg-type]


def _actions(infra: Infra, prefix: str) -> list[tuple[str, str, str]]:
    with infra.sessions() as s:
        return [(e.action, e.actor, e.outcome) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%"))
            .order_by(AuditEvent.seq))]


def test_templates_are_kept_by_administrators(world: Infra) -> None:
    with pytest.raises(Forbidden) as err, unit_of_work(world, "gm") as ctx:
        letters.save_template(ctx, name="x", letterhead="x", closing="x")
    assert err.value.code == "not_admin"
    with pytest.raises(InvalidInput) as bad, unit_of_work(world, "root") as ctx:
        letters.save_template(ctx, name="  ", letterhead="x", closing="x")
    assert bad.value.code == "template_name_required"
    with unit_of_work(world, "root") as ctx:
        group = letters.save_template(ctx, name="集团函头", letterhead="集团", closing="总公司")
        letters.save_template(ctx, name="旧函头", letterhead="旧", closing="旧",
                              company_code="GZ", active=True)
        letters.save_template(ctx, template_id=group.id, name="集团函头", letterhead="集团\n地址",
                              closing="总公司", active=True)
    # A drafter sees the group's templates and their own company's, never another's.
    with unit_of_work(world, "clerk") as ctx:
        assert [t.name for t in letters.templates(ctx)] == ["深圳公司函头", "集团函头"]
    with unit_of_work(world, "outsider") as ctx:
        assert [t.name for t in letters.templates(ctx)] == ["集团函头", "旧函头"]
    with pytest.raises(InvalidInput) as other, unit_of_work(world, "outsider") as ctx:
        letters.draft(ctx, template_id=1, title="t", addressee="a", body="b")
    assert other.value.code == "unknown_template"
    assert ("letter:template", "gm", "denied") in _actions(world, "letter:template")


def test_draft_seal_by_manager_then_gm_send_and_sign_off(world: Infra) -> None:
    view = _draft(world)
    year = datetime.now(world.settings.tz).year
    assert view.letter.number == f"SZ-函-{year}-001" and view.letter.status == "draft"
    assert view.may_request_seal and not view.may_send
    # The PDF is stored encrypted, renders, and carries the letter's words.
    with world.sessions() as s:
        version = s.scalar(select(DocumentVersion).where(
            DocumentVersion.document_id == view.letter.document_id))
        assert version is not None and version.media_type == "application/pdf"
        assert version.blob_id is not None
        with world.blobs.open(version.blob_id) as fh:
            assert b"%PDF" not in fh.read()
    with unit_of_work(world, "clerk") as ctx:
        content = documents.open_content(ctx, view.letter.document_id)
    pdf = b"".join(content.chunks)
    page = pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert "电梯检修通知" in page and "致：全体租户" in page and "客户服务部" in page
    # Not sent before the seal: neither through the letter nor through the notice page.
    with pytest.raises(Forbidden) as early, unit_of_work(world, "clerk") as ctx:
        letters.send(ctx, view.letter.id, ["T001"])
    assert early.value.code == "letter_not_sealed"
    with pytest.raises(Forbidden) as early2, unit_of_work(world, "clerk") as ctx:
        notices.set_recipients(ctx, view.letter.document_id, ["T001"])
    assert early2.value.code == "letter_not_sealed"
    # The seal request: the department's manager, then the general manager.
    with pytest.raises(InvalidInput) as no_purpose, unit_of_work(world, "clerk") as ctx:
        letters.request_seal(ctx, view.letter.id, " ")
    assert no_purpose.value.code == "seal_purpose_required"
    with unit_of_work(world, "clerk") as ctx:
        seal = letters.request_seal(ctx, view.letter.id, "通知全体租户电梯检修")
    assert seal.route == ("owning_dept_manager", "owning_company_gm") and seal.awaiting == \
        "owning_dept_manager"
    with pytest.raises(Conflict), unit_of_work(world, "clerk") as ctx:
        letters.request_seal(ctx, view.letter.id, "again")
    with world.sessions() as s:
        told = s.scalars(select(Notification.user_id).where(
            Notification.kind == "seal_pending")).all()
        assert [accounts.get_user(s, "manager").id] == list(told)
    for who, code in (("gm", "not_an_approver"), ("clerk", "requester_cannot_approve"),
                      ("boss", "not_an_approver")):
        with pytest.raises(Forbidden) as err, unit_of_work(world, who) as ctx:
            letters.approve_seal(ctx, seal.id)
        assert err.value.code == code
    with pytest.raises(Forbidden), unit_of_work(world, "outsider") as ctx:
        letters.approve_seal(ctx, seal.id)
    with unit_of_work(world, "manager") as ctx:
        assert [r.id for r in letters.to_decide(ctx)] == [seal.id]
        step1 = letters.approve_seal(ctx, seal.id, "同意")
    assert step1.status == "pending" and step1.awaiting == "owning_company_gm"
    with pytest.raises(Forbidden), unit_of_work(world, "manager") as ctx:
        letters.approve_seal(ctx, seal.id)
    with unit_of_work(world, "gm") as ctx:
        assert [r.id for r in letters.to_decide(ctx)] == [seal.id]
        done = letters.approve_seal(ctx, seal.id)
    assert done.status == "approved"
    assert [(d.scope, d.decided_by, d.approved) for d in done.decisions] == [
        ("owning_dept_manager", "manager", True), ("owning_company_gm", "gm", True)]
    with unit_of_work(world, "clerk") as ctx:
        sealed = letters.show(ctx, view.letter.id)
    assert sealed.letter.status == "sealed" and sealed.letter.sealed_by == "gm"
    assert sealed.letter.sealed_at is not None and sealed.may_send
    # Sent: the tenants become recipients; sign-offs are tracked as a notice's.
    with unit_of_work(world, "clerk") as ctx:
        change = letters.send(ctx, view.letter.id, ["T001", "T002"])
    assert change.added == ["T001", "T002"]
    with unit_of_work(world, "clerk") as ctx:
        notices.record_sign_off(ctx, view.letter.document_id, "T001", "张先生",
                                datetime.now(UTC), "on_site")
    with unit_of_work(world, "clerk") as ctx:
        progress = notices.progress(ctx, view.letter.document_id)
    assert (progress.signed_count, progress.unsigned_count) == (1, 1)
    assert _actions(world, "seal:") == [
        ("seal:request", "clerk", "allowed"), ("seal:request", "clerk", "denied"),
        ("seal:approve", "gm", "denied"), ("seal:approve", "clerk", "denied"),
        ("seal:approve", "boss", "denied"), ("seal:approve", "outsider", "denied"),
        ("seal:approve", "manager", "allowed"), ("seal:approve", "manager", "denied"),
        ("seal:approve", "gm", "allowed")]
    assert ("letter:seal", "gm", "allowed") in _actions(world, "letter:")


def test_refusal_with_reason_returns_to_draft(world: Infra) -> None:
    view = _draft(world)
    with unit_of_work(world, "clerk") as ctx:
        seal = letters.request_seal(ctx, view.letter.id, "发函")
    with pytest.raises(InvalidInput) as bare, unit_of_work(world, "manager") as ctx:
        letters.reject_seal(ctx, seal.id, "")
    assert bare.value.code == "seal_reason_required"
    with unit_of_work(world, "manager") as ctx:
        refused = letters.reject_seal(ctx, seal.id, "措辞需修改")
    assert refused.status == "rejected" and refused.decisions[0].note == "措辞需修改"
    with world.sessions() as s:
        letter = s.scalar(select(Letter))
        assert letter is not None and letter.status == "draft"
        subjects = s.scalars(select(Notification.subject_zh).where(
            Notification.kind == "seal_decided")).all()
        assert subjects == [f"未批准：您的用章申请《函 SZ-函-{letter.year}-001 电梯检修通知》"
                            "——措辞需修改"]
    with pytest.raises(Conflict), unit_of_work(world, "gm") as ctx:
        letters.approve_seal(ctx, seal.id)
    # Asked again and withdrawn by the requester only.
    with unit_of_work(world, "clerk") as ctx:
        again = letters.request_seal(ctx, view.letter.id, "修改后再次申请")
    with pytest.raises(Forbidden), unit_of_work(world, "manager") as ctx:
        letters.cancel_seal(ctx, again.id)
    with unit_of_work(world, "clerk") as ctx:
        assert letters.cancel_seal(ctx, again.id).status == "cancelled"
        assert letters.show(ctx, view.letter.id).letter.status == "draft"


def test_a_managers_own_letter_goes_to_the_gm_and_a_gms_to_hq(world: Infra) -> None:
    mine = _draft(world, "manager")
    with unit_of_work(world, "manager") as ctx:
        seal = letters.request_seal(ctx, mine.letter.id, "发函")
    assert seal.route == ("owning_company_gm",)
    gms = _draft(world, "gm")
    with unit_of_work(world, "gm") as ctx:
        seal2 = letters.request_seal(ctx, gms.letter.id, "发函")
    assert seal2.route == ("hq_executives",)
    with unit_of_work(world, "ceo") as ctx:
        assert letters.approve_seal(ctx, seal2.id).status == "approved"


def test_scope_of_letters(world: Infra) -> None:
    """A letter is a document: an internal one is known group-wide, a 秘密 one only
    within its circle (the file rules decide)."""
    secret = _draft(world, level=Level.CONFIDENTIAL)
    view = _draft(world)
    with unit_of_work(world, "outsider") as ctx:
        assert letters.search(ctx) == []  # another company's letters are not listed
        assert letters.show(ctx, view.letter.id).letter.number == view.letter.number
    with pytest.raises(NotFound), unit_of_work(world, "outsider") as ctx:
        letters.show(ctx, secret.letter.id)
    with pytest.raises(NotFound), unit_of_work(world, "accountant") as ctx:
        letters.show(ctx, secret.letter.id)
    with pytest.raises(NotFound), unit_of_work(world, "clerk") as ctx:
        letters.show(ctx, 999)
    with unit_of_work(world, "accountant") as ctx:  # an internal letter of their company
        shown = letters.show(ctx, view.letter.id)
        assert not shown.may_request_seal and not shown.may_decide
    with pytest.raises(Forbidden), unit_of_work(world, "accountant") as ctx:
        letters.request_seal(ctx, view.letter.id, "x")
    with unit_of_work(world, "clerk") as ctx:
        assert [r.number for r in letters.search(ctx, status="draft")] == [
            view.letter.number, secret.letter.number]
    with unit_of_work(world, "accountant") as ctx:
        assert [r.number for r in letters.search(ctx)] == [view.letter.number]
        with pytest.raises(InvalidInput):
            letters.search(ctx, status="lost")
    assert ("letter:view", "outsider", "denied") in _actions(world, "letter:view")


def test_open_letter_on_several_requests(world: Infra) -> None:
    ids = []
    for _ in range(2):
        with unit_of_work(world, "clerk") as ctx:
            ids.append(requests.create(ctx, kind="complaint", channel="hotline", grade="normal",
                                       content="电梯噪音", tenant_code="T001").id)
    with unit_of_work(world, "clerk") as ctx:
        numbers = [requests.show(ctx, i).summary.number for i in ids]
    with pytest.raises(InvalidInput) as not_open:
        _draft(world, request_refs=numbers[:1])
    assert not_open.value.code == "requests_on_letter"
    view = _draft(world, kind="open", title="关于电梯噪音的公开信", request_refs=numbers[:1])
    assert [n for _, n in view.requests] == numbers[:1] and view.may_attach
    with unit_of_work(world, "clerk") as ctx:
        after = letters.attach_requests(ctx, view.letter.id, numbers)
    assert [n for _, n in after.requests] == numbers
    with unit_of_work(world, "clerk") as ctx:
        for i in ids:
            assert [x.id for x in letters.open_letters_for_request(ctx, i)] == [view.letter.id]
        assert [x.id for x in letters.search(ctx, kind="open")] == [view.letter.id]
    with pytest.raises(Forbidden), unit_of_work(world, "outsider") as ctx:
        letters.attach_requests(ctx, view.letter.id, numbers)
    plain_letter = _draft(world).letter.id
    with pytest.raises(InvalidInput) as plain, unit_of_work(world, "clerk") as ctx:
        letters.attach_requests(ctx, plain_letter, numbers)
    assert plain.value.code == "requests_on_letter"


def test_cli(world: Infra, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAULT_HOME", str(world.settings.home))
    monkeypatch.setenv("VAULT_DATABASE_URL", world.settings.database_url)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    assert "深圳公司函头" in run("letters", "templates", "--as", "clerk")
    run("letters", "template", "--as", "clerk", "--name", "x", "--letterhead", "x",
        "--closing", "x", code=1)
    assert "saved" in run("letters", "template", "--as", "root", "--name", "集团函头",
                          "--letterhead", "集团\\n地址", "--closing", "总公司")
    body = tmp_path / "body.txt"
    body.write_text(BODY, encoding="utf-8")
    out = run("letters", "draft", "--as", "clerk", "--template", "1", "--title", "电梯检修通知",
              "--to", "全体租户", "--body-file", str(body))
    letter_id = out.split("(letter ")[1].split(",")[0]
    assert "draft" in run("letters", "ls", "--as", "clerk")
    assert "seal request is approved" in run("letters", "send", letter_id, "--as", "clerk",
                                      "--tenant", "T001", code=1)
    out = run("letters", "request-seal", letter_id, "--as", "clerk", "--purpose", "通知租户")
    seal_id = out.split()[2].rstrip(":")
    assert "owning_dept_manager → owning_company_gm" in out
    assert "1 to decide" in run("letters", "to-decide", "--as", "manager")
    run("letters", "approve", seal_id, "--as", "gm", code=1)
    assert "awaiting owning_company_gm" in run("letters", "approve", seal_id, "--as", "manager")
    assert "已用印" in run("letters", "approve", seal_id, "--as", "gm", "--note", "同意")
    shown = run("letters", "show", letter_id, "--as", "clerk")
    assert "sealed by gm" in shown and "step 2 owning_company_gm: approved by gm" in shown
    assert "added T001" in run("letters", "send", letter_id, "--as", "clerk", "--tenant", "T001")
    # A second letter refused with a reason.
    out = run("letters", "draft", "--as", "clerk", "--template", "1", "--title", "二号函",
              "--to", "T002", "--body", "内容")
    second = out.split("(letter ")[1].split(",")[0]
    seal2 = run("letters", "request-seal", second, "--as", "clerk",
                "--purpose", "发函").split()[2].rstrip(":")
    assert "refused" in run("letters", "reject", seal2, "--as", "manager", "--reason", "重写")
    assert "重写" in run("letters", "show", second, "--as", "clerk")
