"""Sending mail over SMTP (when ``VAULT_SMTP_HOST`` is set). Messages carry a
subject and a short text: never file content, never a link that works without
signing in (SPEC.md §3, issue 6)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from vault.config import Settings


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def send(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send one message; raises OSError / smtplib.SMTPException on failure."""
    if not settings.smtp_host:
        raise RuntimeError("SMTP is not configured")
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="vault")
    msg.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=5) as smtp:
        smtp.send_message(msg)
