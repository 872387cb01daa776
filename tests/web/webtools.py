"""Helpers for web tests: CSRF tokens and signing in through the real form."""

from __future__ import annotations

from flask.testing import FlaskClient
from pagetext import csrf_of  # noqa: I001 - tests/pagetext.py
from people import PASSWORD  # noqa: I001 - tests/people.py


def csrf_token(client: FlaskClient, path: str) -> str:
    return csrf_of(client.get(path).get_data(as_text=True), path)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})
    return resp.status_code
