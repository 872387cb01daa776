"""The secrecy rules hold at every use (issue 11), through `vault …` on the demo group
(SQLite and PostgreSQL): void approvals, the route going up, custodians kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from test_cli import SECRET_MINUTES, Vault, doc_id, ok  # noqa: I001 - sibling test module

ANNUAL_PLAN = "2027年度经营计划"  # 机密, SZ, registered and supervised by chen.gm


@pytest.fixture
def vault(demo_home: Path, database_url: str) -> Vault:
    """After `vault init` and `vault demo` (tests/conftest.py copies both from the
    session's template instead of running them for every test)."""
    return Vault(demo_home, database_url)


def refused(res: Result, code: int, message: str) -> str:
    assert res.exit_code == code, (code, res.output)
    assert message in res.output, (message, res.output)
    assert "Traceback" not in res.output
    return res.output


def ask(v: Vault, doc: str, as_user: str, kind: str = "copy", *args: str) -> tuple[int, str]:
    out = ok(v("copies", "request", doc, "--kind", kind, "--purpose", "核对", "--as", as_user,
               *args))
    match = re.match(r"request (\d+): ", out)
    assert match is not None, out
    return int(match.group(1)), out


def test_an_approval_is_void_once_the_file_is_raised(vault: Vault, tmp_path: Path) -> None:
    doc = doc_id(vault, SECRET_MINUTES)
    req, _ = ask(vault, doc, "zhou.zhuguan")
    ok(vault("copies", "approve", str(req), "--as", "chen.gm"))
    ok(vault("reclassify", doc, "--as", "wang.zong", "--level", "top_secret"))
    out = tmp_path / "copy.pdf"
    refused(vault("copies", "download", str(req), "-o", str(out), "--as", "zhou.zhuguan"),
            2, "void")
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    shown = ok(vault("copies", "show", str(req), "--as", "zhou.zhuguan"))
    assert "void: reclassified" in shown
    inbox = ok(vault("inbox", "--as", "chen.gm"))
    assert "已作废" in inbox or "Void" in inbox


def test_a_gms_own_request_goes_to_the_hq_executives(vault: Vault) -> None:
    doc = doc_id(vault, ANNUAL_PLAN)
    req, out = ask(vault, doc, "chen.gm")
    approvers = out.split("approval from:", 1)[1]
    assert "wang.zong" in approvers and "li.fuzong" in approvers
    assert "chen.gm" not in approvers
    ok(vault("copies", "approve", str(req), "--as", "li.fuzong"))


def test_the_last_custodian_stays_and_doctor_flags_a_company_without(vault: Vault) -> None:
    refused(vault("users", "roles", "sun.baoguan", "staff"), 2, "last active custodian")
    refused(vault("users", "deactivate", "sun.baoguan"), 2, "custodian role")
    assert ok(vault("doctor")).rstrip().endswith("healthy")
    ok(vault("org", "add-company", "XM", "厦门华信物业有限公司"))
    res = vault("doctor")
    assert res.exit_code == 1, res.output
    assert "NO CUSTODIAN  company XM" in res.output
    ok(vault("users", "roles", "wu.yuangong", "staff,custodian"))
    ok(vault("users", "roles", "sun.baoguan", "staff"))


def test_a_top_secret_registration_is_a_designation_hq_executives_revoke(vault: Vault) -> None:
    doc = ok(vault("import", "--no-content", "--as", "zhou.zhuguan", "--title", "并购谈判底线",
                   "--category", "strategy")).strip()
    inbox = ok(vault("inbox", "--as", "li.fuzong"))
    assert "绝密文件登记" in inbox and "并购谈判底线" in inbox
    shown = ok(vault("show", doc, "--as", "wang.zong"))
    assert "designation: zhou.zhuguan by zhou.zhuguan at top_secret [by registration]" in shown
    ok(vault("show", doc, "--as", "zhou.zhuguan"))
    ok(vault("revoke", doc, "zhou.zhuguan", "--as", "wang.zong"))
    refused(vault("show", doc, "--as", "zhou.zhuguan"), 2, "No document")


def test_a_photocopy_of_a_paper_licence_is_issued_by_the_custodian(vault: Vault) -> None:
    doc = ok(vault("import", "--no-content", "--as", "sun.baoguan", "--title", "营业执照正本",
                   "--category", "business_licence")).strip()
    req, out = ask(vault, doc, "sun.baoguan")
    assert "chen.gm" in out.split("approval from:", 1)[1]
    ok(vault("copies", "approve", str(req), "--as", "chen.gm"))
    refused(vault("copies", "issue", str(req), "--as", "chen.gm"), 1, "custodian")
    issued = ok(vault("copies", "issue", str(req), "--as", "sun.baoguan"))
    label = f"秘密-2026-{int(doc):04d} 副本 1"
    assert f"issued {label} to sun.baoguan" in issued
    assert label in ok(vault("copies", "register", "--as", "sun.baoguan"))
    refused(vault("copies", "issue", str(req), "--as", "sun.baoguan"), 2, "issued already")


def test_a_leak_is_reported_by_anyone_about_anything(vault: Vault) -> None:
    plan = doc_id(vault, "2027年集团并购方案")  # 绝密: lin.kefu (GZ) may not know of it
    answers = [ok(vault("leaks", "report", "--document", d, "--description", "楼道里捡到",
                        "--as", "lin.kefu")) for d in (plan, "999999")]
    assert [re.sub(r"leak report \d+ |document \d+|before .*", "", a) for a in answers] == [
        re.sub(r"leak report \d+ |document \d+|before .*", "", answers[0])] * 2
    assert "received" in answers[0]
    only = ok(vault("leaks", "report", "--description", "复印机旁有带密级标志的废纸",
                    "--as", "lin.kefu"))
    assert "received (description)" in only
    listed = ok(vault("leaks", "list", "--as", "wang.zong"))
    assert "2027年集团并购方案" in listed and "(description only)" in listed
