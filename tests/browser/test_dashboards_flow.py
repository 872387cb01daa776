"""The pictures in the browser (issue 16): compliance finds its dashboard in the menu,
sees each chart drawn (an SVG with bars, named for screen readers) and can open the
same numbers as a table; an HQ executive sees pending approvals and leak reports."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from browsertools import enrol_second_factor, nav_to, sign_in  # noqa: I001
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page

from vault.actions import Action
from vault.errors import NotFound
from vault.policy import Category, CopyKind, Level
from vault.services import accounts, copies, documents, leaks, samples
from vault.services.context import Infra, unit_of_work


def _seed(org: Infra) -> None:
    with unit_of_work(org, "clerk") as ctx:
        doc = documents.register(
            ctx, title="2026年度经营计划", category=Category.OPERATIONS_REPORT,
            level=Level.SECRET, supervisor=accounts.get_user(ctx.session, "boss"),
            department_code="CS", content=io.BytesIO(samples.pdf_pages("经营计划", 2)),
            filename="经营计划.pdf").id
        copies.request(ctx, doc, CopyKind.COPY, purpose="审计资料")
        leaks.report(ctx, document_id=doc, description="复印机旁发现一页")
    # A refusal for the denied chart (written when the unit of work rolls back).
    with pytest.raises(NotFound), unit_of_work(org, "outsider") as ctx:
        documents.load(ctx, doc, Action.DOCUMENT_VIEW, need="view")


def _bars(page: Page, chart: str) -> int:
    return page.locator(f"#{chart} svg.chart rect").count()


def test_compliance_dashboard_in_the_browser(page: Page, shot: Callable[[str], None],
                                             org: Infra) -> None:
    _seed(org)
    sign_in(page, "auditor", PASSWORD)
    enrol_second_factor(page)
    nav_to(page, "概览")
    assert page.inner_text("h1") == "合规概览"
    for chart in ("events-per-day", "copies-per-day", "declassifying"):
        svg = page.locator(f"#{chart} svg.chart")
        assert svg.get_attribute("role") == "img"
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 80
    assert _bars(page, "events-per-day") > 0
    assert _bars(page, "denied-by-action") >= 1
    label = page.locator("#events-per-day-title").text_content()
    assert label == "每日审计事件（按结果）"
    numbers = page.locator("#events-per-day-numbers table")
    assert not numbers.is_visible()
    page.click("#events-per-day-numbers summary")
    assert numbers.is_visible() and numbers.locator("tbody tr").count() == 30
    shot("compliance-dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot("compliance-dashboard-phone")


def test_executive_overview_in_the_browser(page: Page, shot: Callable[[str], None],
                                           org: Infra) -> None:
    _seed(org)
    sign_in(page, "ceo", PASSWORD)
    enrol_second_factor(page)
    nav_to(page, "审批与泄密概览")
    assert page.inner_text("h1") == "审批与泄密概览"
    assert _bars(page, "pending-by-kind") == 1
    assert _bars(page, "leaks-per-week") == 1
    figures = page.inner_text("#overview-figures")
    assert "1\n待审批" in figures and "1\n未处理的泄密报告" in figures
    page.click("#overview-figures a:has-text('待审批')")
    page.wait_for_load_state()
    assert page.url.endswith("/inbox")
    page.go_back()
    shot("executive-overview")
