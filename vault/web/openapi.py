"""The OpenAPI 3.0 description of /api/v1, served at /api/v1/openapi.json.

Written by hand next to the views (vault/web/api.py); a test checks that every
route of the API is described here and nothing else is. The enumerations
(levels, categories, audit actions) come from the code, so they cannot drift.
"""

from __future__ import annotations

from typing import Any

from vault.actions import Action, Outcome
from vault.policy import CERTIFICATES, Category, CopyKind, Level

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
        **_copy_schemas(),
        **_recording_schemas(),
        **_service_schemas(),
        **_tenant_schemas(),
        **_leak_schemas(),
        **_search_schemas(),
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
        "ReauthFailed": {
            "description": "No valid token (code unauthenticated), or the password or "
                           "second-factor code given for the decision did not match (code "
                           "reauth_failed; repeated failures pause checks for a while).",
            "headers": {"WWW-Authenticate": {"schema": STR}}, **error},
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
                               "application/json for a paper original without a file. "
                               "Send the metadata fields before the file part: the file "
                               "then streams straight into encrypted storage (a file sent "
                               "before its category waits in an encrypted spool first; "
                               "a field that comes after a streamed file is refused).",
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
        **_copy_paths(),
        **_recording_paths(),
        **_service_paths(),
        **_tenant_paths(),
        **_leak_paths(),
        **_search_paths(),
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


# ---------------------------------------------------------------------------
# Copies, registers, notifications (vault/web/api_copies.py)


def _id_param(what: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": f"{what} id.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


LIMIT_DESCRIPTION = "At most this many items (newest first); `truncated` tells if more exist."
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 1024,
            "description": "Your current password: decisions need re-authentication."}
OTP = {"type": "string", "maxLength": 64, "nullable": True,
       "description": "A code of your second factor (or a recovery code); required when "
                      "you have one."}


def _copy_schemas() -> dict[str, Any]:
    levels = [lv.value for lv in Level]
    kinds = [k.value for k in CopyKind]
    person = _ref("Person")
    nullable_person = {"allOf": [person], "nullable": True}
    request_props: dict[str, Any] = {
        "id": INT, "document": _ref("DocumentBrief"),
        "kind": {"type": "string", "enum": kinds},
        "status": {"type": "string",
                   "enum": ["pending", "approved", "rejected", "cancelled", "spent", "void"],
                   "description": "As stored (spent: the copy was downloaded or issued; "
                                  "void: the approval no longer held when used)."},
        "state": {"type": "string",
                  "enum": ["pending", "approved", "rejected", "cancelled", "spent", "expired",
                           "void: reclassified", "void: approver lost the office",
                           "void: requester may no longer read the file"],
                  "description": "As people read it: expired once an approval's download "
                                 "window passed unused."},
        "purpose": STR,
        "pages": {**_nullable(STR), "description": "Excerpt: the pages asked for."},
        "approved_pages": {**_nullable(STR), "description": "Excerpt: the pages approved."},
        "due_on": {**_nullable(DATE), "description": "Loan: the return date."},
        "new_level": {**_nullable(STR), "description": "Downgrade or declassification: "
                      "the level asked for."},
        "new_period": {**_nullable(STR), "description": "Extension: the period asked for."},
        "level_at_request": {"type": "string", "enum": levels},
        "version": {**_nullable(INT), "description": "The version the request is bound to "
                    "(none for a paper original)."},
        "requester": person, "created_at": DATETIME,
        "decided_by": nullable_person, "decided_at": _nullable(DATETIME),
        "decision_note": _nullable(STR),
        "window_until": {**_nullable(DATETIME),
                         "description": "An approved copy is downloaded once before this."},
        "default_no": {"type": "boolean",
                       "description": "Top secret: the answer is no unless approved."},
    }
    outcome_props = {
        "copy": {"allOf": [_ref("RegisteredCopy")], "nullable": True,
                 "description": "The registered copy the request gave, once downloaded."},
        "loan": {"allOf": [_ref("Loan")], "nullable": True,
                 "description": "The loan an approved lend request opened."},
    }
    copy_props: dict[str, Any] = {
        "id": INT, "label": {"type": "string", "description": "The copy number as printed, "
                             "e.g. 机密-2026-0042 副本 3."},
        "number": INT, "document": _ref("DocumentBrief"), "request": INT,
        "kind": {"type": "string", "enum": kinds}, "version": INT, "pages": _nullable(STR),
        "recipient": person, "approved_by": nullable_person, "issued_at": DATETIME,
        "level_at_issue": {"type": "string", "enum": levels},
        "period_at_issue": _nullable(STR),
        "level": {"type": "string", "enum": levels,
                  "description": "The level now: a copy declassifies with its original."},
        "stamped": {"type": "boolean", "description": "Whether every page carries the "
                    "stamp (formats that cannot carry one are delivered as stored)."},
        "media_type": _nullable(STR), "size": INT,
        "sha256": {"type": "string", "description": "SHA-256 of the delivered bytes."},
        "status": {"type": "string", "enum": ["issued", "returned", "destroyed"]},
        "closed_at": _nullable(DATETIME), "closed_by": nullable_person,
        "closed_note": _nullable(STR),
    }
    loan_props: dict[str, Any] = {
        "id": INT, "document": _ref("DocumentBrief"), "request": INT, "borrower": person,
        "approved_by": nullable_person, "approved_at": DATETIME, "due_on": DATE,
        "lent_at": _nullable(DATETIME), "lent_by": nullable_person,
        "returned_at": _nullable(DATETIME), "returned_by": nullable_person,
        "note": _nullable(STR),
        "state": {"type": "string", "enum": ["approved", "lent", "overdue", "returned"]},
    }
    notification_props: dict[str, Any] = {
        "id": INT, "kind": STR,
        "subject": {"type": "string", "description": "In the language asked for."},
        "subject_zh": STR, "subject_en": STR,
        "link": {**_nullable(STR), "description": "A page in Vault (sign-in needed)."},
        "document": _nullable(INT), "request": _nullable(INT),
        "created_at": DATETIME, "read_at": _nullable(DATETIME),
    }
    note = {"type": "string", "maxLength": 1000, "nullable": True}
    brief = {"id": INT, "title": STR, "category": STR,
             "level": {"type": "string", "enum": levels,
                       "description": "The level in force now."},
             "marking": STR, "company": STR}

    def page(item: str, **extra: Any) -> dict[str, Any]:
        return {"type": "object", "required": ["items", "truncated", *extra],
                "properties": {"items": {"type": "array", "items": _ref(item)},
                               "truncated": {"type": "boolean"}, **extra}}

    return {
        "Person": {"type": "object", "required": ["username", "name"],
                   "properties": {"username": STR, "name": STR}},
        "DocumentBrief": {"type": "object", "required": list(brief), "properties": brief},
        "NewCopyRequest": {
            "type": "object", "required": ["kind", "purpose"],
            "properties": {
                "kind": {"type": "string", "enum": kinds,
                         "description": "copy, excerpt (pages), print, lend (certificates "
                                        "and paper originals; due_on), extend (new_period), "
                                        "downgrade (new_level), declassify."},
                "purpose": {"type": "string", "minLength": 1, "maxLength": 2000},
                "pages": {"type": "string", "maxLength": 200, "nullable": True,
                          "description": "Excerpt only: pages like 1-3,5."},
                "due_on": {**_nullable(DATE), "description": "Loan only: the return date, "
                           "from today up to a year ahead."},
                "new_level": {"type": "string", "enum": levels, "nullable": True,
                              "description": "Downgrade only: a lower classified level."},
                "new_period": {"type": "string", "maxLength": 500, "nullable": True,
                               "description": "Extension only: 15y, 1y6m, a date YYYY-MM-DD "
                                              "or condition:TEXT; must end later."},
            },
        },
        "CopyRequest": {"type": "object", "required": list(request_props),
                        "properties": {**request_props, **outcome_props}},
        "CopyRequestDetail": {
            "type": "object",
            "required": [*request_props, *outcome_props, "may_decide", "decide_reason",
                         "is_requester", "may_download", "approvers", "requester_history"],
            "properties": {
                **request_props, **outcome_props,
                "may_decide": {"type": "boolean"},
                "decide_reason": {"type": "string",
                                  "description": "The policy's reason (why you may or may "
                                                 "not decide)."},
                "is_requester": {"type": "boolean"},
                "may_download": {"type": "boolean"},
                "approvers": {"type": "array", "items": person,
                              "description": "Who may decide it now (while pending)."},
                "requester_history": {
                    "type": "array", "description": "The requester's recent copies.",
                    "items": {"type": "object",
                              "required": ["id", "label", "document", "kind", "issued_at",
                                           "status"],
                              "properties": {"id": INT, "label": STR, "document": INT,
                                             "kind": STR, "issued_at": DATETIME,
                                             "status": STR}}},
            },
        },
        "CopyRequestList": page("CopyRequest"),
        "Approval": {
            "type": "object", "required": ["password"],
            "properties": {
                "password": PASSWORD, "otp": OTP,
                "window_hours": {"type": "integer", "minimum": 1, "maximum": 8760,
                                 "nullable": True,
                                 "description": "A shorter download window (default and "
                                                "longest: the configured 24 h)."},
                "pages": {"type": "string", "maxLength": 200, "nullable": True,
                          "description": "Excerpt: approve only these of the pages asked."},
                "note": {"type": "string", "maxLength": 2000, "nullable": True},
            },
        },
        "Rejection": {
            "type": "object", "required": ["reason", "password"],
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000},
                           "password": PASSWORD, "otp": OTP},
        },
        "RegisteredCopy": {"type": "object", "required": list(copy_props),
                           "properties": copy_props},
        "CopyList": page("RegisteredCopy"),
        "Loan": {"type": "object", "required": list(loan_props), "properties": loan_props},
        "LoanList": page("Loan"),
        "RegisterNote": {"type": "object", "properties": {"note": note}},
        "Notification": {"type": "object", "required": list(notification_props),
                         "properties": notification_props},
        "NotificationList": page("Notification", unread={
            "type": "integer", "description": "Your unread notifications in all."}),
        "MarkRead": {
            "type": "object",
            "properties": {"ids": {
                "type": "array", "maxItems": 1000,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "description": "The notifications to mark; all of yours when absent."}},
        },
        "Marked": {"type": "object", "required": ["marked", "unread"],
                   "properties": {"marked": INT, "unread": INT}},
    }


