"""Content search in the browser: a general manager searches from the home page's
box; the notice they may read shows a snippet with the hits marked, the secret
contract they may only know of shows title and marking and no text; the level and
category facets narrow the results; the menu's 搜索 entry opens the search page."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

from browsertools import enrol_second_factor, nav_to, sign_in  # noqa: I001
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page

from vault.policy import Category, Level
from vault.services import documents, search_index
from vault.services.context import Infra, unit_of_work

WORD = "泵房检修"


def _register(org: Infra, title: str, level: Level, category: Category, body: str) -> int:
    with unit_of_work(org, "boss") as ctx:
        return documents.register(
            ctx, title=title, category=category, level=level, issued_on=date(2026, 11, 2),
            content=io.BytesIO(body.encode()), filename="f.txt").id


def test_search_from_home_snippets_for_viewers_and_facets(
        org: Infra, page: Page, shot: Callable[[str], None]) -> None:
    notice = _register(org, "停水通知", Level.INTERNAL, Category.NOTICE,
                       f"本周六上午{WORD}，全楼停水，请提前储水。")
    contract = _register(org, "维保合同", Level.SECRET, Category.CONTRACT,
                         f"合同约定每季度{WORD}一次，费用另计。")
    _register(org, "消防演练安排", Level.INTERNAL, Category.NOTICE, "周五下午消防演练。")
    assert {o.state for o in search_index.work(org)} == {"done"}

    sign_in(page, "gm", PASSWORD)
    enrol_second_factor(page)
    page.goto("/")
    page.fill("form.home-search input[name=q]", WORD)
    shot("home-search-box")
    page.click("form.home-search button[type=submit]")
    page.wait_for_selector("#results")
    shot("results")
    assert "共找到 2 份文件" in page.inner_text("#result-count")
    links = page.locator("#results li a").all_inner_texts()
    assert sorted(links) == ["停水通知", "维保合同"] and "消防演练安排" not in links

    readable = page.locator("#results li").filter(
        has=page.locator(f"a[href='/documents/{notice}']"))
    assert readable.locator("p.snippet mark").all_inner_texts() == [WORD]
    assert "全楼停水" in readable.locator("p.snippet").inner_text()

    known = page.locator("#results li").filter(
        has=page.locator(f"a[href='/documents/{contract}']"))
    assert known.locator("p.snippet").count() == 0
    assert known.locator(".level").inner_text().startswith("机密★")
    assert "费用另计" not in known.inner_text() and WORD not in known.inner_text()
    assert "仅显示标题和密级标志" in known.inner_text()

    # The level facet: only the secret contract is left, and its button is current.
    page.locator("#facets button[name=level][value=secret]").click()
    page.wait_for_selector("#results")
    shot("level-facet")
    assert page.locator("#results li a").all_inner_texts() == ["维保合同"]
    assert "共找到 1 份文件" in page.inner_text("#result-count")
    assert "current" in (page.get_attribute("#facets button[name=level][value=secret]",
                                            "class") or "")

    # The category facet on a fresh search: notices only.
    page.goto("/")
    page.fill("form.home-search input[name=q]", WORD)
    page.click("form.home-search button[type=submit]")
    page.wait_for_selector("#facets")
    page.locator("#facets button[name=category][value=notice]").click()
    page.wait_for_selector("#results")
    shot("category-facet")
    assert page.locator("#results li a").all_inner_texts() == ["停水通知"]
    assert page.locator("#results li p.snippet mark").count() >= 1

    # The menu's search entry (in the 文件 group) opens the search page.
    page.goto("/")
    nav_to(page, "搜索")
    assert page.url.endswith("/search")
    assert page.locator("#search-form input[name=q]").is_visible()
    shot("menu-search")
