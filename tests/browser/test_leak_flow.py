"""Must show: a leak report on a document with two registered copies shows both
holders in its trace, and reaches every HQ executive's inbox (in the UI for one of
them, in the database for all) and the loopback mail server (one mail per HQ
executive with an address).

The live server here is this module's own: the application configured with SMTP on
a real loopback server (aiosmtpd), over the `org` of tests/conftest.py plus two more
HQ executives — one with an address, one without."""

from __future__ import annotations

import email
import email.policy
import io
import socket
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from browsertools import enrol_second_factor, nav_to, sign_in  # noqa: I001
from conftest import serve
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page
from sqlalchemy import select

from vault import create_app, db
from vault.models import Notification, User
from vault.policy import Category, CopyKind, Level
from vault.services import accounts, copies, documents
from vault.services.context import Infra, unit_of_work

TITLE = "E座物业服务合同（2027年续签）"
BASE_URL = "https://vault.example.test"


class Mailbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[int, Mailbox]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture
def group(org: Infra) -> Infra:
    """Three HQ executives: ceo and vp with addresses, evp without."""
    with db.transaction(org.sessions) as s:
        accounts.add_user(s, "vp", "王副总", "HQ", "OFF", accounts.parse_roles("hq_executive"),
                          PASSWORD, email="vp@example.test")
        accounts.add_user(s, "evp", "李副总", "HQ", "OFF", accounts.parse_roles("hq_executive"),
                          PASSWORD)
        ceo = s.scalar(select(User).where(User.username == "ceo"))
        assert ceo is not None
        ceo.email = "ceo@example.test"
    return org


@pytest.fixture
def live_server(group: Infra, mailbox: tuple[int, Mailbox]) -> Iterator[str]:
    """The real application with SMTP on the loopback server (overrides conftest's)."""
    s = group.settings
    app = create_app({"home": s.home, "database_url": s.database_url,
                      "smtp_host": "127.0.0.1", "smtp_port": mailbox[0],
                      "base_url": BASE_URL, "mail_from": "vault@example.test"})
    try:
        with serve(app) as url:
            yield url
    finally:
        app.extensions["vault.engine"].dispose()


def _two_registered_copies(infra: Infra) -> tuple[int, dict[str, str]]:
    """A confidential SZ contract; clerk and manager each ask for a copy, the GM
    approves, each downloads: two registered copies (no SMTP here: no mail yet)."""
    with unit_of_work(infra, "boss") as ctx:
        doc = documents.register(ctx, title=TITLE, category=Category.CONTRACT,
                                 level=Level.CONFIDENTIAL,
                                 content=io.BytesIO(b"Service fee: 12 yuan/m2.\n"),
                                 filename="contract.txt").id
    labels = {}
    for holder in ("clerk", "manager"):
        with unit_of_work(infra, holder) as ctx:
            req = copies.request(ctx, doc, CopyKind.COPY, "与业主核对条款").id
        with unit_of_work(infra, "gm") as ctx:
            copies.approve(ctx, req)
        with unit_of_work(infra, holder) as ctx:
            labels[holder] = copies.download(ctx, req).copy.label
    return doc, labels


def test_leak_report_traces_both_holders_and_reaches_every_hq_executive(
        page: Page, shot: Callable[[str], None], group: Infra,
        mailbox: tuple[int, Mailbox]) -> None:
    _port, box = mailbox
    doc, labels = _two_registered_copies(group)
    assert box.received == []

    # The accountant (finance) may not know of the contract; a page with the manager's
    # copy number turned up in the car park.
    sign_in(page, "accountant", PASSWORD)
    nav_to(page, "报告泄密")
    page.wait_for_selector("#leak-form")
    page.fill("#copy_number", labels["manager"])
    page.fill("#description", "在地下停车场捡到一页合同复印件，页脚印有副本编号。")
    shot("report-form")
    page.click("#send-report")
    page.wait_for_selector("#receipt")
    assert "报告已收到，已通知全体总公司领导。" in page.inner_text(".flashes")
    assert "剩余处理时间" in page.inner_text("#deadline")
    # The reporter learns nothing of what the number led to.
    main = page.inner_text("main")
    assert TITLE not in main and "manager" not in main and "clerk" not in main
    assert page.locator("#trace-now").count() == 0
    shot("receipt")
    leak_path = page.url.removeprefix(page.url.split("/leaks/")[0])
    leak_id = int(leak_path.rsplit("/", 1)[1])

    # Every HQ executive: in the database, at once.
    with group.sessions() as s:
        told = sorted(s.execute(
            select(User.username, Notification.link).join(User, Notification.user_id == User.id)
            .where(Notification.kind == "leak_report")).all())
    assert told == [("ceo", f"/leaks/{leak_id}"), ("evp", f"/leaks/{leak_id}"),
                    ("vp", f"/leaks/{leak_id}")]
    # And the mail server: one mail per HQ executive with an address.
    assert sorted(rcpt for rcpts, _m in box.received for rcpt in rcpts) == [
        "ceo@example.test", "vp@example.test"]
    for _rcpts, message in box.received:
        assert "泄密报告" in str(message["Subject"]) and TITLE in str(message["Subject"])
        body = message.get_body(("plain",))
        assert body is not None
        text = str(body.get_content())  # type: ignore[attr-defined]
        assert f"{BASE_URL}/leaks/{leak_id}" in text and "Service fee" not in text

    # The CEO signs in (enrolling the second factor the role requires) and finds it
    # in the inbox.
    page.click("header form button[type=submit]")  # sign out
    sign_in(page, "ceo", PASSWORD)
    enrol_second_factor(page)
    nav_to(page, "消息")
    page.wait_for_selector("#inbox")
    entry = page.locator("#inbox li", has_text=f"泄密报告 #{leak_id}")
    assert entry.count() == 1 and TITLE in entry.inner_text()
    shot("ceo-inbox")
    entry.locator("a").click()
    page.wait_for_selector("#trace-snapshot")

    # The incident: the red deadline banner and the trace with both holders.
    deadline = page.locator("#deadline")
    assert "剩余处理时间" in deadline.inner_text()
    assert "open" in (deadline.get_attribute("class") or "")
    assert labels["manager"] in page.inner_text("#copy-number")
    for table in ("#snapshot-copies", "#now-copies"):
        rows = page.locator(f"{table} tbody tr")
        assert rows.count() == 2
        assert [rows.nth(i).locator("td").nth(0).inner_text() for i in range(2)] == [
            labels["clerk"], labels["manager"]]
        assert [rows.nth(i).locator("td.holder-name").inner_text() for i in range(2)] == [
            "clerk (clerk)", "manager (manager)"]
    knowers = page.inner_text("#snapshot-knowers")
    assert "clerk (clerk)" in knowers and "manager (manager)" in knowers
    assert "领取登记副本" in knowers
    shot("incident-trace")

    # Handled: it stays on record.
    page.fill("#note", "已约谈副本持有人并收回复印件，已上报集团。")
    page.click("#handle-leak")
    page.wait_for_selector("#handled")
    assert "已在 24 小时时限内处理" in page.inner_text("#deadline")
    assert page.locator("#handle").count() == 0
    shot("handled")
    nav_to(page, "处理泄密报告")
    page.wait_for_selector("#leak-list")
    assert "已处理" in page.inner_text(f"#leak-{leak_id}")
    shot("leak-list")
    assert doc > 0
