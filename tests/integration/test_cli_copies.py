"""`vault copies|loans|inbox|mail`, end to end on the demo group (SQLite and PostgreSQL).

The CLI acts for the person named by --as (the operator on the server speaks for
them); these tests check that it says clearly what happened, exits 0 / 1 / 2 as
the other commands do, and never leaves a partial or unapproved file behind.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import Result
from pypdf import PdfReader
from test_cli import SECRET_MINUTES, Vault, doc_id, ok  # noqa: I001 - sibling test module

TOP_SECRET_PLAN = "2027年集团并购方案"
PAPER_CONTRACT = "A座物业服务合同"  # confidential, SZ customer service, paper original
TZ = timezone(timedelta(hours=8))


@pytest.fixture
def vault(demo_home: Path, database_url: str) -> Vault:
    """After `vault init` and `vault demo` (copied from the session's template)."""
    return Vault(demo_home, database_url)


def refused(res: Result, code: int, message: str) -> None:
    """A refusal: the exit status, a clear message, and no traceback."""
    assert res.exit_code == code, (code, res.output)
    assert message in res.output, (message, res.output)
    assert isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output


def ask(v: Vault, doc: str, as_user: str, *args: str, kind: str = "copy") -> int:
    out = ok(v("copies", "request", doc, "--kind", kind, "--purpose", "律师核对合同条款",
               "--as", as_user, *args))
    match = re.match(r"request (\d+): ", out)
    assert match is not None, out
    return int(match.group(1))


def as_json(res: Result) -> object:
    # CliRunner mixes stderr (counts, progress) into output; the JSON is what stdout held.
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def sql(v: Vault, statement: str, **params: object) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(v.env["VAULT_DATABASE_URL"])
    with eng.begin() as conn:
        conn.execute(text(statement), params)
    eng.dispose()


def test_copy_request_approve_download_register_destroy_lookup(vault: Vault,
                                                               tmp_path: Path) -> None:
    doc = doc_id(vault, SECRET_MINUTES)
    res = vault("copies", "request", doc, "--kind", "copy", "--purpose", "律师核对",
                "--as", "zhou.zhuguan")
    out = ok(res)
    req = int(re.match(r"request (\d+): copy of document", out).group(1))
    assert f"《{SECRET_MINUTES}》 [机密★20年], pending" in out
    assert "route: owning_company_gm" in out and "chen.gm (陈总（深圳总经理）)" in out
    assert "default answer" not in out

    mine = as_json(vault("copies", "list", "--as", "zhou.zhuguan", "--json"))
    assert [(r["id"], r["state"], r["kind"]) for r in mine] == [(req, "pending", "copy")]
    waiting = as_json(vault("copies", "list", "--to-decide", "--as", "chen.gm", "--json"))
    assert [r["id"] for r in waiting] == [req]
    assert as_json(vault("copies", "list", "--to-decide", "--as", "huang.gm", "--json")) == []
    shown = ok(vault("copies", "show", str(req), "--as", "chen.gm"))
    assert "you may decide   yes" in shown and "律师核对" in shown

    # Nobody decides their own request; another company's GM does not even see it.
    refused(vault("copies", "approve", str(req), "--as", "zhou.zhuguan"), 1,
            "Nobody may decide their own request")
    refused(vault("copies", "approve", str(req), "--as", "huang.gm"), 2, f"No request {req}")
    out_file = tmp_path / "copy.pdf"
    refused(vault("copies", "download", str(req), "--as", "zhou.zhuguan", "-o", str(out_file)),
            1, "only an approved request gives a copy")
    assert not out_file.exists() and leftovers(tmp_path) == []

    out = ok(vault("copies", "approve", str(req), "--as", "chen.gm", "--note", "限本次诉讼使用"))
    assert f"request {req} approved" in out and "zhou.zhuguan may download it once" in out
    # Another person cannot use the approval.
    refused(vault("copies", "download", str(req), "--as", "wu.yuangong", "-o", str(out_file)),
            2, f"No request {req}")
    assert not out_file.exists()

    out = ok(vault("copies", "download", str(req), "--as", "zhou.zhuguan", "-o", str(out_file)))
    label = f"机密-2026-{int(doc):04d} 副本 1"
    assert f"copy {label} (stamped)" in out
    pages = PdfReader(io.BytesIO(out_file.read_bytes())).pages
    assert len(pages) == 2
    for page in pages:
        text = page.extract_text()
        assert label in text and "zhou.zhuguan" in text and "机密★20年" in text
    assert out_file.stat().st_mode & 0o077 == 0  # written 0600, like `vault export`

    # An approval gives one download: the second is refused and writes nothing.
    second = tmp_path / "again.pdf"
    refused(vault("copies", "download", str(req), "--as", "zhou.zhuguan", "-o", str(second)),
            2, "downloaded once")
    assert not second.exists() and leftovers(tmp_path) == []
    assert ok(vault("copies", "show", str(req), "--as", "zhou.zhuguan")).count(label) == 2

    register = as_json(vault("copies", "register", "--as", "sun.baoguan", "--json"))
    assert [(r["label"], r["status"], r["recipient"], r["approved_by"], r["stamped"])
            for r in register] == [(label, "issued", "zhou.zhuguan", "chen.gm", True)]
    copy_id = str(register[0]["id"])
    assert label in ok(vault("copies", "register", "--as", "chen.gm"))
    refused(vault("copies", "register", "--as", "wu.yuangong"), 1, "Registers are kept by")
    refused(vault("copies", "register", "--as", "sun.baoguan", "--company", "XX"), 2,
            "No company with code 'XX'")
    assert as_json(vault("copies", "register", "--as", "zhao.hegui", "--company", "GZ",
                         "--json")) == []

    # Only the owning company's custodian closes a copy.
    refused(vault("copies", "destroy", copy_id, "--as", "chen.gm"), 1, "custodian")
    refused(vault("copies", "destroy", copy_id, "--as", "zhou.zhuguan"), 2,
            f"No registered copy {copy_id}")
    out = ok(vault("copies", "destroy", copy_id, "--as", "sun.baoguan", "--note", "碎纸机销毁"))
    assert f"({label}) recorded as destroyed" in out
    refused(vault("copies", "destroy", copy_id, "--as", "sun.baoguan"), 2, "already destroyed")
    refused(vault("copies", "return", copy_id, "--as", "sun.baoguan"), 2, "already destroyed")
    assert as_json(vault("copies", "register", "--status", "issued", "--as", "sun.baoguan",
                         "--json")) == []

    # Given the number printed on the copy: who received it, who approved, when.
    found = ok(vault("copies", "lookup", label, "--as", "chen.gm"))
    assert "recipient        zhou.zhuguan (周主管)" in found
    assert "approved by      chen.gm (陈总（深圳总经理）)" in found
    assert "status           destroyed" in found and "closed_by        sun.baoguan" in found
    info = as_json(vault("copies", "lookup", f"{doc}-1", "--as", "zhao.hegui", "--json"))
    assert (info["recipient"], info["approved_by"], info["closed_note"]) == (
        "zhou.zhuguan", "chen.gm", "碎纸机销毁")
    assert info["issued_at"].startswith(datetime.now(TZ).date().isoformat())
    refused(vault("copies", "lookup", label, "--as", "lin.kefu"), 2, "No registered copy")


def test_download_never_spends_the_approval_on_a_file_it_cannot_write(vault: Vault,
                                                                      tmp_path: Path) -> None:
    doc = doc_id(vault, SECRET_MINUTES)
    req = str(ask(vault, doc, "zhou.zhuguan"))
    ok(vault("copies", "approve", req, "--as", "chen.gm", "--window-hours", "2"))
    existing = tmp_path / "keep.pdf"
    existing.write_bytes(b"keep me")
    refused(vault("copies", "download", req, "--as", "zhou.zhuguan", "-o", str(existing)), 2,
            "exists already")
    refused(vault("copies", "download", req, "--as", "zhou.zhuguan", "-o",
                  str(tmp_path / "no-such-folder" / "x.pdf")), 2, "Cannot write")
    refused(vault("copies", "download", req, "--as", "zhou.zhuguan", "-o", str(tmp_path)), 2,
            "is a folder")
    assert existing.read_bytes() == b"keep me" and leftovers(tmp_path) == []
    state = as_json(vault("copies", "show", req, "--as", "zhou.zhuguan", "--json"))
    assert state["state"] == "approved" and state["may_download"]
    ok(vault("copies", "download", req, "--as", "zhou.zhuguan", "-o", str(existing), "--force"))
    assert existing.read_bytes().startswith(b"%PDF") and leftovers(tmp_path) == []


def test_a_failed_write_after_release_says_the_copy_is_registered(
        vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from vault.cli import files

    class FullDisk:
        def write(self, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    opened = files.NewFile.__init__

    def on_a_full_disk(self: files.NewFile, fh: object, out: Path) -> None:
        opened(self, FullDisk(), out)  # type: ignore[arg-type]

    doc = doc_id(vault, SECRET_MINUTES)
    req = str(ask(vault, doc, "zhou.zhuguan"))
    ok(vault("copies", "approve", req, "--as", "chen.gm"))
    monkeypatch.setattr(files.NewFile, "__init__", on_a_full_disk)
    out_file = tmp_path / "copy.pdf"
    refused(vault("copies", "download", req, "--as", "zhou.zhuguan", "-o", str(out_file)), 2,
            f"Cannot write {out_file}: No space left on device. Copy 机密-2026-{int(doc):04d} "
            "副本 1 is registered to zhou.zhuguan but was not written; tell the custodian.")
    assert not out_file.exists() and leftovers(tmp_path) == []
    register = as_json(vault("copies", "register", "--as", "sun.baoguan", "--json"))
    assert [(r["request"], r["status"]) for r in register] == [(int(req), "issued")]


def test_top_secret_says_default_no_and_only_an_hq_executive_decides(vault: Vault,
                                                                   tmp_path: Path) -> None:
    doc = doc_id(vault, TOP_SECRET_PLAN)
    out = ok(vault("copies", "request", doc, "--kind", "copy", "--purpose", "董事会审议",
                   "--as", "li.fuzong"))
    req = re.match(r"request (\d+): ", out).group(1)
    assert "route: hq_executives" in out and "wang.zong" in out
    assert "default answer for 绝密 copies is no" in out
    assert "[default no]" in ok(vault("copies", "list", "--to-decide", "--as", "wang.zong"))
    refused(vault("copies", "approve", req, "--as", "chen.gm"), 2, f"No request {req}")
    refused(vault("copies", "approve", req, "--as", "li.fuzong"), 1,
            "Nobody may decide their own request")
    refused(vault("copies", "approve", req, "--as", "wang.zong", "--window-hours", "99"), 2,
            "download window is 1 to 24 hours")
    ok(vault("copies", "approve", req, "--as", "wang.zong", "--window-hours", "1"))
    out_file = tmp_path / "ts.pdf"
    ok(vault("copies", "download", req, "--as", "li.fuzong", "-o", str(out_file)))
    text = PdfReader(io.BytesIO(out_file.read_bytes())).pages[0].extract_text()
    assert f"绝密-2026-{int(doc):04d} 副本 1" in text


def test_reject_cancel_and_inbox(vault: Vault) -> None:
    doc = doc_id(vault, SECRET_MINUTES)
    req = str(ask(vault, doc, "zhou.zhuguan"))
    pending = ok(vault("inbox", "--as", "chen.gm", "--unread"))
    assert f"待审批：周主管 申请复制《{SECRET_MINUTES}》" in pending
    assert f"http://127.0.0.1:5000/copies/{req}" in pending
    assert "To decide" in ok(vault("inbox", "--as", "chen.gm", "--lang", "en"))
    refused(vault("copies", "reject", req, "--as", "chen.gm"), 2, "Missing option '--reason'")
    refused(vault("copies", "reject", req, "--as", "chen.gm", "--reason", " "), 2,
            "Give the reason")
    assert ok(vault("copies", "reject", req, "--as", "chen.gm", "--reason", "用途不明确")) == (
        f"request {req} rejected\n")
    refused(vault("copies", "approve", req, "--as", "chen.gm"), 2, "already rejected")
    refused(vault("copies", "cancel", req, "--as", "zhou.zhuguan"), 2, "already rejected")

    # The demo's letters leave zhou.zhuguan a seal decision already; the copy adds one item.
    items = as_json(vault("inbox", "--as", "zhou.zhuguan", "--json"))
    copy_items = [i for i in items if i["kind"] != "seal_decided"]
    assert [(i["kind"], i["read"]) for i in copy_items] == [("request_decided", False)]
    assert copy_items[0]["subject"].startswith("未批准")
    res = vault("inbox", "--as", "zhou.zhuguan", "--mark-read")
    assert "未批准" in ok(res) and f"{len(items)} notification(s), 0 unread" in res.output
    assert as_json(vault("inbox", "--as", "zhou.zhuguan", "--unread", "--json")) == []
    assert as_json(vault("inbox", "--as", "zhou.zhuguan", "--json"))[0]["read"] is True

    second = str(ask(vault, doc, "zhou.zhuguan"))
    refused(vault("copies", "cancel", second, "--as", "chen.gm"), 1,
            "Only the requester may withdraw")
    assert ok(vault("copies", "cancel", second, "--as", "zhou.zhuguan")) == (
        f"request {second} cancelled\n")
    states = {r["id"]: r["state"]
              for r in as_json(vault("copies", "list", "--as", "zhou.zhuguan", "--json"))}
    assert states == {int(req): "rejected", int(second): "cancelled"}


def test_loan_hand_over_overdue_and_return(vault: Vault, tmp_path: Path) -> None:
    doc = doc_id(vault, PAPER_CONTRACT)
    refused(vault("copies", "request", doc, "--kind", "lend", "--purpose", "续约谈判",
                  "--as", "zhou.zhuguan"), 2, "Give the return date")
    due = (datetime.now(TZ).date() + timedelta(days=14)).isoformat()
    req = str(ask(vault, doc, "zhou.zhuguan", "--due", due, kind="lend"))
    out = ok(vault("copies", "approve", req, "--as", "chen.gm"))
    assert f"due back {due}" in out
    # A loan delivers no file.
    refused(vault("copies", "download", req, "--as", "zhou.zhuguan", "-o",
                  str(tmp_path / "x")), 2, "delivers no file")
    assert not (tmp_path / "x").exists() and leftovers(tmp_path) == []

    # The demo's business licence is out with chen.gm already; this is the new loan.
    loans = [x for x in as_json(vault("loans", "list", "--open", "--as", "sun.baoguan",
                                      "--json")) if x["borrower"] != "chen.gm"]
    assert [(x["state"], x["borrower"], x["approved_by"], x["due_on"])
            for x in loans] == [("approved", "zhou.zhuguan", "chen.gm", due)]
    loan = str(loans[0]["id"])
    refused(vault("loans", "return", loan, "--as", "sun.baoguan"), 2, "never handed over")
    refused(vault("loans", "hand-over", loan, "--as", "chen.gm"), 1, "custodian")
    refused(vault("loans", "hand-over", loan, "--as", "zhou.zhuguan"), 2, f"No loan {loan}")
    assert f"handed over to zhou.zhuguan, due back {due}" in ok(
        vault("loans", "hand-over", loan, "--as", "sun.baoguan", "--note", "原件一份"))
    refused(vault("loans", "hand-over", loan, "--as", "sun.baoguan"), 2, "already handed over")
    assert as_json(vault("loans", "list", "--overdue", "--as", "sun.baoguan", "--json")) == []

    # Past its due date it is overdue (the date is moved back in the database).
    sql(vault, "update loans set due_on = :d where id = :i",
        d=date.today() - timedelta(days=3), i=int(loan))
    overdue = as_json(vault("loans", "list", "--overdue", "--as", "chen.gm", "--json"))
    assert [(x["id"], x["state"], x["lent_by"]) for x in overdue] == [
        (int(loan), "overdue", "sun.baoguan")]
    assert "overdue" in ok(vault("loans", "list", "--as", "zhao.hegui"))
    refused(vault("loans", "list", "--as", "zhou.zhuguan"), 1, "Registers are kept by")

    assert ok(vault("loans", "return", loan, "--as", "sun.baoguan")) == f"loan {loan}: returned\n"
    refused(vault("loans", "return", loan, "--as", "sun.baoguan"), 2, "already returned")
    still_open = as_json(vault("loans", "list", "--open", "--as", "sun.baoguan", "--json"))
    assert [x["borrower"] for x in still_open] == ["chen.gm"]  # the demo's licence only
    done = as_json(vault("loans", "list", "--as", "sun.baoguan", "--json"))
    assert [(x["state"], x["returned_by"]) for x in done if x["id"] == int(loan)] == [
        ("returned", "sun.baoguan")]


def test_downgrade_request_changes_the_marking(vault: Vault) -> None:
    doc = doc_id(vault, SECRET_MINUTES)
    req = str(ask(vault, doc, "zhou.zhuguan", "--level", "confidential", kind="downgrade"))
    asked_by_reader = ["copies", "request", doc, "--kind", "downgrade", "--level",
                       "confidential", "--purpose", "x", "--as", "wu.yuangong"]
    refused(vault(*asked_by_reader), 2, f"No document {doc}")
    # A reader may ask for a copy, but not for a change of the file's classification.
    ok(vault("grant", doc, "wu.yuangong", "--as", "zhou.zhuguan"))
    refused(vault(*asked_by_reader), 1, "asked for by its responsible supervisor")
    assert f"document {doc} is now [秘密★20年]" in ok(
        vault("copies", "approve", req, "--as", "chen.gm"))
    info = json.loads(ok(vault("show", doc, "--as", "zhou.zhuguan", "--json")))
    assert info["level"] == "confidential"


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "scan", "--purpose", "x"], "Invalid value for '--kind'"),
    (["--kind", "excerpt", "--pages", "5-3", "--purpose", "x"],
     "a range must go from the lower page to the higher"),
    (["--kind", "excerpt", "--pages", "1-2"], "Missing option '--purpose'"),
    (["--kind", "copy", "--purpose", "   "], "State the purpose"),
    (["--kind", "copy", "--pages", "1", "--purpose", "x"], "only for an excerpt"),
    (["--kind", "lend", "--due", "2026-02-30", "--purpose", "x"], "not a date"),
    (["--kind", "lend", "--due", "soon", "--purpose", "x"], "not a date"),
    (["--kind", "downgrade", "--level", "bogus", "--purpose", "x"], "Unknown level"),
    (["--kind", "extend", "--period", "forever", "--purpose", "x"], "not a period"),
    (["--kind", "copy", "--due", "2030-01-01", "--purpose", "x"], "only for a loan"),
])
def test_bad_request_input_exits_2_with_a_message(vault: Vault, args: list[str],
                                                  message: str) -> None:
    doc = doc_id(vault, SECRET_MINUTES)
    refused(vault("copies", "request", doc, *args, "--as", "zhou.zhuguan"), 2, message)
    assert as_json(vault("copies", "list", "--as", "zhou.zhuguan", "--json")) == []


