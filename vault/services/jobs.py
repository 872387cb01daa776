"""Scheduled jobs (`vault jobs run`): safe from cron on several servers at once.

Each job runs under a lease, a row of ``job_runs``: a runner takes it with one
conditional UPDATE (``… WHERE name = :n AND (locked_until IS NULL OR
locked_until < :now)``) that at most one transaction can win on SQLite and on
PostgreSQL alike (a second UPDATE waits for the first and then finds the lease
taken); the winner runs the job, the others skip it. A runner that dies keeps
the lease until ``locked_until``; then the next run takes it over.

A job does its work in one unit of work by "system" and ends with a
``job:run`` event carrying its counts. A job that fails is rolled back, logged
and recorded (``job:run``, outcome failed) and does not stop the others. Every
job is idempotent: running it again, or on another server, changes nothing more.

The jobs:

- ``declassify``: materialise ended secrecy periods (`vault.services.declassify`);
- ``expiry_notices``: tell the drafter and the responsible supervisor 30 days
  before a period ends and once it has ended (SPEC.md §1), once each;
- ``recording_purge``: destroy call recordings past retention
  (`vault.services.recordings.purge`);
- ``audit_checkpoint``: append to the audit mirror what it lacks, sign a
  checkpoint when one is due (the last one is older than
  ``VAULT_CHECKPOINT_SECONDS``) and send the newest to a file witness lacking it;
- ``mail``: send notification mail that failed earlier;
- ``loans_overdue``: tell the borrower and the owning company's custodians, once
  per loan, that an original is kept past its return date;
- ``index``: extract and index queued texts (`vault.services.search_index`), for at
  most four minutes a run; each document is claimed under a lease of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from vault import policy
from vault.actions import Action, Outcome
from vault.errors import InvalidInput, VaultError
from vault.models import ClassificationChange, Company, Document, JobRun, Loan, User, UserRole
from vault.policy import Level
from vault.services import accounts, documents, notifications
from vault.services.context import Ctx, Infra, unit_of_work

log = logging.getLogger(__name__)

#: How long before the end of a period its drafter and supervisor are told.
EXPIRY_NOTICE_DAYS = 30
#: Ended periods are still announced this long afterwards (a server that was down).
ENDED_NOTICE_DAYS = 30

Counts = dict[str, int]


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Ctx], Counts]
    lease: timedelta = timedelta(minutes=15)
    help: str = ""


@dataclass
class Result:
    name: str
    status: str  # ran, skipped, failed
    counts: Counts = field(default_factory=dict)
    error: str | None = None
    holder: str | None = None  # skipped: who holds the lease
    locked_until: datetime | None = None

    def summary(self) -> str:
        if self.status == "ran":
            return " ".join(f"{k}={v}" for k, v in self.counts.items()) or "nothing to do"
        if self.status == "skipped":
            return f"held by {self.holder or 'another runner'}"
        return self.error or "failed"


# ---------------------------------------------------------------------------
# The jobs


def _declassify(ctx: Ctx) -> Counts:
    from vault.services import declassify

    changed = declassify.run(ctx, as_of=ctx.now)
    return {"declassified": len(changed)}


def _local_day(ctx: Ctx, moment: datetime) -> str:
    return moment.astimezone(ctx.settings.tz).date().isoformat()


def _expiry_notices(ctx: Ctx) -> Counts:
    """Notices for periods ending within 30 days and for periods that have ended,
    to the registrant (drafter) and the responsible supervisor. The key of each
    notice names the document and its end date, so a rerun adds nothing and a
    changed period gets notices of its own."""
    now = ctx.now
    tz = ctx.settings.tz
    stmt = (
        select(Document)
        .where(Document.declassify_at.is_not(None))
        .where(Document.declassify_at > now - timedelta(days=ENDED_NOTICE_DAYS))
        .where(Document.declassify_at <= now + timedelta(days=EXPIRY_NOTICE_DAYS))
        .order_by(Document.declassify_at, Document.id)
    )
    counts = {"ending_soon": 0, "ended": 0, "notices": 0}
    for doc in ctx.session.scalars(stmt):
        assert doc.declassify_at is not None
        # Only a classified file has a time-bound period (`declassify_at`): before its
        # end it is classified, after it the period has ended.
        ended = doc.declassify_at <= now
        doc_facts = documents.facts(doc, tz)
        people: list[User] = []
        if doc.registrant is not None and not doc.registrant_removed:
            people.append(doc.registrant)
        if doc.supervisor is not None:
            people.append(doc.supervisor)
        # Nobody learns of a file outside their scope (a top-secret file's supervisor).
        people = [u for u in people
                  if policy.can_see_metadata(accounts.subject_of(u), doc_facts, now).allowed]
        # A 绝密 file's period is extended by the HQ executives alone: they are told too.
        if _level_before_end(ctx, doc) is Level.TOP_SECRET:
            people.extend(accounts.hq_executives(ctx.session))
        day = _local_day(ctx, doc.declassify_at)
        if ended:
            key = f"expiry0:{doc.id}:{day}"
            message = notifications.Message(
                kind="period_ended",
                subject_zh=f"保密期限已届满，文件已于 {day} 自行解密：《{doc.title}》",
                subject_en=f"Secrecy period ended: “{doc.title}” declassified itself on {day}",
                link=f"/documents/{doc.id}", document_id=doc.id,
            )
        else:
            key = f"expiry30:{doc.id}:{day}"
            message = notifications.Message(
                kind="period_ending",
                subject_zh=f"保密期限即将届满：《{doc.title}》将于 {day} 自行解密；"
                           "如需继续保密，请在届满前申请延长",
                subject_en=f"Secrecy period ending: “{doc.title}” declassifies itself on {day}; "
                           "ask for an extension before then if it must stay secret",
                link=f"/documents/{doc.id}", document_id=doc.id,
            )
        made = notifications.notify(ctx, people, message, dedupe=key)
        if made:
            counts["ended" if ended else "ending_soon"] += 1
            counts["notices"] += len(made)
    return counts


def _level_before_end(ctx: Ctx, doc: Document) -> Level:
    """The level a file had before its period ended (the declassify job may have
    written the end down already)."""
    level = Level(doc.level)
    if level.classified:
        return level
    last = ctx.session.scalar(
        select(ClassificationChange.old_level)
        .where(ClassificationChange.document_id == doc.id)
        .order_by(ClassificationChange.id.desc()).limit(1))
    return Level(last) if last else level


def _recording_purge(ctx: Ctx) -> Counts:
    from vault.services import recordings  # written alongside; imported when the job runs

    purged = recordings.purge(ctx)
    return {"purged": len(purged)}


def _requests_overdue(ctx: Ctx) -> Counts:
    from vault.services import requests

    return requests.archive_overdue_recordings(ctx)


def _follow_ups_due(ctx: Ctx) -> Counts:
    from vault.services import followups

    return followups.due_notices(ctx)


def _audit_checkpoint(ctx: Ctx) -> Counts:
    """Fill the audit mirror from the database (after a failed mirror write), then
    sign a checkpoint if one is due."""
    audit = ctx.infra.audit
    # Its own session: the mirror reads committed rows on connections of its own,
    # which must not wait behind this unit of work's writer lock (SQLite).
    with ctx.infra.sessions() as session:
        mirrored = audit.sync_mirror(session)
    cp = audit.maybe_checkpoint(ctx.session, ctx.now)
    if cp is None:  # a new one is witnessed at commit; else make sure the last one was
        with ctx.infra.sessions() as session:
            audit.witness_catch_up(session)
    return {"mirrored": mirrored, "checkpoint_seq": cp.seq if cp is not None else 0}


def _mail(ctx: Ctx) -> Counts:
    return {"sent": notifications.deliver(ctx.infra, now=ctx.now)}


def _custodians(ctx: Ctx, company_id: int) -> list[User]:
    stmt = (
        select(User).join(UserRole)
        .where(User.active.is_(True), User.company_id == company_id,
               UserRole.role == policy.Role.CUSTODIAN.value)
        .order_by(User.id)
    )
    found = list(ctx.session.scalars(stmt).unique())
    if found:
        return found
    # No custodian: whoever keeps the lending register meanwhile (policy.can_keep_loans).
    company = ctx.session.get(Company, company_id)
    if company is not None and company.is_hq:
        return accounts.hq_executives(ctx.session)
    return list(ctx.session.scalars(
        select(User).join(UserRole)
        .where(User.active.is_(True), User.company_id == company_id,
               UserRole.role == policy.Role.COMPANY_GM.value)
        .order_by(User.id)).unique())


def _loans_overdue(ctx: Ctx) -> Counts:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    stmt = (
        select(Loan)
        .where(Loan.returned_at.is_(None), Loan.lent_at.is_not(None), Loan.due_on < today)
        .order_by(Loan.due_on, Loan.id)
    )
    counts = {"overdue": 0, "notices": 0}
    for loan in ctx.session.scalars(stmt):
        counts["overdue"] += 1
        doc = loan.document
        due = loan.due_on.isoformat()
        key = f"loan_overdue:{loan.id}:{due}"
        made = notifications.notify(ctx, [loan.borrower], notifications.Message(
            kind="loan_overdue",
            subject_zh=f"借出逾期：《{doc.title}》原件应于 {due} 归还，请尽快交还保管员",
            subject_en=f"Loan overdue: the original of “{doc.title}” was due back on {due}; "
                       "please return it to the custodian",
            link=f"/copies/{loan.request_id}", document_id=doc.id, request_id=loan.request_id,
        ), dedupe=key)
        made += notifications.notify(ctx, _custodians(ctx, doc.company_id), notifications.Message(
            kind="loan_overdue",
            subject_zh=f"借出逾期：{loan.borrower.name} 借出的《{doc.title}》原件应于 {due} 归还",
            subject_en=f"Loan overdue: {loan.borrower.name} was to return the original of "
                       f"“{doc.title}” on {due}",
            link="/registers/loans?overdue=1", document_id=doc.id, request_id=loan.request_id,
        ), dedupe=key)
        counts["notices"] += len(made)
    return counts


def _index(ctx: Ctx) -> Counts:
    from vault.services import search_index

    return search_index.job(ctx)


JOBS: Mapping[str, Job] = {
    job.name: job
    for job in (
        Job("declassify", _declassify, help="materialise ended secrecy periods"),
        Job("expiry_notices", _expiry_notices,
            help="tell drafters and supervisors 30 days before a period ends, and at the end"),
        Job("requests_overdue", _requests_overdue,
            help="keep the recordings of requests left open past due (录音存档记录表)"),
        Job("follow_ups_due", _follow_ups_due,
            help="remind customer-service staff of follow-up visits due"),
        Job("recording_purge", _recording_purge, lease=timedelta(hours=1),
            help="destroy call recordings past retention (archived ones are kept)"),
        Job("audit_checkpoint", _audit_checkpoint,
            help="catch the audit mirror up and sign a checkpoint when due"),
        Job("mail", _mail, help="retry notification mail that could not be sent"),
        Job("loans_overdue", _loans_overdue,
            help="tell borrowers and custodians of originals kept past their return date"),
        Job("index", _index, lease=timedelta(minutes=15),
            help="extract and index the text of new files and versions (OCR included)"),
    )
}


# ---------------------------------------------------------------------------
# Leases


def runner_id() -> str:
    """Who holds a lease: host, process and a random tag (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-100:]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def acquire(infra: Infra, name: str, holder: str, now: datetime, lease: timedelta) -> bool:
    """Take the lease of job ``name`` until ``now + lease``; False when another runner
    holds it. The row is created on first use (a concurrent creation is fine)."""
    with infra.sessions() as session:
        if session.get(JobRun, name) is None:
            session.add(JobRun(name=name))
            try:
                session.commit()
            except IntegrityError:  # another runner created it at the same moment
                session.rollback()
    with infra.sessions() as session:
        result = session.execute(
            update(JobRun)
            .where(JobRun.name == name,
                   or_(JobRun.locked_until.is_(None), JobRun.locked_until < now))
            .values(holder=holder, locked_until=now + lease, last_started_at=now)
            .execution_options(synchronize_session=False)
        )
        taken = int(getattr(result, "rowcount", 0) or 0) == 1
        session.commit()
    return taken


