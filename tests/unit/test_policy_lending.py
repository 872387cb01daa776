"""What may be lent (借出) and for how long: every category, with and without a paper
original; return dates at the boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from vault.policy import GROUP_TZ, Category, DocumentFacts, Level, Period, lendable, loan_due_ok

BASE = DocumentFacts(id=1, category=Category.CONTRACT, level=Level.CONFIDENTIAL,
                     period=Period(years=10), issued_on=date(2026, 1, 1), company_id=2,
                     company_is_hq=False, department_id=20, supervisor_id=3, registrant_id=4,
                     tz=GROUP_TZ)
CERTIFICATE_CATEGORIES = {Category.BUSINESS_LICENCE, Category.ORG_CODE_CERTIFICATE,
                          Category.TAX_REGISTRATION, Category.OTHER_CERTIFICATE}


@pytest.mark.parametrize("category", list(Category), ids=lambda c: c.value)
@pytest.mark.parametrize("paper", [False, True], ids=["electronic-only", "paper-original"])
def test_lendable(category: Category, paper: bool) -> None:
    doc = replace(BASE, category=category, paper_original=paper)
    # Certificates always (their originals are kept by the custodian); anything else
    # only when a paper original exists.
    expected = paper or category in CERTIFICATE_CATEGORIES
    assert lendable(doc) is expected


def test_the_certificate_categories_are_four() -> None:
    assert len(CERTIFICATE_CATEGORIES) == 4


@pytest.mark.parametrize(
    ("due", "ok"),
    [
        (date(2026, 11, 26), False),  # yesterday
        (date(2026, 11, 27), True),  # today
        (date(2027, 11, 28), True),  # 366 days ahead
        (date(2027, 11, 29), False),  # 367 days ahead
    ],
)
def test_loan_due_ok(due: date, ok: bool) -> None:
    assert loan_due_ok(date(2026, 11, 27), due) is ok
