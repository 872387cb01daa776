"""``GET /api/v1/search``: title and content search in the caller's scope. A route
of the ``api`` blueprint (vault/web/api.py), described in vault/web/openapi.py.

The words travel in the query string as the operation's contract says; Vault does
not log request lines (granian's access log is off by default), and the audit event of a
search carries counts, never words.
"""

from __future__ import annotations

from typing import Any

from vault.policy import Category, Level
from vault.services import documents
from vault.services import search as search_service
from vault.web import support
from vault.web.api import _lang, _work, arg_date, arg_enum, arg_int, arg_text, bad, bp


@bp.get("/search")
def search() -> Any:
    """Documents whose title or content holds every word of ``q``, best first."""
    support.refuse_head()  # snippets are views of files: never for a body not sent
    text = arg_text("q", search_service.MAX_QUERY_CHARS)
    if text is None:
        raise bad("q", "is required")
    query = documents.Query(
        text=text,
        category=arg_enum("category", Category),
        level=arg_enum("level", Level),
        tenant=arg_text("tenant", 32),
        company=arg_text("company", 32),
        department=arg_text("department", 32),
        issued_from=arg_date("issued_from"),
        issued_to=arg_date("issued_to"),
        page=arg_int("page", 1, 1, 100_000) or 1,
        per_page=arg_int("per_page", 20, 1, 100) or 20,
    )
    lang = _lang()
    with _work() as ctx:
        found = search_service.search(ctx, query, lang)
    return search_service.as_dict(found)