def release(infra: Infra, name: str, holder: str, result: str, now: datetime) -> None:
    """Give the lease back with the outcome (only if this runner still holds it)."""
    with infra.sessions() as session:
        session.execute(
            update(JobRun)
            .where(JobRun.name == name, JobRun.holder == holder)
            .values(locked_until=None, last_finished_at=now, last_result=result[:1000])
            .execution_options(synchronize_session=False)
        )
        session.commit()


def status(infra: Infra) -> list[tuple[str, JobRun | None]]:
    """Every registered job with its lease row (None when it never ran here)."""
    with infra.sessions() as session:
        rows = {r.name: r for r in session.scalars(select(JobRun))}
    return [(name, rows.get(name)) for name in JOBS]


# ---------------------------------------------------------------------------
# Running


def parse_names(names: Iterable[str]) -> list[str]:
    """The jobs asked for (all, in their fixed order, when none)."""
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in JOBS]
    if unknown:
        raise InvalidInput(
            f"Unknown job {unknown[0]!r}; jobs are: {', '.join(JOBS)}.", code="unknown_job"
        )
    return [n for n in JOBS if n in wanted] if wanted else list(JOBS)


def _error_text(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, VaultError) else str(exc)
    return f"{exc.__class__.__name__}: {text}"[:300]


def run_job(infra: Infra, job: Job, holder: str, now: datetime | None = None) -> Result:
    """Run one job under its lease. ``now`` fixes the time (tests); by default each
    job reads the clock when it starts."""
    started = now or _utcnow()
    try:
        taken = acquire(infra, job.name, holder, started, job.lease)
        if not taken:
            with infra.sessions() as session:
                row = session.get(JobRun, job.name)
                who = row.holder if row is not None else None
                until = row.locked_until if row is not None else None
            return Result(job.name, "skipped", holder=who, locked_until=until)
    except Exception as exc:  # noqa: BLE001 - the database is away: say so, try the next
        log.exception("the lease of job %s could not be taken", job.name)
        return Result(job.name, "failed", error=_error_text(exc))
    result: Result
    try:
        with unit_of_work(infra, None, started, source="job") as ctx:
            counts = {k: int(v) for k, v in job.run(ctx).items()}
            ctx.record(Action.JOB_RUN, object_type="job", object_id=job.name, reason="ran",
                       detail={"holder": holder, **counts})
        result = Result(job.name, "ran", counts)
    except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
        log.exception("job %s failed", job.name)
        result = Result(job.name, "failed", error=_error_text(exc))
        _record_failure(infra, job.name, holder, started, result.error or "")
    try:
        release(infra, job.name, holder, f"{result.status}: {result.summary()}",
                now or _utcnow())
    except Exception:  # noqa: BLE001 - the lease then simply runs out
        log.exception("the lease of job %s could not be released", job.name)
    return result


def _record_failure(infra: Infra, name: str, holder: str, now: datetime, error: str) -> None:
    try:
        with unit_of_work(infra, None, now, source="job") as ctx:
            ctx.record(Action.JOB_RUN, Outcome.FAILED, object_type="job", object_id=name,
                       reason="failed", detail={"holder": holder, "error": error})
    except Exception:  # noqa: BLE001 - the failure is logged already; the trail may be down
        log.exception("the failure of job %s could not be audited", name)


def run(infra: Infra, names: Sequence[str] = (), now: datetime | None = None,
        holder: str | None = None,
        on_result: Callable[[Result], object] | None = None) -> list[Result]:
    """Run the named jobs (all by default) one after the other; a failure does not
    stop the rest. ``on_result`` sees each result as soon as it is known."""
    holder = holder or runner_id()
    results = []
    for name in parse_names(names):
        result = run_job(infra, JOBS[name], holder, now)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
