"""Audit actions: what an audit event says happened, as ``scope:verb``.

Members are kept in alphabetical order of their values; a test checks it. The
value is what the trail, the exports and the filters carry, so a value is never
renamed once released — add a new one instead.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    AUDIT_EXPORT = "audit:export"
    AUDIT_VERIFY = "audit:verify"
    AUDIT_VIEW = "audit:view"
    AUTH_LOCKOUT = "auth:lockout"
    AUTH_REAUTH = "auth:reauth"
    AUTH_REAUTH_FAILED = "auth:reauth_failed"
    AUTH_SECOND_FACTOR = "auth:second_factor"
    AUTH_SECOND_FACTOR_ENROL = "auth:second_factor_enrol"
    AUTH_SECOND_FACTOR_FAILED = "auth:second_factor_failed"
    AUTH_SECOND_FACTOR_RESET = "auth:second_factor_reset"
    AUTH_SIGN_IN = "auth:sign_in"
    AUTH_SIGN_IN_FAILED = "auth:sign_in_failed"
    AUTH_SIGN_OUT = "auth:sign_out"
    CERTIFICATE_UPDATE = "certificate:update"
    COPY_APPROVE = "copy:approve"
    COPY_CANCEL = "copy:cancel"
    COPY_DESTROY = "copy:destroy"
    COPY_DOWNLOAD = "copy:download"
    COPY_ISSUE = "copy:issue"
    COPY_LOOKUP = "copy:lookup"
    COPY_REJECT = "copy:reject"
    COPY_REQUEST = "copy:request"
    COPY_RETURN = "copy:return"
    COPY_VIEW = "copy:view"
    COPY_VOID = "copy:void"
    DEPOSIT_COLLECT = "deposit:collect"
    DEPOSIT_RECEIVE = "deposit:receive"
    DEPOSIT_VIEW = "deposit:view"
    DOCUMENT_DECLASSIFY = "document:declassify"
    DOCUMENT_DOWNLOAD = "document:download"
    DOCUMENT_EXPORT = "document:export"
    DOCUMENT_INDEX = "document:index"
    DOCUMENT_LEVEL_CHANGE = "document:level_change"
    DOCUMENT_PERIOD_CHANGE = "document:period_change"
    DOCUMENT_PURGE = "document:purge"
    DOCUMENT_REGISTER = "document:register"
    DOCUMENT_SEARCH = "document:search"
    DOCUMENT_VERSION_ADD = "document:version_add"
    DOCUMENT_VIEW = "document:view"
    DOCUMENT_VIEW_METADATA = "document:view_metadata"
    GRANT_CREATE = "grant:create"
    GRANT_REVOKE = "grant:revoke"
    JOB_RUN = "job:run"
    KEY_GENERATE = "key:generate"
    KEY_RETIRE = "key:retire"
    KEY_ROTATE = "key:rotate"
    LEAK_HANDLE = "leak:handle"
    LEAK_REPORT = "leak:report"
    LEAK_VIEW = "leak:view"
    LETTER_ATTACH = "letter:attach"
    LETTER_DRAFT = "letter:draft"
    LETTER_LIST = "letter:list"
    LETTER_SEAL = "letter:seal"
    LETTER_TEMPLATE = "letter:template"
    LETTER_VIEW = "letter:view"
    LOAN_CREATE = "loan:create"
    LOAN_RETURN = "loan:return"
    MEETING_ATTENDANCE = "meeting:attendance"
    NOTICE_EXPORT = "notice:export"
    NOTICE_RECIPIENTS = "notice:recipients"
    NOTICE_SIGN_OFF = "notice:sign_off"
    ORG_COMPANY_ADD = "org:company_add"
    ORG_DEPARTMENT_ADD = "org:department_add"
    ORG_VIEW = "org:view"
    OVERVIEW_VIEW = "overview:view"
    RECORDING_ARCHIVE = "recording:archive"
    RECORDING_PURGE = "recording:purge"
    REGISTER_VIEW = "register:view"
    REQUEST_CLOSE = "request:close"
    REQUEST_CREATE = "request:create"
    REQUEST_LIST = "request:list"
    REQUEST_RECEIPT = "request:receipt"
    REQUEST_UPDATE = "request:update"
    REQUEST_VIEW = "request:view"
    REVIEW_CONFIRM = "review:confirm"
    SEAL_APPROVE = "seal:approve"
    SEAL_CANCEL = "seal:cancel"
    SEAL_REJECT = "seal:reject"
    SEAL_REQUEST = "seal:request"
    TENANT_CREATE = "tenant:create"
    TENANT_UPDATE = "tenant:update"
    TENANT_VIEW = "tenant:view"
    TOKEN_CREATE = "token:create"  # noqa: S105 (an action name, not a secret)
    TOKEN_REVOKE = "token:revoke"  # noqa: S105 (an action name, not a secret)
    USER_CREATE = "user:create"
    USER_DEACTIVATE = "user:deactivate"
    USER_PASSWORD = "user:password"  # noqa: S105 (an action name, not a secret)
    USER_UPDATE = "user:update"
    VISIT_RECORD = "visit:record"
    VISIT_REPORT = "visit:report"
    VISIT_REVIEW = "visit:review"
    VISIT_SCHEDULE = "visit:schedule"
    VISIT_VIEW = "visit:view"

    @property
    def scope(self) -> str:
        return self.value.split(":", 1)[0]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


#: Actions through which a person comes to know a document's content (知悉记录):
#: an *allowed* event with one of these puts its actor among the document's knowers.
KNOWING_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.COPY_DOWNLOAD,
        Action.DOCUMENT_DOWNLOAD,
        Action.DOCUMENT_EXPORT,
        Action.DOCUMENT_VIEW,
    }
)
