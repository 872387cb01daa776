"""Uploads through the JSON API read straight off the request stream
(vault/web/streaming.py): the file part goes into the service's encryption as it
arrives, with no spool, when the metadata fields come first; the encrypted spool
still takes a file sent before its category. Malformed bodies answer 400, bodies
over the limit 413, and neither leaves a document, a blob or a temporary file.
The reader is also checked against werkzeug's own form parser, read size by read
size, on generated bodies."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pdfs import body_offset, pdf_around  # noqa: I001 - tests/pdfs.py
from sqlalchemy import func, select
from werkzeug.formparser import MultiPartParser
from werkzeug.sansio.multipart import File
from werkzeug.test import TestResponse

from vault import create_app
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.crypto import spool
from vault.models import Document, DocumentVersion
from vault.services import tokens
from vault.services.context import Infra, unit_of_work
from vault.web import streaming

API = "/api/v1"
B = b"vaultTestBoundary7Hq2"
MIB = 1024 * 1024
# Looks like a delimiter, is not one (no line break before it, or a wrong ending).
NEAR_MISSES = [b"\r\n--" + B[:-1], b"--" + B + b"Z", b"\r\n--" + B + b"X\r\n", b"\r\n-",
               b"\r", b"\n--" + B[:5], b"\r\n\r\n--", b"\n", b"\r\n--" + B + b"-x"]


# ---------------------------------------------------------------------------
# Helpers


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


def token_for(app: Flask, username: str = "boss") -> dict[str, str]:
    with unit_of_work(infra_of(app), username) as ctx:
        return {"Authorization": f"Bearer {tokens.create(ctx, 'test')[1]}"}


def part(name: str, data: bytes, filename: str | None = None,
         content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
        content_type = content_type or "application/octet-stream"
    head = f"--{B.decode()}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def multipart(*parts: bytes, close: bool = True) -> bytes:
    return b"".join(parts) + (b"--" + B + b"--\r\n" if close else b"")


def pdf_payload(size: int, seed: int = 7) -> bytes:
    """Random bytes after a PDF header (typed by content), with near-delimiters
    placed around 1 MiB read seams and all over."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(size))
    # The bytes are carried in a PDF that parses (uploads are checked whole); the
    # seams are those of the whole upload, shifted by where the bytes start in it.
    off = body_offset(size)
    spots = [k * MIB + d - off for k in range(1, size // MIB + 1) for d in (-40, -25, -3, 0, 5)]
    spots += [rnd.randrange(64 * 1024, size - 64) for _ in range(200)]
    for spot in spots:
        seq = rnd.choice(NEAR_MISSES)
        if 64 * 1024 <= spot and spot + len(seq) < size:
            data[spot : spot + len(seq)] = seq
    return pdf_around(bytes(data))


def post(client: FlaskClient, headers: dict[str, str], body: bytes, path: str = "/documents",
         **kw: Any) -> TestResponse:
    return client.post(API + path, data=body, headers=headers,
                       content_type=f"multipart/form-data; boundary={B.decode()}", **kw)


def stored(app: Flask) -> tuple[int, int, list[str], list[str]]:
    """Documents, versions, blobs, and what lies in storage/tmp."""
    infra = infra_of(app)
    with infra.sessions() as s:
        docs = s.scalar(select(func.count()).select_from(Document)) or 0
        versions = s.scalar(select(func.count()).select_from(DocumentVersion)) or 0
    tmp = infra.settings.storage_dir / "tmp"
    return docs, versions, sorted(infra.blobs.iter_ids()), sorted(p.name for p in tmp.iterdir())


def content_of(client: FlaskClient, headers: dict[str, str], doc_id: int,
               version: int | None = None) -> bytes:
    query = f"?version={version}" if version else ""
    resp = client.get(f"{API}/documents/{doc_id}/content{query}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_data()


def assert_nothing_in_clear(home: Path, secret: bytes) -> None:
    for path in home.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), f"plaintext found in {path}"


@pytest.fixture
def no_spool(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Any use of the encrypted spool (the API's fallback, or werkzeug's form parser
    through VaultRequest) fails the request — on PostgreSQL. On SQLite every upload
    is read into the spool before the transaction (test_sqlite_reads_the_upload_first)."""
    if database_url.startswith("sqlite"):
        return

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the upload went through the spool")

    monkeypatch.setattr(spool.SpooledEncryptedFile, "__init__", refuse)


@pytest.fixture
def spool_count(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    made: list[int] = []
    original = spool.SpooledEncryptedFile.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(spool.SpooledEncryptedFile, "__init__", counting)
    return made


# ---------------------------------------------------------------------------
# The fast path


@pytest.mark.parametrize("read_size", [None, 4096])
def test_fields_first_stream_into_the_service(app: Flask, no_spool: None,
                                              monkeypatch: pytest.MonkeyPatch,
                                              read_size: int | None) -> None:
    if read_size:
        monkeypatch.setattr(streaming, "READ_SIZE", read_size)
    payload = pdf_payload(5 * MIB + 12_345)
    client, auth = app.test_client(), token_for(app)
    body = multipart(part("category", b"notice"), part("title", "停水通知".encode()),
                     part("level", b""), part("file", payload, "scan.pdf", "application/pdf"))
    resp = post(client, auth, body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    info = resp.get_json()
    assert info["title"] == "停水通知"
    assert [(v["name"], v["size"], v["media_type"]) for v in info["versions"]] == [
        ("scan.pdf", len(payload), "application/pdf")]
    assert content_of(client, auth, info["id"]) == payload
    assert stored(app)[3] == []
    assert_nothing_in_clear(infra_of(app).settings.home, payload[300_000:300_064])


def test_a_version_streams_too(app: Flask, no_spool: None) -> None:
    client, auth = app.test_client(), token_for(app)
    first = post(client, auth, multipart(part("category", b"notice"),
                                         part("file", b"v1\n", "notice.txt")))
    assert first.status_code == 201, first.get_data(as_text=True)
    doc_id = first.get_json()["id"]
    payload = pdf_payload(3 * MIB + 1, seed=11)
    # Fields around the file are ignored here, wherever they are.
    resp = post(client, auth, multipart(part("note", b"x"), part("other", b"y", "o.bin"),
                                        part("file", payload, "v2.pdf"), part("after", b"z")),
                path=f"/documents/{doc_id}/versions")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["number"] == 2 and resp.get_json()["size"] == len(payload)
    assert content_of(client, auth, doc_id, 2) == payload


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_fields_sent_after_a_streamed_file_are_refused(app: Flask) -> None:
    """Once the file has gone into the service, a title after it cannot be honoured:
    400 naming it, and the registration is rolled back."""
    client, auth = app.test_client(), token_for(app)
    before = stored(app)
    body = multipart(part("category", b"notice"), part("file", b"Water off.\n", "n.txt"),
                     part("title", b"late title"))
    resp = post(client, auth, body)
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "invalid_input"
    assert resp.get_json()["message"].startswith("title: came after the file part")
    assert stored(app) == before
    # Unknown fields, or a repeat of a field already given, change nothing: accepted.
    body = multipart(part("category", b"notice"), part("file", b"Water off.\n", "n.txt"),
                     part("category", b"contract"), part("comment", b"ignored"))
    resp = post(client, auth, body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["category"] == "notice"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_the_upload_first(app: Flask, spool_count: list[int]) -> None:
    """SQLite has one writer lock, taken at the first insert: a slow client must not
    hold it for the whole transfer, so the upload is spooled (encrypted) first."""
    client, auth = app.test_client(), token_for(app)
    payload = "停水通知 water off\n".encode() * (3 * MIB // 24)
    body = multipart(part("category", b"notice"), part("file", payload, "n.txt"))
    resp = post(client, auth, body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert spool_count == [1]
    assert content_of(client, auth, resp.get_json()["id"]) == payload


# ---------------------------------------------------------------------------
# The fallback: the file before the fields it needs


def test_file_before_fields_goes_through_the_spool(app: Flask, spool_count: list[int]) -> None:
    payload = pdf_payload(2 * MIB + 77, seed=3)
    client, auth = app.test_client(), token_for(app)
    body = multipart(part("file", payload, "scan.pdf"), part("title", b"Late fields"),
                     part("category", b"contract"), part("period", b"5y"))
    resp = post(client, auth, body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    info = resp.get_json()
    assert (info["title"], info["category"], info["effective_level"]) == (
        "Late fields", "contract", "confidential")
    assert spool_count, "the fallback did not use the encrypted spool"
    with infra_of(app).sessions() as s:
        version = s.scalars(select(DocumentVersion)).one()
        assert version.size == len(payload)
    assert stored(app)[3] == []
    assert_nothing_in_clear(infra_of(app).settings.home, payload[300_000:300_064])


def test_fallback_keeps_the_refusals(app: Flask) -> None:
    client, auth = app.test_client(), token_for(app)
    before = stored(app)
    body = multipart(part("file", b"text\n", "n.txt"), part("category", b"nonsense"))
    resp = post(client, auth, body)
    assert resp.status_code == 400 and resp.get_json()["message"].startswith("category:")
    body = multipart(part("file", b"text\n", "n.txt"), part("title", b"no category"))
    resp = post(client, auth, body)
    assert resp.status_code == 400 and resp.get_json()["message"].startswith("category:")
    assert stored(app) == before


# ---------------------------------------------------------------------------
# Refusals leave nothing behind


PAYLOAD = pdf_payload(3 * MIB, seed=5)
HEAD = part("category", b"notice") + part("file", PAYLOAD, "scan.pdf")[: 2 * MIB]
MALFORMED = {
    "truncated in the file": HEAD,
    "no closing boundary": multipart(part("category", b"notice"),
                                     part("file", PAYLOAD, "scan.pdf"), close=False),
    "closing boundary cut short": multipart(part("category", b"notice"),
                                            part("file", PAYLOAD, "scan.pdf"),
                                            close=False) + b"--" + B,
    "a part after the file never ends": multipart(part("category", b"notice"),
                                                  part("file", PAYLOAD, "scan.pdf"),
                                                  close=False)
    + b"--" + B + b'\r\nContent-Disposition: form-data; name="x"\r\n\r\nabc',
    "garbage": random.Random(1).randbytes(200_000),
    "no Content-Disposition": b"--" + B + b"\r\nX-Nothing: 1\r\n\r\ndata\r\n--" + B + b"--\r\n",
    "headers not UTF-8": b"--" + B + b'\r\nContent-Disposition: form-data; name="\xff\xfe"\r\n'
    b"\r\ndata\r\n--" + B + b"--\r\n",
    "empty": b"",
    "file first, truncated": part("file", PAYLOAD, "scan.pdf")[: 2 * MIB],
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_answer_400_and_store_nothing(app: Flask, body: bytes) -> None:
    client, auth = app.test_client(), token_for(app)
    before = stored(app)
    resp = post(client, auth, body)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["code"] == "invalid_input"
    assert resp.get_json()["message"].startswith("file:")
    assert stored(app) == before
    allowed = [e for e in _events(app) if e.action == Action.DOCUMENT_REGISTER.value
               and e.outcome == "allowed"]
    assert allowed == []


def test_a_malformed_version_stores_nothing(app: Flask) -> None:
    client, auth = app.test_client(), token_for(app)
    first = post(client, auth, multipart(part("category", b"notice"),
                                         part("file", b"v1\n", "notice.txt")))
    doc_id = first.get_json()["id"]
    before = stored(app)
    resp = post(client, auth, part("file", PAYLOAD, "v2.pdf")[: 2 * MIB],
                path=f"/documents/{doc_id}/versions")
    assert resp.status_code == 400 and resp.get_json()["message"].startswith("file:")
    assert stored(app) == before


def test_missing_file_and_nameless_file(app: Flask) -> None:
    client, auth = app.test_client(), token_for(app)
    resp = post(client, auth, multipart(part("category", b"notice")))
    assert resp.status_code == 400
    assert resp.get_json()["message"].startswith("file: attach the file")
    resp = post(client, auth, multipart(part("category", b"notice"), part("file", b"x", "")))
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "file: the part needs a file name"
    # No boundary in the Content-Type: werkzeug's parser finds no file either.
    resp = client.post(f"{API}/documents", data=multipart(part("category", b"notice")),
                       headers=auth, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert resp.get_json()["message"].startswith("file: attach the file")


@pytest.fixture
def small_app(org: Infra) -> Iterator[Flask]:
    """Uploads limited to 1 MiB (so MAX_CONTENT_LENGTH is 2 MiB)."""
    s = org.settings
    flask_app = create_app({"home": s.home, "database_url": s.database_url,
                            "max_upload_bytes": MIB, "flask": {"TESTING": True}})
    yield flask_app
    flask_app.extensions["vault.engine"].dispose()


def test_over_max_content_length_413(small_app: Flask, no_spool: None) -> None:
    client, auth = small_app.test_client(), token_for(small_app)
    before = stored(small_app)
    body = multipart(part("category", b"notice"), part("file", PAYLOAD, "scan.pdf"))
    resp = post(client, auth, body)
    assert resp.status_code == 413
    assert resp.get_json()["code"] == "http_413"
    assert stored(small_app) == before


def test_over_the_limit_mid_stream_413(app: Flask, no_spool: None) -> None:
    """Without a Content-Length (chunked, as gunicorn passes it on) the limit is
    only met while the file streams into the blob store: 413, and the half
    written blob is gone."""
    app.config["MAX_CONTENT_LENGTH"] = 2 * MIB
    client, auth = app.test_client(), token_for(app)
    before = stored(app)
    body = multipart(part("category", b"notice"), part("file", PAYLOAD, "scan.pdf"))
    resp = client.post(f"{API}/documents", input_stream=io.BytesIO(body),
                       headers={**auth, "Transfer-Encoding": "chunked"},
                       content_type=f"multipart/form-data; boundary={B.decode()}",
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413, resp.get_data(as_text=True)
    assert resp.get_json()["code"] == "http_413"
    assert stored(app) == before


def test_file_over_the_upload_limit(small_app: Flask, no_spool: None) -> None:
    """Within MAX_CONTENT_LENGTH but over VAULT_MAX_UPLOAD_BYTES: the service's
    answer, as before (400 too_large), and nothing kept."""
    client, auth = small_app.test_client(), token_for(small_app)
    before = stored(small_app)
    body = multipart(part("category", b"notice"), part("file", PAYLOAD[: MIB + 10], "scan.pdf"))
    resp = post(client, auth, body)
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "too_large"
    assert stored(small_app) == before


def test_a_huge_field_413(app: Flask) -> None:
    client, auth = app.test_client(), token_for(app)
    before = stored(app)
    body = multipart(part("category", b"notice"), part("title", b"x" * 600_000),
                     part("file", b"text\n", "n.txt"))
    resp = post(client, auth, body)
    assert resp.status_code == 413
    assert stored(app) == before


def _events(app: Flask) -> list[AuditEvent]:
    with infra_of(app).sessions() as s:
        return list(s.scalars(select(AuditEvent)))


# ---------------------------------------------------------------------------
# The reader against werkzeug's form parser


Parts = list[tuple[str, str | None, bytes]]


def read_all(body: bytes, read_size: int) -> tuple[Parts, Parts]:
    reader = streaming.MultipartReader(io.BytesIO(body), B, max_form_memory_size=None,
                                       max_parts=None, read_size=read_size)
    fields: Parts = []
    files: Parts = []
    while (p := reader.next_part()) is not None:
        if isinstance(p, File):
            out = io.BytesIO()
            reader.copy_file(out)
            files.append((p.name, p.filename, out.getvalue()))
        else:
            fields.append((p.name, None, reader.read_text(p).encode()))
    return fields, files


def werkzeug_reads(body: bytes, read_size: int) -> tuple[Parts, Parts]:
    parser = MultiPartParser(stream_factory=lambda *a, **k: io.BytesIO(),
                             buffer_size=read_size)
    form, files = parser.parse(io.BytesIO(body), B, len(body))
    return ([(k, None, v.encode()) for k, v in form.items(multi=True)],
            [(k, f.filename, f.read()) for k, f in files.items(multi=True)])


def outcome(read: Callable[[bytes, int], tuple[Parts, Parts]], body: bytes,
            read_size: int) -> Any:
    try:
        return read(body, read_size)
    except (ValueError, streaming.MalformedMultipart):
        return "malformed"


TOKENS = [b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b"\t", B, B[:4], b"x", b"\x00\xff",
          b"--" + B, b"\r\n--" + B, b"\r\n--" + B + b"--", b"\r\n\r\n",
          b'Content-Disposition: form-data; name="f"', b'; filename="a.bin"']
READ_SIZES = [1, 3, 24, 25, 26, 31, 64, 100, 1000]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Well-formed bodies with tricky content, sometimes spoilt by random tokens."""
    out = b""
    for i in range(draw(st.integers(0, 3))):
        content = b"".join(draw(st.lists(st.sampled_from(TOKENS), max_size=40)))
        content += draw(st.binary(max_size=300))
        filename = draw(st.sampled_from([None, "a.bin", ""]))
        out += part(f"p{i}", content, filename)
    out += b"--" + B + b"--\r\n"
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(out)))
        noise = b"".join(draw(st.lists(st.sampled_from(TOKENS), max_size=8)))
        out = out[:cut] + noise + out[cut + draw(st.integers(0, 5)):]
    return out


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(body=bodies(), read_size=st.sampled_from(READ_SIZES))
def test_reader_agrees_with_werkzeug(body: bytes, read_size: int) -> None:
    assert outcome(read_all, body, read_size) == outcome(werkzeug_reads, body, read_size)


@pytest.mark.parametrize("read_size", [26, 4096, 65_536, MIB])
def test_reader_agrees_on_a_large_file(read_size: int) -> None:
    payload = pdf_payload(2 * MIB + 3, seed=read_size)
    body = multipart(part("category", b"notice"), part("file", payload, "a.pdf"),
                     part("tail", b"t"))
    mine = read_all(body, read_size)
    assert mine == werkzeug_reads(body, read_size)
    assert mine[1] == [("file", "a.pdf", payload)]
