"""The copies API (/api/v1: requests, decisions with re-authentication, the one
download, the copy and lending registers, notifications) through the Flask test
client (on SQLite: see pytestmark below).

Times: the API always works at the real clock. Where a test needs another moment
(an approval whose window has already passed, a loan that is overdue) it calls
the service (vault/services/copies/) in a unit of work with an explicit ``now``,
and the API for everything else.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pyotp
import pytest
import schemathesis
from doctools import make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from people import PASSWORD  # noqa: I001 - tests/people.py
from pypdf import PdfReader
from sqlalchemy import select
from twofactor import code  # noqa: I001 - tests/web/twofactor.py
from werkzeug.test import TestResponse

from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.policy import Category, Level
from vault.services import copies, samples, tokens, totp
from vault.services.context import Infra, unit_of_work
from vault.web import openapi

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_copies_service.py and test_cli_copies.py.
DATABASES = ("sqlite",)

API = "/api/v1"


class Api:
    """A client that sends one token in the Authorization header."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def open(self, method: str, path: str, **kw: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.client.open(API + path, method=method, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.open("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.open("POST", path, **kw)


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


@pytest.fixture
def api(app: Flask) -> Callable[[str], Api]:
    def make(username: str) -> Api:
        with unit_of_work(infra_of(app), username) as ctx:
            token = tokens.create(ctx, "test")[1]
        return Api(app.test_client(), token)

    return make


class Factor:
    """A confirmed second factor: fresh TOTP codes first, then recovery codes (a
    TOTP step is accepted once, so several decisions within 30 s need the latter)."""

    def __init__(self, secret: str, recovery: list[str]) -> None:
        self.secret, self.recovery, self.used = secret, list(recovery), 0

    def next(self) -> str:
        self.used += 1
        if self.used == 1:
            return code(self.secret, 1)  # one step ahead: never the enrolment's step
        return self.recovery.pop()


def enrol(app: Flask, username: str) -> Factor:
    """Set up ``username``'s second factor through the service (as /security does)."""
    infra = infra_of(app)
    with unit_of_work(infra, username) as ctx:
        secret = totp.begin_enrolment(ctx).secret
    with unit_of_work(infra, username) as ctx:
        recovery = totp.confirm_enrolment(ctx, pyotp.TOTP(secret).now())
    return Factor(secret, recovery)


def events(app: Flask, action: Action, outcome: Outcome | None = None) -> list[AuditEvent]:
    with infra_of(app).sessions() as s:
        stmt = select(AuditEvent).where(AuditEvent.action == action.value)
        if outcome is not None:
            stmt = stmt.where(AuditEvent.outcome == outcome.value)
        return list(s.scalars(stmt.order_by(AuditEvent.seq)))


def assert_error(resp: TestResponse, status: int, code: str, field: str | None = None) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["message"].startswith(f"{field}:"), body


SCHEMA = schemathesis.openapi.from_dict(openapi.document())


def conforms(resp: TestResponse, method: str, path: str) -> Any:
    """``resp`` as described for ``method path`` by the OpenAPI document (raises if not);
    returns its JSON body."""
    SCHEMA[API + path][method].validate_response(resp)
    return resp.get_json()


