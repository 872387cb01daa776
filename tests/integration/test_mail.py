"""Notification mail through a real SMTP server on loopback (aiosmtpd), on SQLite
and PostgreSQL: who receives what, that mail never carries file content or a
download link, and that a mail the server could not take is kept and sent later.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text, update
from test_cli import SECRET_MINUTES, Vault, doc_id  # noqa: I001 - sibling test module

from vault import db
from vault.models import Notification, User
from vault.policy import Category, CopyKind, Level
from vault.services import copies, documents, notifications
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
TITLE = "B座租赁合同（续签）"
# Text that is only inside the file: it must never reach a mailbox.
MARKER = "CONTENT-ONLY-7Q4ZK"
BASE_URL = "https://vault.example.test"


@dataclass
class Received:
    rcpt: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


class Collect:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.handler = Collect()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailing(org: Infra, smtp: SmtpServer) -> Infra:
    """The small organisation, with SMTP on the loopback server and everyone's address."""
    settings = dataclasses.replace(org.settings, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                   base_url=BASE_URL, mail_from="vault@example.test")
    with db.transaction(org.sessions) as s:
        for user in s.scalars(select(User)):
            user.email = f"{user.username}@example.test"
    return dataclasses.replace(org, settings=settings)


def _pdf_with_marker() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    pdf.drawString(72, 720, f"Rent floor: {MARKER}")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _register(infra: Infra) -> int:
    with unit_of_work(infra, "boss", NOW) as ctx:
        return documents.register(
            ctx, title=TITLE, category=Category.CONTRACT, level=Level.CONFIDENTIAL,
            content=io.BytesIO(_pdf_with_marker()), filename="contract.pdf",
        ).id


def _ask(infra: Infra, doc: int) -> int:
    with unit_of_work(infra, "clerk", NOW) as ctx:
        return copies.request(ctx, doc, CopyKind.COPY, "租户要求核对条款").id


def _mailed_at(infra: Infra, username: str) -> list[datetime | None]:
    with infra.sessions() as s:
        return list(s.scalars(
            select(Notification.mailed_at).join(User, Notification.user_id == User.id)
            .where(User.username == username).order_by(Notification.id)))


def _assert_no_content(mail: Received) -> None:
    raw = mail.message.as_string()
    for where in (mail.subject, mail.body, raw):
        assert MARKER not in where
        assert "/download" not in where
    assert "%PDF" not in raw and not list(mail.message.iter_attachments())
    # The only link is the request's page, which asks for sign-in.
    links = re.findall(r"https?://\S+", mail.body)
    assert links and all(re.fullmatch(rf"{re.escape(BASE_URL)}/copies/\d+", x) for x in links)


def test_request_and_decision_are_mailed_without_content(mailing: Infra,
                                                         smtp: SmtpServer) -> None:
    doc = _register(mailing)
    req = _ask(mailing, doc)

    # The owning company's GM decides a confidential contract: only they are mailed.
    assert len(smtp.received) == 1
    to_gm = smtp.received[0]
    assert to_gm.rcpt == ["gm@example.test"] and to_gm.message["To"] == "gm@example.test"
    assert to_gm.message["From"] == "vault@example.test"
    assert TITLE in to_gm.subject and "待审批" in to_gm.subject and "To decide" in to_gm.subject
    assert f"{BASE_URL}/copies/{req}" in to_gm.body and TITLE in to_gm.body
    _assert_no_content(to_gm)
    assert [m is not None for m in _mailed_at(mailing, "gm")] == [True]

    with unit_of_work(mailing, "gm", NOW) as ctx:
        copies.approve(ctx, req)
    assert len(smtp.received) == 2
    to_clerk = smtp.received[1]
    assert to_clerk.rcpt == ["clerk@example.test"]
    assert "已批准" in to_clerk.subject and "Approved" in to_clerk.subject
    assert TITLE in to_clerk.body and f"{BASE_URL}/copies/{req}" in to_clerk.body
    _assert_no_content(to_clerk)

    # The copy itself goes out by download only: fetching it mails nothing.
    with unit_of_work(mailing, "clerk", NOW + timedelta(minutes=5)) as ctx:
        delivery = copies.download(ctx, req)
    assert b"".join(delivery.chunks).startswith(b"%PDF")
    assert len(smtp.received) == 2


