"""The documents list in the browser (issue 16): first-page thumbnails for what the
person may read (drawn, watermarked, never for the rest), sorting by a column
heading, and paging through a filtered, sorted list without losing either."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

from browsertools import nav_to, sign_in  # noqa: I001
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page

from vault.policy import Category, Level
from vault.services import accounts, documents, samples
from vault.services.context import Infra, unit_of_work


def _seed(org: Infra) -> dict[str, int]:
    made = {}
    with unit_of_work(org, "boss") as ctx:
        boss = accounts.get_user(ctx.session, "boss")
        for i in range(27):
            documents.register(ctx, title=f"租户档案 {i:02d}", category=Category.TENANT_ARCHIVE,
                               level=Level.INTERNAL, paper_original=True,
                               issued_on=date(2025, 1, 1 + i))
        made["合同"] = documents.register(
            ctx, title="A座物业服务合同", category=Category.CONTRACT, level=Level.CONFIDENTIAL,
            supervisor=boss, department_code="CS", issued_on=date(2026, 2, 1),
            content=io.BytesIO(samples.pdf_pages("A座物业服务合同", 3)), filename="合同.pdf").id
        made["方案"] = documents.register(
            ctx, title="并购方案（机密）", category=Category.STRATEGY, level=Level.SECRET,
            supervisor=boss, department_code="CS", issued_on=date(2026, 3, 1),
            content=io.BytesIO(samples.pdf_pages("并购方案", 1)), filename="方案.pdf").id
    return made


def test_thumbnails_sorting_and_pages_that_keep_filters(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    made = _seed(org)
    sign_in(page, "clerk", PASSWORD)
    nav_to(page, "文件")
    # The contract clerk may read has its first page drawn; the secret plan clerk
    # may not read (not designated) shows no picture.
    thumb = page.locator(f'img.thumb[src="/documents/{made["合同"]}/thumbnail.png"]')
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumb.element_handle())
    assert thumb.evaluate("img => img.naturalWidth") == 160
    assert page.locator(f'img.thumb[src="/documents/{made["方案"]}/thumbnail.png"]').count() == 0
    shot("thumbnails")

    # Sort by title: the heading says so (aria-sort) and the rows follow it.
    page.click("th.sortable a[data-sort=title]")
    page.wait_for_url("**sort=title**")
    assert page.get_attribute("th:has(a[data-sort=title])", "aria-sort") == "ascending"
    titles = page.locator("table.documents tbody td:nth-child(3) > a").all_inner_texts()
    assert titles == sorted(titles)
    page.click("th.sortable a[data-sort=title]")  # again: the other way round
    page.wait_for_url("**sort=-title**")
    assert page.get_attribute("th:has(a[data-sort=title])", "aria-sort") == "descending"
    titles = page.locator("table.documents tbody td:nth-child(3) > a").all_inner_texts()
    assert titles == sorted(titles, reverse=True)

    # Filter (the order stays), then page on: page 2 is still filtered and sorted.
    page.fill("input[name=q]", "租户档案")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**q=**")
    assert "sort=-title" in page.url
    assert "共找到 27 份文件" in page.inner_text("#result-count")
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    assert "q=" in page.url and "sort=-title" in page.url
    assert page.input_value("input[name=q]") == "租户档案"
    titles = page.locator("table.documents tbody td:nth-child(3) > a").all_inner_texts()
    assert titles == ["租户档案 01", "租户档案 00"]
    assert "第 2 页，共 2 页" in page.inner_text("nav.pager")
    shot("page-2-filtered-sorted")
