"""The OpenAPI 3.0 description of /api/v1, served at /api/v1/openapi.json.

Written by hand next to the views (vault/web/api.py); a test checks that every
route of the API is described here and nothing else is. The enumerations
(levels, categories, audit actions) come from the code, so they cannot drift.
"""

from __future__ import annotations

from typing import Any

from vault.actions import Action, Outcome
from vault.policy import Category, Level

API = "/api/v1"
MAX_ID = 2**31 - 1

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR = {"type": "string"}
INT = {"type": "integer"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}

ID_PARAM = {
    "name": "id", "in": "path", "required": True, "description": "Document id.",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
LANG_PARAM = {
    "name": "lang", "in": "query", "required": False,
    "description": "Language of the marking (密级★保密期限): zh (default) or en.",
    "schema": {"type": "string", "enum": ["zh", "en"], "default": "zh"},
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _page_params(default: int, largest: int) -> list[dict[str, Any]]:
    return [
        _query("page", {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1},
               "Page number, from 1."),
        _query("per_page",
               {"type": "integer", "minimum": 1, "maximum": largest, "default": default},
               f"Items per page (1–{largest})."),
    ]


def _schemas() -> dict[str, Any]:
    levels = [lv.value for lv in Level]
    categories = [c.value for c in Category]
    registration_fields = {
        "category": {"type": "string", "enum": categories,
                     "description": "The category pre-fills the level."},
        "level": {"type": "string", "enum": levels,
                  "description": "Default: the category's level."},
        "period": {"type": "string", "maxLength": 500,
                   "description": "10y, 6m, 90d, 1y6m, a date YYYY-MM-DD or condition:TEXT. "
                                  "Default: the level's period; none for internal files."},
        "issued_on": {**DATE, "description": "Issue date (制发日); default today."},
        "supervisor": {"type": "string", "maxLength": 64,
                       "description": "Responsible supervisor's user name; default: you."},
        "department": {"type": "string", "maxLength": 32,
                       "description": "Owning department code; default: yours."},
        "tenant": {"type": "string", "maxLength": 32, "description": "Tenant code."},
    }
    version = {
        "type": "object",
        "required": ["number", "size", "created_at"],
        "properties": {
            "number": INT, "size": INT, "media_type": _nullable(STR),
            "name": _nullable(STR), "created_at": DATETIME,
        },
    }
    grant = {
        "type": "object",
        "required": ["grantee", "grantor", "level", "until", "revoked"],
        "properties": {
            "grantee": STR, "grantor": STR, "level": {"type": "string", "enum": levels},
            "until": _nullable(DATETIME), "revoked": {"type": "boolean"},
        },
    }
    may_view = {
        "description": "\"all active employees\" for internal files; else who and why.",
        "oneOf": [
            STR,
            {"type": "array", "items": {
                "type": "object", "required": ["user", "reason"],
                "properties": {"user": STR, "reason": STR}}},
        ],
    }
    summary_props = {
        "id": INT, "title": STR,
        "category": {"type": "string", "enum": categories},
        "level": {"type": "string", "enum": levels,
                  "description": "The level in force now (periods that ended count)."},
        "marking": {"type": "string", "description": "e.g. 机密★10年; for internal files "
                    "the label alone."},
        "issued_on": DATE, "company": STR, "department": _nullable(STR),
        "tenant": _nullable(STR), "paper_original": {"type": "boolean"},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs: "
                         "invalid_input, unauthenticated, unknown_document, "
                         "copy_approval_required, …"},
                "message": {"type": "string", "description": "For people."},
            },
        },
        "DocumentSummary": {"type": "object", "required": list(summary_props),
                            "properties": summary_props},
        "DocumentList": {
            "type": "object",
            "required": ["items", "total", "page", "per_page"],
            "properties": {"items": {"type": "array", "items": _ref("DocumentSummary")},
                           "total": INT, "page": INT, "per_page": INT},
        },
        "Version": version,
        "Grant": grant,
        "Document": {
            "type": "object",
            "required": ["id", "title", "category", "level", "effective_level", "marking",
                         "period", "issued_on", "declassify_at", "company", "versions",
                         "grants", "may_view"],
            "properties": {
                "id": INT, "title": STR,
                "category": {"type": "string", "enum": categories},
                "level": {"type": "string", "enum": levels,
                          "description": "The level as registered (or last changed)."},
                "effective_level": {"type": "string", "enum": levels,
                                    "description": "The level in force now."},
                "marking": STR,
                "period": {"type": "string", "description": "e.g. 10y, 2030-06-30, "
                           "condition:TEXT, none."},
                "issued_on": DATE,
                "declassify_at": {**_nullable(DATETIME),
                                  "description": "When the period ends (group time)."},
                "condition": _nullable(STR),
                "company": STR, "department": _nullable(STR), "supervisor": _nullable(STR),
                "registrant": _nullable(STR), "tenant": _nullable(STR),
                "paper_original": {"type": "boolean"},
                "versions": {"type": "array", "items": _ref("Version")},
                "grants": {"type": "array", "items": _ref("Grant")},
                "may_view": may_view,
            },
        },
        "VersionList": {
            "type": "object", "required": ["document", "items"],
            "properties": {"document": INT, "items": {"type": "array",
                                                      "items": _ref("Version")}},
        },
        "NewVersion": {
            "type": "object", "required": ["document", "number", "size"],
            "properties": {"document": INT, "number": INT, "size": INT,
                           "media_type": _nullable(STR), "name": _nullable(STR),
                           "created_at": DATETIME},
        },
        "Upload": {
            "type": "object",
            "required": ["file", "category"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "The content; typed by its bytes, not its name."},
                "title": {"type": "string", "maxLength": 500,
                          "description": "Default: the file name without extension."},
                **registration_fields,
            },
        },
        "PaperOriginal": {
            "type": "object",
            "required": ["title", "category"],
            "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 500},
                           **registration_fields},
        },
        "VersionUpload": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}},
        },
        "GrantList": {
            "type": "object", "required": ["document", "items", "may_view"],
            "properties": {"document": INT, "items": {"type": "array", "items": _ref("Grant")},
                           "may_view": may_view},
        },
        "GrantRequest": {
            "type": "object", "required": ["user"],
            "properties": {
                "user": {"type": "string", "minLength": 1, "maxLength": 64},
                "until": {**_nullable(DATETIME),
                          "description": "End of the grant; without an offset, group time."},
            },
        },
        "NewGrant": {
            "type": "object",
            "required": ["document", "grantee", "grantor", "level", "created_at", "until"],
            "properties": {"document": INT, "grantee": STR, "grantor": STR,
                           "level": {"type": "string", "enum": levels},
                           "created_at": DATETIME, "until": _nullable(DATETIME)},
        },
        "Revoked": {
            "type": "object", "required": ["document", "grantee", "revoked"],
            "properties": {"document": INT, "grantee": STR,
                           "revoked": {"type": "integer",
                                       "description": "How many grants ended."}},
        },
        "AuditEvent": {
            "type": "object",
            "required": ["seq", "ts", "actor", "action", "outcome", "mac"],
            "properties": {
                "seq": INT, "ts": STR, "actor": STR, "actor_roles": STR,
                "source": _nullable(STR), "action": STR, "object_type": _nullable(STR),
                "object_id": _nullable(STR), "document_id": _nullable(INT),
                "level": _nullable(STR), "outcome": STR, "reason": _nullable(STR),
                "request_id": _nullable(STR),
                "detail": {**_nullable(STR), "description": "Canonical JSON text."},
                "mac": {"type": "string", "description": "The chain's HMAC at this event."},
            },
        },
        "AuditEventPage": {
            "type": "object",
            "required": ["items", "total", "page", "pages", "per_page"],
            "properties": {"items": {"type": "array", "items": _ref("AuditEvent")},
                           "total": INT,
                           "page": {"type": "integer",
                                    "description": "The page given (a page past the "
                                                   "end gives the last)."},
                           "pages": INT, "per_page": INT},
        },
        "Knowers": {
            "type": "object", "required": ["document", "items"],
            "properties": {"document": INT, "items": {"type": "array", "items": {
                "type": "object", "required": ["actor", "action", "at", "seq"],
                "properties": {"actor": STR, "action": STR, "at": DATETIME, "seq": INT}}}},
        },
        "Me": {
            "type": "object",
            "required": ["username", "name", "company", "roles", "active", "token"],
            "properties": {
                "username": STR, "name": STR, "company": STR, "department": _nullable(STR),
                "roles": {"type": "array", "items": STR}, "active": {"type": "boolean"},
                "token": {"type": "object", "required": ["id", "name", "prefix"],
                          "properties": {"id": INT, "name": STR, "prefix": STR,
                                         "expires_at": _nullable(DATETIME)}},
            },
        },
    }


