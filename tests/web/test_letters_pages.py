"""Outgoing letter pages (对外发文与用章申请) in Chinese and English: the templates page
for administrators only, a letter drafted through the form (a missing field is
refused beside it), the seal asked for, refused with a reason, asked again, approved
by the department's manager then the general manager, 已用印, sent to tenants and on
to the sign-offs; an open letter shown on each request it answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from people import PASSWORD
from sqlalchemy import select
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py
from werkzeug.test import TestResponse

from vault.models import Letter, SealRequest
from vault.services import accounts, letters, requests, tenants, tokens
from vault.services.context import Infra, unit_of_work
from vault.web import openapi

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_letters.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


@pytest.fixture
def world(app: Flask) -> Flask:
    with unit_of_work(infra_of(app), "root") as ctx:
        sz = accounts.get_company(ctx.session, "SZ")
        tenants.add_tenant(ctx.session, "T1", "华南贸易有限公司", "A1201", "张先生",
                           company_id=sz.id)
        tenants.add_tenant(ctx.session, "T2", "北方科技", "B0301", "李女士", company_id=sz.id)
    return app


def _text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def _post(client: FlaskClient, path: str, data: dict[str, Any]) -> TestResponse:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/letters/")})


def _template(admin: FlaskClient) -> None:
    resp = _post(admin, "/letters/templates", {"name": "", "letterhead": "x", "closing": "x"})
    assert resp.status_code == 400 and "请填写模版名称" in _text(resp)
    resp = _post(admin, "/letters/templates", {"name": "深圳公司函头", "company": "SZ",
                                               "letterhead": "深圳公司\n福田区",
                                               "closing": "客户服务部"})
    assert resp.status_code == 303


def _seal(app: Flask) -> SealRequest:
    with infra_of(app).sessions() as s:
        seal = s.scalars(select(SealRequest).order_by(SealRequest.id.desc())).first()
        assert seal is not None
        s.expunge(seal)
        return seal


def test_draft_seal_approve_send(world: Flask, login_as: Login) -> None:
    admin = login_as("root")
    _template(admin)
    assert "深圳公司函头" in _text(admin.get("/letters/templates"))
    clerk = login_as("clerk")
    assert clerk.get("/letters/templates").status_code == 403
    page = _text(clerk.get("/letters/new"))
    assert "起草发文" in page and "深圳公司函头" in page
    resp = _post(clerk, "/letters/new", {"template": "1", "title": "", "addressee": "全体租户",
                                         "body": "电梯检修"})
    assert resp.status_code == 400 and 'id="error-title"' in _text(resp)
    assert "请填写发文标题" in _text(resp)
    resp = _post(clerk, "/letters/new", {"template": "1", "title": "电梯检修通知",
                                         "addressee": "全体租户", "body": "电梯检修\n请谅解",
                                         "letter_on": "2026-13-40"})
    assert resp.status_code == 400 and "请填写发文日期" in _text(resp)
    resp = _post(clerk, "/letters/new", {"template": "1", "title": "电梯检修通知",
                                         "addressee": "全体租户", "body": "电梯检修\n请谅解"})
    assert resp.status_code == 303
    letter_path = resp.headers["Location"]
    letter_id = int(letter_path.rsplit("/", 1)[1])
    page = _text(clerk.get(letter_path))
    assert "草稿" in page and 'id="seal-form"' in page and 'id="send-form"' not in page
    # Sending before the seal is refused in the reader's language.
    resp = _post(clerk, f"/letters/{letter_id}/send", {"tenant": "T1"})
    assert resp.status_code == 303
    assert "发文须在用章申请获批（已用印）后才能发出" in _text(clerk.get(letter_path))
    resp = _post(clerk, f"/letters/{letter_id}/seal", {"purpose": ""})
    assert resp.status_code == 400 and "请说明发文用途" in _text(resp)
    assert _post(clerk, f"/letters/{letter_id}/seal", {"purpose": "通知租户"}).status_code == 303
    seal = _seal(world)
    # The department's manager refuses with a reason; the clerk asks again.
    manager = login_as("manager")
    assert f'id="decide-{seal.id}"' in _text(manager.get("/letters/"))
    resp = _post(manager, f"/letters/{letter_id}/seal/{seal.id}/reject", {"reason": ""})
    assert resp.status_code == 400 and "请填写不批准的理由" in _text(resp)
    assert _post(manager, f"/letters/{letter_id}/seal/{seal.id}/reject",
                 {"reason": "标题需写明日期"}).status_code == 303
    page = _text(clerk.get(letter_path))
    assert "标题需写明日期" in page and "未批准" in page
    assert _post(clerk, f"/letters/{letter_id}/seal", {"purpose": "已修改"}).status_code == 303
    seal = _seal(world)
    gm = login_as("gm")
    resp = _post(gm, f"/letters/{letter_id}/seal/{seal.id}/approve", {})
    assert resp.status_code == 303
    assert "此环节由其他职务审批" in _text(gm.get(letter_path))
    assert _post(manager, f"/letters/{letter_id}/seal/{seal.id}/approve",
                 {"note": "同意"}).status_code == 303
    assert f'id="decide-{seal.id}"' in _text(gm.get("/letters/"))
    assert _post(gm, f"/letters/{letter_id}/seal/{seal.id}/approve", {}).status_code == 303
    page = _text(clerk.get(letter_path))
    assert 'id="letter-sealed"' in page and "gm" in page and 'id="send-form"' in page
    resp = _post(clerk, f"/letters/{letter_id}/send", {"tenant": ["T1", "T2"]})
    assert resp.status_code == 303
    with infra_of(world).sessions() as s:
        letter = s.get(Letter, letter_id)
        assert letter is not None and letter.status == "sealed"
        assert resp.headers["Location"].endswith(f"/notices/{letter.document_id}/sign-offs")
    sheet = _text(clerk.get(resp.headers["Location"]))
    assert "T1" in sheet and "T2" in sheet
    # English.
    clerk.get("/lang/en")
    page = _text(clerk.get(letter_path))
    assert "Sealed (已用印)" in page and "the general manager" in page
    assert "Outgoing letters" in _text(clerk.get("/letters/"))



def test_bad_letter_posts_are_refused_beside_the_field(world: Flask, login_as: Login) -> None:
    """The letter forms (Flask-WTF): a post without its CSRF token is 400; bad values
    are refused beside their field in the reader's language, nothing is saved."""
    admin = login_as("root")
    _template(admin)
    assert admin.post("/letters/templates", data={"name": "x"}).status_code == 400  # no token
    resp = _post(admin, "/letters/templates", {"template_id": "abc", "name": "",
                                               "letterhead": "x", "closing": "x"})
    assert resp.status_code == 400 and "请填写模版名称" in _text(resp)
    resp = _post(admin, "/letters/templates", {"name": "函头", "letterhead": "x" * 5001,
                                               "closing": "x"})
    assert resp.status_code == 400 and 'id="error-letterhead"' in _text(resp)
    clerk = login_as("clerk")
    good = {"template": "1", "title": "电梯检修通知", "addressee": "全体租户", "body": "检修"}
    assert clerk.post("/letters/new", data=good).status_code == 400  # no token
    for bad, field in (({"template": "１"}, "template"), ({"template": "9" * 12}, "template"),
                       ({"template": "999"}, "template"), ({"letter_on": "2026-02-30"},
                                                           "letter_on"),
                       ({"body": "长" * (letters.MAX_BODY + 1)}, "body")):
        resp = _post(clerk, "/letters/new", {**good, **bad})
        assert resp.status_code == 400, bad
        assert f'id="error-{field}"' in _text(resp), bad
    with infra_of(world).sessions() as s:
        assert s.scalars(select(Letter)).first() is None
    resp = _post(clerk, "/letters/new", good)
    assert resp.status_code == 303
    letter_path = resp.headers["Location"]
    resp = _post(clerk, letter_path + "/seal", {"purpose": "用" * (letters.MAX_PURPOSE + 1)})
    assert resp.status_code == 400 and "用途最多 2000 个字符" in _text(resp)
    assert clerk.post(letter_path + "/seal", data={"purpose": "通知"}).status_code == 400
    clerk.get("/lang/en")
    resp = _post(clerk, "/letters/new", {**good, "title": ""})
    assert resp.status_code == 400 and "Give the letter&#39;s subject." in _text(resp)