def _copy_paths() -> dict[str, Any]:
    request_id, copy_id, loan_id = _id_param("Request"), _id_param("Copy"), _id_param("Loan")
    limit_500 = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                 "default": 500}, LIMIT_DESCRIPTION)
    limit_100 = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                 "default": 100}, LIMIT_DESCRIPTION)
    company = _query("company", {"type": "string", "maxLength": 32},
                     "Company code; default yours (HQ executives and compliance: all).")
    note_body = {"required": False, "content": {JSON: {"schema": _ref("RegisterNote")}}}

    def register_op(op_id: str, summary: str, params: list[dict[str, Any]],
                    result: str, description: str) -> dict[str, Any]:
        return {"post": {
            "operationId": op_id, "tags": ["registers"], "summary": summary,
            "description": description, "parameters": [*params, LANG_PARAM],
            "requestBody": note_body,
            "responses": {"200": _json(_ref(result), "Recorded."),
                          **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
        }}

    decision_errors = {**_errors("BadRequest", "Forbidden", "NotFound", "Conflict"),
                       "401": _error("ReauthFailed")}
    return {
        f"{API}/documents/{{id}}/requests": {
            "post": {
                "operationId": "createCopyRequest", "tags": ["copies"],
                "summary": "Ask for a copy, excerpt, print, loan or classification change",
                "description": "Anyone who may view a classified file may ask, stating the "
                               "purpose; the request goes to the approvers the rules name "
                               "(top secret: HQ executives, the default being no). Files "
                               "that need no approval answer 400 no_approval_needed.",
                "parameters": [ID_PARAM, LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("NewCopyRequest")}}},
                "responses": {"201": _json(_ref("CopyRequest"), "Asked; the approvers are "
                                           "notified."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
        f"{API}/requests": {
            "get": {
                "operationId": "listCopyRequests", "tags": ["copies"],
                "summary": "Your requests, or those waiting for your decision",
                "parameters": [
                    _query("scope", {"type": "string", "enum": ["mine", "to_decide"],
                                     "default": "mine"},
                           "mine: your own requests; to_decide: pending requests you may "
                           "decide now."),
                    limit_100, LANG_PARAM],
                "responses": {"200": _json(_ref("CopyRequestList"), "The requests."),
                              **_errors("BadRequest")},
            },
        },
        f"{API}/requests/{{id}}": {
            "get": {
                "operationId": "getCopyRequest", "tags": ["copies"],
                "summary": "A request's metadata (never the file's content)",
                "description": "For its requester, its approvers, whoever decided it and the "
                               "readers of the owning company's registers. Audited.",
                "parameters": [request_id, LANG_PARAM],
                "responses": {"200": _json(_ref("CopyRequestDetail"), "The request."),
                              **_errors("BadRequest", "NotFound")},
            },
        },
        f"{API}/requests/{{id}}/approve": {
            "post": {
                "operationId": "approveCopyRequest", "tags": ["copies"],
                "summary": "Approve a request (re-authentication in the body)",
                "description": "Needs your current password, and a code of your second "
                               "factor when you have one (people whose roles require one "
                               "must have set it up: 403 second_factor_required). A "
                               "mismatch answers 401 reauth_failed and counts toward the "
                               "sign-in pause. Nobody decides their own request (403 "
                               "requester_cannot_approve); other offices answer 403 "
                               "not_an_approver. An approved copy gives one download "
                               "within the window.",
                "parameters": [request_id, LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("Approval")}}},
                "responses": {"200": _json(_ref("CopyRequest"), "Approved."),
                              **decision_errors},
            },
        },
        f"{API}/requests/{{id}}/reject": {
            "post": {
                "operationId": "rejectCopyRequest", "tags": ["copies"],
                "summary": "Reject a request with a reason (re-authentication in the body)",
                "description": "Re-authentication as for approve.",
                "parameters": [request_id, LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("Rejection")}}},
                "responses": {"200": _json(_ref("CopyRequest"), "Rejected."),
                              **decision_errors},
            },
        },
        f"{API}/requests/{{id}}/cancel": {
            "post": {
                "operationId": "cancelCopyRequest", "tags": ["copies"],
                "summary": "Withdraw your pending request",
                "parameters": [request_id, LANG_PARAM],
                "responses": {"200": _json(_ref("CopyRequest"), "Withdrawn."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
        f"{API}/requests/{{id}}/issue": {
            "post": {
                "operationId": "issuePhotocopy", "tags": ["copies"],
                "summary": "Issue an approved photocopy of a paper-only certificate",
                "description": "The owning company's custodian (its general manager while "
                               "it has none): the copy register gets the photocopy's row and "
                               "copy number, to be written on the paper. The approval is "
                               "checked again: a void one answers 409 void_….",
                "parameters": [request_id, LANG_PARAM],
                "responses": {"200": _json(_ref("CopyRequest"), "Issued."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
        f"{API}/requests/{{id}}/download": {
            "get": {
                "operationId": "downloadCopy", "tags": ["copies"],
                "summary": "Download the approved copy (once)",
                "description": "Only the requester, once, within the window: the copy is "
                               "numbered, stamped on every page (PDF, pictures) and entered "
                               "in the copy register before the first byte is sent. Refusals "
                               "are audited: 409 already_downloaded, 403 window_expired, "
                               "403 not_approved; anyone else's request is 404.",
                "parameters": [request_id],
                "responses": {
                    "200": {"description": "The copy's bytes.",
                            "headers": {
                                "Content-Disposition": {"schema": STR},
                                "X-Vault-Copy-Label": {
                                    "schema": STR, "description": "The copy number "
                                    "(e.g. 机密-2026-0042 副本 3) as percent-encoded UTF-8."},
                                "X-Vault-Copy-SHA256": {
                                    "schema": STR, "description": "SHA-256 (hex) of the "
                                    "body, as kept in the register."},
                                "X-Vault-Copy-Id": {"schema": INT,
                                                    "description": "The register row."}},
                            "content": {"*/*": {
                                "schema": {"type": "string", "format": "binary"}}}},
                    **_errors("BadRequest", "Forbidden", "NotFound", "Conflict"),
                },
            },
        },
        f"{API}/copies": {
            "get": {
                "operationId": "listCopies", "tags": ["registers"],
                "summary": "The copy register (custodians, the GM, HQ executives, compliance)",
                "description": "Issued, returned and destroyed copies with recipient, "
                               "approver and dates. Audited.",
                "parameters": [
                    _query("status", {"type": "string",
                                      "enum": ["issued", "returned", "destroyed"]},
                           "Only copies in this state."),
                    _query("document", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                           "Only copies of this document."),
                    company, limit_500, LANG_PARAM],
                "responses": {"200": _json(_ref("CopyList"), "The copies, newest first."),
                              **_errors("BadRequest", "Forbidden")},
            },
        },
        f"{API}/copies/lookup": {
            "get": {
                "operationId": "lookupCopy", "tags": ["registers"],
                "summary": "Find a copy by the number printed on it",
                "description": "Who received it, who approved it, when (register readers "
                               "and its recipient). Audited.",
                "parameters": [
                    {"name": "number", "in": "query", "required": True,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                     "description": "As printed, e.g. 机密-2026-0042 副本 3 (or 42-3)."},
                    LANG_PARAM],
                "responses": {"200": _json(_ref("RegisteredCopy"), "The copy."),
                              **_errors("BadRequest", "NotFound")},
            },
        },
        f"{API}/copies/{{id}}/return": register_op(
            "returnCopy", "Record a copy returned", [copy_id], "RegisteredCopy",
            "The owning company's custodian only."),
        f"{API}/copies/{{id}}/destroy": register_op(
            "destroyCopy", "Record a copy destroyed", [copy_id], "RegisteredCopy",
            "The owning company's custodian only."),
        f"{API}/loans": {
            "get": {
                "operationId": "listLoans", "tags": ["registers"],
                "summary": "The lending register (借出)",
                "description": "Approved, lent, overdue and returned loans of certificates "
                               "and paper originals, by due date. Audited.",
                "parameters": [
                    _query("overdue", {"type": "boolean"},
                           "Only loans handed over and past their due date (1/true)."),
                    _query("open", {"type": "boolean"},
                           "Only loans not yet returned (1/true)."),
                    company, limit_500, LANG_PARAM],
                "responses": {"200": _json(_ref("LoanList"), "The loans."),
                              **_errors("BadRequest", "Forbidden")},
            },
        },
        f"{API}/loans/{{id}}/hand-over": register_op(
            "handOverLoan", "Record the original handed to the borrower", [loan_id], "Loan",
            "The owning company's custodian, once the loan is approved."),
        f"{API}/loans/{{id}}/return": register_op(
            "returnLoan", "Record the original back", [loan_id], "Loan",
            "The owning company's custodian."),
        f"{API}/notifications": {
            "get": {
                "operationId": "listNotifications", "tags": ["notifications"],
                "summary": "Your inbox",
                "parameters": [
                    _query("unread", {"type": "boolean"}, "Only unread ones (1/true)."),
                    limit_100, LANG_PARAM],
                "responses": {"200": _json(_ref("NotificationList"),
                                           "Your notifications, newest first."),
                              **_errors("BadRequest")},
            },
        },
        f"{API}/notifications/read": {
            "post": {
                "operationId": "markNotificationsRead", "tags": ["notifications"],
                "summary": "Mark notifications read",
                "requestBody": {"required": False, "content": {
                    JSON: {"schema": _ref("MarkRead")}}},
                "responses": {"200": _json(_ref("Marked"), "Marked."),
                              **_errors("BadRequest")},
            },
        },
    }


# ---------------------------------------------------------------------------
# Call recordings (vault/web/api_recordings.py)

REQUEST_REF = {"type": "string", "minLength": 1, "maxLength": 64,
               "pattern": "^[A-Za-z0-9_/-]{1,64}$",
               "description": "The request record (诉求记录) the call belongs to."}


def _recording_schemas() -> dict[str, Any]:
    levels = [lv.value for lv in Level]
    archive_props: dict[str, Any] = {
        "document": INT, "title": STR, "request_ref": STR, "called_at": DATETIME,
        "archived_by": {"type": "object", "required": ["username", "name"],
                        "properties": {"username": STR, "name": STR}},
        "archived_at": DATETIME, "reason": STR, "event": STR,
    }
    recording_props: dict[str, Any] = {
        "id": {**INT, "description": "The recording's document id."},
        "title": STR, "level": {"type": "string", "enum": levels}, "marking": STR,
        "company": STR, "caller_number": STR, "called_at": DATETIME, "agent": STR,
        "request_ref": STR, "source": {"type": "string", "enum": ["api", "upload"]},
        "media_type": _nullable(STR), "size": INT,
        "purged_at": {**_nullable(DATETIME), "description": "When the audio was destroyed "
                      "after the retention period (the metadata stays)."},
        "purge_after": {**_nullable(DATETIME), "description": "From when the purge may "
                        "destroy it; null once archived or destroyed."},
        "archive": {"allOf": [_ref("RecordingArchiveEntry")], "nullable": True,
                    "description": "The archive register line: archived recordings are "
                                   "never purged."},
        "may_listen": {"type": "boolean",
                       "description": "Whether you may play it (in the web viewer)."},
    }
    return {
        "Recording": {"type": "object", "required": list(recording_props),
                      "properties": recording_props},
        "RecordingList": {"type": "object", "required": ["items", "truncated"],
                          "properties": {"items": {"type": "array",
                                                   "items": _ref("Recording")},
                                         "truncated": {"type": "boolean"}}},
        "RecordingArchiveEntry": {"type": "object", "required": list(archive_props),
                                  "properties": archive_props},
        "RecordingUpload": {
            "type": "object",
            "required": ["caller_number", "called_at", "agent", "request_ref", "file"],
            "properties": {
                "caller_number": {"type": "string", "minLength": 3, "maxLength": 32,
                                  "pattern": "^[0-9+ -]{3,32}$",
                                  "description": "Digits, +, - and spaces."},
                "called_at": {**DATETIME, "description": "ISO 8601 with its offset, e.g. "
                              "2026-05-01T09:30:00+08:00; not in the future, not before "
                              "2000."},
                "agent": {"type": "string", "minLength": 1, "maxLength": 100,
                          "description": "The agent who took the call."},
                "request_ref": REQUEST_REF,
                "title": {"type": "string", "maxLength": 500,
                          "description": "Default: 通话录音, the request record and time."},
                "department": {"type": "string", "maxLength": 32,
                               "description": "Owning department code; default: yours."},
                "tenant": {"type": "string", "maxLength": 32, "description": "Tenant code."},
                "file": {"type": "string", "format": "binary",
                         "description": "The audio (WAV, MP3, OGG, M4A, AMR, FLAC, AAC), "
                                        "typed by its bytes; send it after the fields."},
            },
        },
        "RecordingArchiveRequest": {
            "type": "object", "required": ["reason", "event"],
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000},
                           "event": {"type": "string", "minLength": 1, "maxLength": 500}},
        },
    }


def _recording_paths() -> dict[str, Any]:
    return {
        f"{API}/recordings": {
            "get": {
                "operationId": "listRecordings", "tags": ["recordings"],
                "summary": "Call recordings you may know of, newest call first",
                "parameters": [
                    _query("request_ref", REQUEST_REF, "Only the recordings of this request "
                           "record (诉求记录)."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                     "default": 100}, LIMIT_DESCRIPTION),
                    LANG_PARAM],
                "responses": {"200": _json(_ref("RecordingList"), "The recordings."),
                              **_errors("BadRequest")},
            },
            "post": {
                "operationId": "registerRecording", "tags": ["recordings"],
                "summary": "Register a call recording (the hotline system)",
                "description": "multipart/form-data: the call's fields, then the audio as "
                               "the part named file. Registered as a confidential "
                               "call_recording document of your company, issued on the day "
                               "of the call; destroyed after the retention period unless "
                               "archived.",
                "parameters": [LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": _ref("RecordingUpload")}}},
                "responses": {"201": _json(_ref("Recording"), "Registered."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "TooLarge",
                                        "Unsupported")},
            },
        },
        f"{API}/recordings/{{id}}/archive": {
            "post": {
                "operationId": "archiveRecording", "tags": ["recordings"],
                "summary": "Keep a recording of a special event (提取录音另行保存)",
                "description": "Whoever may listen to the recording may archive it, with "
                               "the reason and the event; the archive register keeps who, "
                               "when and why. Archived recordings are never purged. Twice, "
                               "or after the purge, answers 409.",
                "parameters": [_id_param("Recording (document)")],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("RecordingArchiveRequest")}}},
                "responses": {"201": _json(_ref("RecordingArchiveEntry"), "Archived."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
    }


# ---------------------------------------------------------------------------
# Customer-service records (vault/web/api_service.py)

REQUEST_KINDS = ["repair", "complaint", "enquiry", "emergency", "suggestion"]
REQUEST_CHANNELS = ["hotline", "visit", "meeting", "web", "letter"]
GRADES = ["normal", "important", "major"]


def _service_schemas() -> dict[str, Any]:
    nstr = _nullable(STR)
    summary: dict[str, Any] = {
        "id": INT, "number": {**STR, "description": "Per company and year, e.g. SZ-2026-0042."},
        "company": STR, "kind": {"type": "string", "enum": REQUEST_KINDS},
        "grade": {"type": "string", "enum": GRADES, "nullable": True},
        "channel": {"type": "string", "enum": REQUEST_CHANNELS}, "tenant": nstr,
        "tenant_name": nstr, "anonymous": {"type": "boolean"}, "received_at": DATETIME,
        "due_at": _nullable(DATETIME), "handler": nstr,
        "status": {"type": "string", "enum": ["open", "in_progress", "closed"]},
        "overdue": {"type": "boolean"},
        "legacy": {"type": "boolean", "description": "Made from a recording's reference; "
                   "its content was never recorded in Vault."},
    }
    full: dict[str, Any] = {
        **summary, "department": nstr, "caller": nstr, "content": nstr, "reply": nstr,
        "reply_only": {"type": "boolean"}, "reply_letter": _nullable(INT),
        "reply_letter_required": {"type": "boolean"}, "follow_up_owner": nstr,
        "closed_at": _nullable(DATETIME),
        "receipts": {"type": "array", "items": {
            "type": "object", "required": ["id", "received_at", "channel", "via", "note"],
            "properties": {"id": INT, "received_at": DATETIME, "channel": STR, "via": nstr,
                           "note": nstr}}},
        "recordings": {"type": "array", "items": INT},
        "follow_ups": {"type": "array", "items": INT},
    }
    visit: dict[str, Any] = {
        "id": INT, "company": STR, "request": nstr, "tenant": nstr,
        "kind": {"type": "string", "enum": ["complaint", "repair", "event", "move_in",
                                            "emergency"]},
        "subject": nstr, "sequence": INT, "owner": STR, "due_on": DATE,
        "status": {"type": "string", "enum": ["due", "done"]}, "overdue": {"type": "boolean"},
        "visited_on": _nullable(DATE),
        "method": {"type": "string", "enum": ["on_site", "telephone"], "nullable": True},
        "visitor": nstr, "resolved": {"type": "boolean", "nullable": True},
        "signature_document": _nullable(INT), "reviewed_by": nstr,
        "reviewed_at": _nullable(DATETIME),
    }
    line: dict[str, Any] = {
        "kind": STR, "due": INT, "done": INT,
        "rate": {"type": "number", "nullable": True, "description": "Per cent."},
        "target": {"type": "integer", "nullable": True, "description": "Per cent."},
        "met": {"type": "boolean", "nullable": True},
    }
    return {
        "ServiceRequestSummary": {"type": "object", "required": list(summary),
                                  "properties": summary},
        "ServiceRequest": {"type": "object", "required": list(full), "properties": full},
        "ServiceRequestList": {"type": "object", "required": ["items", "truncated"],
                               "properties": {"items": {"type": "array", "items": _ref(
                                   "ServiceRequestSummary")}, "truncated": {"type": "boolean"}}},
        "ServiceRequestNew": {
            "type": "object", "required": ["kind", "channel", "content"],
            "properties": {
                "kind": {"type": "string", "enum": REQUEST_KINDS},
                "channel": {"type": "string", "enum": REQUEST_CHANNELS},
                "content": {"type": "string", "minLength": 1, "maxLength": 10000},
                "grade": {"type": "string", "enum": GRADES,
                          "description": "Required for a complaint; none otherwise."},
                "reply_only": {"type": "boolean"},
                "tenant": {"type": "string", "maxLength": 32,
                           "description": "Tenant code; none: an anonymous caller."},
                "caller": {"type": "string", "maxLength": 200},
                "handler": {"type": "string", "maxLength": 64},
                "received_at": {**DATETIME, "description": "Default: now."},
                "due_at": {**DATETIME, "description": "Default: 3 days, emergencies 24 h."},
            },
        },
        "ServiceRequestClose": {"type": "object", "required": ["reply"],
                                "properties": {"reply": {"type": "string", "minLength": 1,
                                                         "maxLength": 10000}}},
        "FollowUpVisit": {"type": "object", "required": list(visit), "properties": visit},
        "FollowUpVisitList": {"type": "object", "required": ["items", "truncated"],
                              "properties": {"items": {"type": "array",
                                                       "items": _ref("FollowUpVisit")},
                                             "truncated": {"type": "boolean"}}},
        "FollowUpReport": {
            "type": "object", "required": ["company", "month", "lines"],
            "properties": {"company": STR, "month": STR, "lines": {
                "type": "array", "items": {"type": "object", "required": list(line),
                                           "properties": line}}}},
    }


def _service_paths() -> dict[str, Any]:
    limit = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                   LIMIT_DESCRIPTION)
    return {
        f"{API}/service-requests": {
            "get": {
                "operationId": "listServiceRequests", "tags": ["service"],
                "summary": "The request register (诉求记录) you may read, newest first",
                "description": "The company's customer-service staff, the handler, the "
                               "company's supervisors and GM; HQ executives and compliance "
                               "group-wide. No content in the list. Audited.",
                "parameters": [
                    _query("status", {"type": "string", "enum": ["open", "in_progress",
                                                                  "closed"]}, "Status."),
                    _query("kind", {"type": "string", "enum": REQUEST_KINDS}, "Type."),
                    _query("tenant", {"type": "string", "maxLength": 32}, "Tenant code."),
                    _query("overdue", {"type": "string", "enum": ["true", "false"]},
                           "Only those open past their due time."),
                    limit],
                "responses": {"200": _json(_ref("ServiceRequestList"), "The records."),
                              **_errors("BadRequest", "NotFound")},
            },
            "post": {
                "operationId": "createServiceRequest", "tags": ["service"],
                "summary": "Record a request (the hotline system: then POST the call's "
                           "recording with request_ref = the number)",
                "description": "Content, caller and reply are stored encrypted (秘密). "
                               "Audited.",
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("ServiceRequestNew")}}},
                "responses": {"201": _json(_ref("ServiceRequest"), "Recorded."),
                              **_errors("BadRequest", "Forbidden", "NotFound")},
            },
        },
        f"{API}/service-requests/{{id}}": {
            "get": {
                "operationId": "getServiceRequest", "tags": ["service"],
                "summary": "One request record with its content (audited)",
                "parameters": [_id_param("Request record")],
                "responses": {"200": _json(_ref("ServiceRequest"), "The record."),
                              **_errors("BadRequest", "NotFound")},
            },
        },
        f"{API}/service-requests/{{id}}/close": {
            "post": {
                "operationId": "closeServiceRequest", "tags": ["service"],
                "summary": "Close with the reply; schedules the follow-up visit by rule",
                "description": "An anonymous or reply-only complaint needs its reply letter "
                               "first (409 reply_letter_required).",
                "parameters": [_id_param("Request record")],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("ServiceRequestClose")}}},
                "responses": {"200": _json(_ref("ServiceRequest"), "Closed."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
        f"{API}/visits": {
            "get": {
                "operationId": "listFollowUpVisits", "tags": ["service"],
                "summary": "Follow-up visits (回访) you may read, by due date",
                "parameters": [_query("status", {"type": "string",
                                                 "enum": ["due", "done", "unreviewed"]},
                                      "Status."), limit],
                "responses": {"200": _json(_ref("FollowUpVisitList"), "The visits."),
                              **_errors("BadRequest")},
            },
        },
        f"{API}/visits/report": {
            "get": {
                "operationId": "getFollowUpReport", "tags": ["service"],
                "summary": "The monthly 客户回访记录: visits due and made, rates vs targets",
                "parameters": [
                    {**_query("company", {"type": "string", "maxLength": 32},
                              "Company code."), "required": True},
                    {**_query("month", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                              "YYYY-MM."), "required": True}],
                "responses": {"200": _json(_ref("FollowUpReport"), "The report."),
                              **_errors("BadRequest", "Forbidden", "NotFound")},
            },
        },
    }


# ---------------------------------------------------------------------------
# Tenants and notices' sign-offs (vault/web/api_tenants.py)

TENANT_CODE = {"type": "string", "minLength": 1, "maxLength": 32,
               "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"}
SIGN_OFF_METHODS = ["on_site", "scanned", "electronic"]


def _tenant_schemas() -> dict[str, Any]:
    levels = [lv.value for lv in Level]
    tenant_props: dict[str, Any] = {
        "code": STR, "name": STR, "unit": _nullable(STR), "contact": _nullable(STR),
        "status": {"type": "string", "enum": ["active", "moved_out"]},
        "company": {**_nullable(STR), "description": "Company code (null: the group's)."},
    }
    entry_props: dict[str, Any] = {
        "id": INT, "title": STR, "category": {"type": "string",
                                              "enum": [c.value for c in Category]},
        "level": {"type": "string", "enum": levels, "description": "In force now."},
        "marking": STR, "issued_on": DATE, "paper_original": {"type": "boolean"},
    }
    recipient_props: dict[str, Any] = {
        "tenant": STR, "name": STR, "unit": _nullable(STR),
        "status": {"type": "string", "enum": ["active", "moved_out"]},
        "signed": {"type": "boolean"}, "signer": _nullable(STR),
        "signed_at": _nullable(DATETIME),
        "method": {"type": "string", "enum": SIGN_OFF_METHODS, "nullable": True},
        "sheet_document": {**_nullable(INT), "description": "The scanned sheet's document "
                           "id (encrypted like every file; its own access rules)."},
        "note": _nullable(STR),
    }
    progress_props: dict[str, Any] = {
        "document": INT, "title": STR,
        "category": {"type": "string", "enum": ["notice", "letter"]},
        "level": {"type": "string", "enum": levels}, "marking": STR,
        "total": INT, "signed": INT, "unsigned": INT,
        "percent": {"type": "integer", "minimum": 0, "maximum": 100,
                    "description": "Signed share, rounded down (100 only when all signed)."},
        "recipients": {"type": "array", "items": _ref("Recipient")},
    }
    sign_off_props: dict[str, Any] = {
        "tenant": {**TENANT_CODE, "description": "A recipient's tenant code."},
        "signer": {"type": "string", "minLength": 1, "maxLength": 200,
                   "description": "Who signed."},
        "signed_at": {**DATETIME, "description": "When (ISO 8601; without an offset, group "
                      "time); default now. Not in the future, not before the issue date."},
        "method": {"type": "string", "enum": SIGN_OFF_METHODS,
                   "description": "on_site signature, scanned sheet (needs the sheet), "
                                  "electronic."},
        "note": {"type": "string", "maxLength": 2000},
    }
    return {
        "Tenant": {"type": "object", "required": list(tenant_props),
                   "properties": tenant_props},
        "TenantList": {"type": "object", "required": ["items", "total"],
                       "properties": {"items": {"type": "array", "items": _ref("Tenant")},
                                      "total": INT}},
        "TenantArchive": {
            "type": "object",
            "required": ["tenant", "categories", "items", "total", "page", "per_page"],
            "properties": {
                "tenant": _ref("Tenant"),
                "categories": {
                    "type": "array", "description": "The catalogue: every category of "
                    "the documents you may know of, with its count.",
                    "items": {"type": "object", "required": ["category", "count"],
                              "properties": {"category": STR, "count": INT}}},
                "items": {"type": "array", "items": {
                    "type": "object", "required": list(entry_props),
                    "properties": entry_props}},
                "total": INT, "page": INT, "per_page": INT,
            },
        },
        "Recipient": {"type": "object", "required": list(recipient_props),
                      "properties": recipient_props},
        "SignOffProgress": {"type": "object", "required": list(progress_props),
                            "properties": progress_props},
        "RecipientsChange": {
            "type": "object", "required": [*progress_props, "added", "removed"],
            "properties": {**progress_props,
                           "added": {"type": "array", "items": STR},
                           "removed": {"type": "array", "items": STR}},
        },
        "Recipients": {
            "type": "object", "required": ["tenants"],
            "properties": {"tenants": {
                "type": "array", "maxItems": 5000, "items": TENANT_CODE,
                "description": "Tenant codes of the notice's company; the new full list."}},
        },
        "NewSignOff": {"type": "object", "required": ["tenant", "signer", "method"],
                       "properties": sign_off_props},
        "NewSignOffUpload": {
            "type": "object", "required": ["tenant", "signer", "method"],
            "properties": {**sign_off_props,
                           "sheet": {"type": "string", "format": "binary",
                                     "description": "The scanned sign-off sheet (PDF or "
                                                    "image); stored encrypted as a document "
                                                    "of its own."}},
        },
    }


def _tenant_paths() -> dict[str, Any]:
    code = {"name": "code", "in": "path", "required": True, "description": "Tenant code.",
            "schema": TENANT_CODE}
    notice = _id_param("Notice or letter (document)")
    return {
        f"{API}/tenants": {
            "get": {
                "operationId": "listTenants", "tags": ["tenants"],
                "summary": "Tenants you may know of (your company's; group-wide for HQ "
                           "executives, compliance and administrators)",
                "parameters": [
                    _query("text", {"type": "string", "maxLength": 100},
                           "Words in the code, name or unit."),
                    _query("status", {"type": "string", "enum": ["active", "moved_out"]},
                           "Only this status."),
                    _query("company", {"type": "string", "maxLength": 32}, "Company code.")],
                "responses": {"200": _json(_ref("TenantList"), "The tenants, by code."),
                              **_errors("BadRequest")},
            },
        },
        f"{API}/tenants/{{code}}/documents": {
            "get": {
                "operationId": "listTenantDocuments", "tags": ["tenants"],
                "summary": "A tenant's archive (租户档案): its documents you may know of",
                "description": "Documents out of your scope are absent, from the counts "
                               "too. Audited (tenant:view).",
                "parameters": [
                    code,
                    _query("text", {"type": "string", "maxLength": 200}, "Words in the title."),
                    _query("category", {"type": "string",
                                        "enum": [c.value for c in Category]}, "Category id."),
                    _query("level", {"type": "string", "enum": [lv.value for lv in Level]},
                           "Level in force now."),
                    *_page_params(50, 500), LANG_PARAM],
                "responses": {"200": _json(_ref("TenantArchive"), "One page of the archive."),
                              **_errors("BadRequest", "NotFound")},
            },
        },
        f"{API}/notices/{{id}}/recipients": {
            "put": {
                "operationId": "setNoticeRecipients", "tags": ["notices"],
                "summary": "Choose a notice's recipients (tenants)",
                "description": "By the notice's registrant, responsible supervisor, the "
                               "owning department's manager or an HQ executive. Tenants of "
                               "the notice's company; tenants who moved out are not added; "
                               "a recipient who signed cannot be removed (409). Audited.",
                "parameters": [notice, LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("Recipients")}}},
                "responses": {"200": _json(_ref("RecipientsChange"), "Saved."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")},
            },
        },
        f"{API}/notices/{{id}}/sign-offs": {
            "get": {
                "operationId": "listSignOffs", "tags": ["notices"],
                "summary": "Who has signed a notice off and who has not",
                "parameters": [notice, LANG_PARAM],
                "responses": {"200": _json(_ref("SignOffProgress"), "The progress."),
                              **_errors("BadRequest", "NotFound")},
            },
            "post": {
                "operationId": "recordSignOff", "tags": ["notices"],
                "summary": "Record a recipient's sign-off (签收)",
                "description": "JSON, or multipart/form-data with the scanned sheet as the "
                               "part sheet (required for method scanned). One sign-off per "
                               "recipient (a second: 409); only recipients sign. By those "
                               "who choose recipients and the owning department's staff who "
                               "may read the notice. Audited.",
                "parameters": [notice, LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("NewSignOff")},
                    "multipart/form-data": {"schema": _ref("NewSignOffUpload")}}},
                "responses": {"201": _json(_ref("Recipient"), "Recorded."),
                              **_errors("BadRequest", "Forbidden", "NotFound", "Conflict",
                                        "TooLarge", "Unsupported")},
            },
        },
        f"{API}/notices/{{id}}/sign-offs.csv": {
            "get": {
                "operationId": "exportSignOffs", "tags": ["notices"],
                "summary": "The sign-off list as CSV for a spreadsheet",
                "description": "UTF-8 with a byte-order mark, a Chinese and English header, "
                               "one row per recipient, times in the group's time zone. "
                               "Audited (notice:export).",
                "parameters": [notice],
                "responses": {"200": {"description": "The CSV.", "content": {
                    "text/csv": {"schema": {"type": "string"}}}},
                    **_errors("BadRequest", "NotFound")},
            },
        },
    }


# ---------------------------------------------------------------------------
# Leak reports and certificates (vault/web/api_leaks.py)


def _leak_schemas() -> dict[str, Any]:
    levels = [lv.value for lv in Level]
    person = _ref("Person")
    nullable_person = {"allOf": [person], "nullable": True}
    states = ["open", "overdue", "handled", "handled_late"]
    report_props: dict[str, Any] = {
        "id": INT,
        "by": {"type": "string", "enum": ["document", "copy_number", "description"],
               "description": "What the reporter named."},
        "document": {**_nullable(INT), "description": "The document: as named by the "
                     "reporter; for HQ executives and compliance also the one a copy "
                     "number led to."},
        "copy_number": {**_nullable(STR), "description": "As read off the page found."},
        "description": STR, "reported_at": DATETIME,
        "deadline_at": {**DATETIME, "description": "24 hours after the report."},
        "status": {"type": "string", "enum": ["open", "handled"]},
        "state": {"type": "string", "enum": states,
                  "description": "overdue: open past the deadline; handled_late: handled "
                                 "after it."},
    }
    investigator_props: dict[str, Any] = {
        "title": {**_nullable(STR), "description": "HQ executives and compliance only."},
        "copy": {**_nullable(STR), "description": "The registered copy the number matched "
                 "(HQ executives and compliance only)."},
        "reporter": person, "handled_at": _nullable(DATETIME), "handled_by": nullable_person,
        "handling_note": _nullable(STR),
    }
    trace_document = {"id": INT, "title": STR, "category": STR,
                      "level": {"type": "string", "enum": levels}, "marking": STR,
                      "company": STR}
    knower = {"username": STR, "name": STR, "actions": {"type": "array", "items": STR},
              "count": INT, "first_at": DATETIME, "last_at": DATETIME}
    event = {"username": STR, "name": STR, "action": STR, "at": DATETIME}
    trace_copy = {"id": INT, "label": STR, "number": INT, "kind": STR, "recipient": person,
                  "approved_by": nullable_person, "issued_at": DATETIME,
                  "status": {"type": "string", "enum": ["issued", "returned", "destroyed"]},
                  "closed_at": _nullable(DATETIME)}
    trace_loan = {"id": INT, "borrower": person, "approved_by": nullable_person,
                  "approved_at": DATETIME, "due_on": DATE, "lent_at": _nullable(DATETIME),
                  "returned_at": _nullable(DATETIME),
                  "state": {"type": "string",
                            "enum": ["approved", "lent", "overdue", "returned"]}}
    trace_props: dict[str, Any] = {
        "version": INT, "computed_at": DATETIME,
        "document": {"allOf": [_ref("LeakTraceDocument")], "nullable": True,
                     "description": "Null when the copy number matched no register line."},
        "knowers": {"type": "array", "items": _ref("LeakTraceKnower"),
                    "description": "Everyone who viewed, downloaded, exported or received "
                                   "a copy of the file, with first and last time."},
        "events": {"type": "array", "items": _ref("LeakTraceEvent"),
                   "description": "The knowing events one by one (the latest 2000)."},
        "events_total": INT,
        "copies": {"type": "array", "items": _ref("LeakTraceCopy"),
                   "description": "Every registered copy and its holder."},
        "loans": {"type": "array", "items": _ref("LeakTraceLoan")},
    }
    certificate_props: dict[str, Any] = {
        "id": {**INT, "description": "The certificate's document id."},
        "title": STR,
        "kind": {"type": "string", "enum": sorted(c.value for c in CERTIFICATES)},
        "company": STR, "level": {"type": "string", "enum": levels}, "marking": STR,
        "number": _nullable(STR), "custodian": nullable_person,
        "original_location": _nullable(STR), "valid_until": _nullable(DATE),
        "validity": {"type": "string", "enum": ["valid", "expiring", "expired"],
                     "nullable": True},
        "may_edit": {"type": "boolean",
                     "description": "Whether you may record its details."},
        "open_loans": {"type": "array", "items": {
            "type": "object", "required": ["id", "borrower", "due_on", "lent_at"],
            "properties": {"id": INT, "borrower": person, "due_on": DATE,
                           "lent_at": {**_nullable(DATETIME),
                                       "description": "Null: approved, not handed over."}}}},
    }

    def obj(props: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": list(props), "properties": props}

    return {
        "NewLeakReport": {
            "type": "object", "required": ["description"],
            "properties": {
                "document": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                             "nullable": True,
                             "description": "The id of a document you know of."},
                "copy_number": {"type": "string", "maxLength": 100, "nullable": True,
                                "description": "Or: the copy number read off a page found "
                                               "outside, e.g. 机密-2026-0042 副本 3."},
                "description": {"type": "string", "minLength": 1, "maxLength": 4000,
                                "description": "What was found, where and when."},
            },
        },
        "LeakReport": {"type": "object", "required": list(report_props),
                       "properties": {**report_props, **investigator_props}},
        "LeakReportDetail": {
            "type": "object", "required": list(report_props),
            "properties": {
                **report_props, **investigator_props,
                "trace": {"allOf": [_ref("LeakTrace")], "nullable": True,
                          "description": "As it stood when reported (HQ executives and "
                                         "compliance only)."},
                "live_trace": {"allOf": [_ref("LeakTrace")], "nullable": True,
                               "description": "Recomputed now (HQ executives and "
                                              "compliance only)."},
            },
        },
        "LeakReportList": {"type": "object", "required": ["items", "truncated"],
                           "properties": {"items": {"type": "array",
                                                    "items": _ref("LeakReport")},
                                          "truncated": {"type": "boolean"}}},
        "LeakTrace": obj(trace_props),
        "LeakTraceDocument": obj(trace_document),
        "LeakTraceKnower": obj(knower),
        "LeakTraceEvent": obj(event),
        "LeakTraceCopy": obj(trace_copy),
        "LeakTraceLoan": obj(trace_loan),
        "Certificate": obj(certificate_props),
        "CertificateList": {"type": "object", "required": ["items"],
                            "properties": {"items": {"type": "array",
                                                     "items": _ref("Certificate")}}},
        "CertificateUpdate": {
            "type": "object",
            "description": "A field left out keeps its value; null or an empty string "
                           "clears it.",
            "properties": {
                "number": {"type": "string", "maxLength": 100, "nullable": True},
                "custodian": {"type": "string", "maxLength": 64, "nullable": True,
                              "description": "User name of an active person of the "
                                             "owning company."},
                "original_location": {"type": "string", "maxLength": 200, "nullable": True},
                "valid_until": {**_nullable(DATE), "description": "Last day of validity."},
            },
        },
    }


def _leak_paths() -> dict[str, Any]:
    leak_id = {"name": "id", "in": "path", "required": True, "description": "Report id.",
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
    return {
        f"{API}/leaks": {
            "post": {
                "operationId": "createLeakReport", "tags": ["leaks"],
                "summary": "Report a suspected leak (泄密报告)",
                "description": "Name a document you know of, or the copy number read off a "
                               "page found outside (one of the two). Every HQ executive is "
                               "notified at once; the deadline is 24 hours. The answer is "
                               "the receipt, the same whatever a copy number leads to. "
                               "Reports are never deleted.",
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("NewLeakReport")}}},
                "responses": {"201": _json(_ref("LeakReport"), "Received."),
                              **_errors("BadRequest", "Forbidden", "NotFound")},
            },
            "get": {
                "operationId": "listLeakReports", "tags": ["leaks"],
                "summary": "Leak reports (every one for HQ executives and compliance; "
                           "your own otherwise)",
                "parameters": [
                    _query("open", {"type": "boolean", "default": False},
                           "Only reports not yet handled."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                     "default": 100}, LIMIT_DESCRIPTION)],
                "responses": {"200": _json(_ref("LeakReportList"), "Newest first."),
                              **_errors("BadRequest")},
            },
        },
        f"{API}/leaks/{{id}}": {
            "get": {
                "operationId": "getLeakReport", "tags": ["leaks"],
                "summary": "One leak report, with its trace for HQ executives and compliance",
                "description": "The trace: everyone who viewed, downloaded or exported the "
                               "file, every registered copy and its holder, every loan, "
                               "with times — as reported and recomputed now. A reporter "
                               "gets the receipt of their own report; anyone else 404. "
                               "Audited.",
                "parameters": [leak_id],
                "responses": {"200": _json(_ref("LeakReportDetail"), "The report."),
                              **_errors("BadRequest", "NotFound")},
            },
        },
        f"{API}/certificates": {
            "get": {
                "operationId": "listCertificates", "tags": ["certificates"],
                "summary": "The certificate register (custodians, the GM, HQ executives, "
                           "compliance)",
                "description": "Number, custodian, where the original is kept, validity "
                               "and open loans. Copies and loans are asked for with "
                               "POST /api/v1/documents/{id}/requests. Audited.",
                "parameters": [
                    _query("company", {"type": "string", "maxLength": 32},
                           "Company code; default yours (HQ executives and compliance: "
                           "all)."),
                    LANG_PARAM],
                "responses": {"200": _json(_ref("CertificateList"), "The certificates."),
                              **_errors("BadRequest", "Forbidden")},
            },
        },
        f"{API}/certificates/{{id}}": {
            "put": {
                "operationId": "updateCertificate", "tags": ["certificates"],
                "summary": "Record a certificate's number, custodian, location and validity",
                "description": "By the owning company's custodian or general manager (for "
                               "HQ's certificates, also the HQ executives). Audited.",
                "parameters": [_id_param("Certificate (document)"), LANG_PARAM],
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("CertificateUpdate")}}},
                "responses": {"200": _json(_ref("Certificate"), "Saved."),
                              **_errors("BadRequest", "Forbidden", "NotFound")},
            },
        },
    }


