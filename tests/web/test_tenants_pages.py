"""The tenant pages and a notice's sign-off page, in Chinese and English: the tenant
list with its search, the archive by category with counts scoped to the reader, the
custodian's forms, recipients, sign-offs with a scanned sheet uploaded through the
form, the progress bar, the CSV download; what a person without rights gets; and
the JSON API of the same (checked against the OpenAPI document)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from doctools import events, make_doc, multipart  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.actions import Action
from vault.models import Document, SignOff, Tenant
from vault.policy import Category, Level
from vault.services import notices, samples, tenants, tokens
from vault.services.context import unit_of_work
from vault.web import openapi

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_notices.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]
API = "/api/v1"


def _text(resp: Any) -> str:
    """The page without its random CSRF tokens (a token may contain "T1" or "G1")."""
    page = str(resp.get_data(as_text=True))
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', page)


def _token(client: FlaskClient) -> str:
    return csrf_token(client, "/tenants")


def _post(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(path, data={**(data or {}), "csrf_token": _token(client)})


@pytest.fixture
def world(app: Flask) -> Flask:
    infra = app.extensions["vault.infra"]
    with unit_of_work(infra, "keeper") as ctx:
        tenants.create_tenant(ctx, "T1", "华南贸易有限公司", "A座1201", "张先生 138")
        tenants.create_tenant(ctx, "T2", "深港咨询有限公司", "B座0805")
        tenants.create_tenant(ctx, "T3", "王小明", "C座2303")
    with unit_of_work(infra, "root") as ctx:
        tenants.create_tenant(ctx, "G1", "广州租户", "G座0101", company_code="GZ")
    return app


def _notice(app: Flask, title: str = "关于12月3日停水的通知", level: Level = Level.INTERNAL,
            recipients: tuple[str, ...] = ()) -> int:
    doc_id = make_doc(app, level, category=Category.NOTICE, title=title)
    if recipients:
        with unit_of_work(app.extensions["vault.infra"], "clerk") as ctx:
            notices.set_recipients(ctx, doc_id, list(recipients))
    return doc_id


# ---------------------------------------------------------------------------
# The tenant list and the archive


def test_tenant_list_and_search_in_both_languages(world: Flask, login_as: Login) -> None:
    clerk = login_as("clerk")
    home = _text(clerk.get("/"))
    assert 'href="/tenants"' in home and "租户档案" in home  # in the menu
    page = _text(clerk.get("/tenants"))
    assert "找到 3 个租户。" in page
    for code in ("T1", "T2", "T3"):
        assert f'id="tenant-{code}"' in page
    assert "G1" not in page and 'id="add-tenant"' not in page  # staff add no tenants
    page = _text(clerk.get("/tenants?q=深港"))
    assert 'id="tenant-T2"' in page and 'id="tenant-T1"' not in page
    page = _text(clerk.get("/tenants?q=c座"))
    assert 'id="tenant-T3"' in page and "找到 1 个租户。" in page
    clerk.get("/lang/en")
    page = _text(clerk.get("/tenants"))
    assert "3 tenants found." in page and "Code, name or unit" in page
    assert ">current tenant<" in page
    outsider = _text(login_as("outsider").get("/tenants"))
    assert 'id="tenant-G1"' in outsider and "T1" not in outsider


def test_a_custodian_adds_and_edits_tenants(world: Flask, login_as: Login) -> None:
    keeper = login_as("keeper")
    page = _text(keeper.get("/tenants"))
    assert 'id="add-tenant"' in page
    resp = _post(keeper, "/tenants", {"code": "T4", "name": "新租户", "unit": "D座0101",
                                      "contact": "", "company": "SZ"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/tenants/T4")
    resp = _post(keeper, "/tenants", {"code": "T4", "name": "重复", "company": "SZ"})
    assert resp.status_code == 409 and "已有使用此编号的租户。" in _text(resp)
    resp = _post(keeper, "/tenants", {"code": "../x", "name": "坏", "company": "SZ"})
    assert resp.status_code == 400 and "编号须为" in _text(resp)
    resp = _post(keeper, "/tenants/T4", {"name": "新租户", "unit": "D座0101", "contact": "",
                                         "status": "moved_out"})
    assert resp.status_code == 302
    page = _text(keeper.get("/tenants/T4"))
    assert '<dd id="tenant-status">已迁出</dd>' in page
    resp = _post(keeper, "/tenants/T4", {"name": "新租户", "unit": "D座0101", "contact": "",
                                         "status": "moved_out"})
    assert resp.status_code == 400 and "没有任何修改。" in _text(resp)
    # Staff may not; the refusal is on the trail.
    clerk = login_as("clerk")
    resp = _post(clerk, "/tenants", {"code": "T5", "name": "不行", "company": "SZ"})
    assert resp.status_code == 403 and "租户由本公司的保管员和系统管理员维护。" in _text(resp)
    resp = _post(clerk, "/tenants/T1", {"name": "改名", "status": "active"})
    assert resp.status_code == 403
    assert [e.actor for e in events(world, action=Action.TENANT_CREATE.value,
                                    outcome="denied")] == ["clerk"]
    assert [e.object_id for e in events(world, action=Action.TENANT_UPDATE.value,
                                        outcome="allowed")] == ["T4"]


def test_the_archive_by_category_with_counts_and_search(world: Flask, login_as: Login) -> None:
    infra = world.extensions["vault.infra"]
    for title, category, registrant in (
            ("租户档案：华南贸易", Category.TENANT_ARCHIVE, "clerk"),
            ("A座1201租赁合同", Category.CONTRACT, "clerk"),
            ("A座1201补充协议", Category.CONTRACT, "boss"),
            ("T1欠费明细", Category.FINANCIAL_REPORT, "accountant")):
        doc_id = make_doc(world, Level.CONFIDENTIAL, category=category, title=title,
                          registrant=registrant,
                          supervisor="accountant" if registrant == "accountant" else "boss",
                          department="FIN" if registrant == "accountant" else "CS")
        with infra.sessions() as s, s.begin():
            doc = s.get(Document, doc_id)
            assert doc is not None
            doc.tenant_id = s.query(Tenant).filter_by(code="T1").one().id
    clerk = login_as("clerk")
    page = _text(clerk.get("/tenants/T1"))
    assert "租户档案：华南贸易有限公司" in page
    assert '<span class="count" id="count-all">3</span>' in page
    start = page.index('id="catalogue"')
    catalogue = page[start:page.index("</nav>", start)]
    assert re.search(r"合同</a>\s*<span class=\"count\">2</span>", catalogue)
    assert re.search(r"租户档案</a>\s*<span class=\"count\">1</span>", catalogue)
    assert "财务报表" not in catalogue and "T1欠费明细" not in page  # another department's
    assert "本档案共 3 份文件。" in page and 'id="group-contract"' in page
    page = _text(clerk.get("/tenants/T1?q=补充"))
    assert "共 3 份文件，其中 1 份符合条件。" in page and "A座1201补充协议" in page
    assert "A座1201租赁合同" not in page
    page = _text(clerk.get("/tenants/T1?category=tenant_archive"))
    assert 'id="group-tenant_archive"' in page and 'id="group-contract"' not in page
    clerk.get("/lang/en")
    page = _text(clerk.get("/tenants/T1"))
    assert "Catalogue" in page and "3 documents in this archive." in page
    assert "Tenant archive" in page and "CONFIDENTIAL★" in page
    accountant = _text(login_as("accountant").get("/tenants/T1"))
    assert '<span class="count" id="count-all">1</span>' in accountant
    # Another company's tenant does not exist for a subsidiary's staff.
    assert login_as("outsider").get("/tenants/T1").status_code == 404
    assert clerk.get("/tenants/NOPE").status_code == 404
    views = events(world, action=Action.TENANT_VIEW.value)
    assert [(e.actor, e.outcome) for e in views][-2:] == [
        ("outsider", "denied"), ("clerk", "denied")]


# ---------------------------------------------------------------------------
# A notice's sign-offs


def test_recipients_sign_offs_progress_and_csv(world: Flask, login_as: Login) -> None:
    doc_id = _notice(world)
    clerk = login_as("clerk")
    # The document page links to the sign-offs.
    page = _text(clerk.get(f"/documents/{doc_id}"))
    assert 'id="notice-sign-offs"' in page and "尚未选定收件租户。" in page
    assert f'href="/notices/{doc_id}/sign-offs"' in page
    page = _text(clerk.get(f"/notices/{doc_id}/sign-offs"))
    assert 'id="recipients-form"' in page and 'value="G1"' not in page
    resp = clerk.post(f"/notices/{doc_id}/recipients",
                      data={"tenant": ["T1", "T2", "T3"], "csrf_token": _token(clerk)})
    assert resp.status_code == 302
    page = _text(clerk.get(f"/notices/{doc_id}/sign-offs"))
    assert "已签收 0 / 3（0%）" in page and 'id="sign-off-form"' in page
    # A scanned sign-off without the sheet: refused on the form, in Chinese.
    resp = _post(clerk, f"/notices/{doc_id}/sign-offs",
                 {"tenant": "T1", "signer": "张先生", "signed_at": "2026-01-01T10:00",
                  "method": "scanned"})
    # The notice was issued today: a time before that is refused, on its field.
    assert resp.status_code == 400 and "签收时间不能早于发文日期" in _text(resp)
    now_local = re.search(r'name="signed_at"[^>]*value="([^"]+)"', page)
    assert now_local is not None
    when = now_local.group(1)
    resp = _post(clerk, f"/notices/{doc_id}/sign-offs",
                 {"tenant": "T1", "signer": "张先生", "signed_at": when, "method": "scanned"})
    assert resp.status_code == 400 and "扫描签收须上传签收单扫描件：请选择文件。" in _text(resp)
    # With the sheet, through the multipart form.
    scan = samples.png_card("签收单 T1", world.extensions["vault.infra"].settings.font_file)
    body, content_type = multipart({"csrf_token": _token(clerk), "tenant": "T1",
                                    "signer": "张先生", "signed_at": when,
                                    "method": "scanned", "note": "前台代收"},
                                   "sheet", scan, "签收单.png")
    resp = clerk.post(f"/notices/{doc_id}/sign-offs", data=body, content_type=content_type)
    assert resp.status_code == 302, _text(resp)
    resp = _post(clerk, f"/notices/{doc_id}/sign-offs",
                 {"tenant": "T3", "signer": "王小明", "signed_at": when,
                  "method": "on_site"})
    assert resp.status_code == 302
    resp = _post(clerk, f"/notices/{doc_id}/sign-offs",
                 {"tenant": "T3", "signer": "王小明", "signed_at": when, "method": "on_site"})
    assert resp.status_code == 409 and "此租户已签收本通知。" in _text(resp)
    page = _text(clerk.get(f"/notices/{doc_id}/sign-offs"))
    assert 'value="67"' in page and "已签收 2 / 3（67%）" in page
    unsigned = page[page.index('id="unsigned"'):page.index('id="signed"')]
    assert 'data-tenant="T2"' in unsigned and 'data-tenant="T1"' not in unsigned
    signed = page[page.index('id="signed"'):page.index('id="sign-off"')]
    assert "扫描签收单" in signed and "现场签字" in signed and "前台代收" in signed
    with world.extensions["vault.infra"].sessions() as s:
        sheet_id = s.query(SignOff).filter(SignOff.sheet_document_id.is_not(None)).one() \
            .sheet_document_id
    assert f'href="/documents/{sheet_id}"' in signed
    # The sheet's own page says whose sheet it is and leads back; it has no sign-offs.
    page = _text(clerk.get(f"/documents/{sheet_id}"))
    assert 'id="sheet-of"' in page and "华南贸易有限公司 的签收单扫描件，签收人 张先生" in page
    assert f'href="/notices/{doc_id}/sign-offs"' in page and 'id="open-sign-offs"' not in page
    assert clerk.get(f"/notices/{sheet_id}/sign-offs").status_code == 400
    # Removing a recipient who signed is refused on the form.
    resp = clerk.post(f"/notices/{doc_id}/recipients",
                      data={"tenant": ["T2"], "csrf_token": _token(clerk)})
    assert resp.status_code == 409 and "以下租户已签收，不能从通知中移除" in _text(resp)
    # The document page shows the progress and who has not signed.
    page = _text(clerk.get(f"/documents/{doc_id}"))
    assert "已签收 2 / 3（67%）" in page and "未签收：深港咨询有限公司" in page
    # The CSV: UTF-8 with BOM, Chinese and English header, not cached.
    resp = clerk.get(f"/notices/{doc_id}/sign-offs.csv")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "租户编号 Tenant code" and len(rows) == 4
    assert [r[3] for r in rows[1:]] == ["是 yes", "否 no", "是 yes"]
    assert [e.actor for e in events(world, action=Action.NOTICE_EXPORT.value)] == ["clerk"]
    # In English.
    clerk.get("/lang/en")
    page = _text(clerk.get(f"/notices/{doc_id}/sign-offs"))
    assert "2 of 3 signed (67%)" in page and "Not signed yet" in page
    assert "Scanned sign-off sheet" in page and "Record a sign-off" in page


def test_who_sees_what_on_the_sign_off_page(world: Flask, login_as: Login) -> None:
    doc_id = _notice(world, recipients=("T1", "T2"))
    secret = _notice(world, "机密通知", Level.SECRET, recipients=("T1",))
    contract = make_doc(world, Level.CONFIDENTIAL, title="合同")
    # Another department's staff: may read the internal notice, no forms.
    accountant = login_as("accountant")
    page = _text(accountant.get(f"/notices/{doc_id}/sign-offs"))
    assert "已签收 0 / 2（0%）" in page
    assert 'id="sign-off-form"' not in page and 'id="recipients-form"' not in page
    resp = _post(accountant, f"/notices/{doc_id}/sign-offs",
                 {"tenant": "T1", "signer": "X", "signed_at": "2030-01-01T10:00",
                  "method": "on_site"})
    assert resp.status_code in (400, 403)
    resp = accountant.post(f"/notices/{doc_id}/recipients",
                           data={"tenant": ["T1"], "csrf_token": _token(accountant)})
    assert resp.status_code == 403
    # A secret notice out of their circle does not exist for them, CSV included.
    assert accountant.get(f"/notices/{secret}/sign-offs").status_code == 404
    assert accountant.get(f"/notices/{secret}/sign-offs.csv").status_code == 404
    assert "机密通知" not in _text(accountant.get("/tenants/T1"))
    # A member of the owning department records, but does not choose recipients.
    manager_page = _text(login_as("manager").get(f"/notices/{doc_id}/sign-offs"))
    assert 'id="sign-off-form"' in manager_page and 'id="recipients-form"' in manager_page
    # Not a notice.
    clerk = login_as("clerk")
    resp = clerk.get(f"/notices/{contract}/sign-offs")
    assert resp.status_code == 400 and "只有通知和函件才有收件租户和签收记录。" in _text(resp)
    assert 'id="notice-sign-offs"' not in _text(clerk.get(f"/documents/{contract}"))
    assert clerk.get("/notices/99999999999/sign-offs").status_code == 404
    # The tenant page lists the notices sent to the tenant.
    page = _text(clerk.get("/tenants/T1"))
    section = page[page.index('id="addressed-notices"'):]
    assert "关于12月3日停水的通知" in section and "机密通知" in section and "未签收" in section


# ---------------------------------------------------------------------------
# The API


SCHEMA = schemathesis.openapi.from_dict(openapi.document())


def _api(app: Flask, username: str) -> tuple[FlaskClient, dict[str, str]]:
    with unit_of_work(app.extensions["vault.infra"], username) as ctx:
        token = tokens.create(ctx, "test")[1]
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def _conforms(resp: Any, method: str, path: str) -> Any:
    SCHEMA[API + path][method].validate_response(resp)
    return resp.get_json()


def test_the_api(world: Flask) -> None:
    doc_id = _notice(world)
    client, auth = _api(world, "clerk")
    resp = client.get(f"{API}/tenants?text=华南", headers=auth)
    body = _conforms(resp, "GET", "/tenants")
    assert [t["code"] for t in body["items"]] == ["T1"] and body["items"][0]["company"] == "SZ"
    assert client.get(f"{API}/tenants?status=gone", headers=auth).status_code == 400
    make_doc(world, Level.CONFIDENTIAL, category=Category.TENANT_ARCHIVE, title="租户档案T1")
    infra = world.extensions["vault.infra"]
    with infra.sessions() as s, s.begin():
        doc = s.query(Document).filter_by(title="租户档案T1").one()
        doc.tenant_id = s.query(Tenant).filter_by(code="T1").one().id
    resp = client.get(f"{API}/tenants/T1/documents", headers=auth)
    body = _conforms(resp, "GET", "/tenants/{code}/documents")
    assert body["categories"] == [{"category": "tenant_archive", "count": 1}]
    assert body["items"][0]["marking"].startswith("秘密★") and body["total"] == 1
    assert client.get(f"{API}/tenants/G1/documents", headers=auth).status_code == 404

    resp = client.put(f"{API}/notices/{doc_id}/recipients", json={"tenants": ["T1", "T2"]},
                      headers=auth)
    body = _conforms(resp, "PUT", "/notices/{id}/recipients")
    assert body["added"] == ["T1", "T2"] and body["total"] == 2
    resp = client.put(f"{API}/notices/{doc_id}/recipients", json={"tenants": ["G1"]},
                      headers=auth)
    assert resp.status_code == 400 and resp.get_json()["code"] == "unknown_tenant"
    resp = client.post(f"{API}/notices/{doc_id}/sign-offs", headers=auth,
                       json={"tenant": "T1", "signer": "张先生", "method": "electronic"})
    body = _conforms(resp, "POST", "/notices/{id}/sign-offs")
    assert resp.status_code == 201 and body["signed"] and body["method"] == "electronic"
    resp = client.post(f"{API}/notices/{doc_id}/sign-offs", headers=auth,
                       json={"tenant": "T1", "signer": "张先生", "method": "electronic"})
    assert resp.status_code == 409 and resp.get_json()["code"] == "already_signed"
    scan = samples.png_card("签收单 T2", infra.settings.font_file)
    body_bytes, content_type = multipart({"tenant": "T2", "signer": "李女士",
                                          "method": "scanned"}, "sheet", scan, "t2.png")
    resp = client.post(f"{API}/notices/{doc_id}/sign-offs", headers=auth, data=body_bytes,
                       content_type=content_type)
    body = _conforms(resp, "POST", "/notices/{id}/sign-offs")
    assert resp.status_code == 201 and body["sheet_document"] is not None
    resp = client.get(f"{API}/notices/{doc_id}/sign-offs", headers=auth)
    body = _conforms(resp, "GET", "/notices/{id}/sign-offs")
    assert (body["total"], body["signed"], body["percent"]) == (2, 2, 100)
    resp = client.get(f"{API}/notices/{doc_id}/sign-offs.csv", headers=auth)
    _conforms(resp, "GET", "/notices/{id}/sign-offs.csv")
    assert resp.get_data().startswith(b"\xef\xbb\xbf")
    assert resp.headers["Cache-Control"] == "no-store"
    resp = client.post(f"{API}/notices/{doc_id}/sign-offs", headers=auth, data="x",
                       content_type="text/plain")
    assert resp.status_code == 415
