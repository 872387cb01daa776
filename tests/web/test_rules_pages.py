"""Issue 11 on the pages (zh first): a void approval shows 已作废：密级已变更, the
registrant's designation is listed "by registration" with a revoke button for an HQ
executive, and the administration page flags a company without a custodian."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.policy import Category, CopyKind, Level
from vault.services import copies, documents, samples
from vault.services.context import Infra, unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_rules_at_use.py and test_cli_rules.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]


def _infra(app: Flask) -> Infra:
    infra = app.extensions["vault.infra"]
    assert isinstance(infra, Infra)
    return infra


def _register(infra: Infra, actor: str, level: Level) -> int:
    with unit_of_work(infra, actor) as ctx:
        return documents.register(
            ctx, title="董事会决议", category=Category.MEETING_MINUTES, level=level,
            content=io.BytesIO(samples.pdf_pages("决议", pages=1)), filename="d.pdf").id


def test_a_void_approval_reads_void_reclassified(app: Flask, login_as: Login) -> None:
    infra = _infra(app)
    doc = _register(infra, "boss", Level.SECRET)
    with unit_of_work(infra, "boss") as ctx:
        req = copies.request(ctx, doc, CopyKind.COPY, "核对").id
    with unit_of_work(infra, "gm") as ctx:
        copies.approve(ctx, req)
    with unit_of_work(infra, "ceo") as ctx:
        documents.change_classification(ctx, doc, level=Level.TOP_SECRET)
    boss = login_as("boss")
    token = csrf_token(boss, f"/copies/{req}")
    resp = boss.post(f"/copies/{req}/download", data={"csrf_token": token})
    assert resp.status_code == 409, resp.status_code
    assert "该批准已作废" in resp.get_data(as_text=True)
    page = boss.get(f"/copies/{req}").get_data(as_text=True)
    assert "已作废：密级已变更" in page
    assert 'id="download-copy"' not in page


def test_the_registrants_designation_is_listed_and_revocable(app: Flask,
                                                             login_as: Login) -> None:
    doc = _register(_infra(app), "boss", Level.TOP_SECRET)
    page = login_as("ceo").get(f"/documents/{doc}").get_data(as_text=True)
    assert "因登记而指定" in page
    assert f"/documents/{doc}/grants/boss/revoke" in page


def test_the_admin_page_flags_a_company_without_custodian(login_as: Login) -> None:
    page = login_as("root").get("/admin/").get_data(as_text=True)
    assert 'id="no-custodian"' in page
    assert "GZ, HQ" in page  # tests/conftest.py: only SZ has a custodian

