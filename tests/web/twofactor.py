"""Finishing a sign-in that needs a second factor, for web tests: the forced
enrolment of people whose roles require one, and codes from the secret it showed."""

from __future__ import annotations

import time

import pyotp
from flask.testing import FlaskClient
from pagetext import csrf_of, recovery_codes_of, secret_of  # noqa: I001 - tests/pagetext.py


def code(secret: str, offset_steps: int = 0) -> str:
    """The code for now (or ``offset_steps`` steps later: the server accepts one step
    ahead, which gives a second fresh code without waiting 30 seconds)."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30 * offset_steps)


def pending_mode(client: FlaskClient) -> str | None:
    with client.session_transaction() as sess:
        pending = sess.get("pending_2fa")
    return pending.get("mode") if isinstance(pending, dict) else None


def enrol(client: FlaskClient, path: str = "/login/enrol") -> tuple[str, list[str]]:
    """Enrol through the real pages; returns the secret and the recovery codes."""
    page = client.get(path).get_data(as_text=True)
    secret = secret_of(page, path)
    resp = client.post(path, data={"code": code(secret), "csrf_token": csrf_of(page, path)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    codes = recovery_codes_of(resp.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def finish_sign_in(client: FlaskClient) -> str | None:
    """Complete a forced enrolment when the password step asked for one; returns the
    secret (None when no second factor was involved)."""
    mode = pending_mode(client)
    if mode is None:
        return None
    assert mode == "enrol", "this person already has a second factor: give a code"
    secret, _codes = enrol(client)
    return secret