def test_rejection_is_mailed_and_people_without_address_get_the_inbox_only(
        mailing: Infra, smtp: SmtpServer) -> None:
    with db.transaction(mailing.sessions) as s:
        s.execute(update(User).where(User.username == "gm").values(email=None))
    doc = _register(mailing)
    req = _ask(mailing, doc)
    assert smtp.received == []
    assert _mailed_at(mailing, "gm") == [None]
    with unit_of_work(mailing, "gm", NOW) as ctx:
        assert [n.request_id for n in notifications.inbox(ctx)] == [req]
        copies.reject(ctx, req, "用途不明确")
    [to_clerk] = smtp.received
    assert to_clerk.rcpt == ["clerk@example.test"] and "未批准" in to_clerk.subject
    _assert_no_content(to_clerk)


def test_mail_waits_while_smtp_is_down_and_is_sent_later(mailing: Infra,
                                                        smtp: SmtpServer) -> None:
    doc = _register(mailing)
    smtp.stop()
    req = _ask(mailing, doc)  # the request does not depend on the mail server
    with unit_of_work(mailing, "gm", NOW) as ctx:
        inbox = notifications.inbox(ctx)
        assert [(n.request_id, n.read_at) for n in inbox] == [(req, None)]
        assert notifications.unread_count(ctx) == 1
    assert _mailed_at(mailing, "gm") == [None]
    assert notifications.deliver(mailing) == 0  # still down: kept for the next run
    assert _mailed_at(mailing, "gm") == [None]

    smtp.start()
    assert smtp.received == []
    assert notifications.deliver(mailing) == 1
    [to_gm] = smtp.received
    assert to_gm.rcpt == ["gm@example.test"] and f"{BASE_URL}/copies/{req}" in to_gm.body
    _assert_no_content(to_gm)
    assert [m is not None for m in _mailed_at(mailing, "gm")] == [True]
    assert notifications.deliver(mailing) == 0  # sent once
    assert len(smtp.received) == 1


def test_cli_mail_send_pending(demo_home: Path, database_url: str, smtp: SmtpServer) -> None:
    # After `vault init` and `vault demo` (copied from the session's template: nobody has
    # an address yet, so the demo's notifications wait unmailed as they would here).
    vault = Vault(demo_home, database_url)
    vault.env.update({"VAULT_SMTP_HOST": "127.0.0.1", "VAULT_SMTP_PORT": str(smtp.port),
                      "VAULT_BASE_URL": BASE_URL})
    from sqlalchemy import create_engine

    eng = create_engine(database_url)
    with eng.begin() as conn:
        conn.execute(text("update users set email = username || '@example.test'"))
    eng.dispose()
    doc = doc_id(vault, SECRET_MINUTES)

    smtp.stop()
    res = vault("copies", "request", doc, "--kind", "copy", "--purpose", "律师核对",
                "--as", "zhou.zhuguan")
    assert res.exit_code == 0, res.output
    req = re.match(r"request (\d+): ", res.output).group(1)  # type: ignore[union-attr]
    res = vault("mail", "send-pending")
    assert (res.exit_code, res.stdout) == (0, "0 mail(s) sent\n"), res.output

    smtp.start()
    res = vault("mail", "send-pending")
    # Everything kept while the server was down goes now, one mail each: among them
    # the copy request to the GM, the demo's 绝密 registration to the other HQ
    # executive (issue 11: every HQ executive hears of a new 绝密 file) and the demo's
    # loan of the business licence, asked of both HQ executives.
    assert res.exit_code == 0 and res.stdout == f"{len(smtp.received)} mail(s) sent\n"
    [to_gm] = [m for m in smtp.received
               if m.rcpt == ["chen.gm@example.test"] and SECRET_MINUTES in m.subject]
    [to_hq] = [m for m in smtp.received
               if m.rcpt == ["wang.zong@example.test"] and "绝密文件登记" in m.subject]
    loan_asked = {m.rcpt[0] for m in smtp.received if "营业执照" in m.subject}
    assert {"wang.zong@example.test", "li.fuzong@example.test"} <= loan_asked
    assert f"{BASE_URL}/copies/{req}" in to_gm.body
    assert vault("mail", "send-pending").stdout == "0 mail(s) sent\n"

    # With the server up, a decision is mailed at once.
    before = len(smtp.received)
    res = vault("copies", "approve", req, "--as", "chen.gm")
    assert res.exit_code == 0, res.output
    assert [m.rcpt[0] for m in smtp.received[before:]] == ["zhou.zhuguan@example.test"]
    _assert_no_content(smtp.received[-1])
