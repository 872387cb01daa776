"""Every route, pages and API, names its row ids with the one ``<id:…>`` converter."""

from __future__ import annotations

from collections.abc import Callable

from doctools import make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter

from vault.policy import Level
from vault.services import tokens
from vault.services.context import unit_of_work
from vault.web.ids import IdConverter

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in tests/integration.
DATABASES = ("sqlite",)


def test_every_id_uses_the_id_converter(app: Flask) -> None:
    pages = api = 0
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug keeps them here
            if name.endswith("_id") or name == "id":
                assert isinstance(converter, IdConverter), (rule.rule, name)
                if rule.rule.startswith("/api/"):
                    # The API names the row, for its own 404 code.
                    assert converter.what is not None, rule.rule
                    api += 1
                else:
                    assert converter.what is None, rule.rule
                    pages += 1
            elif rule.rule.startswith("/api/"):  # no number in an API path but ids
                assert not isinstance(converter, IntegerConverter), (rule.rule, name)
    assert pages >= 30 and api >= 30


def test_out_of_range_ids_are_404(app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    doc_id = make_doc(app, Level.INTERNAL)
    client = login_as("ceo")
    assert client.get(f"/documents/{doc_id}").status_code == 200
    assert client.get(f"/documents/{doc_id:04d}").status_code == 200  # as <int:> read it
    for path in ("/documents/0", "/documents/2147483648", "/documents/2147483647",
                 "/documents/-1", "/documents/١", "/copies/2147483648", "/leaks/0",
                 "/registers/loans/2147483648/return", f"/documents/{doc_id}/pages/0.png",
                 f"/documents/{doc_id}/pages/100001.png", "/notices/" + "9" * 5000 + "/sign-offs"):
        resp = client.post(path) if path.endswith("return") else client.get(path)
        assert resp.status_code == 404, path
        assert resp.mimetype == "text/html", path



API_BAD_IDS = [
    ("GET", "/documents/0", "unknown_document"),
    ("GET", "/documents/2147483648", "unknown_document"),
    ("GET", "/documents/2147483647", "unknown_document"),  # in range: absent
    ("GET", "/documents/" + "9" * 5000, "unknown_document"),  # int() would refuse it
    ("GET", "/documents/-1", "http_404"),  # not a number: no route
    ("GET", "/documents/\u0661", "http_404"),  # other scripts' digits name nothing
    ("GET", "/requests/2147483648/download", "unknown_request"),
    ("POST", "/loans/2147483648/return", "unknown_loan"),
    ("POST", "/seal-requests/2147483648/approve", "unknown_seal_request"),
    ("POST", "/recordings/2147483648/archive", "unknown_document"),
    ("GET", "/service-requests/2147483648", "unknown_request"),
    ("PUT", "/notices/99999999999/recipients", "unknown_document"),
]


def test_api_bad_ids_answer_in_the_json_envelope(app: Flask) -> None:
    """Ids no row can have are the API's 404 of an absent row, in JSON, before the body
    is read (the body here is not even JSON)."""
    with unit_of_work(app.extensions["vault.infra"], "ceo") as ctx:
        token = tokens.create(ctx, "test")[1]
    client = app.test_client()
    for method, path, code in API_BAD_IDS:
        resp = client.open("/api/v1" + path, method=method, data="{not json",
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
        assert resp.status_code == 404, (path, resp.get_data(as_text=True)[:200])
        assert resp.mimetype == "application/json", path
        body = resp.get_json()
        assert body["code"] == code, (path, body)
        assert body["message"], path