def _search_schemas() -> dict[str, Any]:
    levels = [lv.value for lv in Level]
    facet = {"type": "object", "required": ["value", "label", "count"],
             "properties": {"value": STR, "label": STR, "count": INT}}
    piece = {"type": "object", "required": ["text", "hit"],
             "properties": {"text": STR, "hit": {"type": "boolean"}}}
    return {
        "SearchResults": {
            "type": "object",
            "required": ["total", "page", "per_page", "unindexed", "results", "facets"],
            "properties": {
                "total": INT, "page": INT, "per_page": INT,
                "unindexed": {**INT, "description": "Files in your scope whose text is still "
                              "being extracted (found by title only once indexed)."},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id", "title", "category", "level", "marking", "company",
                                 "tenant", "issued_on", "score", "may_view", "snippet"],
                    "properties": {
                        "id": INT, "title": STR, "category": STR,
                        "level": {"type": "string", "enum": levels}, "marking": STR,
                        "company": STR, "tenant": _nullable(STR), "issued_on": DATE,
                        "score": {"type": "number", "description": "BM25, within your scope."},
                        "may_view": {"type": "boolean"},
                        "snippet": {"type": "array", "items": piece, "nullable": True,
                                    "description": "Text around the first hits (hit: true "
                                    "marks a match); only for files you may view, and then "
                                    "audited as a view of the file. null otherwise."},
                    }}},
                "facets": {"type": "object", "description": "Counts over all results by "
                           "level (in force now), category and tenant.",
                           "additionalProperties": {"type": "array", "items": facet}},
            },
        },
    }


