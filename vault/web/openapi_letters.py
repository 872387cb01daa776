"""The OpenAPI description of the letter endpoints (vault/web/api_letters.py), merged
into the document by vault/web/openapi.py."""

from __future__ import annotations

from typing import Any

from vault.policy import ApproverScope, Level
from vault.web.openapi import (
    API,
    DATE,
    DATETIME,
    INT,
    JSON,
    OTP,
    PASSWORD,
    STR,
    _error,
    _errors,
    _id_param,
    _json,
    _nullable,
    _query,
    _ref,
)

STATUSES = ["draft", "pending", "sealed"]
KINDS = ["letter", "open"]
OFFICES = [s.value for s in ApproverScope]


def schemas() -> dict[str, Any]:
    nstr = _nullable(STR)
    template = {"id": INT, "name": STR, "company": {**nstr, "description": "Company code; "
                "null: the whole group."}, "letterhead": STR, "closing": STR,
                "active": {"type": "boolean"}}
    row: dict[str, Any] = {
        "id": INT, "number": {**STR, "description": "Per company and year, e.g. SZ-函-2026-001."},
        "kind": {"type": "string", "enum": KINDS}, "title": STR,
        "document": {**INT, "description": "The letter's PDF (a document of category letter)."},
        "company": STR, "status": {"type": "string", "enum": STATUSES,
                                   "description": "sealed: 已用印, may be sent."},
        "drafter": STR, "created_at": DATETIME,
        "sealed_by": {**nstr, "description": "Who sealed it (the last approver)."},
        "sealed_at": _nullable(DATETIME),
    }
    decision = {"step": INT, "office": {"type": "string", "enum": OFFICES},
                "decided_by": STR, "decided_at": DATETIME, "approved": {"type": "boolean"},
                "note": nstr}
    seal: dict[str, Any] = {
        "id": INT, "letter": INT, "letter_number": STR, "requester": STR, "purpose": STR,
        "route": {"type": "array", "items": {"type": "string", "enum": OFFICES},
                  "description": "The offices deciding in order: the department's manager, "
                                 "then the general manager (policy.seal_route)."},
        "awaiting": {"type": "string", "enum": OFFICES, "nullable": True},
        "status": {"type": "string", "enum": ["pending", "approved", "rejected", "cancelled"]},
        "created_at": DATETIME, "decided_at": _nullable(DATETIME),
        "decisions": {"type": "array", "items": {"type": "object", "required": list(decision),
                                                 "properties": decision}},
    }
    full: dict[str, Any] = {
        **row, "template": STR, "seal_requests": {"type": "array", "items": _ref("SealRequest")},
        "requests": {"type": "array", "items": STR,
                     "description": "Numbers of the requests an open letter answers."},
        "recipients": INT, "may_request_seal": {"type": "boolean"},
        "may_decide": {"type": "boolean"}, "may_send": {"type": "boolean"},
    }
    text = {"type": "string", "minLength": 1}
    return {
        "LetterTemplate": {"type": "object", "required": list(template), "properties": template},
        "LetterTemplateList": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("LetterTemplate")}}},
        "LetterSummary": {"type": "object", "required": list(row), "properties": row},
        "Letter": {"type": "object", "required": list(full), "properties": full},
        "LetterList": {"type": "object", "required": ["items", "truncated"], "properties": {
            "items": {"type": "array", "items": _ref("LetterSummary")},
            "truncated": {"type": "boolean"}}},
        "LetterNew": {"type": "object", "required": ["template", "title", "addressee", "body"],
                      "properties": {
                          "template": {**INT, "minimum": 1},
                          "title": {**text, "maxLength": 200},
                          "addressee": {**text, "maxLength": 200, "description": "致"},
                          "body": {**text, "maxLength": 20000},
                          "date": {**DATE, "description": "Default: today."},
                          "kind": {"type": "string", "enum": KINDS},
                          "level": {"type": "string", "enum": [lv.value for lv in Level],
                                    "description": "Default: internal (the letter category's)."},
                          "requests": {"type": "array", "maxItems": 200,
                                       "items": {"type": "string", "minLength": 1,
                                                 "maxLength": 64},
                                       "description": "An open letter: the request numbers "
                                                      "it answers."}}},
        "SealRequest": {"type": "object", "required": list(seal), "properties": seal},
        "SealRequestList": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("SealRequest")}}},
        "SealRequestNew": {"type": "object", "required": ["purpose"], "properties": {
            "purpose": {**text, "maxLength": 2000}}},
        "SealApproval": {"type": "object", "required": ["password"], "properties": {
            "password": PASSWORD, "otp": OTP, "note": {"type": "string", "maxLength": 2000}}},
        "SealRejection": {"type": "object", "required": ["password", "reason"], "properties": {
            "password": PASSWORD, "otp": OTP, "reason": {**text, "maxLength": 2000}}},
        "LetterSend": {"type": "object", "required": ["tenants"], "properties": {
            "tenants": {"type": "array", "minItems": 1, "maxItems": 5000,
                        "items": {"type": "string", "minLength": 1, "maxLength": 32}}}},
        "LetterSent": {"type": "object", "required": ["added", "removed", "total"],
                       "properties": {"added": {"type": "array", "items": STR},
                                      "removed": {"type": "array", "items": STR},
                                      "total": INT}},
    }


