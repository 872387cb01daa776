"""The recordings API (/api/v1/recordings): the hotline system's upload by token, the
recordings of a request record within scope, archiving with reason and event; bad
input answers 400 with a stable code and writes nothing. SQLite and PostgreSQL.
Responses are checked against the OpenAPI description."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.models import Document, Recording, RecordingArchive
from vault.services import recordings, samples, tokens
from vault.services.context import Infra, unit_of_work
from vault.web import openapi

API = "/api/v1"
WAV = samples.wav_tone(0.25)
TZ = timezone(timedelta(hours=8))
SCHEMA = schemathesis.openapi.from_dict(openapi.document())


class Api:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def open(self, method: str, path: str, **kw: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.client.open(API + path, method=method, headers=headers, **kw)

    def upload(self, fields: dict[str, str], content: bytes = WAV, filename: str = "call.wav",
               *, file_first: bool = False, after: dict[str, str] | None = None
               ) -> TestResponse:
        """A multipart body in the order the hotline system chooses: the fields, then
        the file (or the file first), then any fields ``after`` it."""
        boundary = "----hotline-" + uuid.uuid4().hex

        def field(name: str, value: str) -> bytes:
            return (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                    f"\r\n\r\n{value}\r\n").encode()

        file_part = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream'
                     "\r\n\r\n").encode() + content + b"\r\n"
        head = [field(k, v) for k, v in fields.items()]
        tail = [field(k, v) for k, v in (after or {}).items()]
        parts = [file_part, *head, *tail] if file_first else [*head, file_part, *tail]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.open("POST", "/recordings", data=body,
                         content_type=f"multipart/form-data; boundary={boundary}")


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


@pytest.fixture
def api(app: Flask) -> Callable[[str], Api]:
    def make(username: str) -> Api:
        with unit_of_work(infra_of(app), username) as ctx:
            token = tokens.create(ctx, "hotline")[1]
        return Api(app.test_client(), token)

    return make


def conforms(resp: TestResponse, method: str, path: str) -> Any:
    SCHEMA[API + path][method].validate_response(resp)
    return resp.get_json()


def assert_error(resp: TestResponse, status: int, code: str, field: str | None = None) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code, body
    if field is not None:
        assert body["message"].startswith(f"{field}:"), body


def counts(app: Flask) -> tuple[int, int, int]:
    infra = infra_of(app)
    with infra.sessions() as s:
        docs = s.scalar(select(func.count()).select_from(Document)) or 0
        recs = s.scalar(select(func.count()).select_from(Recording)) or 0
    return int(docs), int(recs), len(list(infra.blobs.iter_ids()))


def call_fields(**kw: str) -> dict[str, str]:
    called = (datetime.now(TZ) - timedelta(hours=2)).replace(microsecond=0)
    fields = {"caller_number": "13800138000", "called_at": called.isoformat(),
              "agent": "王坐席", "request_ref": "SQ-2026-0042"}
    fields.update(kw)
    return fields


def test_the_hotline_uploads_by_token(app: Flask, api: Callable[[str], Api]) -> None:
    hotline = api("clerk")
    fields = call_fields(title="A座漏水投诉来电")
    resp = hotline.upload(fields)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = conforms(resp, "post", "/recordings")
    assert resp.headers["Location"].endswith("/api/v1/recordings?request_ref=SQ-2026-0042")
    assert body["title"] == "A座漏水投诉来电" and body["source"] == "api"
    assert (body["level"], body["marking"]) == ("confidential", "秘密★10年")
    assert body["caller_number"] == "13800138000" and body["agent"] == "王坐席"
    assert datetime.fromisoformat(body["called_at"]) == datetime.fromisoformat(
        fields["called_at"])
    assert body["media_type"] == "audio/wav" and body["size"] == len(WAV)
    assert body["archive"] is None and body["purged_at"] is None and body["may_listen"]
    assert datetime.fromisoformat(body["purge_after"]) == datetime.fromisoformat(
        fields["called_at"]) + timedelta(days=180)
    with infra_of(app).sessions() as s:
        rec = s.get(Recording, body["id"])
        assert rec is not None and rec.source == "api"
    # The file before its fields: it waits in the encrypted spool, same result.
    resp = hotline.upload(call_fields(request_ref="SQ-2026-0043"), file_first=True)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert conforms(resp, "post", "/recordings")["request_ref"] == "SQ-2026-0043"
    assert counts(app) == (2, 2, 2)


@pytest.mark.parametrize(("fields", "status", "code", "field"), [
    ({"caller_number": ""}, 400, "invalid_input", "caller_number"),
    ({"caller_number": "12"}, 400, "bad_caller_number", None),
    ({"caller_number": "tel:13800138000"}, 400, "bad_caller_number", None),
    ({"called_at": "2026-05-01T09:30:00"}, 400, "invalid_input", "called_at"),
    ({"called_at": "yesterday"}, 400, "invalid_input", "called_at"),
    ({"called_at": "1999-12-31T23:00:00+08:00"}, 400, "bad_called_at", None),
    ({"called_at": "2999-01-01T00:00:00+08:00"}, 400, "called_at_in_future", None),
    ({"agent": ""}, 400, "invalid_input", "agent"),
    ({"agent": "a\x00b"}, 400, "invalid_input", "agent"),
    ({"agent": "x" * 101}, 400, "bad_agent", None),
    ({"request_ref": "SQ 42"}, 400, "bad_request_ref", None),
    ({"request_ref": "SQ-" + "9" * 70}, 400, "bad_request_ref", None),
    ({"tenant": "NOPE"}, 404, "unknown_tenant", None),
    ({"department": "NOPE"}, 404, "unknown_department", None),
])
def test_bad_fields_answer_a_code_and_write_nothing(
        app: Flask, api: Callable[[str], Api], fields: dict[str, str], status: int, code: str,
        field: str | None) -> None:
    resp = api("clerk").upload(call_fields(**fields))
    assert_error(resp, status, code, field)
    conforms(resp, "post", "/recordings")
    assert counts(app) == (0, 0, 0)


def test_wrong_audio_type_body_and_order(app: Flask, api: Callable[[str], Api]) -> None:
    hotline = api("clerk")
    resp = hotline.upload(call_fields(), samples.pdf_pages("not a call"), "call.pdf")
    assert_error(resp, 400, "type_not_allowed")  # as for documents
    resp = hotline.upload(call_fields(), b"", "call.wav")
    assert_error(resp, 400, "empty_file")
    resp = hotline.open("POST", "/recordings", json=call_fields())
    assert_error(resp, 415, "unsupported_media_type")
    fields = call_fields()
    del fields["agent"]
    resp = hotline.upload(fields)
    assert_error(resp, 400, "invalid_input", "agent")
    assert counts(app) == (0, 0, 0)
    # Metadata after the file when the required fields came first: on PostgreSQL the
    # audio has streamed into the service, so it is refused and rolled back; on SQLite
    # the upload is read into the spool first, so the late title is still honoured.
    resp = hotline.upload(call_fields(), after={"title": "后来的标题"})
    if app.extensions["vault.infra"].settings.database_url.startswith("sqlite"):
        assert resp.status_code == 201 and resp.get_json()["title"] == "后来的标题"
    else:
        assert_error(resp, 400, "invalid_input", "title")
        assert counts(app) == (0, 0, 0)
    anonymous = app.test_client().post(f"{API}/recordings", data={})
    assert anonymous.status_code == 401


def _register(app: Flask, who: str, ref: str, days_ago: float = 1) -> int:
    with unit_of_work(infra_of(app), who) as ctx:
        return recordings.register(
            ctx, content=io.BytesIO(WAV), filename="c.wav", caller_number="13800138000",
            called_at=datetime.now(UTC) - timedelta(days=days_ago), agent="坐席",
            request_ref=ref).id


def test_list_by_request_record_within_scope(app: Flask, api: Callable[[str], Api]) -> None:
    first = _register(app, "clerk", "SQ-1", days_ago=2)
    second = _register(app, "boss", "SQ-1", days_ago=1)
    other = _register(app, "clerk", "SQ-2")
    gz = _register(app, "outsider", "SQ-1")
    resp = api("manager").open("GET", "/recordings?request_ref=SQ-1")
    body = conforms(resp, "get", "/recordings")
    assert [i["id"] for i in body["items"]] == [second, first] and not body["truncated"]
    body = conforms(api("manager").open("GET", "/recordings?limit=2"), "get", "/recordings")
    assert [i["id"] for i in body["items"]] == [other, second] and body["truncated"]
    body = api("outsider").open("GET", "/recordings?request_ref=SQ-1").get_json()
    assert [i["id"] for i in body["items"]] == [gz]
    assert_error(api("manager").open("GET", "/recordings?request_ref=SQ%201"), 400,
                 "bad_request_ref")
    assert_error(api("manager").open("GET", "/recordings?limit=0"), 400, "invalid_input",
                 "limit")


def test_archive_by_api(app: Flask, api: Callable[[str], Api]) -> None:
    doc_id = _register(app, "clerk", "SQ-5")
    boss = api("boss")
    path = f"/recordings/{doc_id}/archive"
    assert_error(boss.open("POST", path, json={"event": "A座漏水"}), 400, "invalid_input",
                 "reason")
    assert_error(boss.open("POST", path, json={"reason": " ", "event": "A座漏水"}), 400,
                 "invalid_input", "reason")
    assert_error(boss.open("POST", path, json={"reason": "投诉未结"}), 400, "invalid_input",
                 "event")
    assert_error(boss.open("POST", path, json={"reason": 1, "event": "A座漏水"}), 400,
                 "invalid_input", "reason")
    assert_error(boss.open("POST", path, data="reason=x"), 400, "invalid_input", "body")
    assert_error(api("outsider").open("POST", path, json={"reason": "r", "event": "e"}), 404,
                 "unknown_document")
    denied = api("auditor").open("POST", path, json={"reason": "r", "event": "e"})
    assert denied.status_code == 403  # compliance knows of it but may not listen
    conforms(denied, "post", "/recordings/{id}/archive")
    resp = boss.open("POST", path,
                     json={"reason": "业主投诉未结，保留证据", "event": "A座漏水事件"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = conforms(resp, "post", "/recordings/{id}/archive")
    assert body["document"] == doc_id and body["archived_by"]["username"] == "boss"
    assert (body["reason"], body["event"]) == ("业主投诉未结，保留证据", "A座漏水事件")
    again = boss.open("POST", path, json={"reason": "r", "event": "e"})
    assert_error(again, 409, "already_archived")
    conforms(again, "post", "/recordings/{id}/archive")
    listed = boss.open("GET", "/recordings?request_ref=SQ-5").get_json()["items"]
    assert listed[0]["archive"]["event"] == "A座漏水事件" and listed[0]["purge_after"] is None
    with infra_of(app).sessions() as s:
        assert s.scalar(select(func.count()).select_from(RecordingArchive)) == 1
        (event,) = s.scalars(select(AuditEvent).where(
            AuditEvent.action == Action.RECORDING_ARCHIVE.value,
            AuditEvent.outcome == "allowed"))
        assert event.actor == "boss" and event.object_id == str(doc_id)
    # Not a recording: 404 with its own code.
    from vault.policy import Category
    from vault.services import documents

    with unit_of_work(infra_of(app), "boss") as ctx:
        plain = documents.register(ctx, title="合同", category=Category.CONTRACT,
                                   content=io.BytesIO(b"x\n"), filename="c.txt").id
    assert_error(boss.open("POST", f"/recordings/{plain}/archive",
                           json={"reason": "r", "event": "e"}), 404, "not_a_recording")
