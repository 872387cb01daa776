"""The compliance dashboard and the executives' overview (issue 16): counts aggregated
in SQL agree with the rows counted one by one, the charts are accessible SVG with their
numbers as a table, only the right people read them, and reading them is audited."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from doctools import events  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from vault.audit.models import AuditEvent
from vault.models import LeakReport
from vault.policy import Category, CopyKind, Level, Period
from vault.services import accounts, copies, dashboards, documents, leaks, samples
from vault.services.context import Infra, unit_of_work

Login = Callable[[str], FlaskClient]


def _table(page: str, chart_id: str) -> dict[str, list[str]]:
    """The chart's numbers table as {row heading: cells}."""
    box = re.search(rf'<figure class="chart-box" id="{chart_id}">(.*?)</figure>', page, re.S)
    assert box, f"no chart {chart_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", box.group(1), re.S)
    assert body
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', body.group(1), re.S)
    return {head: re.findall(r"<td>(\d+)</td>", cells) for head, cells in rows}


def _seed(infra: Infra) -> dict[str, int]:
    """A secret file with one copy issued, a pending request, a file whose period ends
    next week and one a year away, and two leak reports (one past its deadline)."""
    soon = datetime.now(UTC).astimezone(infra.settings.tz).date() + timedelta(days=9)
    with unit_of_work(infra, "clerk") as ctx:
        boss = accounts.get_user(ctx.session, "boss")
        secret = documents.register(
            ctx, title="经营计划", category=Category.OPERATIONS_REPORT, level=Level.SECRET,
            supervisor=boss, department_code="CS",
            content=io.BytesIO(samples.pdf_pages("经营计划", 2)), filename="plan.pdf").id
        ending = documents.register(
            ctx, title="停车场协议", category=Category.AGREEMENT, level=Level.CONFIDENTIAL,
            period=Period(until=soon), issued_on=date(2026, 1, 1), supervisor=boss,
            department_code="CS", paper_original=True).id
        documents.register(ctx, title="远期协议", category=Category.AGREEMENT,
                           level=Level.CONFIDENTIAL, supervisor=boss, department_code="CS",
                           paper_original=True)
        first = copies.request(ctx, secret, CopyKind.COPY, purpose="审计").id
        pending = copies.request(ctx, secret, CopyKind.PRINT, purpose="会议").id
    with unit_of_work(infra, "gm") as ctx:
        copies.approve(ctx, first)
    with unit_of_work(infra, "clerk") as ctx:
        copies.download(ctx, first)
        leaks.report(ctx, document_id=secret, description="在打印机旁发现")
        late = leaks.report(ctx, document_id=ending, description="外发").id
    with infra.sessions() as s, s.begin():
        row = s.get(LeakReport, late)
        assert row is not None
        row.reported_at -= timedelta(days=2)
        row.deadline_at -= timedelta(days=2)
    return {"secret": secret, "ending": ending, "pending": pending, "late": late}


def test_compliance_dashboard_counts_agree_with_the_trail(app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    made = _seed(infra)
    client = login_as("clerk")
    assert client.get("/dashboards/compliance").status_code == 403  # denied, on the trail
    auditor = login_as("auditor")
    resp = auditor.get("/dashboards/compliance")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    # Accessible pictures: named by their title and description.
    for chart in ("events-per-day", "denied-by-action", "copies-per-day", "declassifying"):
        assert re.search(rf'<svg class="chart"[^>]*role="img"[^>]*aria-labelledby='
                         rf'"{chart}-title {chart}-desc"', page), chart
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page

    # Today's column against the events counted one by one (all but this page's own).
    tz = infra.settings.tz
    today = datetime.now(UTC).astimezone(tz).date()
    with infra.sessions() as s:
        rows = s.execute(select(AuditEvent.ts, AuditEvent.outcome, AuditEvent.action)).all()
    todays = Counter(o for ts, o, _a in rows if ts.astimezone(tz).date() == today)
    table = _table(page, "events-per-day")
    assert table[today.strftime("%m-%d")] == [str(todays["allowed"] - 1), str(todays["denied"]),
                                              str(todays["failed"])]
    assert todays["denied"] >= 1
    denied = Counter(a for _ts, o, a in rows if o == "denied")
    assert sum(int(v[0]) for v in _table(page, "denied-by-action").values()) == sum(
        denied.values())
    assert _table(page, "copies-per-day")[today.strftime("%m-%d")] == ["1"]
    # The agreement ends next week: one confidential file in the second week's column.
    declass = _table(page, "declassifying")
    assert [sum(int(x) for x in v) for v in declass.values()][:3] == [0, 1, 0]
    assert list(declass.values())[1] == ["0", "0", "1"]  # top secret, secret, confidential
    assert f'href="/compliance/documents/{made["ending"]}"' in page and "停车场协议" in page
    assert "远期协议" not in page  # ten years away

    seen = events(app, action="audit:view", reason="dashboard")
    assert seen and seen[-1].actor == "auditor"
    refused = events(app, action="audit:view", actor="clerk")
    assert refused and refused[-1].outcome == "denied"


def test_executive_overview(app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    made = _seed(infra)
    clients = {who: login_as(who) for who in ("gm", "auditor", "clerk")}
    for client in clients.values():
        assert client.get("/dashboards/executive").status_code == 403
    page = login_as("ceo").get("/dashboards/executive").get_data(as_text=True)
    assert "审批与泄密概览" in page
    kinds = _table(page, "pending-by-kind")
    assert kinds == {"打印": ["1", "0", "0", "0"]}  # one print request, waiting under a day
    assert _table(page, "pending-by-company") == {"深圳公司": ["1"]}
    weeks = _table(page, "leaks-per-week")
    assert sum(int(v[0]) for v in weeks.values()) == 2  # both open
    assert re.search(r'id="overview-figures".*?<span class="figure">1</span>', page, re.S)
    open_table = re.search(r'<table class="data" id="open-leaks">.*?</table>', page, re.S)
    assert open_table
    assert f'<a href="/leaks/{made["late"]}">' in open_table.group(0)
    assert "已超期" in open_table.group(0)
    seen = events(app, action="overview:view")
    assert [(e.actor, e.outcome) for e in seen[-4:]] == [
        ("gm", "denied"), ("auditor", "denied"), ("clerk", "denied"), ("ceo", "allowed")]
    # The menu shows it to the executives only.
    assert 'href="/dashboards/executive"' in page
    assert 'href="/dashboards/executive"' not in clients["gm"].get("/").get_data(as_text=True)


def test_the_services_refuse_the_wrong_people(org: Infra) -> None:
    for who, call in (("clerk", dashboards.compliance_dashboard),
                      ("auditor", dashboards.executive_overview)):
        with unit_of_work(org, who) as ctx:
            try:
                call(ctx)
            except Exception as exc:  # noqa: BLE001 - the refusal carries the policy's reason
                assert getattr(exc, "status", None) == 403
            else:
                raise AssertionError(f"{who} read {call.__name__}")
