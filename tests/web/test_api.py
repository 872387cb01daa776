"""The JSON API (/api/v1) and the token pages, through the Flask test client (on
SQLite: see pytestmark below): every endpoint's success, 401s, 404 out of scope, 403s,
400s with their JSON code, and the audit events each writes."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py
from werkzeug.test import TestResponse

from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.models import ApiToken
from vault.services import accounts, tokens
from vault.services.context import Infra, unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in tests/integration
# (documents, grants, versions, tokens, audit).
DATABASES = ("sqlite",)

API = "/api/v1"
TEXT = b"Notice: the water will be off on Tuesday from 9 to 11.\n"


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


class Api:
    """A client that sends one token in the Authorization header."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client, self.token = client, token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def open(self, method: str, path: str, headers: dict[str, str] | None = None,
             **kw: Any) -> TestResponse:
        return self.client.open(API + path, method=method, headers=self._headers(headers), **kw)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.open("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.open("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.open("DELETE", path, **kw)


def new_token(app: Flask, username: str, expires_at: datetime | None = None) -> str:
    with unit_of_work(infra_of(app), username) as ctx:
        return tokens.create(ctx, "test", expires_at)[1]


@pytest.fixture
def api(app: Flask) -> Callable[[str], Api]:
    def make(username: str) -> Api:
        return Api(app.test_client(), new_token(app, username))

    return make


def events(app: Flask, action: Action | None = None) -> list[AuditEvent]:
    with infra_of(app).sessions() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action.value)
        return list(s.scalars(stmt))


def upload(api: Api, content: bytes = TEXT, filename: str = "notice.txt",
           **fields: str) -> TestResponse:
    fields.setdefault("category", "notice")
    data: dict[str, Any] = {**fields, "file": (io.BytesIO(content), filename)}
    return api.post("/documents", data=data, content_type="multipart/form-data")


def paper(api: Api, **body: Any) -> TestResponse:
    body.setdefault("title", "租赁合同（纸质原件）")
    body.setdefault("category", "contract")
    return api.post("/documents", json=body)


def assert_error(resp: TestResponse, status: int, code: str, field: str | None = None) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["message"].startswith(f"{field}:"), body


@pytest.fixture
def docs(api: Callable[[str], Api]) -> dict[str, int]:
    """Boss (SZ/CS supervisor) registers an internal notice (a file), a confidential
    contract (a file) and a paper original."""
    boss = api("boss")
    notice = upload(boss, title="停水通知")
    contract = upload(boss, b"Lease between the company and tenant A-101.\n", "lease.txt",
                      title="租赁合同 A-101", category="contract")
    original = paper(boss)
    for resp in (notice, contract, original):
        assert resp.status_code == 201, resp.get_data(as_text=True)
    return {"notice": notice.get_json()["id"], "contract": contract.get_json()["id"],
            "paper": original.get_json()["id"]}


# ---------------------------------------------------------------------------
# Authentication


def api_routes(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_json":
            path = re.sub(r"<id\(.*?\):(\w+)>", "1", rule.rule).replace("<username>", "clerk")
            path = path.removeprefix(API)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((method, path))
    return out


def test_every_route_needs_a_token(app: Flask) -> None:
    client = app.test_client()
    routes = api_routes(app)
    # Every area's routes are walked (a walk that found none would pass the loop).
    assert {("GET", "/documents"), ("POST", "/documents/1/requests"), ("POST", "/recordings"),
            ("GET", "/leaks"), ("GET", "/tenants")} <= set(routes)
    for method, path in routes:
        resp = client.open(API + path, method=method)
        assert_error(resp, 401, "unauthenticated")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert not events(app, Action.DOCUMENT_SEARCH)


def test_the_description_is_public(app: Flask) -> None:
    resp = app.test_client().get(f"{API}/openapi.json")
    assert resp.status_code == 200
    assert resp.get_json()["openapi"].startswith("3.")


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Basic Y2xlcms6eA==", "bearer vt_00000000_" + "A" * 43,
    "Bearer not-a-token", "Bearer " + "x" * 5000, "Token vt_x",
])
def test_bad_authorization_headers(app: Flask, header: str) -> None:
    resp = app.test_client().get(f"{API}/me", headers={"Authorization": header})
    assert_error(resp, 401, "unauthenticated")


