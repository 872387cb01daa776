"""The in-app inbox, and mail when SMTP is configured.

A notification names what happened and links to a page in Vault; the page asks
for sign-in and checks access as always. Mail carries the same subject and link:
never file content, never a link that works without signing in. Subjects are
stored in both languages (the inbox shows the reader's language, mail both).

Mail is sent after the unit of work commits; a notification whose mail failed
keeps ``mailed_at`` empty and `deliver` (the ``mail`` job) retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from vault import mail
from vault.models import Notification, User
from vault.services.context import Ctx, Infra

log = logging.getLogger(__name__)

#: Mail that has failed this long is given up (the inbox entry stays).
GIVE_UP_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class Message:
    kind: str
    subject_zh: str
    subject_en: str
    link: str | None = None
    document_id: int | None = None
    request_id: int | None = None


def notify(ctx: Ctx, users: Iterable[User], message: Message,
           dedupe: str | None = None) -> list[Notification]:
    """Put ``message`` in each user's inbox (once per ``dedupe`` key and user) and
    mail it after commit when SMTP is configured."""
    made: list[Notification] = []
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        key = f"{dedupe}:{user.id}" if dedupe else None
        if key is not None and ctx.session.scalar(
            select(Notification.id).where(Notification.dedupe_key == key)
        ):
            continue
        note = Notification(
            user_id=user.id, kind=message.kind, subject_zh=message.subject_zh,
            subject_en=message.subject_en, link=message.link,
            document_id=message.document_id, request_id=message.request_id,
            dedupe_key=key, created_at=ctx.now,
        )
        if key is not None:
            # Two job runs at once: the unique key keeps one; the other skips.
            try:
                with ctx.session.begin_nested():
                    ctx.session.add(note)
            except IntegrityError:
                continue
        else:
            ctx.session.add(note)
        made.append(note)
    ctx.session.flush()
    if made and mail.enabled(ctx.settings):
        ids = [n.id for n in made]
        infra = ctx.infra
        ctx.after_commit(lambda: deliver(infra, ids))
    return made


def _body(settings_base: str, note: Notification) -> str:
    link = f"{settings_base.rstrip('/')}{note.link}" if note.link else settings_base
    return (
        f"{note.subject_zh}\n\n"
        f"请登录保密库查看：{link}\n\n"
        f"{note.subject_en}\n\n"
        f"Sign in to Vault to see it: {link}\n\n"
        "此邮件不含文件内容。This message carries no file content.\n"
    )


def deliver(infra: Infra, ids: Sequence[int] | None = None, now: datetime | None = None) -> int:
    """Mail the given (or every pending) notification; returns how many were sent."""
    if not mail.enabled(infra.settings):
        return 0
    sent = 0
    with infra.sessions() as session:
        stmt = select(Notification).where(Notification.mailed_at.is_(None))
        if ids is not None:
            stmt = stmt.where(Notification.id.in_(ids))
        elif now is not None:
            stmt = stmt.where(Notification.created_at >= now - GIVE_UP_AFTER)
        notes = list(session.scalars(stmt.order_by(Notification.id)))
        for note in notes:
            user = session.get(User, note.user_id)
            if user is None or not user.email or not user.active:
                continue
            subject = f"[保密库 Vault] {note.subject_zh} / {note.subject_en}"
            try:
                mail.send(infra.settings, user.email, subject,
                          _body(infra.settings.base_url, note))
            except Exception:  # noqa: BLE001 - SMTP down: keep it pending, retry later
                log.warning("mail to user %s not sent; kept for the next run", user.id)
                continue
            # Claim it so two senders never mark it twice (the mail may go twice at worst).
            session.execute(
                update(Notification)
                .where(Notification.id == note.id, Notification.mailed_at.is_(None))
                .values(mailed_at=datetime.now(note.created_at.tzinfo))
            )
            session.commit()
            sent += 1
    return sent


def inbox(ctx: Ctx, unread_only: bool = False, limit: int = 100) -> list[Notification]:
    """The actor's notifications, newest first."""
    assert ctx.actor is not None
    stmt = select(Notification).where(Notification.user_id == ctx.actor.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(ctx.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def unread_count(ctx: Ctx) -> int:
    assert ctx.actor is not None
    return int(ctx.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == ctx.actor.id, Notification.read_at.is_(None)
        )
    ) or 0)


def mark_read(ctx: Ctx, ids: Iterable[int] | None = None) -> int:
    """Mark the actor's notifications read (all when ``ids`` is None)."""
    assert ctx.actor is not None
    stmt = (
        update(Notification)
        .where(Notification.user_id == ctx.actor.id, Notification.read_at.is_(None))
        .values(read_at=ctx.now)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    result = ctx.session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def settle(ctx: Ctx, request_id: int) -> int:
    """A request is decided or withdrawn: its "to decide" messages are read for every
    approver (nothing is left to do), so they leave the home pages' unread lists."""
    result = ctx.session.execute(
        update(Notification)
        .where(Notification.request_id == request_id, Notification.kind == "request_pending",
               Notification.read_at.is_(None))
        .values(read_at=ctx.now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
