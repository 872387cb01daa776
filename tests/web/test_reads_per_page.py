"""A page reads the database in its own unit of work, plus one read for the menu —
never in template helpers opening their own sessions while the page renders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from doctools import make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient

from vault.policy import Category, Level

Login = Callable[[str], FlaskClient]


class CountingSessions:
    """Stands in for the infra's sessionmaker, counting the sessions opened."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.opened = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.opened += 1
        return self.real(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Counts:
    """Sessions opened on the writable sessionmaker and on the read-only one."""

    def __init__(self, writable: CountingSessions, readonly: CountingSessions) -> None:
        self.writable, self.readonly = writable, readonly

    @property
    def opened(self) -> int:
        return self.writable.opened + self.readonly.opened


@contextmanager
def counting(app: Flask) -> Iterator[Counts]:
    infra = app.extensions["vault.infra"]
    real, real_readonly = infra.sessions, infra.readonly_sessions()
    infra.sessions = counter = CountingSessions(real)
    infra.__dict__["_readonly_sessions"] = readonly = CountingSessions(real_readonly)
    try:
        yield Counts(counter, readonly)
    finally:
        infra.sessions = real
        infra.__dict__["_readonly_sessions"] = real_readonly


def test_a_page_is_one_unit_of_work_one_menu_read_and_the_sign_in(app: Flask,
                                                                   login_as: Login) -> None:
    notice = make_doc(app, Level.INTERNAL, category=Category.NOTICE, filename="notice.pdf")
    contract = make_doc(app, Level.SECRET)
    client = login_as("ceo")
    for path in (f"/documents/{notice}", f"/documents/{contract}", "/", "/documents/", "/copies",
                 "/inbox", "/registers/copies", "/certificates/", "/leaks/", "/tenants",
                 "/dashboards/executive"):
        with counting(app) as sessions:
            resp = client.get(path)
        assert resp.status_code == 200, path
        # The session's person (flask-login), the page's unit of work, the menu; the
        # person and the menu write nothing: read-only sessions (no SQLite writer lock).
        assert sessions.opened == 3, (path, sessions.opened)
        assert sessions.readonly.opened == 2, (path, sessions.readonly.opened)
    page = client.get(f"/documents/{notice}").get_data(as_text=True)
    assert 'id="notice-sign-offs"' in page  # the sections are still there
    page = client.get(f"/documents/{contract}").get_data(as_text=True)
    assert 'id="copy-requests"' in page


def test_a_page_image_never_reads_the_menu(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.INTERNAL)
    client = login_as("clerk")
    with counting(app) as sessions:
        resp = client.get(f"/documents/{doc_id}/pages/1.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert sessions.opened == 2  # the session's person, the page's unit of work
    assert sessions.readonly.opened == 1  # the person


def test_a_static_file_reads_nothing_and_is_not_activity(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    with client.session_transaction() as sess:
        sess["last"] = last = float(sess["last"]) - 60
    with counting(app) as sessions:
        resp = client.get("/static/vault.css")
        resp.close()  # a file sent as it is read
    assert resp.status_code == 200 and resp.mimetype == "text/css"
    assert sessions.opened == 0
    with client.session_transaction() as sess:
        assert float(sess["last"]) == last  # fetching a style sheet keeps the idle timer
    with counting(app) as sessions:
        assert client.get("/documents/").status_code == 200
    assert sessions.opened >= 1
    with client.session_transaction() as sess:
        assert float(sess["last"]) > last  # a page is activity
