"""A staff member registers a PDF (the upload's progress bar shows), finds it by
search, views page 1 in the viewer (server-rendered, watermarked); staff of another
department cannot find it, and its address answers 404 for them."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path

from browsertools import nav_to, sign_in  # noqa: I001 - tests/browser/browsertools.py
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page

TITLE = "A座1201租户租赁合同（浏览器测试）"


def make_pdf(path: Path) -> Path:
    """A three-page PDF of about 1 MB (a noise image on page 1, so the upload takes a
    moment under the throttled connection and the progress bar can be seen)."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    for n in range(1, 4):
        pdf.setFont("Helvetica", 28)
        pdf.drawString(72, 760, f"Lease contract - page {n}")
        if n == 1:
            pdf.drawImage(ImageReader(noise), 72, 200, width=400, height=400)
        pdf.showPage()
    pdf.save()
    path.write_bytes(buf.getvalue())
    return path


def test_register_find_view_and_scope(page: Page, shot: Callable[[str], None],
                                      tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "lease.pdf")
    sign_in(page, "clerk", PASSWORD)
    nav_to(page, "登记文件")
    page.wait_for_selector("#register-form")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.fill("input[name=title]", TITLE)
    page.select_option("#category", "contract")
    page.set_input_files("#file", str(pdf))
    shot("register-form")

    # A slow uplink, so that the bar is seen moving (Chromium's network emulation).
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": 256 * 1024})
    page.click("#register-submit")
    page.wait_for_selector("#upload-status:not([hidden])")
    page.wait_for_function(
        "() => { const p = document.getElementById('upload-progress');"
        " return p && p.value > 0 && p.value < 100; }")
    assert page.locator("#upload-progress").is_visible()
    assert re.search(r"\d+%", page.inner_text("#upload-percent"))
    shot("upload-progress")
    # The bar has been seen moving: the rest of the file goes at full speed (Chromium
    # applies new conditions to the upload under way; it took 4-5 s throttled).
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    page.wait_for_url(re.compile(r"/documents/\d+$"), timeout=60_000)
    doc_url = page.url
    assert TITLE in page.inner_text("main")
    assert "秘密★" in page.inner_text("body")  # the marking banner (confidential, 10 years)
    shot("registered")

    nav_to(page, "文件")
    page.fill("input[name=q]", "租户租赁合同")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(f"table.documents a:has-text('{TITLE}')").count() == 1
    shot("found-by-search")
    page.click(f"table.documents a:has-text('{TITLE}')")
    page.click("#open-viewer")
    page.wait_for_selector("#page-image")
    page.wait_for_function(
        "() => { const i = document.getElementById('page-image');"
        " return i && i.complete && i.naturalWidth > 0; }")
    assert "第 1 页" in page.inner_text("#viewer")
    assert page.locator(".marking").count() >= 2  # banner at the top and the bottom
    src = page.get_attribute("#page-image", "src")
    assert src is not None
    image = page.request.get(src)
    # A per-person watermarked image: the browser may keep it a minute, no shared cache may.
    assert image.ok and image.headers["cache-control"] == "private, max-age=60"
    assert image.headers["content-type"].startswith("image/")
    shot("viewer-page-1")

    # Another department's staff: not in search, and the address does not exist for them.
    page.click("header form button[type=submit]")  # sign out
    sign_in(page, "accountant", PASSWORD)
    page.goto("/documents/?q=" + "租户租赁合同")
    assert page.locator(f"table.documents a:has-text('{TITLE}')").count() == 0
    assert "0" in page.inner_text("#result-count")
    shot("other-department-search")
    response = page.goto(doc_url)
    assert response is not None and response.status == 404
    shot("other-department-404")
