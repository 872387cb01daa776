"""Every main page, for one person of every role, as a person sees it (issue 16):

- at 1280 × 800 and at 390 × 844 no page scrolls sideways (the 390 px check narrows
  the loaded page: the layout is the style sheet's); a screenshot of a page found
  wanting, at the width it failed, is kept under tests/browser/artifacts/layout/<person>/;
- every page carries the same menu (the entries of the home page's menu);
- no raw code (``snake_case`` or ``scope:action``) shows in a page's text, in
  Chinese or in English;
- axe-core (vendored under vendor/axe-core, injected into the page) finds no
  critical or serious accessibility violation.

The main pages are the home page and every entry of the person's menu."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browsertools import sign_in_by_request  # noqa: I001
from conftest import ARTIFACTS, artifacts, keep_failure
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Browser, Page

from vault.policy import Category, Level
from vault.services import accounts, copies, documents, samples
from vault.services.context import Infra, unit_of_work

# One person of every role of the group (tests/people.py); the first four must set
# up the second factor at their first sign-in.
PEOPLE = ["ceo", "gm", "auditor", "root", "manager", "boss", "clerk", "keeper"]
FORCED = {"ceo", "gm", "auditor", "root"}
WIDTHS = ((1280, 800), (390, 844))
RAW_CODE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[a-z]+:[a-z_]+\b")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"


def _seed(org: Infra) -> None:
    """Something on each list: a secret file with a pending copy request."""
    with unit_of_work(org, "clerk") as ctx:
        doc = documents.register(
            ctx, title="2026年度经营计划", category=Category.OPERATIONS_REPORT,
            level=Level.SECRET, supervisor=accounts.get_user(ctx.session, "boss"),
            department_code="CS", content=io.BytesIO(samples.pdf_pages("经营计划", 2)),
            filename="经营计划.pdf")
        copies.request(ctx, doc.id, copies.CopyKind.COPY, purpose="审计资料")


@pytest.fixture
def person_page(browser: Browser, live_server: str, org: Infra,
                request: pytest.FixtureRequest) -> Iterator[Page]:
    shutil.rmtree(artifacts(request), ignore_errors=True)  # an earlier run's failure
    context = browser.new_context(locale="zh-CN", base_url=live_server, bypass_csp=True,
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    # axe-core is handed to the browser once and evaluated by it in every document this
    # tab loads (it defines `window.axe` and nothing else), instead of sending its 650 kB
    # into each page over the DevTools connection (a third of this test's time). The
    # English pass runs in a second tab, without it.
    page.add_init_script(path=str(AXE))
    try:
        yield page
    finally:
        keep_failure(request, context)  # e.g. at sign-in, before any page was checked
        context.close()


# What a page shows, read in one round trip: whether it scrolls sideways, its menu (the
# paths of the main and the personal menu's links) and its text (as inner_text reads it).
LOOK = """() => ({
    fits: document.documentElement.scrollWidth <= window.innerWidth,
    menu: Array.from(document.querySelectorAll(
        "header nav.main-nav a, header .who details.me a"), a => a.pathname),
    text: document.body.innerText,
})"""

# Only critical and serious violations count. A violation is as grave as the gravest
# check that failed, or its rule's own impact where the rule has one (axe-core's
# aggregation), so a rule whose impact and checks are all minor or moderate (landmarks,
# region, heading order...: about a quarter of the rules) can only find what is
# discarded: it is not run. Read from axe's own metadata, so it holds for any version;
# an impact it does not know counts as grave.
AXE_RUN = """async () => {
    if (typeof window.axe === "undefined") return ["axe-core is not loaded in the page"];
    const mild = impact => impact === "minor" || impact === "moderate";
    const checks = axe._audit.data.checks, skip = {};
    for (const rule of axe._audit.rules) {
        const ids = [...rule.any, ...rule.all, ...rule.none].map(c => c.id || c);
        if (mild(rule.impact) && ids.every(id => checks[id] && mild(checks[id].impact))) {
            skip[rule.id] = {enabled: false};
        }
    }
    const r = await axe.run(document, {resultTypes: ["violations"], rules: skip});
    return r.violations.filter(v => v.impact === "critical" || v.impact === "serious")
        .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def _look(page: Page) -> tuple[bool, list[str], str]:
    seen = page.evaluate(LOOK)
    return bool(seen["fits"]), list(seen["menu"]), str(seen["text"])


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/")) or "home"


def _axe(page: Page) -> list[str]:
    return list(page.evaluate(AXE_RUN))


@pytest.mark.parametrize("person", PEOPLE)
def test_every_main_page_fits_shares_the_menu_speaks_words_and_passes_axe(
        person_page: Page, org: Infra, person: str) -> None:
    page = person_page
    _seed(org)
    folder = ARTIFACTS / "layout" / person
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Signed in through the real pages, over HTTP, without the tab rendering them (they
    # are not among the pages checked here); the tab shares the session cookie.
    secret = sign_in_by_request(page, person, PASSWORD)
    assert (secret is not None) == (person in FORCED)
    page.goto("/")
    _, menu, _ = _look(page)
    assert menu, "no menu"
    pages = ["/", *dict.fromkeys(p for p in menu if p != "/")]
    problems: list[str] = []
    (wide, wide_height), (narrow, narrow_height) = WIDTHS

    def at(width: int, path: str) -> str:
        """Problems of the loaded page at the viewport's ``width`` (fits, same menu);
        its text."""
        fits, seen_menu, text = _look(page)
        if not fits:
            problems.append(f"{width}px {path}: scrolls sideways")
        if seen_menu != menu:
            problems.append(f"{width}px {path}: another menu {seen_menu}")
        return text

    def check_wide(path: str) -> None:
        found = len(problems)
        text = at(wide, path)
        codes = RAW_CODE.findall(text)
        if codes:
            problems.append(f"zh {path}: raw codes {sorted(set(codes))}")
        problems.extend(f"axe {path}: {v}" for v in _axe(page))
        if len(problems) > found:
            page.screenshot(path=str(folder / f"{wide}-{_slug(path)}.png"), full_page=True)

    def check_narrow(path: str) -> None:
        found = len(problems)
        at(narrow, path)
        if len(problems) > found:
            page.screenshot(path=str(folder / f"{narrow}-{_slug(path)}.png"), full_page=True)

    # The layout is the style sheet's alone (media queries; nothing server-side or in
    # app.js reads the width), so each loaded page is checked at the width it was loaded
    # at, then resized to the other: 1280 then 390 for one page, 390 then 1280 for the
    # next (one resize a page instead of two). axe runs at 1280 either way.
    height = {wide: wide_height, narrow: narrow_height}
    check = {wide: check_wide, narrow: check_narrow}
    first, second = wide, narrow  # the viewport is 1280 px wide now
    for i, path in enumerate(pages):
        if i:  # pages[0] is "/", loaded just above to read the menu
            page.goto(path)
        check[first](path)
        page.set_viewport_size({"width": second, "height": height[second]})
        check[second](path)
        first, second = second, first
    # The same pages in English: words there too, and nothing wider than the screen
    # (in a second tab of the same browser profile, signed in, at 1280 px, without axe).
    page = page.context.new_page()
    page.goto("/")
    page.click("header a[lang=en]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/"
    for i, path in enumerate(pages):
        if i:  # "/" is loaded, in English, by the language switch
            page.goto(path)
        found = len(problems)
        fits, _, text = _look(page)
        codes = RAW_CODE.findall(text)
        if codes:
            problems.append(f"en {path}: raw codes {sorted(set(codes))}")
        if not fits:
            problems.append(f"en 1280px {path}: scrolls sideways")
        if len(problems) > found:
            page.screenshot(path=str(folder / f"en-{wide}-{_slug(path)}.png"), full_page=True)
    assert problems == []
