"""What every use case receives: the process's infrastructure and one unit of work.

`Infra` is built once per process (web app, CLI): settings, key ring, blob
store, audit log. `Ctx` is one unit of work: a session (the caller owns the
transaction), the acting person (None for the system), the time, and where the
request came from. `unit_of_work` commits on success; when a service refuses
(`Forbidden`, `NotFound`, …) the work is rolled back and the refusal's audit
events are written in a transaction of their own, so denied attempts are on
the trail too. If an event cannot be written the action fails closed with
`AuditUnavailable`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker

from vault.actions import Action, Outcome
from vault.audit.log import AuditLog, AuditMirrorFailed
from vault.blobstore import BlobStore, open_blob_store
from vault.config import Settings
from vault.crypto.keyring import Keyring
from vault.errors import AuditUnavailable, VaultError
from vault.models import User
from vault.policy import Subject

log = logging.getLogger(__name__)


@dataclass
class Infra:
    settings: Settings
    sessions: sessionmaker[Session]
    keyring: Keyring
    blobs: BlobStore
    audit: AuditLog

    def readonly_sessions(self) -> sessionmaker[Session]:
        """Sessions for reads that write nothing (verify, export; the signed-in
        person and the menu of every page) and never take SQLite's writer lock."""
        cached = self.__dict__.get("_readonly_sessions")
        if cached is None:
            from vault.db import make_sessionmaker

            cached = make_sessionmaker(self.sessions.kw["bind"], readonly=True)
            self.__dict__["_readonly_sessions"] = cached
        return cast("sessionmaker[Session]", cached)

    @classmethod
    def build(cls, settings: Settings, sessions: sessionmaker[Session]) -> Infra:
        return cls(
            settings=settings,
            sessions=sessions,
            keyring=Keyring.load(settings),
            blobs=open_blob_store(settings),
            audit=AuditLog(settings),
        )


@dataclass
class PendingEvent:
    action: Action
    outcome: Outcome
    kwargs: dict[str, Any]


@dataclass
class Ctx:
    infra: Infra
    session: Session
    actor: User | None
    now: datetime
    source: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    refusals: list[PendingEvent] = field(default_factory=list)
    rollbacks: list[Callable[[], object]] = field(default_factory=list)
    commits: list[Callable[[], object]] = field(default_factory=list)
    refusal_steps: list[Callable[[], object]] = field(default_factory=list)
    #: The actor as the trail names them (name, roles), taken when the unit of work
    #: read them: the refusals written after the rollback use it, instead of reading
    #: the person again (a rollback expires every row the session loaded), and after
    #: the rollback the database holds these same values.
    began_as: dict[str, Any] | None = None
    rolled_back: bool = False

    def after_commit(self, step: Callable[[], object]) -> None:
        """Run ``step`` once this unit of work has committed (e.g. send mail). A
        failing step is logged and does not undo the committed work."""
        self.commits.append(step)

    def on_rollback(self, undo: Callable[[], object]) -> None:
        """Run ``undo`` if this unit of work does not commit (e.g. delete a new blob)."""
        self.rollbacks.append(undo)

    def on_refusal(self, step: Callable[[], object]) -> None:
        """Run ``step`` in the refusal's own transaction, after the rollback and
        before the refusal events are written: state a refusal must leave behind
        (an approval found void at use). Its mail goes after that commit."""
        self.refusal_steps.append(step)

    @property
    def settings(self) -> Settings:
        return self.infra.settings

    @property
    def subject(self) -> Subject:
        from vault.services.accounts import subject_of

        if self.actor is None:
            raise AuditUnavailable("No acting person for a personal action.", code="no_actor")
        return subject_of(self.actor)

    def _who(self) -> dict[str, Any]:
        if self.actor is None:
            return {"actor": "system", "actor_roles": ""}
        if self.rolled_back and self.began_as is not None:
            return dict(self.began_as)
        return {"actor": self.actor.username, "actor_roles": ",".join(sorted(self.actor.roles))}

    def record(self, action: Action, outcome: Outcome = Outcome.ALLOWED,
               actor_override: str | None = None, **kwargs: Any) -> None:
        """Write an audit event in this unit of work (fails closed).

        ``actor_override`` names an actor who is not signed in (a failed sign-in
        records the name that was typed, escaped by the audit log)."""
        who = self._who()
        if actor_override is not None:
            who = {"actor": actor_override, "actor_roles": ""}
        self.infra.audit.record(
            self.session,
            action=action,
            outcome=outcome,
            source=self.source,
            request_id=self.request_id,
            now=self.now,
            **who,
            **kwargs,
        )

    def record_many(self, action: Action, events: Sequence[Mapping[str, Any]],
                    outcome: Outcome = Outcome.ALLOWED) -> None:
        """Write several events of one action in this unit of work, in order, with
        batched statements (`AuditLog.append_many`); each item holds ``record``'s
        other keyword arguments (object, level, reason, detail…)."""
        if not events:
            return
        common = {"action": action, "outcome": outcome, "source": self.source,
                  "request_id": self.request_id, **self._who()}
        self.infra.audit.append_many(
            self.session, [{**common, **ev} for ev in events], now=self.now)

    def fail(self, error: VaultError, action: Action, **kwargs: Any) -> VaultError:
        """Note a failure (stored content that fails its check) to be audited as
        ``failed`` after the rollback; returns ``error`` to raise."""
        kwargs.setdefault("reason", error.code)
        self.refusals.append(PendingEvent(action, Outcome.FAILED, kwargs))
        return error

    def refuse(self, error: VaultError, action: Action, **kwargs: Any) -> VaultError:
        """Note a refusal to be audited after the rollback; returns ``error`` to raise."""
        kwargs.setdefault("reason", error.code)
        self.refusals.append(PendingEvent(action, Outcome.DENIED, kwargs))
        return error


