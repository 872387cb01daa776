"""Administration pages: only administrators, every change audited, generated
passwords shown once, clear messages for bad input (never a 500), and no content."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twofactor import enrol, pending_mode  # noqa: I001 - tests/web/twofactor.py
from webtools import csrf_token, sign_in  # noqa: I001 - tests/web/webtools.py

from vault.audit.models import AuditEvent

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_accounts.py.
DATABASES = ("sqlite",)

GET_ROUTES = ["/admin/", "/admin/organisation", "/admin/users/new", "/admin/users/clerk"]
POST_ROUTES = {
    "/admin/companies": {"code": "XM", "name": "厦门公司"},
    "/admin/departments": {"company": "SZ", "code": "NEW", "name": "新部门"},
    "/admin/users/new": {"username": "newbie", "name": "新人", "department": "SZ/CS",
                         "roles": "staff"},
    "/admin/users/clerk/roles": {"roles": "admin"},
    "/admin/users/clerk/deactivate": {},
    "/admin/users/clerk/password": {},
    "/admin/users/clerk/second-factor/reset": {},
}


def _events(app: Flask, action: str) -> list[AuditEvent]:
    with app.extensions["vault.infra"].sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.seq)))


def _post(client: FlaskClient, path: str, data: dict[str, str | list[str]],
          form_page: str = "/security") -> tuple[int, str, str]:
    token = csrf_token(client, form_page)
    resp = client.post(path, data={**data, "csrf_token": token})
    return resp.status_code, resp.headers.get("Location", ""), resp.get_data(as_text=True)


@pytest.mark.parametrize("who", ["ceo", "auditor", "gm", "manager", "clerk", "keeper"])
def test_only_administrators(login_as: Callable[[str], FlaskClient], app: Flask,
                             who: str) -> None:
    client = login_as(who)
    for path in GET_ROUTES:
        assert client.get(path).status_code == 403, path
    for path, data in POST_ROUTES.items():
        assert _post(client, path, data)[0] == 403, path
    assert "/admin/" not in client.get("/").get_data(as_text=True)  # no link in the bar
    denied = [e for e in _events(app, "org:view") if e.actor == who]
    assert len(denied) >= len(GET_ROUTES) and {e.outcome for e in denied} == {"denied"}
    assert {e.reason for e in denied} == {"not_admin"}
    for action in ("org:company_add", "org:department_add", "user:create", "user:update",
                   "user:deactivate", "user:password", "auth:second_factor_reset"):
        events = _events(app, action)
        assert events and all(e.outcome == "denied" and e.actor == who for e in events), action


def test_the_people_list(login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    page = root.get("/admin/").get_data(as_text=True)
    assert "系统管理" in page and 'href="/admin/"' in page
    for username in ("ceo", "auditor", "clerk", "outsider"):
        assert f'href="/admin/users/{username}"' in page
    row = re.search(r'href="/admin/users/root".*?</tr>', page, re.S)
    assert row and "已开启" in row.group(0) and "（必须）" in row.group(0)
    row = re.search(r'href="/admin/users/clerk".*?</tr>', page, re.S)
    assert row and "未开启" in row.group(0) and "（必须）" not in row.group(0)
    main = page[page.index("<main"):]
    assert "/documents/" not in main  # people, not content


def test_add_company_department_and_person(app: Flask,
                                           login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    status, loc, _ = _post(root, "/admin/companies", {"code": "XM", "name": "厦门华信物业"},
                           "/admin/organisation")
    assert status == 302 and loc.endswith("/admin/organisation")
    status, _, _ = _post(root, "/admin/departments",
                         {"company": "XM", "code": "CS", "name": "客户服务部"},
                         "/admin/organisation")
    assert status == 302
    page = root.get("/admin/organisation").get_data(as_text=True)
    assert "厦门华信物业" in page and "客户服务部" in page and "已添加部门 CS" in page
    form = root.get("/admin/users/new").get_data(as_text=True)
    assert 'value="XM/CS"' in form
    status, _, body = _post(root, "/admin/users/new",
                            {"username": "xiao.li", "name": "小李", "email": "li@example.com",
                             "department": "XM/CS", "roles": ["staff", "supervisor"]},
                            "/admin/users/new")
    assert status == 200 and "已添加 xiao.li" in body
    password = re.search(r'id="generated-password">([^<]+)<', body)
    assert password and len(password.group(1)) >= 10
    # The generated password works, once shown; it is never in the trail.
    newbie = app.test_client()
    assert sign_in(newbie, "xiao.li", password.group(1)) == 302
    assert newbie.get("/").status_code == 200
    created = _events(app, "user:create")[-1]
    assert created.actor == "root" and created.object_id == "xiao.li"
    assert password.group(1) not in str(created.as_event())
    page = root.get("/admin/users/xiao.li").get_data(as_text=True)
    assert "小李" in page and "li@example.com" in page and "XM / CS" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "Bad Name", "name": "x", "department": "SZ/CS", "roles": "staff"},
         "用户名为 2–64 个小写字母"),
        ({"username": "clerk", "name": "x", "department": "SZ/CS", "roles": "staff"},
         "该用户名已被使用"),
        ({"username": "gm2", "name": "x", "department": "SZ/CS", "roles": "hq_executive"},
         "只能授予总公司人员"),
        ({"username": "ghost", "name": "x", "department": "NOPE/CS", "roles": "staff"},
         "没有使用该代码的公司"),
        ({"username": "ghost", "name": "x", "department": "SZ/NOPE", "roles": "staff"},
         "该公司没有这个部门"),
        ({"username": "ghost", "name": "x", "department": "SZ/CS"}, "请填写用户名"),
        ({"username": "ghost", "name": "x", "department": "SZ/CS", "roles": "wizard"},
         "请填写用户名"),
        ({"username": "ghost", "name": "\x01", "department": "SZ/CS", "roles": "staff"},
         "名称为 1–200 个可打印字符"),
        ({"username": "ghost", "name": "x", "email": "not an address", "department": "SZ/CS",
          "roles": "staff"}, "请填写用户名"),
        ({"username": "g" * 500, "name": "x", "department": "SZ/CS", "roles": "staff"},
         "请填写用户名"),
        ({"username": "ghost", "name": "x", "department": "SZ/CS\x00", "roles": "staff"},
         "请填写用户名"),
        ({"username": "ghost", "name": "x", "department": "S\x00/CS", "roles": "staff"},
         "请填写用户名"),
        ({"username": "ghost", "name": "x", "email": "a\x00@b.c", "department": "SZ/CS",
          "roles": "staff"}, "请填写用户名"),
        ({"username": "gh\x00st", "name": "x", "department": "SZ/CS", "roles": "staff"},
         "用户名为 2–64 个小写字母"),
    ],
)
def test_bad_people_are_refused_clearly(login_as: Callable[[str], FlaskClient],
                                        data: dict[str, str], message: str) -> None:
    root = login_as("root")
    status, _, body = _post(root, "/admin/users/new", dict(data), "/admin/users/new")
    assert status == 400 and message in body


def test_bad_organisation_input(login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    cases = [
        ("/admin/companies", {"code": "SZ", "name": "again"}, "已存在使用该代码的公司"),
        ("/admin/companies", {"code": "H2", "name": "second HQ", "hq": "y"}, "只能有一个总公司"),
        ("/admin/companies", {"code": "../x", "name": "x"}, "代码为 1–32 个字母"),
        ("/admin/companies", {"code": "", "name": ""}, "请填写公司代码和名称"),
        ("/admin/companies", {"code": "X\x00", "name": "x"}, "代码为 1–32 个字母"),
        ("/admin/departments", {"company": "SZ\x00", "code": "A", "name": "a"}, "请选择公司"),
        ("/admin/departments", {"company": "SZ", "code": "A\x00", "name": "a"}, "代码为 1–32"),
        ("/admin/departments", {"company": "NOPE", "code": "A", "name": "a"},
         "没有使用该代码的公司"),
        ("/admin/departments", {"company": "SZ", "code": "CS", "name": "a"}, "该公司已有这个部门"),
    ]
    for path, data, message in cases:
        status, _, body = _post(root, path, data, "/admin/organisation")
        assert status == 400 and message in body, (path, data)


def test_change_roles_deactivate_and_reset(app: Flask,
                                           login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    clerk = login_as("clerk")
    page = root.get("/admin/users/clerk").get_data(as_text=True)
    assert 'name="roles" value="staff" checked' in page
    status, loc, _ = _post(root, "/admin/users/clerk/roles", {"roles": ["staff", "custodian"]},
                           "/admin/users/clerk")
    assert status == 302 and loc.endswith("/admin/users/clerk")
    assert "clerk 的角色已修改" in root.get(loc).get_data(as_text=True)
    change = _events(app, "user:update")[-1]
    assert change.detail is not None and "custodian,staff" in change.detail
    status, _, body = _post(root, "/admin/users/clerk/roles", {"roles": "hq_executive"},
                            "/admin/users/clerk")
    assert "只能授予总公司人员" in root.get("/admin/users/clerk").get_data(as_text=True)
    # Reset password: shown once, the old one stops working, sessions end.
    status, _, body = _post(root, "/admin/users/clerk/password", {}, "/admin/users/clerk")
    new_password = re.search(r'id="generated-password">([^<]+)<', body)
    assert status == 200 and new_password and "其其他会话已结束" in body
    assert clerk.get("/").status_code == 302
    assert sign_in(app.test_client(), "clerk") == 401
    assert sign_in(app.test_client(), "clerk", new_password.group(1)) == 302
    # Deactivate: every access ends.
    again = app.test_client()
    sign_in(again, "clerk", new_password.group(1))
    status, _, _ = _post(root, "/admin/users/clerk/deactivate", {}, "/admin/users/clerk")
    assert status == 302 and again.get("/").status_code == 302
    page = root.get("/admin/users/clerk").get_data(as_text=True)
    assert "已停用" in page and "/deactivate" not in page
    assert sign_in(app.test_client(), "clerk", new_password.group(1)) == 401


def test_reset_second_factor(app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    login_as("ceo")  # enrols on the way in
    page = root.get("/admin/users/ceo").get_data(as_text=True)
    assert "/second-factor/reset" in page
    status, loc, _ = _post(root, "/admin/users/ceo/second-factor/reset", {}, "/admin/users/ceo")
    assert status == 302 and "ceo 的双重验证已重置" in root.get(loc).get_data(as_text=True)
    assert _events(app, "auth:second_factor_reset")[-1].reason == "reset_by_admin"
    client = app.test_client()
    assert sign_in(client, "ceo") == 302 and pending_mode(client) == "enrol"
    enrol(client)
    # Nothing to reset for someone without a factor: a message, not an error page.
    status, loc, _ = _post(root, "/admin/users/clerk/second-factor/reset", {},
                           "/admin/users/clerk")
    assert status == 302 and "此人未设置双重验证" in root.get(loc).get_data(as_text=True)


def test_acts_need_a_recent_sign_in(login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    with root.session_transaction() as sess:
        sess["reauth"] = time.time() - 3600
    status, loc, _ = _post(root, "/admin/users/clerk/deactivate", {}, "/admin/users/clerk")
    assert status == 302 and "/reauth?next=/admin/users/clerk" in loc
    assert root.get("/admin/users/clerk").status_code == 200  # reading needs no re-entry


def test_unknown_people_and_junk(login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    assert root.get("/admin/users/nobody").status_code == 404
    assert root.get("/admin/users/" + "x" * 5000).status_code == 404
    assert root.get("/admin/users/clerk%00").status_code == 404
    assert root.get("/admin/users/%E5%BC%A0").status_code == 404
    assert _post(root, "/admin/users/nobody/deactivate", {})[0] == 404
    assert _post(root, "/admin/users/nobody/roles", {"roles": "staff"})[0] == 404
    assert root.post("/admin/users/clerk/deactivate").status_code == 400  # no CSRF token


def test_english(login_as: Callable[[str], FlaskClient]) -> None:
    root = login_as("root")
    root.get("/lang/en")
    page = root.get("/admin/").get_data(as_text=True)
    assert "Administration" in page and "Second factor" in page and "Security" in page