def ask(client: Api, doc_id: int, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "copy")
    body.setdefault("purpose", "年度审计需要")
    resp = client.post(f"/documents/{doc_id}/requests", json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return dict(resp.get_json())


def decide(client: Api, req_id: int, verb: str = "approve", factor: Factor | None = None,
           **body: Any) -> TestResponse:
    body.setdefault("password", PASSWORD)
    if factor is not None:
        body.setdefault("otp", factor.next())
    return client.post(f"/requests/{req_id}/{verb}", json=body)


def secret_pdf(app: Flask, title: str = "机密合同 A-101", pages: int = 2) -> int:
    """A 机密 (secret) PDF with Chinese text of the SZ customer-service department:
    clerk drafted it (and may read it), boss supervises it."""
    return make_doc(app, Level.SECRET, registrant="clerk", title=title,
                    content=samples.pdf_pages(title, pages=pages))


def confidential_pdf(app: Flask, title: str = "秘密合同 B-202") -> int:
    """A 秘密 (confidential) PDF of the same department: every member may read it."""
    return make_doc(app, Level.CONFIDENTIAL, registrant="boss", title=title,
                    content=samples.pdf_pages(title))


# ---------------------------------------------------------------------------
# The whole flow


def test_request_approve_download_once_and_register(app: Flask,
                                                    api: Callable[[str], Api]) -> None:
    doc = secret_pdf(app)
    clerk, gm, keeper, outsider = api("clerk"), api("gm"), api("keeper"), api("outsider")
    gm_factor = enrol(app, "gm")

    resp = clerk.post(f"/documents/{doc}/requests",
                      json={"kind": "copy", "purpose": "年度审计需要"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    req = conforms(resp, "POST", "/documents/{id}/requests")
    rid = req["id"]
    assert resp.headers["Location"].endswith(f"{API}/requests/{rid}")
    assert req["state"] == "pending" and req["kind"] == "copy"
    assert req["document"] == {"id": doc, "title": "机密合同 A-101", "category": "contract",
                               "level": "secret", "marking": "机密★20年",
                               "company": "SZ"}
    assert req["requester"] == {"username": "clerk", "name": "clerk"}
    assert req["decided_by"] is None and req["copy"] is None and req["loan"] is None
    assert req["default_no"] is False

    # The approver sees it, with metadata only, and was notified.
    waiting = conforms(gm.get("/requests?scope=to_decide"), "GET", "/requests")
    assert [r["id"] for r in waiting["items"]] == [rid] and waiting["truncated"] is False
    assert clerk.get("/requests?scope=to_decide").get_json()["items"] == []
    assert [r["id"] for r in clerk.get("/requests").get_json()["items"]] == [rid]
    shown = conforms(gm.get(f"/requests/{rid}"), "GET", "/requests/{id}")
    assert shown["may_decide"] is True and shown["is_requester"] is False
    assert shown["may_download"] is False and shown["purpose"] == "年度审计需要"
    assert {"username": "gm", "name": "gm"} in shown["approvers"]
    assert shown["requester_history"] == []
    assert not {"content", "data", "text"} & set(shown)
    inbox = conforms(gm.get("/notifications?unread=1"), "GET", "/notifications")
    assert inbox["unread"] == 1
    assert [(n["kind"], n["request"]) for n in inbox["items"]] == [("request_pending", rid)]
    assert inbox["items"][0]["subject"].startswith("待审批")
    assert gm.get("/notifications?lang=en").get_json()["items"][0]["subject"].startswith(
        "To decide")

    # Decisions need the password, and the code of the approver's second factor.
    resp = decide(gm, rid, password="wrong password")
    assert_error(resp, 401, "reauth_failed")
    conforms(resp, "POST", "/requests/{id}/approve")
    assert "insufficient_user_authentication" in resp.headers["WWW-Authenticate"]
    assert gm.get(f"/requests/{rid}").get_json()["state"] == "pending"
    assert_error(decide(gm, rid), 401, "reauth_failed")  # no code
    assert_error(decide(gm, rid, otp="000000"), 401, "reauth_failed")
    failed = events(app, Action.AUTH_REAUTH_FAILED, Outcome.DENIED)
    assert [(e.actor, e.reason) for e in failed] == [
        ("gm", "wrong_password"), ("gm", "wrong_code"), ("gm", "wrong_code")]
    assert not events(app, Action.COPY_APPROVE)
    resp = decide(gm, rid, factor=gm_factor, note="同意，限审计使用")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    approved = conforms(resp, "POST", "/requests/{id}/approve")
    assert approved["state"] == "approved" and approved["decided_by"]["username"] == "gm"
    assert approved["decision_note"] == "同意，限审计使用"
    window = datetime.fromisoformat(approved["window_until"])
    assert timedelta(hours=23) < window - datetime.now(UTC) <= timedelta(hours=24)
    assert [e.reason for e in events(app, Action.AUTH_REAUTH)] == ["password+totp"]
    assert [e.outcome for e in events(app, Action.COPY_APPROVE)] == ["allowed"]
    assert_error(decide(gm, rid, factor=gm_factor), 409, "already_decided")

    # The requester hears of it and downloads the stamped, registered copy once.
    inbox = clerk.get("/notifications").get_json()
    assert [n["kind"] for n in inbox["items"]] == ["request_decided"]
    assert clerk.get(f"/requests/{rid}").get_json()["may_download"] is True
    # A HEAD would spend the approval without delivering anything: refused.
    assert clerk.open("HEAD", f"/requests/{rid}/download").status_code == 405
    assert not events(app, Action.COPY_DOWNLOAD)
    resp = clerk.get(f"/requests/{rid}/download")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_data()
    conforms(resp, "GET", "/requests/{id}/download")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.mimetype == "application/pdf"
    assert resp.headers["X-Vault-Copy-SHA256"] == hashlib.sha256(body).hexdigest()
    label = unquote(resp.headers["X-Vault-Copy-Label"])
    year = date.today().year
    assert label == f"机密-{year}-{doc:04d} 副本 1"
    assert resp.headers["X-Vault-Copy-Label"].isascii()
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    assert "%E5%89%AF%E6%9C%AC%201" in resp.headers["Content-Disposition"]  # 副本 1
    pages = PdfReader(io.BytesIO(body)).pages
    assert len(pages) == 2
    for page in pages:
        text = page.extract_text()
        assert label in text and "机密★20年" in text and "clerk" in text
    download = events(app, Action.COPY_DOWNLOAD)
    assert [(e.actor, e.outcome, e.reason) for e in download] == [
        ("clerk", "allowed", "released")]

    assert_error(clerk.get(f"/requests/{rid}/download"), 409, "already_downloaded")
    assert_error(outsider.get(f"/requests/{rid}/download"), 404, "unknown_request")
    assert_error(gm.get(f"/requests/{rid}/download"), 404, "unknown_request")
    assert_error(outsider.get(f"/requests/{rid}"), 404, "unknown_request")
    denied = events(app, Action.COPY_DOWNLOAD, Outcome.DENIED)
    assert [(e.actor, e.reason) for e in denied] == [
        ("clerk", "already_downloaded"), ("outsider", "not_requester"),
        ("gm", "not_requester")]

    spent = conforms(clerk.get(f"/requests/{rid}"), "GET", "/requests/{id}")
    assert spent["state"] == "spent" and spent["may_download"] is False
    assert spent["copy"]["label"] == label and spent["copy"]["sha256"] == hashlib.sha256(
        body).hexdigest()

    # The custodian's register: issued → destroyed, and a look-up by the number.
    register = conforms(keeper.get("/copies"), "GET", "/copies")
    assert [c["label"] for c in register["items"]] == [label]
    row = register["items"][0]
    assert row["status"] == "issued" and row["recipient"]["username"] == "clerk"
    assert row["approved_by"]["username"] == "gm" and row["stamped"] is True
    assert row["level"] == "secret" and row["level_at_issue"] == "secret"
    assert keeper.get("/copies?status=destroyed").get_json()["items"] == []
    assert len(keeper.get(f"/copies?document={doc}&company=SZ").get_json()["items"]) == 1
    found = conforms(keeper.get("/copies/lookup", query_string={"number": label}),
                     "GET", "/copies/lookup")
    assert found["id"] == row["id"] and found["approved_by"]["username"] == "gm"
    assert clerk.get("/copies/lookup", query_string={"number": label}).status_code == 200
    assert_error(outsider.get("/copies/lookup", query_string={"number": label}),
                 404, "unknown_copy")
    assert_error(clerk.get("/copies"), 403, "not_register_reader")
    assert_error(outsider.get("/copies?company=SZ"), 403, "not_register_reader")
    assert len(gm.get("/copies").get_json()["items"]) == 1  # the GM reads, does not keep
    assert_error(clerk.post(f"/copies/{row['id']}/destroy"), 404, "unknown_copy")
    assert_error(gm.post(f"/copies/{row['id']}/destroy"), 403, "not_custodian")
    resp = keeper.post(f"/copies/{row['id']}/destroy", json={"note": "碎纸机销毁"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    closed = conforms(resp, "POST", "/copies/{id}/destroy")
    assert closed["status"] == "destroyed" and closed["closed_by"]["username"] == "keeper"
    assert closed["closed_note"] == "碎纸机销毁" and closed["closed_at"]
    assert_error(keeper.post(f"/copies/{row['id']}/return"), 409, "already_closed")
    assert [e.actor for e in events(app, Action.COPY_DESTROY, Outcome.ALLOWED)] == ["keeper"]

    # Notifications: read one by id, then the rest.
    resp = clerk.post("/notifications/read", json={"ids": [inbox["items"][0]["id"]]})
    assert conforms(resp, "POST", "/notifications/read") == {"marked": 1, "unread": 0}
    assert clerk.get("/notifications?unread=true").get_json()["items"] == []
    # The GM's "to decide" message was settled when the GM decided (nothing left to mark).
    assert gm.get("/notifications?unread=true").get_json()["items"] == []
    assert gm.post("/notifications/read").get_json() == {"marked": 0, "unread": 0}


# ---------------------------------------------------------------------------
# Who may decide


def test_requester_never_approves(app: Flask, api: Callable[[str], Api]) -> None:
    licence = make_doc(app, Level.CONFIDENTIAL, registrant="boss",
                       category=Category.BUSINESS_LICENCE, title="营业执照",
                       content=samples.png_card("营业执照"), filename="licence.png")
    manager = api("manager")  # may approve licence copies of the department, not their own
    rid = ask(manager, licence)["id"]
    assert manager.get(f"/requests/{rid}").get_json()["may_decide"] is False
    assert_error(decide(manager, rid), 403, "requester_cannot_approve")
    clerk = api("clerk")
    rid2 = ask(clerk, confidential_pdf(app))["id"]
    assert_error(decide(clerk, rid2), 403, "requester_cannot_approve")
    denied = events(app, Action.COPY_APPROVE, Outcome.DENIED)
    assert [(e.actor, e.reason) for e in denied] == [
        ("manager", "requester_cannot_approve"), ("clerk", "requester_cannot_approve")]
    assert manager.get(f"/requests/{rid}").get_json()["state"] == "pending"
    # The manager decides the clerk's licence request (no second factor required).
    rid3 = ask(clerk, licence)["id"]
    resp = decide(manager, rid3, verb="reject", reason="用途不明")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["state"] == "rejected"
    assert_error(clerk.get(f"/requests/{rid3}/download"), 403, "not_approved")


def test_top_secret_is_decided_at_headquarters(app: Flask, api: Callable[[str], Api]) -> None:
    doc = make_doc(app, Level.TOP_SECRET, registrant="clerk", title="绝密方案",
                   content=samples.pdf_pages("绝密方案"))
    clerk, gm, ceo = api("clerk"), api("gm"), api("ceo")
    gm_factor, ceo_factor = enrol(app, "gm"), enrol(app, "ceo")
    req = ask(clerk, doc)
    rid = req["id"]
    assert req["default_no"] is True and req["document"]["level"] == "top_secret"
    assert gm.get("/requests?scope=to_decide").get_json()["items"] == []
    assert [r["id"] for r in ceo.get("/requests?scope=to_decide").get_json()["items"]] == [rid]
    # The subsidiary's GM passes re-authentication but is not the office that decides;
    # never knowing of the company's 绝密 files, the GM finds no such request at all.
    resp = decide(gm, rid, factor=gm_factor)
    assert_error(resp, 404, "unknown_request")
    assert_error(gm.get(f"/requests/{rid}"), 404, "unknown_request")
    assert "绝密方案" not in resp.get_data(as_text=True)
    assert ceo.get(f"/requests/{rid}").get_json()["state"] == "pending"
    resp = decide(ceo, rid, factor=ceo_factor, window_hours=2)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["state"] == "approved" and body["decided_by"]["username"] == "ceo"
    window = datetime.fromisoformat(body["window_until"]) - datetime.now(UTC)
    assert timedelta(hours=1) < window <= timedelta(hours=2)
    got = clerk.get(f"/requests/{rid}/download")
    assert got.status_code == 200
    assert unquote(got.headers["X-Vault-Copy-Label"]).startswith("绝密-")


def test_a_second_factor_is_required_for_those_whose_roles_need_one(
        app: Flask, api: Callable[[str], Api]) -> None:
    rid = ask(api("clerk"), confidential_pdf(app))["id"]
    gm = api("gm")  # never enrolled: a token made by the CLI, say
    assert_error(decide(gm, rid), 403, "second_factor_required")
    assert_error(decide(gm, rid, verb="reject", reason="不行"), 403, "second_factor_required")
    denied = events(app, Action.AUTH_REAUTH_FAILED, Outcome.DENIED)
    assert [(e.actor, e.reason) for e in denied] == [("gm", "second_factor_required")] * 2
    assert gm.get(f"/requests/{rid}").get_json()["state"] == "pending"


def test_repeated_failures_pause_re_authentication(app: Flask,
                                                   api: Callable[[str], Api]) -> None:
    """The API goes through the same back-off as sign-in: after five wrong passwords
    even the right one is refused for a while."""
    clerk, manager = api("clerk"), api("manager")
    licence = make_doc(app, Level.CONFIDENTIAL, registrant="boss",
                       category=Category.BUSINESS_LICENCE, title="营业执照",
                       content=samples.png_card("营业执照"), filename="licence.png")
    rid = ask(clerk, licence)["id"]
    for _ in range(5):
        assert_error(decide(manager, rid, password="guess"), 401, "reauth_failed")
    assert events(app, Action.AUTH_LOCKOUT)
    assert_error(decide(manager, rid), 401, "reauth_failed")
    assert events(app, Action.AUTH_REAUTH_FAILED)[-1].reason == "paused"
    assert manager.get(f"/requests/{rid}").get_json()["state"] == "pending"


# ---------------------------------------------------------------------------
# Windows, excerpts, rejection, withdrawal


def test_an_expired_window_refuses_the_download(app: Flask, api: Callable[[str], Api]) -> None:
    clerk = api("clerk")
    rid = ask(clerk, confidential_pdf(app))["id"]
    # Approved two hours ago with a one-hour window (the service, at that moment).
    with unit_of_work(infra_of(app), "gm", datetime.now(UTC) - timedelta(hours=2)) as ctx:
        copies.approve(ctx, rid, window_hours=1)
    assert clerk.get(f"/requests/{rid}").get_json()["state"] == "expired"
    assert_error(clerk.get(f"/requests/{rid}/download"), 403, "window_expired")
    assert [e.reason for e in events(app, Action.COPY_DOWNLOAD)] == ["window_expired"]
    assert api("keeper").get("/copies").get_json()["items"] == []


def test_window_and_pages_are_checked(app: Flask, api: Callable[[str], Api]) -> None:
    clerk, manager = api("clerk"), api("manager")
    doc = make_doc(app, Level.CONFIDENTIAL, registrant="boss",
                   category=Category.BUSINESS_LICENCE, title="营业执照",
                   content=samples.pdf_pages("营业执照", pages=3), filename="licence.pdf")
    req = ask(clerk, doc, kind="excerpt", pages="1-2")
    rid = req["id"]
    assert req["pages"] == "1-2"
    assert_error(decide(manager, rid, window_hours=25), 400, "bad_window")
    assert_error(decide(manager, rid, window_hours="2"), 400, "invalid_input", "window_hours")
    assert_error(decide(manager, rid, window_hours=True), 400, "invalid_input", "window_hours")
    assert_error(decide(manager, rid, pages="3"), 400, "bad_pages")
    assert_error(decide(manager, rid, pages="x"), 400, "invalid_input", "pages")
    resp = decide(manager, rid, pages="2")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["approved_pages"] == "2"
    got = clerk.get(f"/requests/{rid}/download")
    assert got.status_code == 200, got.get_data(as_text=True)
    pages = PdfReader(io.BytesIO(got.get_data())).pages
    assert len(pages) == 1
    text = pages[0].extract_text()
    assert "第 2 页" in text and unquote(got.headers["X-Vault-Copy-Label"]) in text


def test_reject_and_cancel(app: Flask, api: Callable[[str], Api]) -> None:
    clerk, gm, outsider = api("clerk"), api("gm"), api("outsider")
    factor = enrol(app, "gm")
    doc = confidential_pdf(app)
    rid = ask(clerk, doc)["id"]
    assert_error(decide(gm, rid, verb="reject", factor=factor), 400, "invalid_input", "reason")
    resp = decide(gm, rid, verb="reject", factor=factor, reason="不符合用途")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert conforms(resp, "POST", "/requests/{id}/reject")["decision_note"] == "不符合用途"
    assert resp.get_json()["state"] == "rejected"
    assert [e.actor for e in events(app, Action.COPY_REJECT)] == ["gm"]
    assert_error(clerk.get(f"/requests/{rid}/download"), 403, "not_approved")
    assert_error(clerk.post(f"/requests/{rid}/cancel"), 409, "already_decided")

    rid2 = ask(clerk, doc, kind="print")["id"]
    assert_error(outsider.post(f"/requests/{rid2}/cancel"), 404, "unknown_request")
    assert_error(gm.post(f"/requests/{rid2}/cancel"), 403, "not_requester")
    resp = clerk.post(f"/requests/{rid2}/cancel")
    assert conforms(resp, "POST", "/requests/{id}/cancel")["state"] == "cancelled"
    assert_error(decide(gm, rid2, factor=factor), 409, "already_decided")


# ---------------------------------------------------------------------------
# Loans


def test_loan_of_a_certificate(app: Flask, api: Callable[[str], Api]) -> None:
    clerk, gm, keeper = api("clerk"), api("gm"), api("keeper")
    factor = enrol(app, "gm")
    cert = make_doc(app, Level.CONFIDENTIAL, registrant="boss",
                    category=Category.OTHER_CERTIFICATE, title="资质证书",
                    content=samples.png_card("资质证书"), filename="cert.png")
    resp = clerk.post(f"/documents/{cert}/requests",
                      json={"kind": "lend", "purpose": "投标用"})
    assert_error(resp, 400, "bad_due_date")
    due = date.today() + timedelta(days=7)
    req = ask(clerk, cert, kind="lend", purpose="投标用", due_on=due.isoformat())
    assert req["due_on"] == due.isoformat() and req["kind"] == "lend"
    rid = req["id"]

    resp = decide(gm, rid, factor=factor)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    loan = conforms(resp, "POST", "/requests/{id}/approve")["loan"]
    assert loan["state"] == "approved" and loan["borrower"]["username"] == "clerk"
    assert loan["approved_by"]["username"] == "gm" and loan["due_on"] == due.isoformat()
    assert_error(clerk.get(f"/requests/{rid}/download"), 409, "nothing_to_download")

    open_loans = conforms(keeper.get("/loans?open=1"), "GET", "/loans")["items"]
    assert [lo["id"] for lo in open_loans] == [loan["id"]]
    assert_error(clerk.get("/loans"), 403, "not_register_reader")
    assert_error(clerk.post(f"/loans/{loan['id']}/hand-over"), 404, "unknown_loan")
    assert_error(keeper.post(f"/loans/{loan['id']}/return"), 409, "not_lent")
    resp = keeper.post(f"/loans/{loan['id']}/hand-over", json={"note": "原件一份"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    lent = conforms(resp, "POST", "/loans/{id}/hand-over")
    assert lent["state"] == "lent" and lent["lent_by"]["username"] == "keeper"
    assert lent["note"] == "原件一份"
    assert_error(keeper.post(f"/loans/{loan['id']}/hand-over"), 409, "already_lent")
    assert keeper.get("/loans?overdue=1").get_json()["items"] == []

    # Eight days on, it is overdue (the service at that moment).
    later = datetime.now(UTC) + timedelta(days=8)
    with unit_of_work(infra_of(app), "keeper", later) as ctx:
        overdue = copies.loans(ctx, overdue=True)
        assert [lo.id for lo in overdue] == [loan["id"]]
        assert copies.loan_state(overdue[0], later.date()) == "overdue"

    resp = keeper.post(f"/loans/{loan['id']}/return")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    back = conforms(resp, "POST", "/loans/{id}/return")
    assert back["state"] == "returned" and back["returned_by"]["username"] == "keeper"
    assert_error(keeper.post(f"/loans/{loan['id']}/return"), 409, "already_returned")
    assert keeper.get("/loans?open=true").get_json()["items"] == []
    assert len(keeper.get("/loans").get_json()["items"]) == 1
    assert [e.reason for e in events(app, Action.LOAN_CREATE, Outcome.ALLOWED)] == ["lent"]
    assert [(e.actor, e.reason) for e in events(app, Action.LOAN_CREATE, Outcome.DENIED)] == [
        ("clerk", "unknown_loan")]
    assert [e.reason for e in events(app, Action.LOAN_RETURN)] == ["returned"]


# ---------------------------------------------------------------------------
# Input


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"purpose": "x"}, 400, "invalid_input", "kind"),
    ({"kind": "photocopy", "purpose": "x"}, 400, "invalid_input", "kind"),
    ({"kind": 3, "purpose": "x"}, 400, "invalid_input", "kind"),
    ({"kind": "copy"}, 400, "invalid_input", "purpose"),
    ({"kind": "copy", "purpose": "   "}, 400, "invalid_input", "purpose"),
    ({"kind": "copy", "purpose": ["x"]}, 400, "invalid_input", "purpose"),
    ({"kind": "copy", "purpose": "x" * 2001}, 400, "invalid_input", "purpose"),
    ({"kind": "copy", "purpose": "a\x00b"}, 400, "invalid_input", "purpose"),
    ({"kind": "copy", "purpose": "a\ud800b"}, 400, "invalid_input", "purpose"),
    ({"kind": "copy", "purpose": "x", "pages": "1"}, 400, "bad_pages", None),
    ({"kind": "excerpt", "purpose": "x", "pages": "3-1"}, 400, "invalid_input", "pages"),
    ({"kind": "excerpt", "purpose": "x", "pages": 1}, 400, "invalid_input", "pages"),
    ({"kind": "excerpt", "purpose": "x",
      "pages": ",".join(str(n) for n in range(1, 200, 2))}, 400, "invalid_input", "pages"),
    # NFKC reads ⑩⑫ as 1012: short to type, longer once stored.
    ({"kind": "excerpt", "purpose": "x", "pages": ",".join(
        a + b for a in "⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳" for b in "⑫⑭⑯⑱⑳㉒")}, 400, "invalid_input", "pages"),
    ({"kind": "copy", "purpose": "x", "due_on": "2026-13-01"}, 400, "invalid_input", "due_on"),
    ({"kind": "copy", "purpose": "x", "due_on": "0001-01-01"}, 400, "invalid_input", "due_on"),
    ({"kind": "lend", "purpose": "x", "due_on": "2030-01-01"}, 400, "nothing_to_lend", None),
    ({"kind": "downgrade", "purpose": "x", "new_level": "low"}, 400, "invalid_input",
     "new_level"),
    ({"kind": "downgrade", "purpose": "x", "new_level": "confidential"}, 400, "bad_level",
     None),
    ({"kind": "extend", "purpose": "x", "new_period": "forever"}, 400, "invalid_input",
     "new_period"),
    ({"kind": "extend", "purpose": "x", "new_period": "5y"}, 400, "not_longer", None),
    ({"kind": "extend", "purpose": "x", "new_period": "99999y"}, 400, "invalid_input",
     "new_period"),
    ({"kind": "copy", "purpose": "x", "new_period": "15y"}, 400, "bad_level", None),
])
def test_request_input(app: Flask, api: Callable[[str], Api], body: dict[str, Any],
                       status: int, code: str, field: str | None) -> None:
    doc = confidential_pdf(app)
    boss = api("boss")  # the supervisor may also ask for classification changes
    assert_error(boss.post(f"/documents/{doc}/requests", json=body), status, code, field)
    assert boss.get("/requests").get_json()["items"] == []


def test_classification_change_requests(app: Flask, api: Callable[[str], Api]) -> None:
    doc = confidential_pdf(app)
    boss = api("boss")
    extend = ask(boss, doc, kind="extend", purpose="仍需保密", new_period="15y")
    assert extend["new_period"] == "15y" and extend["version"] == 1
    assert extend["new_level"] == "confidential"
    # 秘密 is the lowest classified level: a downgrade has nowhere to go.
    resp = boss.post(f"/documents/{doc}/requests",
                     json={"kind": "downgrade", "purpose": "x", "new_level": "secret"})
    assert_error(resp, 400, "bad_level")
    early = ask(boss, doc, kind="declassify", purpose="已公开")
    assert early["new_level"] == "internal" and early["state"] == "pending"
    assert [r["kind"] for r in boss.get("/requests").get_json()["items"]] == [
        "declassify", "extend"]


def test_other_bad_input(app: Flask, api: Callable[[str], Api]) -> None:
    doc = confidential_pdf(app)
    clerk, keeper = api("clerk"), api("keeper")
    assert_error(clerk.post(f"/documents/{doc}/requests", data="kind=copy"),
                 400, "invalid_input", "body")
    assert_error(clerk.post(f"/documents/{doc}/requests", json=["copy"]),
                 400, "invalid_input", "body")
    assert_error(clerk.post(f"/documents/{2**31}/requests", json={"kind": "copy"}),
                 404, "unknown_document")
    assert_error(api("outsider").post(f"/documents/{doc}/requests",
                                      json={"kind": "copy", "purpose": "x"}),
                 404, "unknown_document")
    for path in ("/requests/2147483648", "/requests/2147483648/download"):
        assert_error(clerk.get(path), 404, "unknown_request")
    assert_error(clerk.post("/requests/99/cancel"), 404, "unknown_request")
    # Issuing a photocopy: an unknown request is refused (and the refusal audited).
    assert_error(keeper.post("/requests/99/issue"), 404, "unknown_request")
    assert events(app, Action.COPY_ISSUE, Outcome.DENIED)
    assert_error(clerk.post("/requests/1/approve", json={}), 400, "invalid_input", "password")
    assert_error(clerk.post("/requests/1/approve", json={"password": 5}),
                 400, "invalid_input", "password")
    assert_error(clerk.post("/requests/1/approve", json={"password": "x", "otp": 123456}),
                 400, "invalid_input", "otp")
    assert_error(clerk.post("/requests/1/approve", data="x"), 400, "invalid_input", "body")
    assert_error(clerk.post("/requests/1/reject", json={"password": PASSWORD}),
                 400, "invalid_input", "reason")
    assert_error(clerk.get("/requests?scope=all"), 400, "invalid_input", "scope")
    assert_error(clerk.get("/requests?limit=0"), 400, "invalid_input", "limit")
    assert_error(clerk.get("/requests?lang=fr"), 400, "invalid_input", "lang")
    assert_error(keeper.get("/copies?status=lost"), 400, "invalid_input", "status")
    assert_error(keeper.get("/copies?document=x"), 400, "invalid_input", "document")
    assert_error(keeper.get("/copies?company=NOPE"), 400, "invalid_input", "company")
    assert_error(keeper.get("/copies/lookup"), 400, "invalid_input", "number")
    assert_error(keeper.get("/copies/lookup?number=abc"), 400, "bad_copy_number")
    assert_error(keeper.get("/copies/lookup?number=999999999-1"), 404, "unknown_copy")
    assert_error(keeper.get("/loans?overdue=maybe"), 400, "invalid_input", "overdue")
    assert_error(keeper.post("/loans/1/hand-over", json={"note": 7}),
                 400, "invalid_input", "note")
    assert_error(keeper.post("/loans/1/hand-over", json=[]), 400, "invalid_input", "body")
    assert_error(keeper.post("/copies/1/destroy", data="note", content_type="text/plain"),
                 400, "invalid_input", "body")
    assert_error(keeper.post("/copies/1/destroy"), 404, "unknown_copy")
    assert_error(keeper.post("/loans/2147483648/return"), 404, "unknown_loan")
    assert_error(clerk.get("/notifications?unread=2"), 400, "invalid_input", "unread")
    for ids in ("1", [0], [True], ["1"], list(range(1, 1002)), [2**31]):
        assert_error(clerk.post("/notifications/read", json={"ids": ids}),
                     400, "invalid_input", "ids")
    # Someone else's notification is not marked.
    assert clerk.post("/notifications/read", json={"ids": [1, 2, 3]}).get_json()["marked"] == 0


def test_every_new_route_needs_a_token(app: Flask) -> None:
    client = app.test_client()
    for method, path in [("POST", "/documents/1/requests"), ("GET", "/requests"),
                         ("GET", "/requests/1"), ("POST", "/requests/1/approve"),
                         ("POST", "/requests/1/reject"), ("POST", "/requests/1/cancel"),
                         ("GET", "/requests/1/download"), ("GET", "/copies"),
                         ("GET", "/copies/lookup"), ("POST", "/copies/1/return"),
                         ("POST", "/copies/1/destroy"), ("GET", "/loans"),
                         ("POST", "/loans/1/hand-over"), ("POST", "/loans/1/return"),
                         ("GET", "/notifications"), ("POST", "/notifications/read")]:
        assert_error(client.open(API + path, method=method), 401, "unauthenticated")