def _search_paths() -> dict[str, Any]:
    params = [
        {"name": "q", "in": "query", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 200},
         "description": "Words, numbers or Chinese text; a document matches when its title "
                        "or content holds every word (Chinese: every character pair)."},
        _query("category", {"type": "string", "enum": [c.value for c in Category]},
               "Category id."),
        _query("level", {"type": "string", "enum": [lv.value for lv in Level]},
               "Level in force now."),
        _query("tenant", {"type": "string", "maxLength": 32}, "Tenant code."),
        _query("company", {"type": "string", "maxLength": 32}, "Company code."),
        _query("department", {"type": "string", "maxLength": 32}, "Department code."),
        _query("issued_from", DATE, "Issued on or after (YYYY-MM-DD)."),
        _query("issued_to", DATE, "Issued on or before (YYYY-MM-DD)."),
        *_page_params(20, 100),
        LANG_PARAM,
    ]
    return {
        f"{API}/search": {
            "get": {
                "operationId": "search", "tags": ["search"],
                "summary": "Search titles and content in your scope",
                "description": "Ranked by BM25 over the keyed index. Files outside your "
                               "scope are never counted, ranked or hinted at.",
                "parameters": params,
                "responses": {"200": _json(_ref("SearchResults"), "A page of results."),
                              **_errors("BadRequest")},
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
        "tags": [{"name": n} for n in ("documents", "grants", "copies", "registers",
                                        "notifications", "recordings", "service", "tenants",
                                        "notices", "leaks", "certificates",
                                        "search", "audit", "me",
                                        "meta")],
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
