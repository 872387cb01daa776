"""can_view, can_see_metadata, can_download: who may know a file and its content
(知悉范围, SPEC.md §2), level × relation."""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from policy_world import (
    HQ,
    HQ_DEPT,
    HQ_EXEC,
    NOW,
    OTHER_COMPANY,
    OTHER_DEPT_STAFF,
    OWNING_COMPANY,
    OWNING_DEPT,
    OWNING_DEPT_MANAGER,
    OWNING_GM,
    REGISTRANT,
    SUPERVISOR,
    allow,
    covers_every_relation,
    deny,
    document,
    level_table,
    person,
    scene,
)

from vault.policy import (
    Category,
    GrantFact,
    Level,
    Period,
    Reason,
    Role,
    can_download,
    can_see_metadata,
    can_view,
)

A, D, R = allow, deny, Reason

# relation                     internal                  confidential                   secret                            top_secret
VIEW_TABLE = [
    ("same_dept-staff",          A(R.INTERNAL_EMPLOYEE), A(R.OWNING_DEPARTMENT),       D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-staff",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-staff",      A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("responsible-supervisor",   A(R.INTERNAL_EMPLOYEE), A(R.RESPONSIBLE_SUPERVISOR),  A(R.RESPONSIBLE_SUPERVISOR),     D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-active",          A(R.INTERNAL_EMPLOYEE), A(R.DESIGNEE),                A(R.DESIGNEE),                   A(R.DESIGNEE)),
    ("designee-expired",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-revoked",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-lower_level",     A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("registrant",               A(R.INTERNAL_EMPLOYEE), A(R.REGISTRANT),              A(R.REGISTRANT),                 A(R.REGISTRANT)),
    ("registrant-removed",       A(R.INTERNAL_EMPLOYEE), A(R.REGISTRANT),              A(R.REGISTRANT),                 D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("hq-executive",             A(R.INTERNAL_EMPLOYEE), A(R.HQ_EXECUTIVE),            A(R.HQ_EXECUTIVE),               A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_company-gm",        A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-gm",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_dept-manager",      A(R.INTERNAL_EMPLOYEE), A(R.OWNING_DEPARTMENT),       D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-manager",       A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("custodian",                A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("compliance",               A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("admin",                    A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),      D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("deactivated-staff",        D(R.INACTIVE_USER),     D(R.INACTIVE_USER),           D(R.INACTIVE_USER),              D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),     D(R.INACTIVE_USER),           D(R.INACTIVE_USER),              D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),     D(R.INACTIVE_USER),           D(R.INACTIVE_USER),              D(R.INACTIVE_USER)),
]  # fmt: skip


def test_view_table_covers_every_relation() -> None:
    assert covers_every_relation(VIEW_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(VIEW_TABLE))
def test_can_view(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    decision = can_view(subject, doc, NOW)
    assert decision == expected
    assert bool(decision) is expected.allowed


# --- edges the table does not show ---------------------------------------------------------


def test_grant_ending_exactly_now_no_longer_counts() -> None:
    grantee = person(400, OTHER_COMPANY, None, Role.STAFF)
    doc = document(Level.SECRET, grants=[GrantFact(400, Level.SECRET, until=NOW)])
    assert can_view(grantee, doc, NOW - timedelta(seconds=1)) == allow(Reason.DESIGNEE)
    assert can_view(grantee, doc, NOW) == deny(Reason.SECRET_NOT_DESIGNATED)


def test_grant_without_end_date_counts() -> None:
    grantee = person(400, OTHER_COMPANY, None, Role.STAFF)
    doc = document(Level.SECRET, grants=[GrantFact(400, Level.SECRET)])
    assert can_view(grantee, doc, NOW) == allow(Reason.DESIGNEE)


def test_grant_of_someone_else_does_not_count() -> None:
    outsider = person(400, OTHER_COMPANY, None, Role.STAFF)
    doc = document(Level.SECRET, grants=[GrantFact(401, Level.SECRET)])
    assert can_view(outsider, doc, NOW) == deny(Reason.SECRET_NOT_DESIGNATED)


@pytest.mark.parametrize(
    ("granted_at", "doc_level", "expected"),
    [
        pytest.param(Level.SECRET, Level.CONFIDENTIAL, allow(Reason.DESIGNEE),
                     id="granted_at_secret-now_confidential-allow"),
        pytest.param(Level.TOP_SECRET, Level.SECRET, allow(Reason.DESIGNEE),
                     id="granted_at_top_secret-now_secret-allow"),
        pytest.param(Level.CONFIDENTIAL, Level.SECRET, deny(Reason.SECRET_NOT_DESIGNATED),
                     id="granted_at_confidential-now_secret-deny"),
        pytest.param(Level.CONFIDENTIAL, Level.TOP_SECRET,
                     deny(Reason.TOP_SECRET_NOT_DESIGNATED),
                     id="granted_at_confidential-now_top_secret-deny"),
    ],
)  # fmt: skip
def test_grant_survives_a_downgrade_but_not_an_upgrade(granted_at, doc_level, expected) -> None:
    grantee = person(400, OTHER_COMPANY, None, Role.STAFF)
    doc = document(doc_level, grants=[GrantFact(400, granted_at)])
    assert can_view(grantee, doc, NOW) == expected


def test_removed_registrant_designated_again_by_hq_executive_may_view() -> None:
    doc = document(
        Level.TOP_SECRET,
        grants=[GrantFact(REGISTRANT.user_id, Level.TOP_SECRET, revoked=True,
                          by_registration=True),
                GrantFact(REGISTRANT.user_id, Level.TOP_SECRET, hq_confirmed=True)],
    )
    assert can_view(REGISTRANT, doc, NOW) == allow(Reason.DESIGNEE)


# 绝密 and 机密 are known by designation: the registrant's own is "by registration",
# revocable; a designation an HQ executive made or confirmed holds at every level.
@pytest.mark.parametrize(
    ("grants", "doc_level", "subject", "expected"),
    [
        pytest.param([], Level.TOP_SECRET, REGISTRANT, deny(Reason.TOP_SECRET_NOT_DESIGNATED), id="top_secret-registrant-without-designation-deny"),
        pytest.param([], Level.SECRET, REGISTRANT, deny(Reason.SECRET_NOT_DESIGNATED), id="secret-registrant-without-designation-deny"),
        pytest.param([], Level.CONFIDENTIAL, REGISTRANT, allow(Reason.REGISTRANT), id="confidential-registrant-by-right-allow"),
        pytest.param([GrantFact(REGISTRANT.user_id, Level.SECRET, by_registration=True)], Level.SECRET, REGISTRANT, allow(Reason.REGISTRANT), id="secret-registrant-by-registration-allow"),
        pytest.param([GrantFact(REGISTRANT.user_id, Level.SECRET, revoked=True, by_registration=True)], Level.SECRET, REGISTRANT, deny(Reason.SECRET_NOT_DESIGNATED), id="secret-registration-revoked-by-supervisor-deny"),
        pytest.param([GrantFact(REGISTRANT.user_id, Level.SECRET, by_registration=True)], Level.TOP_SECRET, REGISTRANT, deny(Reason.TOP_SECRET_NOT_DESIGNATED), id="raised_to_top_secret-registration-lapses-deny"),
        pytest.param([GrantFact(REGISTRANT.user_id, Level.SECRET, by_registration=True), GrantFact(REGISTRANT.user_id, Level.SECRET, hq_confirmed=True)], Level.TOP_SECRET, REGISTRANT, allow(Reason.DESIGNEE), id="raised_to_top_secret-hq_confirmed-allow"),
        pytest.param([GrantFact(400, Level.CONFIDENTIAL)], Level.TOP_SECRET, person(400, OTHER_COMPANY, None, Role.STAFF), deny(Reason.TOP_SECRET_NOT_DESIGNATED), id="raised_to_top_secret-supervisor_designee-deny"),
        pytest.param([GrantFact(400, Level.CONFIDENTIAL, hq_confirmed=True)], Level.TOP_SECRET, person(400, OTHER_COMPANY, None, Role.STAFF), allow(Reason.DESIGNEE), id="raised_to_top_secret-hq_made-allow"),
        pytest.param([GrantFact(400, Level.CONFIDENTIAL, hq_confirmed=True, revoked=True)], Level.TOP_SECRET, person(400, OTHER_COMPANY, None, Role.STAFF), deny(Reason.TOP_SECRET_NOT_DESIGNATED), id="raised_to_top_secret-hq_made-revoked-deny"),
    ],
)  # fmt: skip
def test_top_secret_and_secret_are_known_by_designation(grants, doc_level, subject, expected) -> None:
    doc = document(doc_level, grants=grants)
    assert can_view(subject, doc, NOW) == expected


def test_supervisor_designated_for_top_secret_may_view() -> None:
    doc = document(Level.TOP_SECRET, grants=[GrantFact(SUPERVISOR.user_id, Level.TOP_SECRET)])
    assert can_view(SUPERVISOR, doc, NOW) == allow(Reason.DESIGNEE)


def test_same_department_number_in_another_company_is_not_the_owning_department() -> None:
    lookalike = person(400, OTHER_COMPANY, OWNING_DEPT, Role.STAFF)
    doc = document(Level.CONFIDENTIAL)
    assert can_view(lookalike, doc, NOW) == deny(Reason.NOT_IN_SCOPE)


def test_company_level_document_has_no_owning_department() -> None:
    no_department = person(400, OWNING_COMPANY, None, Role.STAFF)
    doc = document(Level.CONFIDENTIAL, department_id=None)
    assert can_view(no_department, doc, NOW) == deny(Reason.NOT_IN_SCOPE)
    assert can_view(OWNING_GM, doc, NOW) == deny(Reason.NOT_IN_SCOPE)


def test_hq_owned_confidential_document_owning_department_is_at_hq() -> None:
    hq_staff = person(400, HQ, HQ_DEPT, Role.STAFF)
    doc = document(Level.CONFIDENTIAL, company_is_hq=True)
    assert can_view(hq_staff, doc, NOW) == allow(Reason.OWNING_DEPARTMENT)
    assert can_view(OWNING_GM, doc, NOW) == deny(Reason.NOT_IN_SCOPE)
    assert can_view(HQ_EXEC, doc, NOW) == allow(Reason.HQ_EXECUTIVE)


def test_naive_now_is_refused() -> None:
    doc = document(Level.SECRET)
    with pytest.raises(ValueError, match="aware"):
        can_view(SUPERVISOR, doc, datetime(2025, 3, 1, 12, 0))


# --- can_see_metadata: knowing that a file exists ----------------------------------------------

# Viewers, plus compliance (group-wide), the owning company's custodians and the holders of an
# approving office for a copy or a loan. Everyone else: the viewing refusal (the file is absent).
# relation                     internal                  confidential                  secret                        top_secret
METADATA_TABLE = [
    ("same_dept-staff",          A(R.INTERNAL_EMPLOYEE), A(R.OWNING_DEPARTMENT),      D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-staff",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-staff",      A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("responsible-supervisor",   A(R.INTERNAL_EMPLOYEE), A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-active",          A(R.INTERNAL_EMPLOYEE), A(R.DESIGNEE),               A(R.DESIGNEE),               A(R.DESIGNEE)),
    ("designee-expired",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-revoked",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-lower_level",     A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("registrant",               A(R.INTERNAL_EMPLOYEE), A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT)),
    ("registrant-removed",       A(R.INTERNAL_EMPLOYEE), A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("hq-executive",             A(R.INTERNAL_EMPLOYEE), A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_company-gm",        A(R.INTERNAL_EMPLOYEE), A(R.APPROVING_OFFICE),       A(R.APPROVING_OFFICE),       D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-gm",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_dept-manager",      A(R.INTERNAL_EMPLOYEE), A(R.OWNING_DEPARTMENT),      D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-manager",       A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("custodian",                A(R.INTERNAL_EMPLOYEE), A(R.CUSTODIAN),              A(R.CUSTODIAN),              A(R.CUSTODIAN)),
    ("compliance",               A(R.INTERNAL_EMPLOYEE), A(R.COMPLIANCE),             A(R.COMPLIANCE),             A(R.COMPLIANCE)),
    ("admin",                    A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("deactivated-staff",        D(R.INACTIVE_USER),     D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),     D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),     D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip


def test_metadata_table_covers_every_relation() -> None:
    assert covers_every_relation(METADATA_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(METADATA_TABLE))
def test_can_see_metadata(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_see_metadata(subject, doc, NOW) == expected


@pytest.mark.parametrize(
    ("subject", "doc", "expected"),
    [
        pytest.param(person(400, OTHER_COMPANY, None, Role.CUSTODIAN), document(Level.SECRET), deny(Reason.SECRET_NOT_DESIGNATED), id="custodian-of_other_company-deny"),
        pytest.param(person(400, HQ, HQ_DEPT, Role.CUSTODIAN), document(Level.SECRET), deny(Reason.SECRET_NOT_DESIGNATED), id="custodian-of_hq-subsidiary_file-deny"),
        pytest.param(person(400, HQ, HQ_DEPT, Role.CUSTODIAN), document(Level.SECRET, company_is_hq=True), allow(Reason.CUSTODIAN), id="custodian-of_hq-hq_file-allow"),
        pytest.param(person(400, OTHER_COMPANY, None, Role.COMPLIANCE), document(Level.TOP_SECRET), allow(Reason.COMPLIANCE), id="compliance-any_company-allow"),
        pytest.param(person(400, HQ, HQ_DEPT, Role.COMPLIANCE, active=False), document(Level.SECRET), deny(Reason.INACTIVE_USER), id="compliance-deactivated-deny"),
        pytest.param(OWNING_DEPT_MANAGER, document(Level.SECRET, category=Category.BUSINESS_LICENCE), allow(Reason.APPROVING_OFFICE), id="dept_manager-secret_licence-approver-allow"),
        pytest.param(OWNING_DEPT_MANAGER, document(Level.SECRET, category=Category.TAX_REGISTRATION), deny(Reason.SECRET_NOT_DESIGNATED), id="dept_manager-secret_tax_registration-deny"),
        pytest.param(OWNING_GM, document(Level.SECRET, company_is_hq=True), deny(Reason.SECRET_NOT_DESIGNATED), id="subsidiary_gm-hq_file-deny"),
        pytest.param(OWNING_GM, document(Level.TOP_SECRET, category=Category.BUSINESS_LICENCE), deny(Reason.TOP_SECRET_NOT_DESIGNATED), id="gm-top_secret_licence-deny"),
    ],
)  # fmt: skip
def test_can_see_metadata_edges(subject, doc, expected) -> None:
    assert can_see_metadata(subject, doc, NOW) == expected


# --- can_download: raw bytes -----------------------------------------------------------------

# Directly only where no copy approval is needed (internal, not a certificate); in scope but
# classified: an approved copy is required; out of scope: the viewing refusal.
# relation                     internal                  confidential                   secret                         top_secret
DOWNLOAD_TABLE = [
    ("same_dept-staff",          A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-staff",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-staff",      A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("responsible-supervisor",   A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-active",          A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED)),
    ("designee-expired",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-revoked",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-lower_level",     A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("registrant",               A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED)),
    ("registrant-removed",       A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("hq-executive",             A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED),  D(R.COPY_APPROVAL_REQUIRED)),
    ("non_hq-hq_executive_role", A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_company-gm",        A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-gm",         A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_dept-manager",      A(R.INTERNAL_EMPLOYEE), D(R.COPY_APPROVAL_REQUIRED),  D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-manager",       A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("custodian",                A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("compliance",               A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("admin",                    A(R.INTERNAL_EMPLOYEE), D(R.NOT_IN_SCOPE),            D(R.SECRET_NOT_DESIGNATED),   D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("deactivated-staff",        D(R.INACTIVE_USER),     D(R.INACTIVE_USER),           D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),     D(R.INACTIVE_USER),           D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),     D(R.INACTIVE_USER),           D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
]  # fmt: skip


def test_download_table_covers_every_relation() -> None:
    assert covers_every_relation(DOWNLOAD_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(DOWNLOAD_TABLE))
def test_can_download(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_download(subject, doc, NOW) == expected


# 证照: the copy approval holds whatever the level, so an internal (or declassified)
# certificate is not downloaded directly either.
@pytest.mark.parametrize(
    ("category", "expected"),
    [
        pytest.param(Category.BUSINESS_LICENCE, deny(Reason.COPY_APPROVAL_REQUIRED), id="internal-business_licence-deny"),
        pytest.param(Category.ORG_CODE_CERTIFICATE, deny(Reason.COPY_APPROVAL_REQUIRED), id="internal-org_code_certificate-deny"),
        pytest.param(Category.TAX_REGISTRATION, deny(Reason.COPY_APPROVAL_REQUIRED), id="internal-tax_registration-deny"),
        pytest.param(Category.OTHER_CERTIFICATE, deny(Reason.COPY_APPROVAL_REQUIRED), id="internal-other_certificate-deny"),
        pytest.param(Category.NOTICE, allow(Reason.INTERNAL_EMPLOYEE), id="internal-notice-allow"),
        pytest.param(Category.CONTRACT, allow(Reason.INTERNAL_EMPLOYEE), id="internal-contract-allow"),
    ],
)  # fmt: skip
def test_can_download_certificates(category: Category, expected) -> None:
    doc = document(Level.INTERNAL, category=category)
    assert can_download(OTHER_DEPT_STAFF, doc, NOW) == expected


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        pytest.param(Category.CONTRACT, allow(Reason.INTERNAL_EMPLOYEE), id="declassified-contract-allow"),
        pytest.param(Category.BUSINESS_LICENCE, deny(Reason.COPY_APPROVAL_REQUIRED), id="declassified-business_licence-deny"),
    ],
)
def test_can_download_after_the_period_ended(category: Category, expected) -> None:
    doc = document(Level.CONFIDENTIAL, category=category, period=Period(months=6))
    # issued 2024-01-15 for 6 months: internal since 2024-07-15; NOW is 2025-03-01
    assert can_download(OTHER_DEPT_STAFF, doc, NOW) == expected
