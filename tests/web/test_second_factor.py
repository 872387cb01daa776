"""The second factor in the browser's terms: forced enrolment for the roles that
need it, the code step after the password, recovery codes, the shared pause, the
Security page and re-authentication (`fresh_auth_required`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pagetext import secret_of  # noqa: I001 - tests/pagetext.py
from people import PASSWORD  # noqa: I001 - tests/people.py
from twofactor import code, enrol, pending_mode  # noqa: I001 - tests/web/twofactor.py
from webtools import csrf_token, sign_in  # noqa: I001 - tests/web/webtools.py

from vault.web.auth import fresh_auth_required

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_totp_service.py.
DATABASES = ("sqlite",)


def _post(client: FlaskClient, path: str, data: dict[str, str], form_page: str | None = None
          ) -> tuple[int, str, str]:
    token = csrf_token(client, form_page or path)
    resp = client.post(path, data={**data, "csrf_token": token})
    return resp.status_code, resp.headers.get("Location", ""), resp.get_data(as_text=True)


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def test_roles_that_require_it_enrol_before_anything_else(app: Flask) -> None:
    client = app.test_client()
    assert sign_in(client, "auditor") == 302
    assert pending_mode(client) == "enrol"
    assert not _signed_in(client)
    assert client.get("/compliance/").status_code == 302  # nothing before enrolment
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "设置双重验证" in page and "您的角色要求使用双重验证" in page
    assert 'src="data:image/svg+xml' in page  # the QR code, no outside request
    secret = secret_of(page)
    status, _loc, body = _post(client, "/login/enrol", {"code": "12345x"})
    assert status == 400 and "验证码错误或已过期" in body and not _signed_in(client)
    status, _loc, body = _post(client, "/login/enrol", {"code": code(secret)})
    assert status == 200 and "双重验证已设置完成" in body
    assert len(re.findall(r"<code>([a-z0-9-]{19})</code>", body)) == 10
    assert _signed_in(client) and pending_mode(client) is None
    # A reload of the enrolment address does not show the secret again.
    assert client.get("/login/enrol").status_code == 302


def test_a_second_sign_in_asks_for_a_code(app: Flask,
                                          login_as: Callable[[str], FlaskClient]) -> None:
    secret = login_as("ceo").totp_secret  # type: ignore[attr-defined]
    client = app.test_client()
    token = csrf_token(client, "/login")
    resp = client.post("/login?next=/security", data={"username": "ceo", "password": PASSWORD,
                                                      "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/second-factor")
    assert not _signed_in(client)
    page = client.get("/login/second-factor").get_data(as_text=True)
    assert "请输入验证器应用中 Vault 的六位验证码" in page
    status, _loc, body = _post(client, "/login/second-factor", {"code": "000000"})
    assert status == 401 and "验证码错误或已被使用" in body
    # The code used at enrolment is spent; the next step's code is accepted.
    status, loc, _body = _post(client, "/login/second-factor", {"code": code(secret, 1)})
    assert status == 302 and loc.endswith("/security")
    assert _signed_in(client)


def test_a_recovery_code_signs_in_once(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "gm")
    _secret, codes = enrol(client)
    for attempt in range(2):
        other = app.test_client()
        assert sign_in(other, "gm") == 302 and pending_mode(other) == "second_factor"
        status, _loc, body = _post(other, "/login/second-factor", {"code": codes[0]})
        if attempt == 0:
            home = other.get("/")
            assert status == 302 and home.status_code == 200
            assert "恢复码已作废" in home.get_data(as_text=True)  # the flashed warning
        else:
            assert status == 401 and not _signed_in(other)


def test_wrong_codes_pause_signing_in(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "root")
    secret, _codes = enrol(client)
    other = app.test_client()
    sign_in(other, "root")
    for _ in range(5):
        assert _post(other, "/login/second-factor", {"code": "000000"})[0] == 401
    status, _loc, _body = _post(other, "/login/second-factor", {"code": code(secret, 1)})
    assert status == 401 and not _signed_in(other)
    assert sign_in(app.test_client(), "root") == 401  # the password step is paused too


def test_a_pending_sign_in_expires(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "ceo")
    with client.session_transaction() as sess:
        sess["pending_2fa"] = {**sess["pending_2fa"], "at": time.time() - 3600}
    resp = client.get("/login/enrol")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert client.get("/login/second-factor").status_code == 302
    assert "登录已超时" in client.get("/login").get_data(as_text=True)


def test_the_code_form_needs_its_csrf_token(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "ceo")
    assert client.post("/login/enrol", data={"code": "123456"}).status_code == 400


def _make_stale(client: FlaskClient) -> None:
    with client.session_transaction() as sess:
        sess["reauth"] = time.time() - 3600


def test_anyone_may_turn_it_on_and_off_from_the_security_page(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    page = client.get("/security").get_data(as_text=True)
    assert "未开启" in page and "/security/enrol" in page
    secret, codes = enrol(client, "/security/enrol")
    assert "已开启" in client.get("/security").get_data(as_text=True)
    # From now on signing in asks for a code.
    other = app.test_client()
    assert sign_in(other, "clerk") == 302 and pending_mode(other) == "second_factor"
    # Turning it off needs the password and a code again when the sign-in is not fresh.
    _make_stale(client)
    status, loc, _body = _post(client, "/security/disable", {}, form_page="/security")
    assert status == 302 and "/reauth?next=/security" in loc
    page = client.get("/reauth?next=/security").get_data(as_text=True)
    assert "确认身份" in page and 'name="code"' in page
    status, _loc, body = _post(client, "/reauth?next=/security",
                               {"password": PASSWORD, "code": "000000"})
    assert status == 401 and "验证未通过" in body
    status, loc, _body = _post(client, "/reauth?next=/security",
                               {"password": PASSWORD, "code": codes[3]})
    assert status == 302 and loc.endswith("/security")
    status, loc, _body = _post(client, "/security/disable", {}, form_page="/security")
    assert status == 302 and loc.endswith("/security")
    assert "双重验证已关闭" in client.get("/security").get_data(as_text=True)
    assert sign_in(app.test_client(), "clerk") == 302
    assert secret  # (the old secret is gone with the factor)


def test_required_roles_cannot_turn_it_off(login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("root")
    page = client.get("/security").get_data(as_text=True)
    assert "/security/disable" not in page and "您的角色要求使用双重验证" in page
    status, _loc, body = _post(client, "/security/disable", {}, form_page="/security")
    assert status == 403
    status, _loc, body = _post(client, "/security/recovery-codes", {}, form_page="/security")
    assert status == 200 and len(re.findall(r"<code>([a-z0-9-]{19})</code>", body)) == 10
    assert "剩余恢复码：10" in client.get("/security").get_data(as_text=True)


def test_fresh_auth_required_sends_a_stale_session_to_reauth(app: Flask) -> None:
    @fresh_auth_required(minutes=5)
    def approve() -> str:
        return "approved"

    app.add_url_rule("/_test/approve", "test_approve", approve, methods=["GET", "POST"])
    client = app.test_client()
    assert client.get("/_test/approve").status_code == 302  # not signed in: to /login
    assert sign_in(client, "clerk") == 302
    assert client.get("/_test/approve").get_data(as_text=True) == "approved"  # just signed in
    _make_stale(client)
    resp = client.get("/_test/approve?x=1")
    assert resp.status_code == 302 and "/reauth?next=/_test/approve?x%3D1" in resp.headers[
        "Location"]
    page = client.get("/reauth").get_data(as_text=True)
    assert 'name="code"' not in page  # no second factor: the password alone
    status, _loc, _body = _post(client, "/reauth?next=/_test/approve", {"password": "wrong!!!"})
    assert status == 401
    status, loc, _body = _post(client, "/reauth?next=/_test/approve", {"password": PASSWORD})
    assert status == 302 and loc.endswith("/_test/approve")
    assert client.get("/_test/approve").get_data(as_text=True) == "approved"
    _make_stale(client)
    resp = client.post("/_test/approve", data={"csrf_token": csrf_token(client, "/security")})
    assert resp.status_code == 302 and "next=/_test/approve" in resp.headers["Location"]


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example",
                                    "/\r\nLocation: x"])
def test_next_never_leaves_the_site(app: Flask, target: str) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login")
    resp = client.post("/login", query_string={"next": target},
                       data={"username": "clerk", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location in ("/", "http://localhost/"), location


def test_a_name_no_one_can_have_is_just_wrong(app: Flask) -> None:
    assert sign_in(app.test_client(), "clerk\x00") == 401
    assert sign_in(app.test_client(), "\x00" * 64) == 401


def test_english_pages(app: Flask) -> None:
    client = app.test_client()
    client.get("/lang/en")
    sign_in(client, "ceo")
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "Set up the second factor" in page and "Your roles require a second factor" in page
