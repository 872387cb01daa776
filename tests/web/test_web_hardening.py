"""Issue 12 hardening in the browser's terms: sign-out ends the session on the
server, token creation needs a fresh sign-in (with the code where there is one)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pagetext import csrf_of  # noqa: I001 - tests/pagetext.py
from people import PASSWORD  # noqa: I001 - tests/people.py
from sqlalchemy import select
from twofactor import code  # noqa: I001 - tests/web/twofactor.py
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.models import ApiToken
from vault.services.context import Infra

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_accounts.py and test_tokens.py.
DATABASES = ("sqlite",)


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


def _tokens(app: Flask) -> int:
    with infra_of(app).sessions() as s:
        return len(s.scalars(select(ApiToken.id)).all())


def _events(app: Flask, action: Action) -> list[AuditEvent]:
    with infra_of(app).sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)))


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie("vault_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("vault_session", cookie.value)
    return thief


def test_sign_out_ends_the_session_for_a_copied_cookie(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    thief = _copy(app, client)
    assert thief.get("/").status_code == 200  # the copy works while signed in
    resp = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert resp.status_code == 302
    assert client.get("/").status_code == 302
    # The copied cookie no longer signs anyone in, and cannot mint a token.
    resp = thief.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    token = csrf_of(thief.get("/login").get_data(as_text=True))
    resp = thief.post("/tokens/", data={"name": "stolen", "csrf_token": token})
    assert resp.status_code in (302, 400) and _tokens(app) == 0
    assert [e.actor for e in _events(app, Action.AUTH_SIGN_OUT)] == ["clerk"]


def _age_session(client: FlaskClient, seconds: int) -> None:
    with client.session_transaction() as sess:
        sess["reauth"] = time.time() - seconds


def test_creating_a_token_needs_a_fresh_sign_in(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    _age_session(client, 10 * 60)
    form = csrf_token(client, "/tokens/")
    resp = client.post("/tokens/", data={"name": "hotline", "csrf_token": form})
    assert resp.status_code == 302 and "/reauth" in resp.headers["Location"]
    assert _tokens(app) == 0
    reauth = resp.headers["Location"]
    resp = client.post(reauth, data={"password": PASSWORD,
                                     "csrf_token": csrf_token(client, reauth)})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/tokens/")
    resp = client.post("/tokens/", data={"name": "hotline",
                                         "csrf_token": csrf_token(client, "/tokens/")})
    assert resp.status_code == 200 and _tokens(app) == 1


def test_creating_a_token_asks_the_code_of_someone_with_a_second_factor(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("root")  # admins enrol on the way in
    secret = client.totp_secret  # type: ignore[attr-defined]
    _age_session(client, 10 * 60)
    resp = client.post("/tokens/", data={"name": "ops",
                                         "csrf_token": csrf_token(client, "/tokens/")})
    reauth = resp.headers["Location"]
    assert "/reauth" in reauth
    resp = client.post(reauth, data={"password": PASSWORD,
                                     "csrf_token": csrf_token(client, reauth)})
    assert resp.status_code == 401 and _tokens(app) == 0  # the password alone is not enough
    resp = client.post(reauth, data={"password": PASSWORD, "code": code(secret, 1),
                                     "csrf_token": csrf_token(client, reauth)})
    assert resp.status_code == 302
    resp = client.post("/tokens/", data={"name": "ops",
                                         "csrf_token": csrf_token(client, "/tokens/")})
    assert resp.status_code == 200 and _tokens(app) == 1


def _raw_multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A body as curl or a browser sends it: the file name unescaped (a browser never
    escapes a backslash in it; werkzeug would read ``\\.`` as an escaped ``.``)."""
    boundary = "----hardening"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'.encode())
    parts += [content, f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _documents(app: Flask) -> int:
    from vault.models import Document

    with infra_of(app).sessions() as s:
        return len(s.scalars(select(Document.id)).all())


def test_backslashes_in_upload_names_are_refused_not_stripped(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    from vault.services import tokens
    from vault.services.context import unit_of_work

    client = login_as("boss")
    fields = {"csrf_token": csrf_token(client, "/documents/new"), "title": "x",
              "category": "notice", "level": "internal", "department": "CS"}
    body, ctype = _raw_multipart(fields, "..\\..\\x.txt", b"hello\n")
    resp = client.post("/documents/new", data=body, content_type=ctype)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400, page
    assert "文件名不可接受" in page and _documents(app) == 0
    with unit_of_work(infra_of(app), "boss") as ctx:
        token = tokens.create(ctx, "t", None)[1]
    body, ctype = _raw_multipart({"category": "notice"}, "..\\..\\x.txt", b"hello\n")
    resp = app.test_client().post("/api/v1/documents", data=body, content_type=ctype,
                                  headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "bad_filename"
    assert _documents(app) == 0


def _damaged_file(app: Flask, size: int = 3 * 1024 * 1024) -> int:
    """An internal 3 MiB text file of clerk's company whose segment 40 is damaged."""
    import io

    from vault.crypto.envelope import HEADER_SIZE, TAG_SIZE
    from vault.models import DocumentVersion
    from vault.policy import Category
    from vault.services import documents
    from vault.services.context import unit_of_work

    infra = infra_of(app)
    with unit_of_work(infra, "boss") as ctx:
        doc = documents.register(ctx, title="大文件", category=Category.NOTICE,
                                 content=io.BytesIO(b"A" * size), filename="big.txt")
        doc_id = doc.id
    with infra.sessions() as s:
        blob_id = s.scalars(select(DocumentVersion.blob_id)
                            .where(DocumentVersion.document_id == doc_id)).one()
    path = infra.blobs.path_of(blob_id)
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + 40 * (infra.settings.segment_size + TAG_SIZE) + 100] ^= 1
    path.chmod(0o600)
    path.write_bytes(bytes(data))
    return doc_id


def _download_events(app: Flask) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.reason) for e in _events(app, Action.DOCUMENT_DOWNLOAD)]


def test_a_damaged_file_is_refused_before_the_first_byte(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    doc_id = _damaged_file(app)
    client = login_as("clerk")
    resp = client.get(f"/documents/{doc_id}/download")
    assert resp.status_code == 500  # an error page, not a 200 cut off after 2 MiB
    assert b"AAAA" not in resp.get_data()
    assert _download_events(app) == [("failed", "integrity_failure")]
    assert not any(e.outcome == "allowed" for e in _events(app, Action.DOCUMENT_DOWNLOAD))


def test_a_large_damaged_file_streams_then_fails_audited(app: Flask) -> None:
    from webtools import sign_in  # noqa: I001 - tests/web/webtools.py

    from vault import create_app
    from vault.errors import IntegrityFailure

    s = infra_of(app).settings
    small = create_app({"home": s.home, "database_url": s.database_url,
                        "verify_before_send_bytes": 1024 * 1024, "flask": {"TESTING": True}})
    try:
        doc_id = _damaged_file(small)
        client = small.test_client()
        assert sign_in(client, "clerk") == 302
        resp = client.get(f"/documents/{doc_id}/download", buffered=False)
        assert resp.status_code == 200  # over the threshold: streamed segment by segment
        with pytest.raises(IntegrityFailure):
            for _chunk in resp.response:
                pass
        assert _download_events(small) == [("allowed", "released"),
                                           ("failed", "integrity_failure")]
    finally:
        small.extensions["vault.engine"].dispose()


def test_the_password_page_refuses_a_guessable_password_in_the_readers_language(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    for new, zh, en in (
            ("password12", "密码太容易被猜到", "too easy to guess"),
            ("clerk12345", "密码不能是用户名", "must not be the user name"),
            (PASSWORD, "新密码不能与当前密码相同", "must differ from the current one")):
        data = {"current": PASSWORD, "new": new, "again": new}
        resp = client.post("/password", data={**data,
                                              "csrf_token": csrf_token(client, "/password")})
        assert zh in resp.get_data(as_text=True)
        client.get("/lang/en")
        resp = client.post("/password", data={**data,
                                              "csrf_token": csrf_token(client, "/password")})
        assert en in resp.get_data(as_text=True)
        client.get("/lang/zh_CN")
    assert client.get("/").status_code == 200  # still signed in: nothing changed


def _try(client: FlaskClient, username: str, password: str) -> int:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code


def test_one_address_spraying_many_accounts_is_paused_on_every_node(app: Flask) -> None:
    from people import PEOPLE  # noqa: I001 - tests/people.py

    from vault import create_app

    sprayer = app.test_client()
    names = [*PEOPLE, "nobody", "ghost"][:10]
    for name in names:  # one wrong guess per account: no account reaches its own pause
        assert _try(sprayer, name, "Spring2026!") == 401
    # The address is paused: even a right password from it is refused now.
    assert _try(sprayer, "clerk", PASSWORD) == 401
    lockouts = [e for e in _events(app, Action.AUTH_LOCKOUT) if e.object_type == "address"]
    assert [e.object_id for e in lockouts] == ["127.0.0.1"]
    failed = _events(app, Action.AUTH_SIGN_IN_FAILED)
    assert failed[-1].reason == "address_paused"
    # Another app node over the same database sees the same pause (not process memory).
    s = infra_of(app).settings
    other = create_app({"home": s.home, "database_url": s.database_url,
                        "flask": {"TESTING": True}})
    try:
        assert _try(other.test_client(), "clerk", PASSWORD) == 401
        # Another address is not held back by it.
        elsewhere = other.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.7"
        assert _try(elsewhere, "clerk", PASSWORD) == 302
    finally:
        other.extensions["vault.engine"].dispose()