def _responses() -> dict[str, Any]:
    error = {"content": {JSON: {"schema": _ref("Error")}}}
    return {
        "BadRequest": {"description": "Invalid input (code invalid_input names the field; "
                       "other codes come from the rules, e.g. bad_title).", **error},
        "Unauthenticated": {
            "description": "No valid token (code unauthenticated): missing, unknown, "
                           "revoked, expired, or its owner deactivated.",
            "headers": {"WWW-Authenticate": {"schema": STR}}, **error},
        "Forbidden": {"description": "You may know of it but not do this (e.g. "
                      "copy_approval_required, not_compliance).", **error},
        "NotFound": {"description": "Absent, or outside your scope (the same answer).",
                     **error},
        "Conflict": {"description": "Clashes with the current state.", **error},
        "TooLarge": {"description": "Larger than the upload limit.", **error},
        "Unsupported": {"description": "Wrong content type for this operation.", **error},
        "Unavailable": {"description": "The audit event could not be written, so nothing "
                        "was done (fail closed).", **error},
    }


def _errors(*names: str) -> dict[str, Any]:
    codes = {"BadRequest": "400", "Unauthenticated": "401", "Forbidden": "403",
             "NotFound": "404", "Conflict": "409", "TooLarge": "413", "Unsupported": "415",
             "Unavailable": "503"}
    return {codes[n]: _error(n) for n in ("Unauthenticated", "Unavailable", *names)}


