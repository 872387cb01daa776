"""Pictures (issue 16): the compliance dashboard and the executives' overview.

The counts come from `vault.services.dashboards` (aggregated in SQL, checked by the
policy, audited); this module only puts them into words and draws them as SVG
(`vault.web.charts`): each chart also carries its numbers as a table."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import VaultError
from vault.services import dashboards
from vault.web import charts, labels, support
from vault.web.charts import Series

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")
log = logging.getLogger(__name__)


support.NAV.append(("dashboards.compliance", lambda: lazy_gettext("Dashboard"), "reviews_audit"))
support.NAV.append(("dashboards.executive", lambda: lazy_gettext("Overview"), "reads_overview"))

ERRORS: dict[str, Any] = {
    "not_compliance": lazy_gettext("Only compliance officers may read the dashboard."),
    "not_hq_executive": lazy_gettext("Only the HQ executives may read the overview."),
}


def message_of(exc: VaultError) -> str:
    from vault.web.documents import message_of as documents_message

    text = ERRORS.get(exc.code)
    return str(text) if text is not None else documents_message(exc)


translated = support.translating(message_of)


def _day(d: date) -> str:
    return d.strftime("%m-%d")


def outcome_names() -> dict[str, str]:
    return {"allowed": _("allowed"), "denied": _("denied"), "failed": _("failed")}


def age_names() -> dict[str, str]:
    return {"under_1_day": _("under a day"), "1_to_3_days": _("1–3 days"),
            "3_to_7_days": _("3–7 days"), "over_7_days": _("over 7 days")}


def leak_state_names() -> dict[str, str]:
    return {"open": _("open"), "handled": _("handled")}


@bp.get("/compliance")
@login_required
@translated
def compliance() -> Any:
    with support.work() as ctx:
        board = dashboards.compliance_dashboard(ctx)
    from vault.web.documents import level_name

    days = [_day(d) for d in board.days]
    outcomes = outcome_names()
    first, last = board.days[0].isoformat(), board.days[-1].isoformat()
    events = charts.columns(
        "events-per-day", _("Events per day by outcome"),
        _("Audit events on each day from %(first)s to %(last)s, stacked by outcome: "
          "%(n)s in all, %(denied)s denied.", first=first, last=last, n=board.events,
          denied=board.denied),
        days, [Series(c.key, outcomes[c.key], c.values) for c in board.by_outcome],
        head=_("Day"), every=5, numbers=_("The numbers as a table"), total=_("Total"))
    denied = charts.rows(
        "denied-by-action", _("Denied attempts by action"),
        _("The actions refused most often in the same days: %(n)s refusals.",
          n=board.denied),
        [labels.action(c.key) for c in board.denied_by_action],
        [Series("denied", _("denied"), [c.values[0] for c in board.denied_by_action])],
        head=_("Action"), numbers=_("The numbers as a table"),
        total=_("Total")) if board.denied_by_action else None
    copies = charts.columns(
        "copies-per-day", _("Copies issued per day"),
        _("Registered copies issued on each day from %(first)s to %(last)s: %(n)s in all.",
          first=first, last=last, n=board.copies),
        days, [Series("copies", _("copies issued"), board.copies_per_day)],
        head=_("Day"), every=5, numbers=_("The numbers as a table"), total=_("Total"))
    declassifying = charts.columns(
        "declassifying", _("Files reaching the end of their secrecy period"),
        _("Classified files whose period ends in each of the next %(weeks)s weeks, by "
          "level: %(n)s in all.", weeks=len(board.weeks), n=board.nearing),
        [_("week of %(day)s", day=_day(w)) if i == 0 else _day(w)
         for i, w in enumerate(board.weeks)],
        [Series(c.key, level_name(c.key), c.values) for c in board.declassifying],
        head=_("Week from"), every=3, numbers=_("The numbers as a table"), total=_("Total"))
    return render_template("dashboards/compliance.html", board=board, events=events,
                           denied=denied, copies=copies, declassifying=declassifying)


@bp.get("/executive")
@login_required
@translated
def executive() -> Any:
    with support.work() as ctx:
        view = dashboards.executive_overview(ctx)
    from vault.web.copies import KIND_NAMES

    ages = age_names()
    pending = charts.rows(
        "pending-by-kind", _("Pending approvals by kind and waiting time"),
        _("Requests waiting for a decision, group-wide, by kind; each bar split by how "
          "long they have waited: %(n)s in all.", n=view.pending),
        [str(KIND_NAMES.get(c.key, labels.reason(c.key))) for c in view.pending_by_kind],
        [Series(f"age-{i}", ages[a], [c.values[i] for c in view.pending_by_kind])
         for i, a in enumerate(dashboards.AGE_BUCKETS)],
        head=_("Kind"), numbers=_("The numbers as a table"),
        total=_("Total")) if view.pending_by_kind else None
    companies = charts.rows(
        "pending-by-company", _("Pending approvals by company"),
        _("Requests waiting for a decision, by the company owning the file."),
        [c.label for c in view.pending_by_company],
        [Series("pending", _("pending"), [c.values[0] for c in view.pending_by_company])],
        head=_("Company"), numbers=_("The numbers as a table"),
        total=_("Total")) if view.pending_by_company else None
    states = leak_state_names()
    leaks = charts.columns(
        "leaks-per-week", _("Leak reports per week"),
        _("Leak reports received in each of the last %(weeks)s weeks, by whether they "
          "are still open.", weeks=len(view.weeks)),
        [_day(w) for w in view.weeks],
        [Series(f"leak-{c.key}", states[c.key], c.values) for c in view.leaks_per_week],
        head=_("Week from"), every=3, numbers=_("The numbers as a table"), total=_("Total"))
    return render_template("dashboards/executive.html", view=view, pending=pending,
                           companies=companies, leaks=leaks, when=_local)


def _local(ts: datetime) -> str:
    return ts.astimezone(support.settings().tz).strftime("%Y-%m-%d %H:%M")
