"""HEAD on a route that releases content answers 405 and writes nothing: Flask would
otherwise run the GET view, recording a download (or spending a one-time approval)
although no byte leaves."""

from __future__ import annotations

from collections.abc import Callable

from doctools import last_seq, make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient

from vault.policy import Category, Level
from vault.services import samples, tokens
from vault.services.context import unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in tests/integration.
DATABASES = ("sqlite",)


def test_head_on_content_routes_is_refused_and_not_audited(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    notice = make_doc(app, Level.INTERNAL, category=Category.NOTICE, content=b"water off\n",
                      filename="n.txt")
    audio = make_doc(app, Level.INTERNAL, category=Category.CALL_RECORDING,
                     content=samples.wav_tone(0.5), filename="call.wav")
    with unit_of_work(app.extensions["vault.infra"], "clerk") as ctx:
        token = tokens.create(ctx, "head")[1]
    clerk = login_as("clerk")
    api = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    before = last_seq(app)
    assert clerk.head(f"/documents/{notice}/download").status_code == 405
    assert clerk.head(f"/documents/{audio}/audio").status_code == 405
    assert api.head(f"/api/v1/documents/{notice}/content", headers=auth).status_code == 405
    assert last_seq(app) == before
    # GET still works (and is audited).
    assert clerk.get(f"/documents/{notice}/download").get_data() == b"water off\n"
    assert api.get(f"/api/v1/documents/{notice}/content", headers=auth).status_code == 200
    assert last_seq(app) > before