def _paths() -> dict[str, Any]:
    doc_params = [ID_PARAM]
    search_params = [
        _query("text", {"type": "string", "maxLength": 200}, "Words in the title."),
        _query("category", {"type": "string", "enum": [c.value for c in Category]},
               "Category id."),
        _query("level", {"type": "string", "enum": [lv.value for lv in Level]},
               "Level in force now."),
        _query("tenant", {"type": "string", "maxLength": 32}, "Tenant code."),
        _query("company", {"type": "string", "maxLength": 32}, "Company code."),
        _query("department", {"type": "string", "maxLength": 32}, "Department code."),
        _query("issued_from", DATE, "Issued on or after (YYYY-MM-DD)."),
        _query("issued_to", DATE, "Issued on or before (YYYY-MM-DD)."),
        *_page_params(50, 500),
        LANG_PARAM,
    ]
    audit_params = [
        _query("since", DATETIME, "From this time (inclusive); a date means its midnight, "
               "group time."),
        _query("until", DATETIME, "Up to this time (exclusive)."),
        _query("actor", {"type": "string", "maxLength": 64}, "User name."),
        _query("document", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
               "Document id."),
        _query("action", {"type": "string", "enum": [a.value for a in Action]},
               "Audit action."),
        _query("outcome", {"type": "string", "enum": [o.value for o in Outcome]},
               "allowed, denied or failed."),
        *_page_params(100, 500),
    ]
    return {
        f"{API}/documents": {
            "get": {
                "operationId": "listDocuments", "tags": ["documents"],
                "summary": "Search the documents you may know of",
                "description": "Only documents in your scope exist here, counts included.",
                "parameters": search_params,
                "responses": {"200": _json(_ref("DocumentList"), "A page of documents."),
                              **_errors("BadRequest")},
            },
            "post": {
                "operationId": "registerDocument", "tags": ["documents"],
                "summary": "Register a document",
                "description": "multipart/form-data with the file and its metadata, or "
                               "application/json for a paper original without a file.",
                "parameters": [LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": _ref("Upload")},
                    JSON: {"schema": _ref("PaperOriginal")},
                }},
                "responses": {"201": _json(_ref("Document"), "Registered."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "TooLarge",
                                        "Unsupported")},
            },
        },
        f"{API}/documents/{{id}}": {
            "get": {
                "operationId": "getDocument", "tags": ["documents"],
                "summary": "A document's metadata",
                "description": "Marking, level in force, period and its end, versions, "
                               "grants, who may view and why. Audited.",
                "parameters": [*doc_params, LANG_PARAM],
                "responses": {"200": _json(_ref("Document"), "The metadata."),
                              **_errors("BadRequest", "NotFound")},
            },
        },
        f"{API}/documents/{{id}}/versions": {
            "get": {
                "operationId": "listVersions", "tags": ["documents"],
                "summary": "A document's versions",
                "parameters": [*doc_params, LANG_PARAM],
                "responses": {"200": _json(_ref("VersionList"), "The versions."),
                              **_errors("BadRequest", "NotFound")},
            },
            "post": {
                "operationId": "addVersion", "tags": ["documents"],
                "summary": "Add a version",
                "description": "By the registrant, the responsible supervisor or an HQ "
                               "executive.",
                "parameters": doc_params,
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": _ref("VersionUpload")}}},
                "responses": {"201": _json(_ref("NewVersion"), "Stored."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "TooLarge",
                                        "Unsupported")},
            },
        },
        f"{API}/documents/{{id}}/content": {
            "get": {
                "operationId": "getContent", "tags": ["documents"],
                "summary": "Download an internal file",
                "description": "Internal files only; a classified file answers 403 "
                               "copy_approval_required (it leaves Vault only as an approved, "
                               "registered copy). The download is audited before the first "
                               "byte is sent.",
                "parameters": [*doc_params, _query(
                    "version", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "Version number; default the latest.")],
                "responses": {
                    "200": {"description": "The bytes, with the media type found when "
                                           "they were stored (by content, not by name).",
                            "headers": {"Content-Disposition": {"schema": STR}},
                            "content": {"*/*": {
                                "schema": {"type": "string", "format": "binary"}}}},
                    **_errors("BadRequest", "Forbidden", "NotFound"),
                },
            },
        },
        f"{API}/documents/{{id}}/grants": {
            "get": {
                "operationId": "listGrants", "tags": ["grants"],
                "summary": "Grants on a document, and who may view it",
                "parameters": [*doc_params, LANG_PARAM],
                "responses": {"200": _json(_ref("GrantList"), "The grants."),
                              **_errors("BadRequest", "NotFound")},
            },
            "post": {
                "operationId": "createGrant", "tags": ["grants"],
                "summary": "Grant or designate a person",
                "parameters": doc_params,
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("GrantRequest")}}},
                "responses": {"201": _json(_ref("NewGrant"), "Granted."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
        f"{API}/documents/{{id}}/grants/{{username}}": {
            "delete": {
                "operationId": "revokeGrant", "tags": ["grants"],
                "summary": "Revoke a person's grants at once",
                "parameters": [*doc_params, {
                    "name": "username", "in": "path", "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                    "description": "The grantee's user name."}],
                "responses": {"200": _json(_ref("Revoked"), "Revoked."),
                              **_errors("BadRequest", "Forbidden", "NotFound")},
            },
        },
        f"{API}/audit/events": {
            "get": {
                "operationId": "listAuditEvents", "tags": ["audit"],
                "summary": "The audit trail (compliance only)",
                "description": "Newest first. Each event carries the fields its MAC covers "
                               "and the MAC. Reading the trail is itself an audit event.",
                "parameters": audit_params,
                "responses": {"200": _json(_ref("AuditEventPage"), "A page of events."),
                              **_errors("BadRequest", "Forbidden")},
            },
        },
        f"{API}/audit/documents/{{id}}/knowers": {
            "get": {
                "operationId": "listKnowers", "tags": ["audit"],
                "summary": "Who has known a document (compliance only)",
                "parameters": doc_params,
                "responses": {"200": _json(_ref("Knowers"), "The knowers, oldest first."),
                              **_errors("BadRequest", "Forbidden", "NotFound")},
            },
        },
        f"{API}/me": {
            "get": {
                "operationId": "getMe", "tags": ["me"],
                "summary": "The token's owner",
                "responses": {"200": _json(_ref("Me"), "You."), **_errors()},
            },
        },
        f"{API}/openapi.json": {
            "get": {
                "operationId": "getOpenApi", "tags": ["meta"],
                "summary": "This description", "security": [],
                "responses": {"200": {"description": "The OpenAPI document.",
                                      "content": {JSON: {"schema": {"type": "object"}}}}},
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document of /api/v1."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Vault API",
            "version": "1",
            "description": (
                "The confidentiality vault's JSON API. Authenticate with a personal token "
                "(created under /tokens or `vault tokens create USER`) in the header "
                "`Authorization: Bearer vt_…`; tokens are never accepted in the URL. "
                "A request acts as the token's owner: documents outside their scope do "
                "not exist (404). Errors are JSON objects with a stable `code` and a "
                "human `message`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in ("documents", "grants", "audit", "me", "meta")],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "bearerFormat": "vt_<prefix>_<secret>"},
            },
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }
