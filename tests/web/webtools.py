"""Helpers for web tests: CSRF tokens and signing in through the real form."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from people import PASSWORD  # noqa: I001 - tests/people.py


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})
    return resp.status_code
