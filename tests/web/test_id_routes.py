"""Every page route names its row ids with the one ``<id:…>`` converter."""

from __future__ import annotations

from collections.abc import Callable

from doctools import make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient

from vault.policy import Level
from vault.web.ids import IdConverter


def test_every_page_id_uses_the_id_converter(app: Flask) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            continue  # the API answers its own error codes for ids (vault/web/api.py)
        for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug keeps them here
            if name.endswith("_id"):
                assert isinstance(converter, IdConverter), (rule.rule, name)
                checked += 1
    assert checked >= 30


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
