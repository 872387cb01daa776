"""Style sheets, scripts and the icon (vault/web/static.py): pages name each by the hash
of its bytes, and that URL is cached for a year; any other URL of the file is checked
each time. The security headers are on every answer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

# SQLite only (DATABASES, read by tests/conftest.py): static files read no database.
DATABASES = ("sqlite",)

STATIC = Path(__file__).resolve().parents[2] / "vault" / "static"
YEAR = 365 * 24 * 3600


def static_links(html: str) -> dict[str, str]:
    """filename -> the whole URL, for every /static/ link and script of a page."""
    found = {}
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        found[urlsplit(url.replace("&amp;", "&")).path.removeprefix("/static/")] = url
    return found


def hash_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def get(client: FlaskClient, url: str, **kw: object) -> TestResponse:
    resp = client.get(url, **kw)  # type: ignore[arg-type]
    resp.get_data()  # read whole, then closed: a file is sent as it is read
    resp.close()
    return resp


def assert_security_headers(resp: TestResponse) -> None:
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_pages_name_each_static_file_by_the_hash_of_its_bytes(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    signed_out = app.test_client()
    links = static_links(signed_out.get("/login").get_data(as_text=True))
    links |= static_links(client.get("/documents/new").get_data(as_text=True))
    links |= static_links(client.get("/leaks/new").get_data(as_text=True))
    assert {"vault.css", "app.js", "favicon.svg", "console.css", "leaks.css"} <= set(links)
    for filename, url in links.items():
        assert parse_qs(urlsplit(url).query) == {"v": [hash_of(STATIC / filename)]}, url
    # Browsers ask for /favicon.ico themselves: sent on to the icon's versioned URL.
    resp = signed_out.get("/favicon.ico")
    assert resp.status_code == 301
    assert resp.location == links["favicon.svg"]


def test_a_versioned_file_is_cached_for_a_year_and_never_varies_on_the_cookie(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    client = login_as("clerk")
    links = static_links(client.get("/").get_data(as_text=True))
    assert {"vault.css", "app.js", "favicon.svg"} <= set(links)
    for filename, url in links.items():
        resp = get(client, url)
        assert resp.status_code == 200, url
        assert resp.get_data() == (STATIC / filename).read_bytes()
        cache = resp.cache_control
        assert cache.public and cache.immutable and cache.max_age == YEAR, url
        assert not cache.no_cache and not cache.no_store, url
        assert_security_headers(resp)
        # The same for everyone: no session cookie written, and the browser's cached copy
        # does not depend on the cookie (which every page renews).
        assert "Set-Cookie" not in resp.headers
        assert "cookie" not in resp.headers.get("Vary", "").lower()
    assert get(app.test_client(), links["vault.css"]).headers["Cache-Control"] == \
        get(client, links["vault.css"]).headers["Cache-Control"]  # signed in or not


@pytest.mark.parametrize("query", ["", "?v=0123456789abcdef", "?v="])
def test_another_url_of_the_file_is_checked_each_time(
        login_as: Callable[[str], FlaskClient], query: str) -> None:
    client = login_as("clerk")
    resp = get(client, "/static/vault.css" + query)
    assert resp.status_code == 200
    cache = resp.cache_control
    assert cache.no_cache and cache.max_age is None and not cache.immutable
    assert not cache.public
    assert_security_headers(resp)
    etag = resp.headers["ETag"]
    again = get(client, "/static/vault.css" + query, headers={"If-None-Match": etag})
    assert again.status_code == 304  # unchanged: not sent again
    assert_security_headers(again)


def test_the_version_follows_the_file(app: Flask, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    sheet = tmp_path / "site.css"
    sheet.write_bytes(b"body { color: #222; }\n")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    with app.test_request_context():
        first = url_for("static", filename="site.css")
    assert first == f"/static/site.css?v={hash_of(sheet)}"
    sheet.write_bytes(b"body { color: #000; }\nmain { margin: 0; }\n")
    with app.test_request_context():
        second = url_for("static", filename="site.css")
    assert second == f"/static/site.css?v={hash_of(sheet)}" and second != first
    client = app.test_client()
    fresh = get(client, second)
    assert fresh.get_data() == sheet.read_bytes()
    assert fresh.cache_control.max_age == YEAR
    # The old URL is still answered (a page loaded before the change), with today's
    # bytes, but not for a year: they are not the version it names.
    stale = get(client, first)
    assert stale.get_data() == sheet.read_bytes()
    cache = stale.cache_control
    assert cache.no_cache and cache.max_age is None
    # No file, no version; outside the folder, nothing.
    with app.test_request_context():
        assert url_for("static", filename="missing.css") == "/static/missing.css"
        assert url_for("static", filename="../secret.txt") == "/static/../secret.txt"
    assert get(client, "/static/missing.css?v=" + hash_of(sheet)).status_code == 404
