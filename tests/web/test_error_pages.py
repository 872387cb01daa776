"""Error pages 403, 404, 413, 415, 429 and 500 in both languages.

403, 404 and 413 come from real routes (an administration page for a clerk, an
address that does not exist, a too-large POST). No route of Vault answers 415 or
429 by itself yet (uploads of a refused type answer 400 with the reason; the
sign-in back-off answers 401 with the same text as a wrong password), so those two,
and 500, are raised by routes this test adds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from webtools import sign_in  # noqa: I001 - tests/web/webtools.py
from werkzeug.exceptions import Forbidden, TooManyRequests, UnsupportedMediaType

# Pages about HTTP errors, not about storage: SQLite only (the services behind the real
# routes are tested on both databases elsewhere).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ZH = {
    403: ("请求被拒绝", "您无权执行此操作"),
    404: ("请求被拒绝", "此处没有内容，或您无权知悉"),
    413: ("请求被拒绝", "上传的文件超过大小限制"),
    415: ("请求被拒绝", "此处不接受该类型的文件"),
    429: ("请求被拒绝", "请求过于频繁"),
    500: ("错误", "系统出现错误，已记录"),
}
EN = {
    403: ("Request refused", "You are not allowed to do this."),
    404: ("Request refused", "There is nothing here, or you may not know of it."),
    413: ("Request refused", "The upload is larger than the limit."),
    415: ("Request refused", "This type of file is not accepted here."),
    429: ("Request refused", "Too many requests; wait a moment and try again."),
    500: ("Error", "Something went wrong on our side."),
}


def _raise(exc: Exception) -> Callable[[], str]:
    def view() -> str:
        raise exc

    return view


@pytest.fixture
def error_app(app: Flask) -> Flask:
    app.add_url_rule("/_test/403", "t403", _raise(Forbidden()))
    app.add_url_rule("/_test/415", "t415", _raise(UnsupportedMediaType()))
    app.add_url_rule("/_test/429", "t429", _raise(TooManyRequests()))
    app.add_url_rule("/_test/500", "t500", _raise(RuntimeError("boom")))
    app.config["MAX_CONTENT_LENGTH"] = 4096
    app.logger.disabled = True  # the 500 is logged on purpose
    return app


def _fetch(client: FlaskClient, status: int) -> tuple[int, str]:
    if status == 404:
        resp = client.get("/no/such/page")
    elif status == 413:
        resp = client.post("/login", data={"username": "clerk", "password": "x" * 10_000})
    else:
        resp = client.get(f"/_test/{status}")
    return resp.status_code, resp.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("status", [403, 404, 413, 415, 429, 500])
def test_error_pages_in_both_languages(error_app: Flask, status: int, lang: str) -> None:
    client = error_app.test_client()
    client.get(f"/lang/{lang}")
    got, page = _fetch(client, status)
    title, message = (ZH if lang == "zh_CN" else EN)[status]
    assert got == status
    assert f"<h1>{status} · {title}</h1>" in page and message in page
    assert ("internal_error" if status == 500 else f"http_{status}") in page  # reference
    assert ('lang="en"' if lang == "en" else 'lang="zh-CN"') in page
    assert "Traceback" not in page and "boom" not in page


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_refused_administration_page(app: Flask, lang: str) -> None:
    client = app.test_client()
    client.get(f"/lang/{lang}")
    assert sign_in(client, "clerk") == 302
    resp = client.get("/admin/")
    title = "请求被拒绝" if lang == "zh_CN" else "Request refused"
    assert resp.status_code == 403 and f"403 · {title}" in resp.get_data(as_text=True)


def test_api_errors_stay_json(error_app: Flask) -> None:
    resp = error_app.test_client().get("/api/v1/does-not-exist")
    assert resp.status_code in (401, 404) and resp.is_json
