"""What the menu shows the signed-in person: one read per request.

The menu is drawn on every page (error pages too), after the page's own unit of
work has committed. Everything it needs — unread messages, whether the person
reads registers or leak reports — comes from this one call, in one session,
never from template helpers opening their own. It releases nothing, so nothing
here is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from vault import policy
from vault.db import one_statement
from vault.models import Company, Notification, User, UserRole
from vault.policy import Role, Subject
from vault.services.context import Infra


@dataclass(frozen=True)
class Menu:
    unread: int
    #: Their own company's copy, lending and certificate registers.
    reads_registers: bool
    #: Every leak report with its trace.
    investigates_leaks: bool
    #: The HQ executives' overview of pending approvals and leak reports.
    reads_overview: bool
    #: The compliance console and dashboard.
    reviews_audit: bool
    #: Administration: people, companies, keys.
    administers: bool
    #: The letter templates (对外发文模版).
    keeps_letter_templates: bool


NOTHING = Menu(unread=0, reads_registers=False, investigates_leaks=False,
               reads_overview=False, reviews_audit=False, administers=False,
               keeps_letter_templates=False)


def menu(infra: Infra, user_id: int) -> Menu:
    # A read-only session: it writes nothing (on SQLite it takes no writer lock). Plain
    # rows, one statement: the person with their company, unread count and roles (one
    # row per role).
    with infra.readonly_sessions()() as session:
        one_statement(session)
        unread_q = (select(func.count(Notification.id))
                    .where(Notification.user_id == user_id, Notification.read_at.is_(None))
                    .scalar_subquery())
        rows = session.execute(
            select(User.company_id, User.department_id, User.active, Company.is_hq, unread_q,
                   UserRole.role)
            .join(Company, User.company_id == Company.id)
            .outerjoin(UserRole, UserRole.user_id == User.id).where(User.id == user_id)
        ).all()
        if not rows:
            return NOTHING
        company_id, department_id, active, at_hq, unread, _role = rows[0]
        roles = frozenset(Role(r[5]) for r in rows if r[5] in Role._value2member_map_)
        subject = Subject(user_id=user_id, company_id=company_id, department_id=department_id,
                          roles=roles, active=active, at_hq=at_hq)
        return Menu(
            unread=int(unread or 0),
            reads_registers=policy.can_read_register(subject, company_id).allowed,
            investigates_leaks=policy.can_investigate_leaks(subject).allowed,
            reads_overview=policy.can_read_overview(subject).allowed,
            reviews_audit=policy.can_review_audit(subject).allowed,
            administers=policy.can_administer(subject).allowed,
            keeps_letter_templates=policy.can_manage_letter_templates(subject).allowed,
        )
