"""Words for the audit trail's codes: every action, reason, object type and detail
field gets a label in the reader's language (the codes stay in exports and in the
filters' values). A code without a label is shown with spaces for underscores, never
as a bare code; tests/unit/test_labels.py keeps every Action and policy Reason
labelled."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext

ACTIONS: dict[str, Any] = {
    'copy:issue': lazy_gettext("Issued a paper photocopy"),
    'copy:void': lazy_gettext("An approval turned void"),
    'document:index': lazy_gettext("Indexed a document's text"),
    'meeting:attendance': lazy_gettext("Recorded meeting attendance"),
    'letter:attach': lazy_gettext("Attached an open letter to requests"),
    'letter:draft': lazy_gettext("Drafted a letter"),
    'letter:list': lazy_gettext("Listed letters"),
    'letter:seal': lazy_gettext("Marked a letter sealed"),
    'letter:template': lazy_gettext("Saved a letter template"),
    'letter:view': lazy_gettext("Viewed a letter"),
    'seal:approve': lazy_gettext("Approved a seal request"),
    'seal:cancel': lazy_gettext("Withdrew a seal request"),
    'seal:reject': lazy_gettext("Refused a seal request"),
    'seal:request': lazy_gettext("Asked for the seal"),
    'deposit:collect': lazy_gettext("Recorded a deposit paid back"),
    'deposit:receive': lazy_gettext("Recorded a deposit received"),
    'deposit:view': lazy_gettext("Viewed the deposit register"),
    'request:close': lazy_gettext("Closed a service request"),
    'request:create': lazy_gettext("Registered a service request"),
    'request:list': lazy_gettext("Listed service requests"),
    'request:receipt': lazy_gettext("Issued a receipt"),
    'request:update': lazy_gettext("Updated a service request"),
    'request:view': lazy_gettext("Viewed a service request"),
    'visit:record': lazy_gettext("Recorded a follow-up visit"),
    'visit:report': lazy_gettext("Viewed the monthly report"),
    'visit:review': lazy_gettext("Reviewed a follow-up visit"),
    'visit:schedule': lazy_gettext("Scheduled a follow-up visit"),
    'visit:view': lazy_gettext("Viewed follow-up visits"),
    'audit:export': lazy_gettext("Exported the audit trail"),
    'audit:verify': lazy_gettext("Verified the audit chain"),
    'audit:view': lazy_gettext("Viewed the audit trail"),
    'auth:lockout': lazy_gettext("Sign-in paused after failures"),
    'auth:reauth': lazy_gettext("Confirmed identity again"),
    'auth:reauth_failed': lazy_gettext("Identity confirmation failed"),
    'auth:second_factor': lazy_gettext("Gave the second-factor code"),
    'auth:second_factor_enrol': lazy_gettext("Set up the second factor"),
    'auth:second_factor_failed': lazy_gettext("Second-factor code refused"),
    'auth:second_factor_reset': lazy_gettext("Second factor reset"),
    'auth:sign_in': lazy_gettext("Signed in"),
    'auth:sign_in_failed': lazy_gettext("Sign-in failed"),
    'auth:sign_out': lazy_gettext("Signed out"),
    'certificate:update': lazy_gettext("Updated a certificate"),
    'copy:approve': lazy_gettext("Approved a request"),
    'copy:cancel': lazy_gettext("Withdrew a request"),
    'copy:destroy': lazy_gettext("Recorded a copy destroyed"),
    'copy:download': lazy_gettext("Downloaded an approved copy"),
    'copy:lookup': lazy_gettext("Looked up a copy number"),
    'copy:reject': lazy_gettext("Rejected a request"),
    'copy:request': lazy_gettext("Asked for approval"),
    'copy:return': lazy_gettext("Recorded a copy returned"),
    'copy:view': lazy_gettext("Viewed a request"),
    'document:declassify': lazy_gettext("Declassified a document"),
    'document:download': lazy_gettext("Downloaded a document"),
    'document:export': lazy_gettext("Exported a document"),
    'document:level_change': lazy_gettext("Changed the secrecy level"),
    'document:period_change': lazy_gettext("Changed the secrecy period"),
    'document:purge': lazy_gettext("Destroyed a document's content"),
    'document:register': lazy_gettext("Registered a document"),
    'document:search': lazy_gettext("Searched documents"),
    'document:version_add': lazy_gettext("Added a version"),
    'document:view': lazy_gettext("Read a document"),
    'document:view_metadata': lazy_gettext("Opened a document's page"),
    'grant:create': lazy_gettext("Granted access"),
    'overview:view': lazy_gettext("Viewed the executives' overview"),
    'grant:revoke': lazy_gettext("Revoked access"),
    'job:run': lazy_gettext("Ran a scheduled job"),
    'key:generate': lazy_gettext("Generated a key"),
    'key:retire': lazy_gettext("Retired a key"),
    'key:rotate': lazy_gettext("Rotated keys"),
    'leak:handle': lazy_gettext("Handled a leak report"),
    'leak:report': lazy_gettext("Reported a leak"),
    'leak:view': lazy_gettext("Viewed leak reports"),
    'loan:create': lazy_gettext("Lent an original"),
    'loan:return': lazy_gettext("Recorded an original returned"),
    'notice:export': lazy_gettext("Exported sign-offs"),
    'notice:recipients': lazy_gettext("Chose a notice's recipients"),
    'notice:sign_off': lazy_gettext("Recorded a sign-off"),
    'org:company_add': lazy_gettext("Added a company"),
    'org:department_add': lazy_gettext("Added a department"),
    'org:view': lazy_gettext("Viewed the organisation"),
    'recording:archive': lazy_gettext("Archived a recording"),
    'recording:purge': lazy_gettext("Destroyed an expired recording"),
    'register:view': lazy_gettext("Viewed a register"),
    'review:confirm': lazy_gettext("Confirmed in the annual review"),
    'tenant:create': lazy_gettext("Added a tenant"),
    'tenant:update': lazy_gettext("Updated a tenant"),
    'tenant:view': lazy_gettext("Viewed a tenant"),
    'token:create': lazy_gettext("Created an API token"),
    'token:revoke': lazy_gettext("Revoked an API token"),
    'user:create': lazy_gettext("Added a person"),
    'user:deactivate': lazy_gettext("Deactivated a person"),
    'user:password': lazy_gettext("Set a password"),
    'user:update': lazy_gettext("Changed a person"),
}

REASONS: dict[str, Any] = {
    'escalated': lazy_gettext("sent up to the HQ executives"),
    'already_used': lazy_gettext("approval already used"),
    'window_over': lazy_gettext("download window over"),
    'void_reclassified': lazy_gettext("void: reclassified"),
    'void_approver_lost_office': lazy_gettext("void: approver lost the office"),
    'void_requester_lost_access': lazy_gettext("void: requester may no longer read the file"),
    'last_custodian': lazy_gettext("the company's last custodian"),
    'no_custodian_gm': lazy_gettext("general manager of a company without a custodian"),
    'by_registration': lazy_gettext("by registration"),
    'raised_to_top_secret': lazy_gettext("raised to top secret"),
    'issued': lazy_gettext("issued"),
    'already_issued': lazy_gettext("already issued"),
    'paper_copy': lazy_gettext("a paper photocopy"),
    'not_a_photocopy': lazy_gettext("not a photocopy"),
    'address_paused': lazy_gettext("signing in from this address paused"),
    'too_many_failures_from_address': lazy_gettext("too many failures from one address"),
    'recent_imports': lazy_gettext("recent imports"),
    'content_search': lazy_gettext("search in the text"),
    'rewrapped_index': lazy_gettext("index re-encrypted under the new key"),
    'snippet': lazy_gettext("text excerpt shown"),
    'already_downloaded': lazy_gettext("already downloaded once"),
    'not_approved': lazy_gettext("not approved"),
    'nothing_to_download': lazy_gettext("nothing to download"),
    'window_expired': lazy_gettext("download window over"),
    'not_requester': lazy_gettext("not the requester"),
    'integrity_failure': lazy_gettext("integrity check failed"),
    'handler': lazy_gettext("handler"),
    'company_supervisor': lazy_gettext("supervisor of the company"),
    'not_request_keeper': lazy_gettext("may not keep service requests"),
    'not_follow_up_owner': lazy_gettext("not the follow-up's owner"),
    'visitor_cannot_review': lazy_gettext("visitors do not review their own visits"),
    'not_follow_up_reviewer': lazy_gettext("may not review follow-ups"),
    'on_site_required': lazy_gettext("on-site visit required"),
    'not_report_reader': lazy_gettext("may not read the report"),
    'closed': lazy_gettext("closed"),
    'in_progress': lazy_gettext("in progress"),
    'register': lazy_gettext("register"),
    'repeated_complaint': lazy_gettext("repeated complaint"),
    'reply_letter': lazy_gettext("reply letter"),
    'request_overdue': lazy_gettext("request overdue"),
    'unknown_company': lazy_gettext("no such company"),
    'unknown_deposit': lazy_gettext("no such deposit"),
    'unknown_follow_up': lazy_gettext("no such follow-up"),
    'unknown_request': lazy_gettext("no such request"),
    'view': lazy_gettext("view"),
    'internal_employee': lazy_gettext("employee (internal file)"),
    'hq_executive': lazy_gettext("HQ executive"),
    'registrant': lazy_gettext("registrant"),
    'responsible_supervisor': lazy_gettext("responsible supervisor"),
    'owning_department': lazy_gettext("owning department"),
    'owning_dept_manager': lazy_gettext("manager of the owning department"),
    'designee': lazy_gettext("designated reader"),
    'owning_company_gm': lazy_gettext("general manager of the owning company"),
    'no_approval_needed': lazy_gettext("no approval needed"),
    'approval_required': lazy_gettext("approval required"),
    'approver': lazy_gettext("approver"),
    'inactive_user': lazy_gettext("deactivated person"),
    'not_in_scope': lazy_gettext("outside the person's scope"),
    'top_secret_not_designated': lazy_gettext("not designated for this top-secret file"),
    'secret_not_designated': lazy_gettext("not designated for this secret file"),
    'registrant_removed': lazy_gettext("registrant removed from the file"),
    'not_authorised_to_grant': lazy_gettext("may not grant access"),
    'internal_needs_no_grant': lazy_gettext("internal files need no grant"),
    'requester_cannot_approve': lazy_gettext("requesters do not approve their own requests"),
    'not_an_approver': lazy_gettext("not an approver of this request"),
    'not_classified': lazy_gettext("not classified"),
    'period_already_ended': lazy_gettext("secrecy period already ended"),
    'no_fixed_end': lazy_gettext("the period has no fixed end"),
    'not_responsible': lazy_gettext("not responsible for the file"),
    'cannot_view': lazy_gettext("may not read the file"),
    'no_content': lazy_gettext("no stored file to copy"),
    'nothing_to_lend': lazy_gettext("nothing on paper to lend"),
    'compliance': lazy_gettext("compliance officer"),
    'custodian': lazy_gettext("custodian"),
    'approving_office': lazy_gettext("approving office"),
    'not_reclassifier': lazy_gettext("may not change the classification"),
    'copy_approval_required': lazy_gettext("content leaves only as an approved copy"),
    'not_compliance': lazy_gettext("not a compliance officer"),
    'admin': lazy_gettext("administrator"),
    'not_admin': lazy_gettext("not an administrator"),
    'not_register_reader': lazy_gettext("may not read the registers"),
    'not_custodian': lazy_gettext("not a custodian"),
    'reporter': lazy_gettext("reporter"),
    'not_leak_reader': lazy_gettext("may not read leak reports"),
    'not_hq_executive': lazy_gettext("not an HQ executive"),
    'not_certificate_keeper': lazy_gettext("may not keep certificates"),
    'not_tenant_keeper': lazy_gettext("may not keep tenant records"),
    'own_reports': lazy_gettext("own reports only"),
    'added': lazy_gettext("added"),
    'already_decided': lazy_gettext("already decided"),
    'approved': lazy_gettext("approved"),
    'archive': lazy_gettext("archive"),
    'cancelled': lazy_gettext("withdrawn"),
    'certificate': lazy_gettext("certificate"),
    'chain_ok': lazy_gettext("chain intact"),
    'confirmed': lazy_gettext("confirmed"),
    'created': lazy_gettext("created"),
    'csv': lazy_gettext("CSV file"),
    'deactivated': lazy_gettext("deactivated"),
    'details_changed': lazy_gettext("details changed"),
    'document_history': lazy_gettext("a document's history"),
    'documents': lazy_gettext("documents"),
    'enrol_wrong_code': lazy_gettext("wrong code while setting up"),
    'exported': lazy_gettext("exported"),
    'failed': lazy_gettext("failed"),
    'found': lazy_gettext("found"),
    'granted': lazy_gettext("granted"),
    'handled': lazy_gettext("handled"),
    'lent': lazy_gettext("lent"),
    'metadata': lazy_gettext("details only"),
    'new_active_key': lazy_gettext("new active key"),
    'password': lazy_gettext("password"),
    'password_changed': lazy_gettext("password changed"),
    'paused': lazy_gettext("signing in paused"),
    'period_ended': lazy_gettext("period ended"),
    'ran': lazy_gettext("ran"),
    'recovery_codes_renewed': lazy_gettext("recovery codes renewed"),
    'registered': lazy_gettext("registered"),
    'rejected': lazy_gettext("rejected"),
    'released': lazy_gettext("released"),
    'rendered': lazy_gettext("shown as pages"),
    'dashboard': lazy_gettext("dashboard"),
    'thumbnail': lazy_gettext("shown as a thumbnail"),
    'reported': lazy_gettext("reported"),
    'requested': lazy_gettext("requested"),
    'reset_by_admin': lazy_gettext("reset by the administrator"),
    'retention_expired': lazy_gettext("retention period over"),
    'retired': lazy_gettext("retired"),
    'returned': lazy_gettext("returned"),
    'revoked': lazy_gettext("revoked"),
    'rewrapped': lazy_gettext("re-encrypted under the new key"),
    'roles_changed': lazy_gettext("roles changed"),
    'search': lazy_gettext("search"),
    'shown': lazy_gettext("shown"),
    'signed_in': lazy_gettext("signed in"),
    'signed_out': lazy_gettext("signed out"),
    'special_event': lazy_gettext("special event"),
    'started': lazy_gettext("started"),
    'streamed': lazy_gettext("played"),
    'too_many_failures': lazy_gettext("too many failures"),
    'trail': lazy_gettext("audit trail"),
    'turned_off_by_owner': lazy_gettext("turned off by its owner"),
    'unknown_document': lazy_gettext("no such document"),
    'unknown_tenant': lazy_gettext("no such tenant"),
    'unknown_user': lazy_gettext("no such person"),
    'vault_init': lazy_gettext("Vault set up"),
    'version_added': lazy_gettext("version added"),
    'viewer': lazy_gettext("viewer"),
    'wrong_code': lazy_gettext("wrong code"),
    'wrong_password': lazy_gettext("wrong password"),
    'totp': lazy_gettext("authenticator code"),
    'recovery_code': lazy_gettext("recovery code"),
    'password+totp': lazy_gettext("password and authenticator code"),
    'password+recovery_code': lazy_gettext("password and recovery code"),
    'session_expired': lazy_gettext("sign-in expired"),
    'no_factor': lazy_gettext("no second factor"),
    'copy': lazy_gettext("copy"),
    'excerpt': lazy_gettext("excerpt"),
    'print': lazy_gettext("print"),
    'lend': lazy_gettext("lend"),
    'extend': lazy_gettext("extend the period"),
    'downgrade': lazy_gettext("downgrade"),
    'declassify': lazy_gettext("declassify"),
    'destroyed': lazy_gettext("destroyed"),
    'on_site': lazy_gettext("signed on site"),
    'sealed': lazy_gettext("sealed"),
    'letter_not_sealed': lazy_gettext("the letter is not sealed yet"),
    'already_decided_step': lazy_gettext("decided an earlier step"),
    'drafted': lazy_gettext("drafted"),
    'attached': lazy_gettext("attached"),
    'changed': lazy_gettext("changed"),
    'templates': lazy_gettext("templates"),
}

OBJECTS: dict[str, Any] = {
    'audit': lazy_gettext("audit trail"),
    'company': lazy_gettext("company"),
    'copy': lazy_gettext("copy"),
    'copy_request': lazy_gettext("request"),
    'department': lazy_gettext("department"),
    'document': lazy_gettext("document"),
    'job': lazy_gettext("job"),
    'leak_report': lazy_gettext("leak report"),
    'loan': lazy_gettext("loan"),
    'master_key': lazy_gettext("master key"),
    'register': lazy_gettext("register"),
    'search': lazy_gettext("search"),
    'tenant': lazy_gettext("tenant"),
    'token': lazy_gettext("API token"),
    'user': lazy_gettext("person"),
    'certificate': lazy_gettext("certificate"),
    'recording': lazy_gettext("recording"),
    'notice': lazy_gettext("notice"),
    'overview': lazy_gettext("overview of approvals and leak reports"),
    'letter': lazy_gettext("letter"),
    'letter_template': lazy_gettext("letter template"),
    'seal_request': lazy_gettext("seal request"),
}

DETAIL_FIELDS: dict[str, Any] = {
    'offset': lazy_gettext("lines skipped (paging)"),
    'route': lazy_gettext("route"),
    'step': lazy_gettext("step"),
    'requests': lazy_gettext("requests"),
    'template': lazy_gettext("template"),
    'sealed_by': lazy_gettext("sealed by"),
    'letter': lazy_gettext("letter"),
    'active': lazy_gettext("active"),
    'approvers': lazy_gettext("approvers"),
    'content': lazy_gettext("with content"),
    'name': lazy_gettext("name"),
    'hq': lazy_gettext("HQ"),
    'roles': lazy_gettext("roles"),
    'company': lazy_gettext("company"),
    'from': lazy_gettext("before"),
    'to': lazy_gettext("after"),
    'failures': lazy_gettext("failures"),
    'seconds': lazy_gettext("seconds"),
    'results': lazy_gettext("results"),
    'capped': lazy_gettext("results capped (at least that many)"),
    'page': lazy_gettext("page"),
    'part': lazy_gettext("part"),
    'user': lazy_gettext("person"),
    'prefix': lazy_gettext("token prefix"),
    'added': lazy_gettext("added"),
    'removed': lazy_gettext("removed"),
    'tenant': lazy_gettext("tenant"),
    'method': lazy_gettext("method"),
    'recipients': lazy_gettext("recipients"),
    'signed': lazy_gettext("signed"),
    'category': lazy_gettext("category"),
    'period': lazy_gettext("secrecy period"),
    'version': lazy_gettext("version"),
    'size': lazy_gettext("size"),
    'holder': lazy_gettext("run by"),
    'error': lazy_gettext("error"),
    'as': lazy_gettext("as"),
    'events': lazy_gettext("events"),
    'first_bad_seq': lazy_gettext("first bad event"),
    'format': lazy_gettext("format"),
    'request': lazy_gettext("request"),
    'rows': lazy_gettext("rows"),
    'status': lazy_gettext("state"),
    'copy': lazy_gettext("copy"),
    'document': lazy_gettext("document"),
    'overdue': lazy_gettext("overdue"),
    'trace': lazy_gettext("full trace"),
    'open_only': lazy_gettext("open only"),
    'grantee': lazy_gettext("granted to"),
    'event': lazy_gettext("event"),
    'why': lazy_gettext("reason"),
    'request_ref': lazy_gettext("request record"),
    'called_at': lazy_gettext("call time"),
    'range': lazy_gettext("byte range"),
    'documents': lazy_gettext("documents"),
    'shown': lazy_gettext("shown"),
    'ended_at': lazy_gettext("ended at"),
    'kind': lazy_gettext("kind"),
    'unit': lazy_gettext("unit"),
    'level': lazy_gettext("level"),
    'department': lazy_gettext("department"),
    'email': lazy_gettext("e-mail"),
    'until': lazy_gettext("until"),
    'actor': lazy_gettext("person"),
    'outcome': lazy_gettext("outcome"),
    'action': lazy_gettext("action"),
    'since': lazy_gettext("from"),
    'note': lazy_gettext("note"),
    'contact': lazy_gettext("contact"),
    'number': lazy_gettext("number"),
    'holder_name': lazy_gettext("holder"),
    'expires_on': lazy_gettext("expires on"),
    'window_hours': lazy_gettext("download window (hours)"),
    'pages': lazy_gettext("pages"),
    'code': lazy_gettext("code"),
    'reason': lazy_gettext("reason"),
    'query': lazy_gettext("search"),
    'found': lazy_gettext("results"),
    'picked': lazy_gettext("chosen"),
    'thumbnail': lazy_gettext("thumbnail"),
    'sort': lazy_gettext("sorted by"),
    'days': lazy_gettext("days"),
    'basis': lazy_gettext("basis"),
    'before': lazy_gettext("before"),
    'borrower': lazy_gettext("borrower"),
    'by': lazy_gettext("by"),
    'channel': lazy_gettext("channel"),
    'collected_by': lazy_gettext("collected by"),
    'copy_number': lazy_gettext("copy number"),
    'deadline_at': lazy_gettext("deadline"),
    'due_at': lazy_gettext("due at"),
    'due_on': lazy_gettext("due on"),
    'expires_at': lazy_gettext("expires"),
    'filters': lazy_gettext("filters"),
    'follow_up': lazy_gettext("follow-up"),
    'grade': lazy_gettext("grade"),
    'in_the_name_of': lazy_gettext("in the name of"),
    'item': lazy_gettext("item"),
    'month': lazy_gettext("month"),
    'next': lazy_gettext("next"),
    'object_id': lazy_gettext("object"),
    'object_type': lazy_gettext("kind of object"),
    'ocr_pages': lazy_gettext("pages read by OCR"),
    'owner': lazy_gettext("owner"),
    'present': lazy_gettext("present"),
    'previous_review': lazy_gettext("previous review"),
    'receipt': lazy_gettext("receipt"),
    'request_id': lazy_gettext("request"),
    'resolved': lazy_gettext("resolved"),
    'retention_days': lazy_gettext("retention (days)"),
    'sequence': lazy_gettext("visit number"),
    'sheet': lazy_gettext("sign-off sheet"),
    'signature': lazy_gettext("signature"),
    'signed_at': lazy_gettext("signed at"),
    'table': lazy_gettext("table"),
    'tokens': lazy_gettext("API tokens"),
    'versions': lazy_gettext("versions"),
    'via': lazy_gettext("via"),
    'visited_on': lazy_gettext("visited on"),
    'whole': lazy_gettext("whole file"),
    'pending': lazy_gettext("pending approvals"),
    'open_leaks': lazy_gettext("open leak reports"),
    'handler': lazy_gettext("handled by"),
    'search': lazy_gettext("search"),
}

# Detail fields whose values are customer-service codes, and the names for them.
SERVICE_FIELDS = {"channel": "CHANNEL_NAMES", "grade": "GRADE_NAMES",
                  "follow_up": "FOLLOW_UP_NAMES", "owner": "OWNER_NAMES",
                  "method": "METHOD_NAMES"}

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _plain(code: str) -> str:
    return code.replace("_", " ").replace(":", " · ")


def action(code: str) -> str:
    return str(ACTIONS.get(code) or _plain(code))


def reason(code: str | None) -> str:
    if not code:
        return ""
    return str(REASONS.get(code) or _plain(code))


def obj(kind: str | None) -> str:
    return str(OBJECTS.get(kind or "") or _plain(kind or ""))


def value(raw: Any, local: Any) -> str:
    """One detail value in words: codes labelled, times in group time, lists joined;
    nothing (None or an empty text) is a dash."""
    if raw is None or raw == "":
        return "—"
    if isinstance(raw, bool):
        return str(lazy_gettext("yes") if raw else lazy_gettext("no"))
    if isinstance(raw, list):
        return "、".join(value(v, local) for v in raw) or "—"
    if isinstance(raw, dict):
        return "；".join(f"{field(k)} {value(v, local)}" for k, v in raw.items()) or "—"
    text = str(raw)
    if _ISO.match(text):
        try:
            return str(local(datetime.fromisoformat(text)))
        except ValueError:
            return text
    if text in REASONS:
        return reason(text)
    from vault.web.documents import CATEGORY_NAMES, LEVEL_NAMES

    if text in CATEGORY_NAMES:
        return str(CATEGORY_NAMES[text])
    if text in LEVEL_NAMES:
        return str(LEVEL_NAMES[text])
    if "," in text and all(p in REASONS for p in text.split(",")):
        return "、".join(reason(p) for p in text.split(","))
    return _plain(text) if re.fullmatch(r"[a-z]+(_[a-z]+)+", text) else text


def field(key: str) -> str:
    return str(DETAIL_FIELDS.get(key) or _plain(key))


def _named(key: str, raw: Any) -> str | None:
    """A customer-service code (channel, grade, …) in words, by the field it is in."""
    if not isinstance(raw, str) or key not in SERVICE_FIELDS:
        return None
    from vault.web import service

    names: dict[str, Any] = getattr(service, SERVICE_FIELDS[key])
    return str(names[raw]) if raw in names else None


def details(detail: str | dict[str, Any] | None, local: Any) -> list[tuple[str, str]]:
    """An event's detail as (label, value) pairs."""
    if not detail:
        return []
    data = json.loads(detail) if isinstance(detail, str) else detail
    if not isinstance(data, dict):
        return [("", str(data))]
    return [(field(k), _named(k, v) or value(v, local)) for k, v in data.items()]