def test_other_bad_input_exits_2_with_a_message(vault: Vault, tmp_path: Path) -> None:
    out = str(tmp_path / "x.pdf")
    for args, message in [
        (["copies", "request", "abc", "--kind", "copy", "--purpose", "x", "--as", "wu.yuangong"],
         "Invalid value for 'DOCUMENT'"),
        (["copies", "request", "99999", "--kind", "copy", "--purpose", "x",
          "--as", "wu.yuangong"], "No document 99999"),
        (["copies", "request", "1", "--kind", "copy", "--purpose", "x", "--as", "nobody"],
         "No user 'nobody'"),
        (["copies", "show", "99999", "--as", "chen.gm"], "No request 99999"),
        (["copies", "approve", "99999", "--as", "chen.gm"], "No request 99999"),
        (["copies", "approve", "x", "--as", "chen.gm"], "Invalid value for 'REQUEST'"),
        (["copies", "download", "99999", "--as", "wu.yuangong", "-o", out], "No request 99999"),
        (["copies", "download", "1", "--as", "wu.yuangong"], "Missing option '-o'"),
        (["copies", "lookup", "第三份", "--as", "sun.baoguan"], "Not a copy number"),
        (["copies", "lookup", "机密-2026-0005 副本 9", "--as", "sun.baoguan"],
         "No registered copy"),
        (["copies", "register", "--status", "lost", "--as", "sun.baoguan"],
         "Invalid value for '--status'"),
        (["copies", "destroy", "99999", "--as", "sun.baoguan"], "No registered copy 99999"),
        (["loans", "hand-over", "99999", "--as", "sun.baoguan"], "No loan 99999"),
        (["inbox", "--as", "nobody"], "No user 'nobody'"),
        (["mail", "send-pending"], "SMTP is not configured"),
    ]:
        refused(vault(*args), 2, message)
    assert not Path(out).exists() and leftovers(tmp_path) == []


def test_help_says_the_cli_does_not_re_authenticate(vault: Vault) -> None:
    for args in (["copies", "--help"], ["loans", "--help"], ["copies", "approve", "--help"]):
        text = " ".join(ok(vault(*args)).split())
        assert "re-authenticat" in text, args