def paths() -> dict[str, Any]:
    decision_errors = {**_errors("BadRequest", "Forbidden", "NotFound", "Conflict"),
                       "401": _error("ReauthFailed")}
    letter_id = _id_param("Letter")
    seal_id = _id_param("Seal request")
    return {
        f"{API}/letter-templates": {"get": {
            "operationId": "listLetterTemplates", "tags": ["letters"],
            "summary": "The letter templates (对外发文模版) you may draft with",
            "responses": {"200": _json(_ref("LetterTemplateList"), "The templates."),
                          **_errors()}}},
        f"{API}/letters": {
            "get": {
                "operationId": "listLetters", "tags": ["letters"],
                "summary": "Outgoing letters you may know of, newest first",
                "parameters": [
                    _query("status", {"type": "string", "enum": STATUSES}, "Status."),
                    _query("kind", {"type": "string", "enum": KINDS}, "Type."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                     "default": 100}, "At most this many.")],
                "responses": {"200": _json(_ref("LetterList"), "The letters."),
                              **_errors("BadRequest")}},
            "post": {
                "operationId": "draftLetter", "tags": ["letters"],
                "summary": "Draft a letter from a template (its PDF is stored encrypted)",
                "description": "Sent to tenants only once its seal request is approved.",
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("LetterNew")}}},
                "responses": {"201": _json(_ref("Letter"), "Drafted."),
                              **_errors("BadRequest", "Forbidden", "NotFound")}}},
        f"{API}/letters/{{id}}": {"get": {
            "operationId": "getLetter", "tags": ["letters"],
            "summary": "A letter with its seal requests and decisions (audited)",
            "parameters": [letter_id],
            "responses": {"200": _json(_ref("Letter"), "The letter."),
                          **_errors("BadRequest", "NotFound")}}},
        f"{API}/letters/{{id}}/seal-request": {"post": {
            "operationId": "requestLetterSeal", "tags": ["letters"],
            "summary": "Ask for the company seal (用章申请)",
            "description": "By the drafter, the responsible supervisor, the department's "
                           "manager or an HQ executive; 409 letter_not_draft while one is "
                           "pending or once sealed.",
            "parameters": [letter_id],
            "requestBody": {"required": True, "content": {
                JSON: {"schema": _ref("SealRequestNew")}}},
            "responses": {"201": _json(_ref("SealRequest"), "Asked."),
                          **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")}}},
        f"{API}/letters/{{id}}/send": {"post": {
            "operationId": "sendLetter", "tags": ["letters"],
            "summary": "Send a sealed letter to tenants (then track their sign-offs)",
            "description": "403 letter_not_sealed before 已用印. The list replaces the "
                           "recipients; their sign-offs: /api/v1/notices/{id}/sign-offs.",
            "parameters": [letter_id],
            "requestBody": {"required": True, "content": {
                JSON: {"schema": _ref("LetterSend")}}},
            "responses": {"200": _json(_ref("LetterSent"), "Sent."),
                          **_errors("BadRequest", "Forbidden", "NotFound", "Conflict")}}},
        f"{API}/seal-requests": {"get": {
            "operationId": "listSealRequestsToDecide", "tags": ["letters"],
            "summary": "Seal requests whose awaited step you may decide now",
            "responses": {"200": _json(_ref("SealRequestList"), "To decide."),
                          **_errors()}}},
        f"{API}/seal-requests/{{id}}/approve": {"post": {
            "operationId": "approveSealRequest", "tags": ["letters"],
            "summary": "Approve the awaited step (re-authentication in the body)",
            "description": "The last step seals the letter (已用印). Others answer 403 "
                           "not_an_approver; the requester 403 requester_cannot_approve.",
            "parameters": [seal_id],
            "requestBody": {"required": True, "content": {
                JSON: {"schema": _ref("SealApproval")}}},
            "responses": {"200": _json(_ref("SealRequest"), "Approved."), **decision_errors}}},
        f"{API}/seal-requests/{{id}}/reject": {"post": {
            "operationId": "rejectSealRequest", "tags": ["letters"],
            "summary": "Refuse with a reason (re-authentication in the body)",
            "description": "The letter returns to draft; the requester is told the reason.",
            "parameters": [seal_id],
            "requestBody": {"required": True, "content": {
                JSON: {"schema": _ref("SealRejection")}}},
            "responses": {"200": _json(_ref("SealRequest"), "Refused."), **decision_errors}}},
    }
