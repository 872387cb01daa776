"""Customer-service pages in Chinese and English — the request register, a hotline
complaint recorded, handled and closed, the follow-up due, an on-site visit with
a drawn signature (a PNG data URL, stored as an encrypted image document), the
supervisor's review, the monthly report with its rate and CSV, the deposit
register — what someone out of scope gets, and the JSON API of the same checked
against the OpenAPI document (the hotline records a request, then its recording)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py
from werkzeug.test import TestResponse

from vault.models import DocumentVersion, FollowUp, Recording, ServiceRequest
from vault.services import accounts, samples, tenants, tokens
from vault.services import requests as requests_service
from vault.services.context import Infra, unit_of_work
from vault.web import openapi

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_service_records.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]
API = "/api/v1"
SCHEMA = schemathesis.openapi.from_dict(openapi.document())
TZ = timezone(timedelta(hours=8))
CONTENT = "A座电梯多次停运，要求答复"


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


@pytest.fixture
def world(app: Flask) -> Flask:
    with unit_of_work(infra_of(app), "root") as ctx:
        sz = accounts.get_company(ctx.session, "SZ")
        tenants.add_tenant(ctx.session, "T1", "华南贸易有限公司", "A1201", "张先生",
                           company_id=sz.id)
    return app


def _text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def _post(client: FlaskClient, path: str, data: dict[str, Any]) -> TestResponse:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/requests/")})


def _png_data_url() -> str:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), "white").save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_hotline_complaint_to_monthly_report(world: Flask, login_as: Login) -> None:
    clerk = login_as("clerk")
    assert "诉求（需求）记录表" in _text(clerk.get("/requests/"))
    resp = _post(clerk, "/requests/new", {"kind": "complaint", "grade": "normal",
                                          "channel": "hotline", "tenant": "T1",
                                          "content": CONTENT})
    assert resp.status_code == 302
    page = _text(clerk.get(resp.headers["Location"]))
    assert CONTENT in page and "服务热线" in page
    req_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert f'id="tenant-request-{req_id}"' in _text(clerk.get("/tenants/T1"))  # the tenant page
    assert _post(clerk, f"/requests/{req_id}/start", {}).status_code == 303
    assert _post(clerk, f"/requests/{req_id}/close", {"reply": ""}).status_code == 303
    assert "请填写给客户的答复" in _text(clerk.get(f"/requests/{req_id}"))  # the flashed refusal
    assert _post(clerk, f"/requests/{req_id}/close", {"reply": "已维修"}).status_code == 303
    page = _text(clerk.get(f"/requests/{req_id}"))
    assert "已关闭" in page and "已维修" in page
    fid = int(re.search(r'id="visit-link-(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert f'id="visit-{fid}"' in _text(clerk.get("/visits/?status=due"))
    today = datetime.now(TZ).date().isoformat()
    resp = _post(clerk, f"/visits/{fid}/record", {
        "method": "on_site", "visited_on": today, "notes": "客户满意", "resolved": "1",
        "signature_data": _png_data_url()})
    assert resp.status_code == 303
    infra = infra_of(world)
    with infra.sessions() as s:
        fu = s.get(FollowUp, fid)
        assert fu is not None and fu.status == "done" and fu.signature_document_id
        ver = s.scalars(select(DocumentVersion).where(
            DocumentVersion.document_id == fu.signature_document_id)).one()
        assert ver.media_type == "image/png" and ver.wrapped_key is not None
        due_month = fu.due_on.strftime("%Y-%m")
    boss = login_as("boss")
    assert 'id="review-form"' in _text(boss.get(f"/visits/{fid}"))
    resp = boss.post(f"/visits/{fid}/review", data={
        "opinion": "处理及时", "csrf_token": csrf_token(boss, f"/visits/{fid}")})
    assert resp.status_code == 303
    assert "处理及时" in _text(boss.get(f"/visits/{fid}"))
    gm = login_as("gm")
    report = _text(gm.get(f"/visits/report?company=SZ&month={due_month}"))
    assert 'id="line-complaint" data-rate="100.0"' in report and "达标" in report
    csv_text = _text(gm.get(f"/visits/report.csv?company=SZ&month={due_month}"))
    assert "complaint,1,1,100.0,50,yes" in csv_text
    pdf = gm.get(f"/visits/report.pdf?company=SZ&month={due_month}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.get_data())).pages[0].extract_text()
    assert "客户回访记录" in text and "100.0%" in text and "50%" in text
    gm.get("/lang/en")
    english = _text(gm.get(f"/visits/report?company=SZ&month={due_month}"))
    assert "Monthly follow-up report" in english
    # The clerk may not read the report; the outsider does not see the request at all.
    assert clerk.get(f"/visits/report?company=SZ&month={due_month}").status_code == 403
    outsider = login_as("outsider")
    assert outsider.get(f"/requests/{req_id}").status_code == 404
    assert CONTENT not in _text(outsider.get("/requests/"))


def test_bad_form_input_is_explained(world: Flask, login_as: Login) -> None:
    clerk = login_as("clerk")
    resp = _post(clerk, "/requests/new", {"kind": "complaint", "channel": "hotline",
                                          "content": CONTENT})
    assert resp.status_code == 400 and "投诉须注明等级" in _text(resp)
    clerk.get("/lang/en")
    resp = _post(clerk, "/requests/new", {"kind": "repair", "channel": "hotline",
                                          "content": "", "received_at": "yesterday"})
    assert resp.status_code == 400 and "The time received is not a time" in _text(resp)
    with infra_of(world).sessions() as s:
        assert s.scalars(select(ServiceRequest)).all() == []


def test_deposits_page(world: Flask, login_as: Login) -> None:
    clerk = login_as("clerk")
    assert _post(clerk, "/deposits/", {"tenant": "T1", "item": "快递包裹"}).status_code == 303
    page = _text(clerk.get("/deposits/?open=1"))
    dep = int(re.search(r'id="deposit-(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert _post(clerk, f"/deposits/{dep}/collect", {"collected_by": "张先生"}).status_code == 303
    assert "快递包裹" not in _text(clerk.get("/deposits/?open=1"))
    assert "张先生" in _text(clerk.get("/deposits/"))


def _api(app: Flask, username: str) -> Callable[..., TestResponse]:
    with unit_of_work(infra_of(app), username) as ctx:
        token = tokens.create(ctx, "hotline")[1]
    client = app.test_client()

    def call(method: str, path: str, **kw: Any) -> TestResponse:
        return client.open(API + path, method=method,
                           headers={"Authorization": f"Bearer {token}"}, **kw)

    return call


def _conforms(resp: TestResponse, method: str, path: str) -> Any:
    SCHEMA[API + path][method].validate_response(resp)
    return resp.get_json()


def test_api_hotline_request_then_recording(world: Flask) -> None:
    clerk = _api(world, "clerk")
    resp = clerk("POST", "/service-requests", json={"kind": "repair", "channel": "hotline",
                                            "content": "卫生间漏水", "tenant": "T1"})
    assert resp.status_code == 201
    body = _conforms(resp, "POST", "/service-requests")
    number, rid = body["number"], body["id"]
    assert body["content"] == "卫生间漏水" and body["status"] == "open"
    called = (datetime.now(TZ) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    resp = clerk("POST", "/recordings", data={
        "caller_number": "13800138000", "called_at": called, "agent": "吴",
        "request_ref": number, "file": (io.BytesIO(samples.wav_tone(0.2)), "call.wav")},
        content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with infra_of(world).sessions() as s:
        assert s.scalars(select(Recording.request_id)).one() == rid
    got = _conforms(clerk("GET", f"/service-requests/{rid}"), "GET", "/service-requests/{id}")
    assert len(got["recordings"]) == 1
    listed = _conforms(clerk("GET", "/service-requests?status=open"), "GET",
                      "/service-requests")
    assert [i["number"] for i in listed["items"]] == [number]
    closed = _conforms(clerk("POST", f"/service-requests/{rid}/close", json={"reply": "已修"}),
                       "POST", "/service-requests/{id}/close")
    assert closed["status"] == "closed" and len(closed["follow_ups"]) == 1
    visits = _conforms(clerk("GET", "/visits?status=due"), "GET", "/visits")
    assert visits["items"][0]["kind"] == "repair"
    gm = _api(world, "gm")
    month = visits["items"][0]["due_on"][:7]
    rep = _conforms(gm("GET", f"/visits/report?company=SZ&month={month}"), "GET",
                    "/visits/report")
    assert {ln["kind"]: ln["due"] for ln in rep["lines"]}["repair"] == 1
    assert clerk("GET", f"/visits/report?company=SZ&month={month}").status_code == 403
    assert _api(world, "outsider")("GET", f"/service-requests/{rid}").status_code == 404
    bad = clerk("POST", "/service-requests", json={"kind": "complaint", "channel": "hotline",
                                           "content": "x"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "grade_required"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_page_renders_in_both_languages(world: Flask, login_as: Login,
                                              language: str) -> None:
    clerk = login_as("clerk")
    if language == "en":
        clerk.get("/lang/en")
    resp = _post(clerk, "/requests/new", {"kind": "repair", "channel": "web", "tenant": "T1",
                                          "content": "门禁卡失灵"})
    req = resp.headers["Location"]
    _post(clerk, f"{req}/close", {"reply": "已写卡"})
    expected = {"zh": ["诉求（需求）记录表", "登记诉求", "报修", "维修完毕", "物品寄存"],
                "en": ["Request register", "Record a request", "Repair", "Repair done",
                       "Deposit"]}[language]
    pages = [_text(clerk.get(p)) for p in ("/requests/", "/requests/new", req,
                                            "/visits/?status=all", "/deposits/")]
    for page, word in zip(pages, expected, strict=True):
        assert word in page
    boss = login_as("boss")
    if language == "en":
        boss.get("/lang/en")
    assert boss.get("/visits/report").status_code == 200


def test_long_fields_are_kept_whole_or_refused(world: Flask, login_as: Login) -> None:
    """The form passes what was typed to the service, which keeps it whole or refuses it
    with a reason; nothing is cut short on the way."""
    clerk = login_as("clerk")
    resp = _post(clerk, "/requests/new", {"kind": "complaint", "grade": "normal",
                                          "channel": "hotline", "tenant": "T1",
                                          "content": CONTENT})
    req_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    note = "楼" * 5000  # longer than the form used to keep, within the service's bound
    assert _post(clerk, f"/requests/{req_id}/receipt",
                 {"channel": "visit", "note": note}).status_code == 303
    assert note in _text(clerk.get(f"/requests/{req_id}"))
    too_long = "部" * 250  # over the service's bound for the department complained to
    assert _post(clerk, f"/requests/{req_id}/receipt",
                 {"channel": "visit", "via": too_long}).status_code == 303
    page = _text(clerk.get(f"/requests/{req_id}"))
    assert too_long not in page and too_long[:200] not in page


def test_unreadable_dates_are_form_errors_not_empty(world: Flask, login_as: Login) -> None:
    """A date or time that cannot be read is refused beside its field, in the reader's
    language — never taken as "not given" (which would mean now, or no next visit)."""
    clerk = login_as("clerk")
    base = {"kind": "repair", "channel": "hotline", "tenant": "T1", "content": CONTENT}
    resp = _post(clerk, "/requests/new", {**base, "received_at": "2026-13-45T10:00"})
    assert resp.status_code == 400 and "受理时间无法识别" in _text(resp)
    resp = _post(clerk, "/requests/new", {**base, "due_at": "下周一"})
    assert resp.status_code == 400 and "处理期限无法识别" in _text(resp)
    with infra_of(world).sessions() as s:
        assert s.scalars(select(ServiceRequest)).all() == []
    clerk.get("/lang/en")
    resp = _post(clerk, "/requests/new", {**base, "received_at": "yesterday"})
    assert resp.status_code == 400 and "The time received is not a time" in _text(resp)
    clerk.get("/lang/zh_CN")
    resp = _post(clerk, "/visits/schedule", {"kind": "event", "subject": "游园会",
                                              "trigger_on": "2026-02-30"})
    assert resp.status_code == 303
    assert "活动日期无法识别" in _text(clerk.get(resp.headers["Location"]))
    # A visit: an unreadable next-visit day is refused, not dropped.
    assert _post(clerk, "/requests/new", base).status_code == 302
    with infra_of(world).sessions() as s:
        rid = s.scalars(select(ServiceRequest.id)).one()
    assert _post(clerk, f"/requests/{rid}/start", {}).status_code == 303
    assert _post(clerk, f"/requests/{rid}/close", {"reply": "已修"}).status_code == 303
    with infra_of(world).sessions() as s:
        fid = s.scalars(select(FollowUp.id)).one()
    today = datetime.now(TZ).date().isoformat()
    for field, value, words in (("visited_on", "昨天", "回访日期无法识别"),
                                ("next_visit_on", "2026/12/40", "下次回访日期无法识别")):
        form = {"method": "telephone", "notes": "未解决", "visited_on": today,
                "resolved": "0", field: value}
        resp = _post(clerk, f"/visits/{fid}/record", form)
        assert resp.status_code == 303
        assert words in _text(clerk.get(resp.headers["Location"]))
    with infra_of(world).sessions() as s:
        assert s.get(FollowUp, fid).status == "due"  # type: ignore[union-attr]


def test_register_pages_keep_filters(world: Flask, login_as: Login,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from vault.web import service as service_views

    monkeypatch.setattr(service_views, "REGISTER_PAGE", 2)
    with unit_of_work(infra_of(world), "clerk") as ctx:
        numbers = [requests_service.create(ctx, kind=kind, channel="hotline", content="x",
                                           tenant_code="T1").number
                   for kind in ("repair", "enquiry", "repair", "repair", "repair")]
    clerk = login_as("clerk")
    first = _text(clerk.get("/requests/?kind=repair"))
    shown = re.findall(r'data-number="([^"]+)"', first)
    assert shown == [numbers[4], numbers[3]] and 'id="requests-prev"' not in first
    link = re.search(r'id="requests-pager">.*?href="([^"]+)" rel="next"', first, re.S)
    assert link is not None and "kind=repair" in link.group(1)
    second = _text(clerk.get(link.group(1).replace("&amp;", "&")))
    assert re.findall(r'data-number="([^"]+)"', second) == [numbers[2], numbers[0]]
    assert 'id="requests-prev"' in second and 'id="requests-next"' not in second
    assert "第 2 页" in second
    assert "requests-pager" not in _text(clerk.get("/requests/?kind=enquiry"))


def test_meeting_attendees_form(world: Flask, login_as: Login) -> None:
    """租户大会: those responsible for the minutes tick the tenants present on a page
    (until now only the CLI and the service could); others read the list."""
    from vault.policy import Category
    from vault.services import documents

    with unit_of_work(infra_of(world), "boss") as ctx:
        tenants.add_tenant(ctx.session, "T2", "北方科技", "B0301", "李女士",
                           company_id=accounts.get_company(ctx.session, "SZ").id)
        doc = documents.register(ctx, title="第四季度租户大会记录",
                                 category=Category.TENANT_MEETING_MINUTES,
                                 content=io.BytesIO("会议纪要".encode()), filename="m.txt")
        doc_id = doc.id
    boss = login_as("boss")
    assert f"/meetings/{doc_id}" in _text(boss.get(f"/documents/{doc_id}"))
    page = _text(boss.get(f"/meetings/{doc_id}"))
    assert "登记到会租户" in page and 'id="present-T1"' in page and 'id="present-T2"' in page
    resp = boss.post(f"/meetings/{doc_id}/attendees", data={
        "tenant": ["T1", "T2"], "csrf_token": csrf_token(boss, f"/meetings/{doc_id}")})
    assert resp.status_code == 303
    page = _text(boss.get(f"/meetings/{doc_id}"))
    assert 'data-count="2"' in page and "已登记 2 户租户到会" in page
    # The attendance form (Flask-WTF): a post without its token is 400; with a tenant
    # the service refuses, the list stays as it was.
    assert boss.post(f"/meetings/{doc_id}/attendees", data={"tenant": []}).status_code == 400
    resp = boss.post(f"/meetings/{doc_id}/attendees", data={
        "tenant": ["T1", "NOPE"], "csrf_token": csrf_token(boss, f"/meetings/{doc_id}")})
    assert resp.status_code == 303
    assert 'data-count="2"' in _text(boss.get(f"/meetings/{doc_id}"))
    accountant = login_as("accountant")  # reads the list, cannot change it
    page = _text(accountant.get(f"/meetings/{doc_id}"))
    assert 'data-count="2"' in page and 'id="attendance-form"' not in page
    resp = accountant.post(f"/meetings/{doc_id}/attendees", data={
        "tenant": ["T1"], "csrf_token": csrf_token(accountant, f"/meetings/{doc_id}")})
    assert resp.status_code == 303
    assert 'data-count="2"' in _text(accountant.get(f"/meetings/{doc_id}"))
    accountant.get("/lang/en")
    assert "Tenants present" in _text(accountant.get(f"/meetings/{doc_id}"))
    assert boss.get("/meetings/999999").status_code == 404
