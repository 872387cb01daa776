"""The access matrix (issue 5, "Must show"): every document route × every role of
tests/people.py × a document of every level, with the exact status SPEC.md §2–3
gives — 404 when the document is out of the person's scope, 403 when they may know
of it but not do this — and an audit event written for every request that touches
a document, allowed or denied.

The documents belong to SZ's customer-service department (CS); the registrant is
``clerk`` (SZ/CS staff) and the responsible supervisor ``boss`` (SZ/CS supervisor).
Successful form posts answer 302 (post/redirect/get).

Columns, in order:

    list     GET  /documents/                      L = listed, - = absent (always 200)
    page     GET  /documents/<id>                  the document page (metadata)
    view     GET  /documents/<id>/view             the viewer
    image    GET  /documents/<id>/pages/1.png      a watermarked page image
    download GET  /documents/<id>/download         raw bytes: internal files only
    grant    POST /documents/<id>/grants           grant/designate (grantee: outsider)
    revoke   POST /documents/<id>/grants/outsider/revoke
    version  POST /documents/<id>/versions         add a version
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from doctools import last_seq, make_doc, multipart  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from people import PEOPLE
from sqlalchemy import select
from webtools import csrf_token

from vault.audit.models import AuditEvent
from vault.policy import Level
from vault.services import samples

ROUTES = ("list", "page", "view", "image", "download", "grant", "revoke", "version")
LEVELS = (Level.INTERNAL, Level.CONFIDENTIAL, Level.SECRET, Level.TOP_SECRET)

_ = "-   404 404 404 404 404 404 404"  # out of scope: the file does not exist for them
META = "L   200 403 403 403 403 403 403"  # may know of it (metadata), not read or act

# role -> level -> "list page view image download grant revoke version"
MATRIX: dict[str, dict[Level, str]] = {
    "ceo": {  # HQ executive: may know everything, designates at every level
        Level.INTERNAL:     "L   200 200 200 200 403 403 302",
        Level.CONFIDENTIAL: "L   200 200 200 403 302 302 302",
        Level.SECRET:       "L   200 200 200 403 302 302 302",
        Level.TOP_SECRET:   "L   200 200 200 403 302 302 302",
    },
    "auditor": {  # compliance: metadata of every file, never content
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: META,
        Level.SECRET:       META,
        Level.TOP_SECRET:   META,
    },
    "root": {  # administrator: no content by role; internal files as an employee
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: _,
        Level.SECRET:       _,
        Level.TOP_SECRET:   _,
    },
    "gm": {  # SZ general manager: approves copies of 秘密/机密, so knows of them
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: META,
        Level.SECRET:       META,
        Level.TOP_SECRET:   _,
    },
    "manager": {  # manager of the owning department: reads and grants 秘密 only
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: "L   200 200 200 403 302 302 403",
        Level.SECRET:       _,
        Level.TOP_SECRET:   _,
    },
    "boss": {  # the responsible supervisor: reads, designates, adds versions (not 绝密)
        Level.INTERNAL:     "L   200 200 200 200 403 403 302",
        Level.CONFIDENTIAL: "L   200 200 200 403 302 302 302",
        Level.SECRET:       "L   200 200 200 403 302 302 302",
        Level.TOP_SECRET:   _,
    },
    "clerk": {  # the registrant: reads and adds versions, grants nothing
        Level.INTERNAL:     "L   200 200 200 200 403 403 302",
        Level.CONFIDENTIAL: "L   200 200 200 403 403 403 302",
        Level.SECRET:       "L   200 200 200 403 403 403 302",
        Level.TOP_SECRET:   "L   200 200 200 403 403 403 302",
    },
    "accountant": {  # same company, another department
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: _,
        Level.SECRET:       _,
        Level.TOP_SECRET:   _,
    },
    "keeper": {  # SZ custodian: keeps the registers, so knows of SZ's files
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: META,
        Level.SECRET:       META,
        Level.TOP_SECRET:   META,
    },
    "outsider": {  # another company's staff
        Level.INTERNAL:     "L   200 200 200 200 403 403 403",
        Level.CONFIDENTIAL: _,
        Level.SECRET:       _,
        Level.TOP_SECRET:   _,
    },
}


def test_the_matrix_covers_every_role_and_level() -> None:
    assert set(MATRIX) == set(PEOPLE)
    for role, row in MATRIX.items():
        assert set(row) == set(LEVELS), role
        for cells in row.values():
            assert len(cells.split()) == len(ROUTES), role


# The same small PDF for every "add a version" request (reportlab's output is invariant).
NEW_VERSION = samples.pdf_pages("新版本", 1)


def _listed(client: FlaskClient, docs: dict[Level, int]) -> dict[Level, str]:
    """One GET /documents/ for the list column of every level: "L" where the document
    is linked from the list, "-" where it is absent."""
    resp = client.get("/documents/")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    return {level: "L" if f'href="/documents/{doc_id}"' in page else "-"
            for level, doc_id in docs.items()}


def _request(client: FlaskClient, route: str, doc_id: int, token: str) -> tuple[int, str]:
    """Status and body of ``route`` on ``doc_id``."""
    if route == "page":
        resp = client.get(f"/documents/{doc_id}")
    elif route == "view":
        resp = client.get(f"/documents/{doc_id}/view")
    elif route == "image":
        resp = client.get(f"/documents/{doc_id}/pages/1.png")
    elif route == "download":
        resp = client.get(f"/documents/{doc_id}/download")
    elif route == "grant":
        resp = client.post(f"/documents/{doc_id}/grants",
                           data={"csrf_token": token, "grantee": "outsider"})
    elif route == "revoke":
        resp = client.post(f"/documents/{doc_id}/grants/outsider/revoke",
                           data={"csrf_token": token})
    else:
        body, content_type = multipart({"csrf_token": token}, "file", NEW_VERSION, "v.pdf")
        resp = client.post(f"/documents/{doc_id}/versions", data=body,
                           content_type=content_type)
    text = "" if resp.mimetype != "text/html" else resp.get_data(as_text=True)
    return resp.status_code, text


def _events_since(app: Flask, seq: int) -> list[AuditEvent]:
    """Every audit event after ``seq``, in order (this test's database: only its own
    requests write to the trail)."""
    infra = app.extensions["vault.infra"]
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.seq > seq)
                              .order_by(AuditEvent.seq)))


@pytest.mark.parametrize("role", sorted(PEOPLE))
def test_access_matrix(app: Flask, login_as: Callable[[str], FlaskClient], role: str) -> None:
    docs = {level: make_doc(app, level, title=f"矩阵文件-{level.value}") for level in LEVELS}
    client = login_as(role)
    token = csrf_token(client, "/documents/new")
    problems: list[str] = []
    # The list column: one listing shows every level's document (nothing below changes
    # whether another document is listed), and that listing is audited.
    seen = last_seq(app)

    def written() -> list[AuditEvent]:
        """The events the last request wrote: every event after the last one seen
        (one read per request; the next request's start is this one's end)."""
        nonlocal seen
        events = _events_since(app, seen)
        seen = events[-1].seq if events else seen
        return events

    listed = _listed(client, docs)
    if not any(e.action == "document:search" and e.actor == role for e in written()):
        problems.append("list: no document:search event")
    got: dict[Level, list[str]] = {}
    for level, doc_id in docs.items():
        cells: list[str] = [listed[level]]
        for route in ROUTES[1:]:
            status, body = _request(client, route, doc_id, token)
            cells.append(str(status))
            new = [e for e in written() if e.actor == role and e.document_id == doc_id]
            if not new:
                problems.append(f"{level.value} {route}: no audit event for the document")
                continue
            outcome = "allowed" if status < 400 else "denied"
            if new[-1].outcome != outcome:
                problems.append(f"{level.value} {route}: audited {new[-1].outcome}, "
                                f"expected {outcome}")
            if status == 404 and f"矩阵文件-{level.value}" in body:
                problems.append(f"{level.value} {route}: a 404 names the file")
        got[level] = cells
    expected = {level: MATRIX[role][level].split() for level in LEVELS}
    table = "\n".join(f"  {level.value:13} expected {' '.join(expected[level]):34} "
                      f"got {' '.join(got[level])}" for level in LEVELS)
    assert got == expected, f"{role}: {' '.join(ROUTES)}\n{table}"
    assert problems == []


def test_a_denied_image_is_never_an_image(app: Flask,
                                          login_as: Callable[[str], FlaskClient]) -> None:
    """Refusals of content are pages, not bytes, and say nothing of the file."""
    doc_id = make_doc(app, Level.SECRET, title="不可见的机密文件")
    for role in ("gm", "accountant"):
        resp = login_as(role).get(f"/documents/{doc_id}/pages/1.png")
        assert resp.mimetype == "text/html"
        assert "不可见的机密文件" not in resp.get_data(as_text=True)
        assert not resp.data.startswith(b"\x89PNG")
