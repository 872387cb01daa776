"""``GET /api/v1/search``: title and content search in the caller's scope. A route
of the ``api`` blueprint (vault/web/api.py), described in vault/web/openapi.py.

The words travel in the query string as the operation's contract says; Vault does
not log request lines (granian's access log is off by default), and the audit event of a
search carries counts, never words.
"""

from __future__ import annotations

from typing import Any

from vault.services import search as search_service
from vault.web import support
from vault.web.api import _lang, _work, arg_text, bad, bp, document_query


@bp.get("/search")
def search() -> Any:
    """Documents whose title or content holds every word of ``q``, best first."""
    support.refuse_head()  # snippets are views of files: never for a body not sent
    text = arg_text("q", search_service.MAX_QUERY_CHARS)
    if text is None:
        raise bad("q", "is required")
    query = document_query(text, per_page=20, max_per_page=100)
    lang = _lang()
    with _work() as ctx:
        found = search_service.search(ctx, query, lang)
    return search_service.as_dict(found)
