"""Copies, excerpts, prints, loans and classification-change requests (SPEC.md §3).

A request is bound at creation to its requester, document, version and kind and
routed to the approvers `policy.copy_route` names. A decision re-checks the
approver with `policy.can_approve` at that moment (never the requester, never
someone who lost the office). An approved copy yields one download within its
window; the download is numbered, stamped and written to the copy register in
the same unit of work as its audit event, before a byte leaves. An approved loan
opens a line in the lending register; an approved extension, downgrade or early
declassification changes the file and its classification history.

Approvers and custodians see a request's metadata, never the file's content.

The package's modules: `common` (states, labels, facts, voiding, approvers),
`requests` (asking and reading requests), `decisions` (approve, reject, cancel,
applying a classification change), `delivery` (the registered copy's download,
photocopies), `registers` (the copy register) and `loans` (the lending register).
Everything callers use is importable from `vault.services.copies` as before.
"""

from __future__ import annotations

from vault.policy import CopyKind
from vault.services import notifications
from vault.services.copies.common import (
    APPROVED,
    CANCELLED,
    DELIVERING,
    DESTROYED,
    ISSUED,
    KIND_EN,
    KIND_ZH,
    MAX_LOAN_DAYS,
    MAX_PAGES_TEXT,
    MAX_PURPOSE,
    MAX_STAMP_BYTES,
    PENDING,
    REJECTED,
    RETURNED,
    SPENT,
    VOID,
    VOID_STATES,
    approval_facts,
    approvers_for,
    copy_facts,
    label,
    parse_kind,
    parse_label,
    state,
    window_open,
)
from vault.services.copies.decisions import (
    approve,
    cancel,
    reject,
)
from vault.services.copies.delivery import (
    Delivery,
    copy_filename,
    download,
    issue_photocopy,
    stamp_lines,
)
from vault.services.copies.loans import (
    hand_over,
    loan_state,
    loans,
    may_keep_loans,
    return_loan,
)
from vault.services.copies.registers import (
    close_copy,
    copy_level,
    copy_register,
    lookup,
)
from vault.services.copies.requests import (
    RequestView,
    mine,
    pending_count,
    request,
    requester_history,
    requests_for_document,
    show,
    to_decide,
)

__all__ = [
    "APPROVED",
    "CANCELLED",
    "CopyKind",
    "DELIVERING",
    "DESTROYED",
    "Delivery",
    "ISSUED",
    "KIND_EN",
    "KIND_ZH",
    "MAX_LOAN_DAYS",
    "MAX_PAGES_TEXT",
    "MAX_PURPOSE",
    "MAX_STAMP_BYTES",
    "PENDING",
    "REJECTED",
    "RETURNED",
    "RequestView",
    "SPENT",
    "VOID",
    "VOID_STATES",
    "approval_facts",
    "approve",
    "approvers_for",
    "cancel",
    "close_copy",
    "copy_facts",
    "copy_filename",
    "copy_level",
    "copy_register",
    "download",
    "hand_over",
    "issue_photocopy",
    "label",
    "loan_state",
    "loans",
    "lookup",
    "may_keep_loans",
    "mine",
    "notifications",
    "parse_kind",
    "parse_label",
    "pending_count",
    "reject",
    "request",
    "requester_history",
    "requests_for_document",
    "return_loan",
    "show",
    "stamp_lines",
    "state",
    "to_decide",
    "window_open",
]
