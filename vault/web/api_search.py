"""``GET /api/v1/search``: title and content search in the caller's scope. A route
of the ``api`` blueprint (vault/web/api.py); its contract is the schemas below.

The words travel in the query string as the operation's contract says; Vault does
not log request lines (granian's access log is off by default), and the audit event of a
search carries counts, never words.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from vault.policy import Level
from vault.services import search as search_service
from vault.web.api import DocumentFilters, _work, bp, document_query
from vault.web.api_schema import (
    Bool,
    Choice,
    Day,
    Int,
    Null,
    Out,
    Str,
    Text,
    Whole,
    describe,
    refuses_head,
)


class SearchQuery(DocumentFilters):
    q = Text(search_service.MAX_QUERY_CHARS, min_len=1, required=True, **describe(
        "Words, numbers or Chinese text; a document matches when its title or content "
        "holds every word (Chinese: every character pair)."))
    per_page = Whole(1, 100, load_default=20, **describe("Items per page (1–100)."))


class SnippetPiece(Out):
    text = Str()
    hit = Bool()


class Facet(Out):
    value = Str()
    label = Str()
    count = Int()


class SearchHit(Out):
    id = Int()
    title = Str()
    category = Str()
    level = Choice(Level, required=True)
    marking = Str()
    company = Str()
    tenant = Null(Str())
    issued_on = Day(required=True)
    score = fields.Float(required=True, **describe("BM25, within your scope."))
    may_view = Bool()
    snippet = Null(fields.List(fields.Nested(SnippetPiece), required=True, **describe(
        "Text around the first hits (hit: true marks a match); only for files you may "
        "view, and then audited as a view of the file. null otherwise.")))


class SearchResults(Out):
    total = Int(**describe("Matches in your scope; with total_is_lower_bound, more match "
                           "and this is how many were ranked and counted (the newest)."))
    total_is_lower_bound = Bool(attribute="total_capped", **describe(
        "More than total documents match: the results are the newest total matches "
        "ranked, and the facets count those (narrow the search to count them all)."))
    page = Int()
    per_page = Int()
    unindexed = Int(**describe("Files in your scope whose text is still being extracted "
                               "(found by title only once indexed)."))
    results = fields.List(fields.Nested(SearchHit), required=True, attribute="hits")
    facets = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(Facet)),
                         required=True, **describe("Counts over all results by level (in "
                                                   "force now), category and tenant."))


@bp.get("/search", tags=["search"])
@refuses_head  # snippets are views of files: never for a body not sent
@bp.operation("search", summary="Search titles and content in your scope",
              description="Ranked by BM25 over the keyed index. Files outside your scope "
                          "are never counted, ranked or hinted at.")
@bp.arguments(SearchQuery, location="query")
@bp.response(200, SearchResults, description="A page of results.")
@bp.errors("BadRequest")
def search(args: dict[str, Any]) -> Any:
    """Documents whose title or content holds every word of ``q``, best first."""
    query = document_query(args, args["q"])
    with _work() as ctx:
        return search_service.search(ctx, query, args["lang"])
