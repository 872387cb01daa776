"""The `vault` command line, end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vault.cli import main


class Vault:
    def __init__(self, home: Path, database_url: str) -> None:
        self.env = {"VAULT_HOME": str(home), "VAULT_DATABASE_URL": database_url}
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(main, list(args), env=self.env, input=input)


def ok(res: Result) -> str:
    """What a command that must succeed printed (stdout and stderr)."""
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture
def vault(init_home: Path, database_url: str) -> Vault:
    """After `vault init` (tests/conftest.py copies it from the session's template)."""
    return Vault(init_home, database_url)


@pytest.fixture
def demo(demo_home: Path, database_url: str) -> Vault:
    """After `vault init` and `vault demo`."""
    return Vault(demo_home, database_url)


def doc_id(vault: Vault, title: str) -> str:
    from sqlalchemy import create_engine, text

    eng = create_engine(vault.env["VAULT_DATABASE_URL"])
    with eng.connect() as conn:
        query = text("select id from documents where title = :t")
        value = conn.execute(query, {"t": title}).scalar()
    eng.dispose()
    assert value is not None
    return str(value)


SECRET_MINUTES = "客服部工作会议纪要（2026年11月）"


def test_init_is_idempotent_and_keeps_keys(vault: Vault) -> None:
    key = Path(vault.env["VAULT_HOME"]) / "keys" / "secret.key"
    before = key.read_bytes()
    res = vault("init")
    assert res.exit_code == 0
    assert "created" not in res.output
    assert key.read_bytes() == before


def test_commands_before_init_say_what_to_run(tmp_path: Path) -> None:
    v = Vault(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    res = v("users", "list")
    assert res.exit_code == 2
    assert "vault init" in res.output


def test_demo_prints_logins_and_is_idempotent(demo: Vault) -> None:
    res = demo("demo")
    assert res.exit_code == 0
    assert "already loaded" in res.output
    for user in ["wang.zong", "chen.gm", "liu.jingli", "zhou.zhuguan", "sun.baoguan",
                 "zhao.hegui", "admin", "wu.yuangong"]:
        assert user in res.output
    listing = json.loads(demo("users", "list", "--json").output)
    roles = {r for u in listing for r in u["roles"]}
    assert roles == {"hq_executive", "company_gm", "dept_manager", "supervisor", "custodian",
                     "compliance", "admin", "staff"}
    logins = Path(demo.env["VAULT_HOME"]) / "keys" / "demo-logins.txt"
    assert logins.stat().st_mode & 0o777 == 0o600
    # The second factor the privileged roles must set up is said beside their logins.
    lines = {line.split()[0]: line for line in res.output.splitlines()
             if line.startswith("  ") and len(line.split()) > 3}
    assert " required " in lines["wang.zong"] and " required " in lines["admin"]
    assert " required " not in lines["wu.yuangong"]
    assert "2FA required (admin, company_gm, compliance, hq_executive" in res.output
    assert "within 30 s" in res.output


def test_demo_letters(demo: Vault) -> None:
    """对外发文 in the demo: a sealed letter sent to the tenants, one seal request awaiting
    the customer-service manager, an open letter answering two complaints."""
    rows = json.loads(demo("letters", "ls", "--as", "zhou.zhuguan", "--json").output)
    by_title = {r["title"].split(" ", 2)[2]: r for r in rows}
    sealed = by_title["关于电梯年度检修的通知"]
    assert sealed["status"] == "sealed" and sealed["sealed_by"] == "陈总（深圳总经理）"
    assert by_title["关于开展消防疏散演练的函"]["status"] == "pending"
    assert by_title["关于近期租户投诉问题的处理说明"]["kind"] == "open"
    assert "1 to decide" in demo("letters", "to-decide", "--as", "liu.jingli").output
    assert "0 to decide" in demo("letters", "to-decide", "--as", "chen.gm").output
    shown = json.loads(demo("letters", "show", str(sealed["id"]), "--as", "zhou.zhuguan",
                            "--json").output)
    assert shown["recipients"] == 3 and len(shown["seals"][0]["decisions"]) == 2


def test_demo_recording_is_a_call_recording(demo: Vault) -> None:
    """The hotline recording of the demo is listed as a recording (issue 16, defect 1)."""
    res = demo("recordings", "list", "--as", "zhou.zhuguan")
    assert res.exit_code == 0, res.output
    assert "SR-2026-1120-01" in res.output


def test_done_when_secret_minutes(demo: Vault) -> None:
    doc = doc_id(demo, SECRET_MINUTES)
    res = demo("can-i", "view", doc, "--as", "wu.yuangong")
    assert res.exit_code == 1, res.output
    assert res.output.startswith("denied")
    assert "reason: secret_not_designated" in res.output
    assert "机密★20年" in res.output
    res = demo("can-i", "view", doc, "--as", "zhou.zhuguan")
    assert res.exit_code == 0, res.output
    assert "reason: responsible_supervisor" in res.output


def test_can_i_copy_names_approvers(demo: Vault) -> None:
    doc = doc_id(demo, SECRET_MINUTES)
    res = demo("can-i", "copy", doc, "--as", "zhou.zhuguan")
    assert res.exit_code == 0
    assert "approval required from:\n  chen.gm" in res.output
    assert "huang.gm" not in res.output
    top = doc_id(demo, "2027年集团并购方案")
    res = demo("can-i", "copy", top, "--as", "li.fuzong", "--lang", "en")
    assert res.exit_code == 0
    assert "TOP SECRET★30 years" in res.output
    assert "wang.zong" in res.output and "  li.fuzong" not in res.output
    assert "原则上不允许" in res.output


def test_can_i_lend_certificate_and_extend(demo: Vault) -> None:
    licence = doc_id(demo, "营业执照（深圳华信物业）")
    res = demo("can-i", "copy", licence, "--as", "sun.baoguan")
    assert res.exit_code == 0
    assert "chen.gm" in res.output
    res = demo("can-i", "lend", licence, "--as", "sun.baoguan")
    assert res.exit_code == 0 and "chen.gm" in res.output
    contract = doc_id(demo, "A座物业服务合同")
    res = demo("can-i", "extend", contract, "--as", "zhou.zhuguan", "--at", "2034-02-28T23:59:59")
    assert res.exit_code == 0, res.output
    res = demo("can-i", "extend", contract, "--as", "zhou.zhuguan", "--at", "2034-03-01T00:00:00")
    assert res.exit_code == 1
    assert "period_already_ended" in res.output


def test_can_i_at_declassification(demo: Vault) -> None:
    doc = doc_id(demo, "停车场管理协议")  # 秘密★2027年6月30日
    res = demo("can-i", "view", doc, "--as", "lin.kefu", "--at", "2027-06-30T23:59:59")
    assert res.exit_code == 1 and "秘密★2027年6月30日" in res.output
    res = demo("can-i", "view", doc, "--as", "lin.kefu", "--at", "2027-07-01")
    assert res.exit_code == 0 and "internal_employee" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["can-i", "view", "1", "--as", "nobody"], "No user 'nobody'"),
        (["can-i", "view", "99999", "--as", "wu.yuangong"], "No document 99999"),
        (["can-i", "view", "1", "--as", "wu.yuangong", "--at", "yesterday"], "not a date"),
        (["can-i", "destroy", "1", "--as", "wu.yuangong"], "Unknown action"),
        (["users", "roles", "wu.yuangong", "boss"], "Unknown role boss"),
        (["users", "add", "x1", "--name", "X", "--company", "NOPE", "--roles", "staff"],
         "No company"),
        (["org", "add-company", "HQ", "重复"], "already exists"),
    ],
)
def test_bad_input_exits_2_with_a_message(demo: Vault, args: list[str], message: str) -> None:
    res = demo(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_org_and_users_commands(vault: Vault) -> None:
    assert vault("org", "add-company", "HQ", "总公司", "--hq").exit_code == 0
    assert vault("org", "add-department", "HQ", "OFF", "办公室").exit_code == 0
    res = vault("users", "add", "zhang", "--name", "张三", "--company", "HQ",
                "--department", "OFF", "--roles", "staff,custodian")
    assert res.exit_code == 0, res.output
    assert "password (shown once): " in res.output
    res = vault("users", "add", "li", "--name", "李四", "--company", "HQ", "--roles", "staff",
                "--password-stdin", input="correct horse battery\n")
    assert res.exit_code == 0 and "shown once" not in res.output
    assert vault("users", "roles", "li", "compliance").exit_code == 0
    # The last custodian of a company stays until another is named (issue 11).
    res = vault("users", "deactivate", "zhang")
    assert res.exit_code == 2 and "last active custodian" in res.output
    res = vault("users", "add", "wang", "--name", "王五", "--company", "HQ", "--roles",
                "custodian", "--password-stdin", input="correct horse battery\n")
    assert res.exit_code == 0, res.output
    assert vault("users", "deactivate", "zhang").exit_code == 0
    res = vault("users", "passwd", "li", "--password-stdin", input="short\n")
    assert res.exit_code == 2 and "too short" in res.output
    listing = {u["username"]: u for u in json.loads(vault("users", "list", "--json").output)}
    assert listing["zhang"]["active"] is False
    assert listing["zhang"]["roles"] == ["custodian", "staff"]
    assert listing["li"]["roles"] == ["compliance"]
    text = vault("users", "list").output
    assert "[deactivated]" in text and "张三" in text