def test_token_in_the_url_is_never_accepted(app: Flask) -> None:
    token = new_token(app, "clerk")
    client = app.test_client()
    for name in ("access_token", "token"):
        resp = client.get(f"{API}/me?{name}={token}")
        assert_error(resp, 401, "unauthenticated")
        assert "never accepted in the URL" in resp.get_json()["message"]
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_session_cookie_is_no_api_credential(login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    assert_error(client.get(f"{API}/me"), 401, "unauthenticated")


def test_revoked_expired_and_deactivated(app: Flask, api: Callable[[str], Api]) -> None:
    clerk = api("clerk")
    assert clerk.get("/me").status_code == 200
    infra = infra_of(app)
    with unit_of_work(infra, "clerk") as ctx:
        tokens.revoke(ctx, tokens.list_tokens(ctx)[0].id)
    assert_error(clerk.get("/me"), 401, "unauthenticated")

    soon = Api(app.test_client(),
               new_token(app, "clerk", datetime.now(UTC) + timedelta(hours=1)))
    assert soon.get("/me").status_code == 200
    with infra.sessions() as s:
        s.execute(update(ApiToken).where(ApiToken.revoked_at.is_(None))
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()
    assert_error(soon.get("/me"), 401, "unauthenticated")

    leaver = api("accountant")
    assert leaver.get("/documents").status_code == 200
    with unit_of_work(infra, "root") as ctx:
        accounts.deactivate_user(ctx, "accountant")
    for method, path in api_routes(app):
        assert_error(leaver.open(method, path), 401, "unauthenticated")


def test_me_and_last_use(app: Flask, api: Callable[[str], Api]) -> None:
    boss = api("boss")
    body = boss.get("/me").get_json()
    assert body["username"] == "boss"
    assert body["company"] == "SZ" and body["department"] == "CS"
    assert body["roles"] == ["staff", "supervisor"]
    assert body["token"]["name"] == "test" and len(body["token"]["prefix"]) == 8
    assert boss.token is not None and boss.token not in boss.get("/me").get_data(as_text=True)
    with infra_of(app).sessions() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.last_used_at is not None


# ---------------------------------------------------------------------------
# Registering and listing


def test_register_a_file(app: Flask, api: Callable[[str], Api]) -> None:
    resp = upload(api("boss"), title="停水通知")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert resp.headers["Location"].endswith(f"{API}/documents/{body['id']}")
    assert body["title"] == "停水通知"
    assert body["effective_level"] == "internal" and body["declassify_at"] is None
    assert [(v["number"], v["name"], v["media_type"], v["size"]) for v in body["versions"]] == [
        (1, "notice.txt", "text/plain", len(TEXT))]
    [event] = events(app, Action.DOCUMENT_REGISTER)
    assert (event.actor, event.outcome, event.object_id) == ("boss", "allowed", str(body["id"]))
    assert event.request_id and event.source == "127.0.0.1"


def test_register_classified_with_metadata(api: Callable[[str], Api]) -> None:
    resp = upload(api("boss"), b"minutes\n", "minutes.txt", title="会议纪要",
                  category="meeting_minutes", period="5y", issued_on="2026-01-15",
                  supervisor="boss", department="CS")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["effective_level"] == "secret"
    assert body["marking"] == "机密★5年"
    assert body["declassify_at"].startswith("2031-01-15T00:00:00+08:00")
    assert body["supervisor"] == "boss" and body["department"] == "CS"


def test_register_a_paper_original(api: Callable[[str], Api]) -> None:
    resp = api("boss").post("/documents?lang=en", json={
        "title": "Lease A-101 (paper)", "category": "contract", "period": "2030-06-30"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["paper_original"] is True and body["versions"] == []
    assert body["effective_level"] == "confidential"
    assert body["marking"].startswith("CONFIDENTIAL★")


@pytest.mark.parametrize(("fields", "status", "code", "field"), [
    ({"category": "nonsense"}, 400, "invalid_input", "category"),
    ({"category": ""}, 400, "invalid_input", "category"),
    ({"level": "cosmic"}, 400, "invalid_input", "level"),
    ({"issued_on": "2026-02-30"}, 400, "invalid_input", "issued_on"),
    ({"issued_on": "0001-01-01"}, 400, "invalid_input", "issued_on"),
    ({"period": "forever"}, 400, "invalid_input", "period"),
    ({"period": "99999999y"}, 400, "invalid_input", "period"),
    ({"period": "9" * 5000 + "y"}, 400, "invalid_input", "period"),
    ({"period": "9999-12-31"}, 400, "invalid_input", "period"),
    ({"period": "99999999999d", "category": "contract"}, 400, "invalid_input", "period"),
    ({"supervisor": "nobody"}, 400, "invalid_input", "supervisor"),
    ({"title": "bad\x00title"}, 400, "invalid_input", "title"),
    ({"department": "NOPE"}, 404, "unknown_department", None),
    ({"period": "10y", "category": "notice"}, 400, "period_on_internal", None),
])
def test_register_refusals(app: Flask, api: Callable[[str], Api], fields: dict[str, str],
                           status: int, code: str, field: str | None) -> None:
    boss = api("boss")
    assert_error(upload(boss, **fields), status, code, field)
    json_body = {"title": "纸质", **fields}
    json_body.setdefault("category", "contract")
    if fields.get("category") == "":
        json_body["category"] = ""
    assert_error(boss.post("/documents", json=json_body), status, code, field)
    assert not [e for e in events(app, Action.DOCUMENT_REGISTER) if e.outcome == "allowed"]


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"data": b"title=x", "content_type": "application/x-www-form-urlencoded"}, 415,
     "unsupported_media_type"),
    ({"data": b"hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ({"data": b"{not json", "content_type": "application/json"}, 400, "invalid_input"),
    ({"json": ["a", "list"]}, 400, "invalid_input"),
    ({"data": "[" * 100_000, "content_type": "application/json"}, 400, "invalid_input"),
    ({"json": {"title": 5, "category": "contract"}}, 400, "invalid_input"),
    ({"json": {"title": "x", "category": ["contract"]}}, 400, "invalid_input"),
    ({"json": {"category": "contract"}}, 400, "invalid_input"),
    ({"data": {"category": "notice"}, "content_type": "multipart/form-data"}, 400,
     "invalid_input"),
    ({"data": b"--x\r\nbroken", "content_type": "multipart/form-data; boundary=x"}, 400,
     "invalid_input"),
])
def test_malformed_registrations(api: Callable[[str], Api], kwargs: dict[str, Any],
                                 status: int, code: str) -> None:
    assert_error(api("boss").post("/documents", **kwargs), status, code)


def test_bad_uploads_are_refused_with_their_code(api: Callable[[str], Api]) -> None:
    boss = api("boss")
    assert_error(upload(boss, b""), 400, "empty_file")
    assert_error(upload(boss, b"%PDF-1.4 nope", "../../etc/passwd.txt"), 400, "bad_filename")
    assert_error(upload(boss, b"MZ\x90\x00" + bytes(200), "tool.exe"), 400, "type_not_allowed")


def test_search_scope_filters_and_pages(api: Callable[[str], Api],
                                        docs: dict[str, int]) -> None:
    boss, outsider, auditor = api("boss"), api("outsider"), api("auditor")
    found = boss.get("/documents").get_json()
    assert found["total"] == 3 and found["page"] == 1 and found["per_page"] == 50
    assert {d["id"] for d in found["items"]} == set(docs.values())
    contract = next(d for d in found["items"] if d["id"] == docs["contract"])
    assert contract["level"] == "confidential" and contract["marking"] == "秘密★10年"
    # Another company's staff: only the internal notice exists for them, counts included.
    other = outsider.get("/documents").get_json()
    assert [d["id"] for d in other["items"]] == [docs["notice"]] and other["total"] == 1
    assert outsider.get("/documents?category=contract").get_json()["total"] == 0
    # Compliance sees metadata group-wide.
    assert auditor.get("/documents").get_json()["total"] == 3

    def ids(query: str) -> list[int]:
        resp = boss.get(f"/documents?{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return sorted(d["id"] for d in resp.get_json()["items"])

    assert ids("category=contract") == sorted([docs["contract"], docs["paper"]])
    assert ids("level=internal") == [docs["notice"]]
    assert ids("text=停水") == [docs["notice"]]
    assert ids("company=SZ&department=CS") == sorted(docs.values())
    assert ids("company=GZ") == []
    assert ids("issued_from=2000-01-01&issued_to=2999-12-31") == sorted(docs.values())
    assert ids("issued_to=2000-01-01") == []
    page = boss.get("/documents?per_page=2&page=2").get_json()
    assert (len(page["items"]), page["total"], page["page"]) == (1, 3, 2)
    assert boss.get("/documents?page=9").get_json()["items"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("page=0", "page"), ("page=abc", "page"), ("page=-1", "page"), ("page=1e3", "page"),
    ("page=99999999999999999999999", "page"), ("per_page=501", "per_page"),
    ("per_page=0", "per_page"), ("category=nope", "category"), ("level=TOP", "level"),
    ("issued_from=2024-13-01", "issued_from"), ("issued_to=yesterday", "issued_to"),
    ("issued_from=0999-01-01", "issued_from"), ("text=a%00b", "text"),
    ("text=" + "x" * 201, "text"), ("lang=fr", "lang"), ("tenant=%01", "tenant"),
])
def test_search_bad_input(api: Callable[[str], Api], query: str, field: str) -> None:
    assert_error(api("clerk").get(f"/documents?{query}"), 400, "invalid_input", field)


# ---------------------------------------------------------------------------
# One document


def test_metadata_in_scope_and_out(app: Flask, api: Callable[[str], Api],
                                   docs: dict[str, int]) -> None:
    resp = api("clerk").get(f"/documents/{docs['contract']}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["effective_level"] == "confidential" and body["marking"] == "秘密★10年"
    assert body["declassify_at"] and body["period"] == "10y"
    assert [v["number"] for v in body["versions"]] == [1]
    assert {m["user"] for m in body["may_view"]} >= {"boss", "clerk", "manager", "ceo"}
    assert api("clerk").get(f"/documents/{docs['contract']}?lang=en").get_json()[
        "marking"] == "CONFIDENTIAL★10 years"

    outsider = api("outsider")
    for path in ("", "/versions", "/grants", "/content"):
        assert_error(outsider.get(f"/documents/{docs['contract']}{path}"), 404,
                     "unknown_document")
    denied = [e for e in events(app) if e.outcome == Outcome.DENIED and e.actor == "outsider"]
    assert len(denied) == 4 and all(e.object_id == str(docs["contract"]) for e in denied)
    # Absent looks exactly like out of scope.
    assert_error(outsider.get("/documents/999999"), 404, "unknown_document")
    assert_error(outsider.get(f"/documents/{10**30}"), 404, "unknown_document")
    assert_error(outsider.get("/documents/abc"), 404, "http_404")
    viewed = events(app, Action.DOCUMENT_VIEW_METADATA)
    assert [(e.actor, e.outcome) for e in viewed if e.outcome == "allowed"] == [
        ("clerk", "allowed"), ("clerk", "allowed")]


def test_versions_list_and_add(app: Flask, api: Callable[[str], Api],
                               docs: dict[str, int]) -> None:
    boss = api("boss")
    resp = boss.post(f"/documents/{docs['notice']}/versions",
                     data={"file": (io.BytesIO(b"Revised notice.\n"), "notice-v2.txt")},
                     content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["number"] == 2
    assert resp.headers["Location"].endswith(f"/documents/{docs['notice']}/content?version=2")
    listed = api("outsider").get(f"/documents/{docs['notice']}/versions").get_json()
    assert [(v["number"], v["name"]) for v in listed["items"]] == [
        (1, "notice.txt"), (2, "notice-v2.txt")]
    [added] = [e for e in events(app, Action.DOCUMENT_VERSION_ADD) if e.outcome == "allowed"]
    assert added.actor == "boss"

    def add(who: str, doc: int, **kw: Any) -> TestResponse:
        kw.setdefault("data", {"file": (io.BytesIO(b"x\n"), "x.txt")})
        kw.setdefault("content_type", "multipart/form-data")
        return api(who).post(f"/documents/{doc}/versions", **kw)

    assert_error(add("clerk", docs["notice"]), 403, "not_responsible")
    assert_error(add("outsider", docs["contract"]), 404, "unknown_document")
    assert_error(add("boss", docs["notice"], data={}), 400, "invalid_input", "file")
    assert_error(add("boss", docs["notice"], data=None, json={"file": "x"},
                     content_type=None), 415, "unsupported_media_type")
    assert_error(add("boss", docs["notice"], data={"file": (io.BytesIO(b""), "e.txt")}),
                 400, "empty_file")


def test_content_of_internal_files_is_streamed_after_the_event(
        app: Flask, api: Callable[[str], Api], docs: dict[str, int]) -> None:
    outsider = api("outsider")  # any employee may download an internal file
    resp = outsider.get(f"/documents/{docs['notice']}/content")
    assert resp.status_code == 200
    assert resp.data == TEXT
    assert resp.mimetype == "text/plain"
    assert resp.headers["Content-Length"] == str(len(TEXT))
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "notice.txt" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    [event] = events(app, Action.DOCUMENT_DOWNLOAD)
    assert (event.actor, event.outcome, event.reason) == ("outsider", "allowed", "released")
    assert outsider.get(f"/documents/{docs['notice']}/content?version=1").data == TEXT
    assert_error(outsider.get(f"/documents/{docs['notice']}/content?version=7"), 404,
                 "unknown_version")
    for bad in ("abc", "0", "-1", "1.5", "99999999999999"):
        assert_error(outsider.get(f"/documents/{docs['notice']}/content?version={bad}"), 400,
                     "invalid_input", "version")


def test_classified_content_needs_an_approved_copy(app: Flask, api: Callable[[str], Api],
                                                   docs: dict[str, int]) -> None:
    for who in ("boss", "ceo"):
        assert_error(api(who).get(f"/documents/{docs['contract']}/content"), 403,
                     "copy_approval_required")
    denied = [e for e in events(app, Action.DOCUMENT_DOWNLOAD) if e.outcome == "denied"]
    assert [(e.actor, e.reason) for e in denied] == [
        ("boss", "copy_approval_required"), ("ceo", "copy_approval_required")]
    assert_error(api("boss").get(f"/documents/{docs['paper']}/content"), 403,
                 "copy_approval_required")


def test_a_paper_original_has_no_content(api: Callable[[str], Api]) -> None:
    boss = api("boss")
    doc = paper(boss, title="通知原件", category="notice").get_json()["id"]
    assert_error(boss.get(f"/documents/{doc}/content"), 404, "no_content")


def test_no_content_leaves_when_the_audit_cannot_be_written(
        app: Flask, api: Callable[[str], Api], docs: dict[str, int]) -> None:
    outsider = api("outsider")
    settings = infra_of(app).settings
    shutil.rmtree(settings.audit_dir)
    settings.audit_dir.write_text("not a folder")
    resp = outsider.get(f"/documents/{docs['notice']}/content")
    assert resp.status_code == 503
    assert resp.get_json()["code"].startswith("audit_")
    assert TEXT not in resp.data


# ---------------------------------------------------------------------------
# Grants


def test_grant_list_and_revoke(app: Flask, api: Callable[[str], Api],
                               docs: dict[str, int]) -> None:
    boss, outsider = api("boss"), api("outsider")
    contract = docs["contract"]
    assert_error(outsider.get(f"/documents/{contract}"), 404, "unknown_document")
    until = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    resp = boss.post(f"/documents/{contract}/grants",
                     json={"user": "outsider", "until": until.isoformat()})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert (body["grantee"], body["grantor"], body["level"]) == ("outsider", "boss",
                                                                  "confidential")
    assert datetime.fromisoformat(body["until"]) == until
    assert outsider.get(f"/documents/{contract}").status_code == 200
    listed = boss.get(f"/documents/{contract}/grants").get_json()
    assert [(g["grantee"], g["revoked"]) for g in listed["items"]] == [("outsider", False)]
    assert any(m["user"] == "outsider" for m in listed["may_view"])
    assert_error(boss.post(f"/documents/{contract}/grants", json={"user": "outsider"}), 409,
                 "grant_exists")

    resp = boss.delete(f"/documents/{contract}/grants/outsider")
    assert resp.status_code == 200 and resp.get_json()["revoked"] == 1
    assert_error(outsider.get(f"/documents/{contract}"), 404, "unknown_document")
    assert_error(boss.delete(f"/documents/{contract}/grants/outsider"), 404, "no_grant")
    created = events(app, Action.GRANT_CREATE)
    revoked = events(app, Action.GRANT_REVOKE)
    assert [(e.actor, e.outcome) for e in created] == [("boss", "allowed")]
    assert [(e.actor, e.outcome) for e in revoked][0] == ("boss", "allowed")


def test_grant_refusals(app: Flask, api: Callable[[str], Api], docs: dict[str, int]) -> None:
    contract = docs["contract"]
    clerk, boss = api("clerk"), api("boss")
    assert_error(clerk.post(f"/documents/{contract}/grants", json={"user": "outsider"}), 403,
                 "not_authorised_to_grant")
    assert_error(clerk.delete(f"/documents/{contract}/grants/boss"), 403,
                 "not_authorised_to_grant")
    assert_error(api("outsider").post(f"/documents/{contract}/grants",
                                      json={"user": "outsider"}), 404, "unknown_document")
    grants_path = f"/documents/{contract}/grants"
    for body, field in [({}, "user"), ({"user": ""}, "user"), ({"user": 5}, "user"),
                        ({"user": "outsider", "until": "soon"}, "until"),
                        ({"user": "outsider", "until": 12}, "until"),
                        ({"user": "outsider", "until": "9999-12-31T23:59:59-14:00"}, "until"),
                        ({"user": "a\x00b"}, "user")]:
        assert_error(boss.post(grants_path, json=body), 400, "invalid_input", field)
    assert_error(boss.post(grants_path, data="user=x"), 400, "invalid_input", "body")
    assert_error(boss.post(grants_path, json={"user": "outsider", "until": "2000-01-01"}), 400,
                 "until_in_past")
    assert_error(boss.post(grants_path, json={"user": "nobody"}), 404, "unknown_user")
    assert_error(boss.delete(f"{grants_path}/a%01b"), 400, "invalid_input", "username")
    denied = [e for e in events(app, Action.GRANT_CREATE) if e.outcome == "denied"]
    assert {e.actor for e in denied} == {"clerk", "outsider"}


# ---------------------------------------------------------------------------
# Audit (compliance only)


def test_audit_events_for_compliance(app: Flask, api: Callable[[str], Api],
                                     docs: dict[str, int]) -> None:
    auditor = api("auditor")
    resp = auditor.get("/audit/events")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    page = resp.get_json()
    assert page["total"] == len(page["items"]) > 0 and page["pages"] == 1
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert all(len(e["mac"]) == 64 for e in page["items"])

    regs = auditor.get("/audit/events?action=document:register&actor=boss").get_json()
    assert regs["total"] == 3 and {e["action"] for e in regs["items"]} == {"document:register"}
    about = auditor.get(f"/audit/events?document={docs['contract']}").get_json()
    assert about["total"] >= 1
    assert {e["document_id"] for e in about["items"]} == {docs["contract"]}
    assert auditor.get("/audit/events?outcome=denied").get_json()["total"] == 0
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert auditor.get("/audit/events", query_string={"since": since}).get_json()["total"] > 0
    assert auditor.get("/audit/events?until=2000-01-01").get_json()["total"] == 0
    small = auditor.get("/audit/events?per_page=2&page=2&action=document:register").get_json()
    assert [e["seq"] for e in small["items"]] == [regs["items"][2]["seq"]]
    assert (small["page"], small["pages"], small["per_page"]) == (2, 2, 2)
    assert_error(auditor.get("/audit/events?since=2026-02-01&until=2026-01-01"), 400,
                 "bad_range")
    # Reading the trail is itself on the trail.
    reads = events(app, Action.AUDIT_VIEW)
    assert reads and {e.actor for e in reads} == {"auditor"}


@pytest.mark.parametrize(("query", "field"), [
    ("action=document:nope", "action"), ("outcome=maybe", "outcome"), ("since=today", "since"),
    ("until=2026-99-01", "until"), ("document=x", "document"), ("document=0", "document"),
    ("page=0", "page"), ("per_page=501", "per_page"), ("actor=%00", "actor"),
    ("since=0001-01-01T00:00:00%2B01:00", "since"),
])
def test_audit_events_bad_input(api: Callable[[str], Api], query: str, field: str) -> None:
    assert_error(api("auditor").get(f"/audit/events?{query}"), 400, "invalid_input", field)


def test_audit_is_for_compliance_only(app: Flask, api: Callable[[str], Api],
                                      docs: dict[str, int]) -> None:
    for who in ("boss", "ceo", "root"):
        assert_error(api(who).get("/audit/events"), 403, "not_compliance")
        assert_error(api(who).get(f"/audit/documents/{docs['notice']}/knowers"), 403,
                     "not_compliance")
    denied = [e for e in events(app, Action.AUDIT_VIEW) if e.outcome == "denied"]
    assert len(denied) == 6


def test_knowers(api: Callable[[str], Api], docs: dict[str, int]) -> None:
    assert api("outsider").get(f"/documents/{docs['notice']}/content").status_code == 200
    body = api("auditor").get(f"/audit/documents/{docs['notice']}/knowers").get_json()
    assert [(k["actor"], k["action"]) for k in body["items"]] == [
        ("outsider", "document:download")]
    empty = api("auditor").get(f"/audit/documents/{docs['contract']}/knowers").get_json()
    assert empty["items"] == []


def test_no_token_reaches_the_trail(app: Flask, api: Callable[[str], Api],
                                    docs: dict[str, int]) -> None:
    boss = api("boss")
    boss.get("/documents")
    boss.get(f"/me?access_token={boss.token}")  # even a misplaced one
    assert boss.token is not None
    secret = boss.token.split("_", 2)[2]
    for event in events(app):
        assert secret not in " ".join(str(v) for v in event.as_event().values())


# ---------------------------------------------------------------------------
# The token pages


def test_token_pages_create_show_once_and_revoke(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    page = client.get("/tokens/").get_data(as_text=True)
    assert "API 令牌" in page and "尚无令牌" in page
    assert 'href="/tokens/"' in client.get("/").get_data(as_text=True)  # in the nav
    token = csrf_token(client, "/tokens/")
    resp = client.post("/tokens/", data={"name": "热线系统", "expires": "2099-12-31",
                                         "csrf_token": token})
    assert resp.status_code == 200
    shown = resp.get_data(as_text=True)
    match = re.search(r"vt_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", shown)
    assert match and "只显示这一次" in shown
    assert resp.headers["Cache-Control"] == "no-store"
    plain = match.group(0)
    api = Api(app.test_client(), plain)
    assert api.get("/me").get_json()["username"] == "clerk"
    listing = client.get("/tokens/").get_data(as_text=True)
    assert "热线系统" in listing and plain not in listing and "有效" in listing
    assert plain.split("_")[1] in listing  # the prefix names it
    assert "vault_session" not in resp.headers.get("Set-Cookie", "") or plain not in (
        resp.headers.get("Set-Cookie", ""))

    with infra_of(app).sessions() as s:
        token_id = s.scalars(select(ApiToken.id)).one()
    resp = client.post(f"/tokens/{token_id}/revoke",
                       data={"csrf_token": csrf_token(client, "/tokens/")})
    assert resp.status_code == 302
    assert "已吊销" in client.get("/tokens/").get_data(as_text=True)
    assert_error(api.get("/me"), 401, "unauthenticated")
    assert [e.actor for e in events(app, Action.TOKEN_CREATE)] == ["clerk"]
    assert [e.actor for e in events(app, Action.TOKEN_REVOKE)] == ["clerk"]


def test_token_pages_refuse_bad_forms(app: Flask,
                                      login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    assert client.post("/tokens/", data={"name": "x"}).status_code == 400  # no CSRF
    token = csrf_token(client, "/tokens/")
    for data in ({"name": ""}, {"name": "x", "expires": "2001-01-01"},
                 {"name": "x", "expires": "someday"}, {"name": "x" * 101}):
        resp = client.post("/tokens/", data={**data, "csrf_token": token})
        assert resp.status_code == 400
        assert "vt_" not in resp.get_data(as_text=True)
    assert not events(app, Action.TOKEN_CREATE)
    assert client.post("/tokens/1/revoke", data={}).status_code == 400
    assert client.post("/tokens/1/revoke", data={"csrf_token": token}).status_code == 404


def test_token_pages_others_tokens(app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    new_token(app, "boss")
    with infra_of(app).sessions() as s:
        boss_token = s.scalars(select(ApiToken.id)).one()
    clerk = login_as("clerk")
    assert clerk.get("/tokens/?user=boss").status_code == 403
    token = csrf_token(clerk, "/tokens/")
    assert clerk.post(f"/tokens/{boss_token}/revoke", data={"csrf_token": token}).status_code \
        == 404
    root = login_as("root")
    assert "test" in root.get("/tokens/?user=boss").get_data(as_text=True)
    resp = root.post(f"/tokens/{boss_token}/revoke",
                     data={"csrf_token": csrf_token(root, "/tokens/")})
    assert resp.status_code == 302 and "user=boss" in resp.headers["Location"]
    assert [e.actor for e in events(app, Action.TOKEN_REVOKE) if e.outcome == "allowed"] == [
        "root"]


def test_token_pages_need_sign_in(app: Flask) -> None:
    assert app.test_client().get("/tokens/").status_code == 302
