"""A notice to three tenants: customer service finds the tenants and an archive, opens
the notice, chooses its three recipients, records two sign-offs — one on site, one
with a scanned sheet uploaded through the form — and the page then shows one
recipient unsigned, the progress at 2 of 3, the sheet as a document of its own and
a CSV download that opens in Excel (UTF-8 with BOM)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from browsertools import nav_to, sign_in  # noqa: I001 - tests/browser/browsertools.py
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page

from vault.policy import Category
from vault.services import accounts, documents, samples, tenants
from vault.services.context import Infra, unit_of_work

NOTICE = "关于12月3日停水的通知（浏览器测试）"


def _seed(infra: Infra) -> int:
    """Three SZ tenants (added by the custodian) and an internal notice of customer
    service, registered by clerk and supervised by boss; a tenant archive for T1."""
    with unit_of_work(infra, "keeper") as ctx:
        tenants.create_tenant(ctx, "T1", "华南贸易有限公司", "A座1201", "张先生 138-0000-0001")
        tenants.create_tenant(ctx, "T2", "深港咨询有限公司", "B座0805", "李女士 138-0000-0002")
        tenants.create_tenant(ctx, "T3", "王小明", "C座2303", "139-0000-0003")
    with unit_of_work(infra, "clerk") as ctx:
        boss = accounts.get_user(ctx.session, "boss")
        documents.register(ctx, title="租户档案：华南贸易有限公司",
                           category=Category.TENANT_ARCHIVE, supervisor=boss, tenant_code="T1",
                           content=io.BytesIO(samples.pdf_pages("租户档案")), filename="t1.pdf")
        doc = documents.register(ctx, title=NOTICE, category=Category.NOTICE, supervisor=boss,
                                 content=io.BytesIO(samples.pdf_pages(NOTICE)),
                                 filename="notice.pdf")
        return doc.id


def test_notice_to_three_tenants_two_sign_offs_one_unsigned(
        page: Page, shot: Callable[[str], None], org: Infra, tmp_path: Path) -> None:
    doc_id = _seed(org)
    sheet = tmp_path / "签收单-深港咨询.png"
    sheet.write_bytes(samples.png_card("签收单 深港咨询有限公司 李女士", org.settings.font_file))

    sign_in(page, "clerk", PASSWORD)
    nav_to(page, "租户档案")
    page.wait_for_selector("#tenants")
    assert page.locator("#tenants tbody tr").count() == 3
    shot("tenant-list")
    page.click("#tenant-T1 >> text=华南贸易有限公司")
    page.wait_for_selector("#catalogue")
    assert page.inner_text("#count-all") == "1"
    assert "租户档案" in page.inner_text("#catalogue")
    assert "秘密★" in page.inner_text("main")  # tenant archives are confidential
    shot("tenant-archive")

    # The notice's page links to its sign-offs.
    page.goto(f"/documents/{doc_id}")
    page.wait_for_selector("#notice-sign-offs")
    shot("notice-page-before")
    page.click("#open-sign-offs")
    page.wait_for_selector("#recipients-form")
    for code in ("T1", "T2", "T3"):
        page.check(f"#recipients-form input[value={code}]")
    shot("choose-recipients")
    page.click("#recipients-submit")
    page.wait_for_selector("#sign-off-form")
    assert "已签收 0 / 3（0%）" in page.inner_text("#progress")
    shot("three-recipients")

    # First sign-off: on site.
    page.select_option("#sign-off-tenant", "T1")
    page.fill("#sign-off-signer", "张先生")
    page.check("#sign-off-form input[name=method][value=on_site]")
    shot("sign-off-on-site")
    page.click("#sign-off-submit")
    page.wait_for_selector("#signed tr[data-tenant=T1]")
    assert "已登记 T1 的签收。" in page.inner_text("ul.flashes")

    # Second: a scanned sheet, uploaded through the form.
    page.select_option("#sign-off-tenant", "T2")
    page.fill("#sign-off-signer", "李女士")
    page.check("#sign-off-form input[name=method][value=scanned]")
    page.set_input_files("#sign-off-sheet", str(sheet))
    page.fill("#sign-off-form textarea[name=note]", "扫描件由前台上传")
    shot("sign-off-scanned-sheet")
    page.click("#sign-off-submit")
    page.wait_for_selector("#signed tr[data-tenant=T2]")

    # One unsigned recipient left; the progress at two of three.
    assert page.locator("#unsigned li").count() == 1
    assert page.get_attribute("#unsigned li", "data-tenant") == "T3"
    assert "王小明" in page.inner_text("#unsigned")
    assert "已签收 2 / 3（67%）" in page.inner_text("#progress-figure")
    assert page.get_attribute("#progress-bar", "value") == "67"
    assert "未签收：1" in page.inner_text("#progress-summary")
    signed = page.inner_text("#signed")
    assert "现场签字" in signed and "扫描签收单" in signed and "扫描件由前台上传" in signed
    assert page.locator("#sign-off-tenant option").count() == 1  # only T3 can still sign
    shot("two-signed-one-unsigned")

    # The CSV for Excel.
    with page.expect_download() as info:
        page.click("#csv-link")
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("租户编号 Tenant code")
    assert len(text.strip().splitlines()) == 4

    # The sheet is a document of its own, in the tenant's archive.
    page.click("#signed tr[data-tenant=T2] a.sheet-link")
    page.wait_for_selector("#metadata")
    assert "签收单 — " + NOTICE + " — 深港咨询有限公司" in page.inner_text("main h1")
    shot("sheet-document")
    page.goto(f"/documents/{doc_id}")
    assert "未签收：王小明" in page.inner_text("#notice-sign-offs")
    shot("notice-page-after")
    page.goto("/tenants/T2")
    assert "签收单" in page.inner_text("main")
    assert "已签收" in page.inner_text("#addressed-notices") or \
        "是" in page.inner_text("#addressed-notices")
    shot("tenant-T2-archive")
