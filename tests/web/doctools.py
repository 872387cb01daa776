"""Helpers for the document page tests: documents made through the service, uploads
through the real form, and reading the audit trail."""

from __future__ import annotations

import functools
import io
import re
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.audit.models import AuditEvent
from vault.models import Document
from vault.policy import Category, Level
from vault.services import accounts, documents, samples
from vault.services.context import unit_of_work

# reportlab writes the same bytes for the same title (invariant=True): made once each.
_sample_pdf = functools.cache(samples.pdf_pages)


def make_doc(
    app: Flask,
    level: Level,
    *,
    registrant: str = "clerk",
    supervisor: str = "boss",
    department: str = "CS",
    category: Category = Category.CONTRACT,
    title: str | None = None,
    content: bytes | None = None,
    filename: str = "document.pdf",
) -> int:
    """A document registered through the service (with a PDF unless told otherwise)."""
    infra = app.extensions["vault.infra"]
    if content is None:
        content = _sample_pdf(title or f"测试文件 {level.value}")
    with unit_of_work(infra, registrant) as ctx:
        doc = documents.register(
            ctx, title=title or f"测试文件 {level.value}", category=category, level=level,
            supervisor=accounts.get_user(ctx.session, supervisor), department_code=department,
            content=io.BytesIO(content), filename=filename,
        )
        return doc.id


def multipart(fields: dict[str, str], file_field: str, content: bytes,
              filename: str) -> tuple[bytes, str]:
    """A multipart/form-data body built in memory (the test client would spool a large
    one to a temporary file of its own, which the no-plaintext test must not see)."""
    boundary = "----vault-test-" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 .encode("utf-8", "surrogateescape"))
    parts.append(content)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(client: FlaskClient, content: bytes, filename: str, **fields: Any) -> Any:
    """POST the register form with ``content`` as the file."""
    data: dict[str, str] = {
        "csrf_token": csrf_token(client, "/documents/new"),
        "title": "上传测试", "category": "contract", "level": "confidential",
        "period_kind": "duration", "period_years": "10", "supervisor": "boss",
        "department": "CS",
    }
    data.update(fields)
    body, content_type = multipart(data, "file", content, filename)
    return client.post("/documents/new", data=body, content_type=content_type)


def events(app: Flask, **where: Any) -> list[AuditEvent]:
    infra = app.extensions["vault.infra"]
    with infra.sessions() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.seq)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(s.scalars(stmt))


def last_seq(app: Flask) -> int:
    infra = app.extensions["vault.infra"]
    with infra.sessions() as s:
        return int(s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)


def document_count(app: Flask) -> int:
    infra = app.extensions["vault.infra"]
    with infra.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Document)) or 0)


def doc_id_from(location: str) -> int:
    match = re.search(r"/documents/(\d+)$", location)
    assert match, location
    return int(match.group(1))