def test_open_letter_on_request_pages(world: Flask, login_as: Login) -> None:
    _template(login_as("root"))
    with unit_of_work(infra_of(world), "clerk") as ctx:
        made = [requests.create(ctx, kind="complaint", channel="hotline", grade="normal",
                                content="噪音", tenant_code="T1") for _ in range(2)]
        ids, numbers = [r.id for r in made], [r.number for r in made]
    clerk = login_as("clerk")
    resp = _post(clerk, "/letters/new", {"template": "1", "title": "噪音问题说明",
                                         "addressee": "各位租户", "body": "已处理",
                                         "kind": "letter", "requests": numbers[0]})
    assert resp.status_code == 400 and "只有公开信可以附于诉求记录" in _text(resp)
    resp = _post(clerk, "/letters/new", {"template": "1", "title": "噪音问题说明",
                                         "addressee": "各位租户", "body": "已处理",
                                         "kind": "open", "requests": " ".join(numbers)})
    assert resp.status_code == 303
    letter_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    for req_id in ids:
        page = _text(clerk.get(f"/requests/{req_id}"))
        assert f'id="open-letter-{letter_id}"' in page
    archive = _text(clerk.get("/visits/"))
    assert f'id="open-letter-{letter_id}"' in archive


SCHEMA = schemathesis.openapi.from_dict(openapi.document())


