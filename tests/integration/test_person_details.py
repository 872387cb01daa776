"""An administrator corrects a person's name, e-mail, company and department
(issue 16, defect 12): audited with before and after, checked like a new person."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from vault.audit.models import AuditEvent
from vault.errors import Forbidden, InvalidInput, NotFound
from vault.services import accounts
from vault.services.context import Infra, unit_of_work


def _last_update(org: Infra) -> AuditEvent:
    with org.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "user:update")
                          .order_by(AuditEvent.seq.desc())).first()
        assert event is not None
        return event


def test_details_change_is_audited_with_before_and_after(org: Infra) -> None:
    with unit_of_work(org, "root") as ctx:
        user = accounts.update_person(ctx, "clerk", name=" 王小红 ", email="xh@example.com",
                                      company_code="GZ", department_code="CS")
        assert (user.name, user.email, user.company.code, user.department.code) == (
            "王小红", "xh@example.com", "GZ", "CS")
    event = _last_update(org)
    assert (event.actor, event.object_id, event.reason) == ("root", "clerk", "details_changed")
    assert json.loads(event.detail or "{}") == {
        "from": {"name": "clerk", "email": "", "company": "SZ"},
        "to": {"name": "王小红", "email": "xh@example.com", "company": "GZ"}}
    seq = event.seq
    with unit_of_work(org, "root") as ctx:  # nothing changes: nothing is written
        accounts.update_person(ctx, "clerk", name="王小红", email="xh@example.com",
                               company_code="GZ", department_code="CS")
    assert _last_update(org).seq == seq


@pytest.mark.parametrize(("changes", "error", "code"), [
    ({"email": "not an address"}, InvalidInput, "bad_email"),
    ({"name": ""}, InvalidInput, "bad_name"),
    ({"company_code": "XX"}, NotFound, "unknown_company"),
    ({"department_code": "NOPE"}, NotFound, "unknown_department"),
])
def test_bad_details_are_refused(org: Infra, changes: dict[str, str], error: type[Exception],
                                 code: str) -> None:
    values = {"name": "clerk", "email": None, "company_code": "SZ", "department_code": "CS",
              **changes}
    with pytest.raises(error) as info, unit_of_work(org, "root") as ctx:
        accounts.update_person(ctx, "clerk", **values)  # type: ignore[arg-type]
    assert getattr(info.value, "code", None) == code


def test_an_hq_executive_stays_at_hq_and_only_admins_change_people(org: Infra) -> None:
    with pytest.raises(InvalidInput) as info, unit_of_work(org, "root") as ctx:
        accounts.update_person(ctx, "ceo", name="ceo", email=None, company_code="SZ",
                               department_code="CS")
    assert info.value.code == "role_needs_hq"
    with pytest.raises(Forbidden), unit_of_work(org, "gm") as ctx:
        accounts.update_person(ctx, "clerk", name="x", email=None, company_code="SZ",
                               department_code="CS")