@contextmanager
def unit_of_work(
    infra: Infra,
    actor_username: str | None,
    now: datetime | None = None,
    source: str | None = None,
    request_id: str | None = None,
) -> Iterator[Ctx]:
    """One transaction for one use case, with refusals audited after rollback."""
    from vault.services.accounts import get_user

    session = infra.sessions()
    ctx: Ctx | None = None
    try:
        actor = get_user(session, actor_username) if actor_username else None
        ctx = Ctx(infra, session, actor, now or datetime.now(UTC), source)
        ctx.began_as = ctx._who() if actor is not None else None
        if request_id:
            ctx.request_id = request_id
        yield ctx
        session.commit()
        _after_commit(ctx)
    except AuditMirrorFailed:
        # The database committed; only the mirror lags (the next writer or
        # `vault jobs run` fills it). Nothing to undo: the rows are real.
        raise
    except VaultError:
        session.rollback()
        if ctx is not None:
            ctx.rolled_back = True
            _undo(ctx)
            if ctx.refusals or ctx.refusal_steps:
                _write_refusals(ctx)
        raise
    except BaseException:
        session.rollback()
        if ctx is not None:
            _undo(ctx)
        raise
    finally:
        session.close()


def _after_commit(ctx: Ctx) -> None:
    steps, ctx.commits = ctx.commits, []
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - committed work stands; the step retries later
            log.exception("a step after commit failed (it is retried by the next job run)")


def _undo(ctx: Ctx) -> None:
    undo, ctx.rollbacks = ctx.rollbacks, []
    for step in reversed(undo):
        try:
            step()
        except OSError:
            # An orphan blob is harmless (it cannot be decrypted without its row's
            # key) and `vault doctor --repair` removes it; the original error matters more.
            continue


def _write_refusals(ctx: Ctx) -> None:
    pending, ctx.refusals = ctx.refusals, []
    steps, ctx.refusal_steps = ctx.refusal_steps, []
    ctx.commits = []  # what the rolled-back work meant to send
    try:
        for step in steps:
            step()
        for event in pending:
            ctx.record(event.action, event.outcome, **event.kwargs)
        ctx.session.commit()
    except AuditMirrorFailed:
        raise
    except AuditUnavailable:
        ctx.session.rollback()
        raise
    _after_commit(ctx)