def _api(app: Flask, username: str) -> Callable[..., TestResponse]:
    with unit_of_work(infra_of(app), username) as ctx:
        token = tokens.create(ctx, "letters")[1]
    client = app.test_client()

    def call(method: str, path: str, **kw: Any) -> TestResponse:
        return client.open("/api/v1" + path, method=method,
                           headers={"Authorization": f"Bearer {token}"}, **kw)

    return call


def _conforms(resp: TestResponse, method: str, path: str, status: int = 200) -> Any:
    assert resp.status_code == status, resp.get_data(as_text=True)
    SCHEMA["/api/v1" + path][method].validate_response(resp)
    return resp.get_json()


def test_api_draft_seal_send(world: Flask) -> None:
    with unit_of_work(infra_of(world), "root") as ctx:
        letters.save_template(ctx, name="深圳公司函头", letterhead="深圳公司", closing="客服部",
                              company_code="SZ")
    clerk = _api(world, "clerk")
    tpl = _conforms(clerk("GET", "/letter-templates"), "GET", "/letter-templates")
    assert [t["name"] for t in tpl["items"]] == ["深圳公司函头"]
    bad = clerk("POST", "/letters", json={"template": tpl["items"][0]["id"], "title": "",
                                          "addressee": "全体租户", "body": "x"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_input"
    made = _conforms(clerk("POST", "/letters", json={
        "template": tpl["items"][0]["id"], "title": "电梯检修通知", "addressee": "全体租户",
        "body": "电梯检修", "date": "2026-12-01"}), "POST", "/letters", 201)
    lid = made["id"]
    assert made["status"] == "draft" and made["may_request_seal"]
    refused = clerk("POST", f"/letters/{lid}/send", json={"tenants": ["T1"]})
    assert refused.status_code == 403 and refused.get_json()["code"] == "letter_not_sealed"
    seal = _conforms(clerk("POST", f"/letters/{lid}/seal-request", json={"purpose": "通知"}),
                     "POST", "/letters/{id}/seal-request", 201)
    assert seal["route"] == ["owning_dept_manager", "owning_company_gm"]
    manager = _api(world, "manager")
    todo = _conforms(manager("GET", "/seal-requests"), "GET", "/seal-requests")
    assert [s["id"] for s in todo["items"]] == [seal["id"]]
    wrong = manager("POST", f"/seal-requests/{seal['id']}/approve", json={"password": "nope"})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "reauth_failed"
    step = _conforms(manager("POST", f"/seal-requests/{seal['id']}/approve",
                             json={"password": PASSWORD, "note": "同意"}),
                     "POST", "/seal-requests/{id}/approve")
    assert step["awaiting"] == "owning_company_gm" and step["decisions"][0]["decided_by"] == \
        "manager"
    again = manager("POST", f"/seal-requests/{seal['id']}/approve", json={"password": PASSWORD})
    assert again.status_code == 403 and again.get_json()["code"] == "already_decided_step"
    with unit_of_work(infra_of(world), "gm") as ctx:
        letters.approve_seal(ctx, seal["id"])
    got = _conforms(clerk("GET", f"/letters/{lid}"), "GET", "/letters/{id}")
    assert got["status"] == "sealed" and got["sealed_by"] == "gm" and got["may_send"]
    sent = _conforms(clerk("POST", f"/letters/{lid}/send", json={"tenants": ["T1", "T2"]}),
                     "POST", "/letters/{id}/send")
    assert sent == {"added": ["T1", "T2"], "removed": [], "total": 2}
    listed = _conforms(clerk("GET", "/letters?status=sealed"), "GET", "/letters")
    assert [r["id"] for r in listed["items"]] == [lid]
    # A refusal through the API, with its reason.
    second = _conforms(clerk("POST", "/letters", json={
        "template": tpl["items"][0]["id"], "title": "二号函", "addressee": "T2", "body": "y"}),
        "POST", "/letters", 201)
    seal2 = _conforms(clerk("POST", f"/letters/{second['id']}/seal-request",
                            json={"purpose": "发函"}), "POST", "/letters/{id}/seal-request", 201)
    no_reason = manager("POST", f"/seal-requests/{seal2['id']}/reject",
                        json={"password": PASSWORD})
    assert no_reason.status_code == 400
    refused2 = _conforms(manager("POST", f"/seal-requests/{seal2['id']}/reject",
                                 json={"password": PASSWORD, "reason": "重写"}),
                         "POST", "/seal-requests/{id}/reject")
    assert refused2["status"] == "rejected" and refused2["decisions"][0]["note"] == "重写"
    assert _api(world, "outsider")("GET", "/letters/999").status_code == 404


def _home(client: FlaskClient) -> str:
    page = _text(client.get("/"))
    start = page.index('id="approvals"')
    return page[start:page.index("</section>", start)]


def test_home_counts_and_lists_seal_requests_awaiting_the_person(
        world: Flask, login_as: Login) -> None:
    """A seal request awaiting the person's step counts among the pending decisions of
    the home page and is listed there, linked to its letter; once decided it moves on
    to the next office's home and leaves this one."""
    with unit_of_work(infra_of(world), "root") as ctx:
        tpl = letters.save_template(ctx, name="深圳公司函头", letterhead="深圳公司",
                                    closing="客服部", company_code="SZ")
    with unit_of_work(infra_of(world), "clerk") as ctx:
        view = letters.draft(ctx, template_id=tpl.id, title="停水通知", addressee="全体租户",
                             body="周三停水")
        lid = view.letter.id
    manager, gm, clerk = login_as("manager"), login_as("gm"), login_as("clerk")
    before = _home(manager)
    assert "home-seal-" not in before
    with unit_of_work(infra_of(world), "clerk") as ctx:
        seal = letters.request_seal(ctx, lid, "通知租户")
    home = _home(manager)
    item = f'<li class="small" id="home-seal-{seal.id}"><a href="/letters/{lid}">'
    assert item in home and "停水通知" in home
    assert f"{view.letter.number} 的用印申请" in home
    assert "有 1 个申请等待您审批" in home and 'href="/letters/#seals-to-decide"' in home
    assert "home-seal-" not in _home(gm)  # the general manager's step comes second
    assert "home-seal-" not in _home(clerk)  # the requester decides nothing
    with unit_of_work(infra_of(world), "manager") as ctx:
        letters.approve_seal(ctx, seal.id)
    assert "home-seal-" not in _home(manager)
    assert "个申请等待您审批" not in _home(manager)
    gm_home = _home(gm)
    assert f'id="home-seal-{seal.id}"' in gm_home and "有 1 个申请等待您审批" in gm_home


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), [
    ("GET", "/letters?status=lost", None, 400, "invalid_input", "status"),
    ("GET", "/letters?kind=memo", None, 400, "invalid_input", "kind"),
    ("GET", "/letters?limit=501", None, 400, "invalid_input", "limit"),
    ("GET", "/letters?limit=1.5", None, 400, "invalid_input", "limit"),
    ("POST", "/letters", {"template": "1", "title": "t", "addressee": "a", "body": "b"},
     400, "invalid_input", "template"),
    ("POST", "/letters", {"template": True, "title": "t", "addressee": "a", "body": "b"},
     400, "invalid_input", "template"),
    ("POST", "/letters", {"template": 1, "title": "t\x07", "addressee": "a", "body": "b"},
     400, "invalid_input", "title"),
    ("POST", "/letters", {"template": 1, "title": "t", "addressee": "a", "body": "b",
                          "date": "2026-02-30"}, 400, "invalid_input", "date"),
    ("POST", "/letters", {"template": 1, "title": "t", "addressee": "a", "body": "b",
                          "level": "ultra"}, 400, "invalid_input", "level"),
    ("POST", "/letters", {"template": 1, "title": "t", "addressee": "a", "body": "b",
                          "requests": ["x"] * 201}, 400, "invalid_input", "requests"),
    ("POST", "/letters", {"template": 1, "title": "t", "addressee": "a", "body": "b",
                          "requests": "SZ-1"}, 400, "invalid_input", "requests"),
    ("POST", "/letters", [1, 2], 400, "invalid_input", "body"),
    ("GET", "/letters/2147483648", None, 404, "unknown_letter", None),
    ("POST", "/letters/2147483648/seal-request", {}, 404, "unknown_letter", None),
    ("POST", "/letters/1/seal-request", {"purpose": ""}, 400, "invalid_input", "purpose"),
    ("POST", "/letters/1/send", {"tenants": []}, 400, "invalid_input", "tenants"),
    ("POST", "/letters/1/send", {"tenants": ["x" * 33]}, 400, "invalid_input", "tenants"),
    ("POST", "/letters/1/send", {}, 400, "invalid_input", "tenants"),
    ("POST", "/seal-requests/0/approve", {"password": PASSWORD}, 404,
     "unknown_seal_request", None),
    ("POST", "/seal-requests/1/approve", {}, 400, "invalid_input", "password"),
    ("POST", "/seal-requests/1/reject", {"password": PASSWORD, "reason": ""}, 400,
     "invalid_input", "reason"),
    ("POST", "/seal-requests/1/reject", {"password": PASSWORD}, 400, "invalid_input",
     "reason"),
])
def test_api_refusals(world: Flask, method: str, path: str, body: Any, status: int,
                      code: str, field: str | None) -> None:
    """Bad input answers 400 naming the field, an id no row can have 404, in the API's
    envelope, before anything is done."""
    resp = _api(world, "manager")(method, path, json=body)
    assert resp.status_code == status, resp.get_data(as_text=True)
    answer = resp.get_json()
    assert answer["code"] == code and set(answer) == {"code", "message"}
    if field is not None:
        assert answer["message"].startswith(f"{field}:")
