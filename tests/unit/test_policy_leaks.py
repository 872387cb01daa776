"""Who may investigate, read and handle leak reports, and who keeps a certificate's
details: every role × where the person works, active and not. Expected results are
written out."""

from __future__ import annotations

import pytest

from vault.policy import (
    Reason,
    Role,
    Subject,
    can_edit_certificate,
    can_handle_leak,
    can_investigate_leaks,
    can_read_leak,
)

HQ, OWN, OTHER = 1, 2, 3
ME, SOMEONE_ELSE = 7, 8

# (role, where the person works, at_hq) ->
#   (investigate allowed, reason), (read someone else's report), (read own report), (handle)
LEAK_TABLE = [
    (Role.HQ_EXECUTIVE, HQ, True,
     (True, Reason.HQ_EXECUTIVE), (True, Reason.HQ_EXECUTIVE), (True, Reason.HQ_EXECUTIVE),
     (True, Reason.HQ_EXECUTIVE)),
    # The hq_executive role counts only at the HQ company.
    (Role.HQ_EXECUTIVE, OTHER, False,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.COMPLIANCE, HQ, True,
     (True, Reason.COMPLIANCE), (True, Reason.COMPLIANCE), (True, Reason.COMPLIANCE),
     (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.COMPLIANCE, OTHER, False,
     (True, Reason.COMPLIANCE), (True, Reason.COMPLIANCE), (True, Reason.COMPLIANCE),
     (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.COMPANY_GM, OWN, False,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.DEPT_MANAGER, OWN, False,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.SUPERVISOR, OWN, False,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.CUSTODIAN, OWN, False,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.ADMIN, HQ, True,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
    (Role.STAFF, OWN, False,
     (False, Reason.NOT_LEAK_READER), (False, Reason.NOT_LEAK_READER),
     (True, Reason.REPORTER), (False, Reason.NOT_HQ_EXECUTIVE)),
]


def _subject(role: Role, company: int, at_hq: bool, active: bool = True) -> Subject:
    return Subject(user_id=ME, company_id=company, department_id=None,
                   roles=frozenset({role}), active=active, at_hq=at_hq)


@pytest.mark.parametrize(
    ("role", "company", "at_hq", "investigate", "read_other", "read_own", "handle"),
    [pytest.param(*row, id=f"{row[0].value}-{row[1]}") for row in LEAK_TABLE],
)
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_leak_reports(role: Role, company: int, at_hq: bool,
                      investigate: tuple[bool, Reason], read_other: tuple[bool, Reason],
                      read_own: tuple[bool, Reason], handle: tuple[bool, Reason],
                      active: bool) -> None:
    subject = _subject(role, company, at_hq, active)
    got = [
        can_investigate_leaks(subject),
        can_read_leak(subject, SOMEONE_ELSE),
        can_read_leak(subject, ME),
        can_handle_leak(subject),
    ]
    if not active:
        # A deactivated person reads nothing, not even their own report.
        assert [(d.allowed, d.reason) for d in got] == [(False, Reason.INACTIVE_USER)] * 4
        return
    assert [(d.allowed, d.reason) for d in got] == [investigate, read_other, read_own, handle]


def test_every_role_has_a_leak_row() -> None:
    assert {row[0] for row in LEAK_TABLE} == set(Role)


# (role, where the person works, at_hq) ->
#   (certificate of company OWN: allowed, reason), (certificate of the HQ company)
CERTIFICATE_TABLE = [
    (Role.CUSTODIAN, OWN, False, (True, Reason.CUSTODIAN),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.CUSTODIAN, OTHER, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.CUSTODIAN, HQ, True, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (True, Reason.CUSTODIAN)),
    (Role.COMPANY_GM, OWN, False, (True, Reason.OWNING_COMPANY_GM),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.COMPANY_GM, OTHER, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    # HQ executives keep the HQ company's certificates (they are its general managers),
    # not the subsidiaries'.
    (Role.HQ_EXECUTIVE, HQ, True, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (True, Reason.HQ_EXECUTIVE)),
    (Role.HQ_EXECUTIVE, OTHER, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.COMPLIANCE, HQ, True, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.DEPT_MANAGER, OWN, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.SUPERVISOR, OWN, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.ADMIN, OWN, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
    (Role.STAFF, OWN, False, (False, Reason.NOT_CERTIFICATE_KEEPER),
     (False, Reason.NOT_CERTIFICATE_KEEPER)),
]


@pytest.mark.parametrize(
    ("role", "company", "at_hq", "own_company", "hq_company"),
    [pytest.param(*row, id=f"{row[0].value}-{row[1]}") for row in CERTIFICATE_TABLE],
)
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_certificates(role: Role, company: int, at_hq: bool, own_company: tuple[bool, Reason],
                      hq_company: tuple[bool, Reason], active: bool) -> None:
    subject = _subject(role, company, at_hq, active)
    own = can_edit_certificate(subject, OWN, company_is_hq=False)
    hq = can_edit_certificate(subject, HQ, company_is_hq=True)
    if not active:
        assert (own.allowed, own.reason) == (False, Reason.INACTIVE_USER)
        assert (hq.allowed, hq.reason) == (False, Reason.INACTIVE_USER)
        return
    assert (own.allowed, own.reason) == own_company
    assert (hq.allowed, hq.reason) == hq_company


def test_every_role_has_a_certificate_row() -> None:
    assert {row[0] for row in CERTIFICATE_TABLE} == set(Role)
