"""Verification: the database chain against its checkpoints, the mirror and the
witnesses (`verify_database`, through `AuditLog.verify_database`), and a copied
folder with the public key alone (`verify_offline`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from vault.audit import chain, witness
from vault.audit.chain import ZERO_MAC, Problem
from vault.audit.checkpoints import (
    _Cp,
    _cp_payload,
    _first_leaf_mismatch,
    _load_public_key,
    checkpoint_line,
)
from vault.audit.common import (
    _CHECKPOINTS,
    CHECKPOINTS_FILE,
    MIRROR_GRACE,
    Report,
    _report,
    utcnow,
)
from vault.audit.export import _stored_events
from vault.audit.mirror import (
    _db_lines,
    _mirrored_state,
    _MirrorLine,
    _MirrorReader,
    _read_head,
)

if TYPE_CHECKING:
    from vault.audit.log import AuditLog


def verify_database(
    audit: AuditLog,
    session: Session,
    *,
    mirror: bool = True,
    witnessed: Sequence[witness.Witnessed] | None = None,
) -> Report:
    """Recompute the database chain, check every checkpoint (signature, head MAC
    at its seq, leaves) and, with ``mirror``, compare the mirror files and
    ``checkpoints.jsonl`` line by line with the database. With ``witnessed``
    (the records of a witness file), the trail must reach every witnessed
    checkpoint, unchanged.

    Safe while writers append (PostgreSQL reads per statement): the head is
    read first, events appended meanwhile are checked like the others, and
    events whose mirror line is still being written when the files end are
    counted as in flight, not as missing, once the mirror writer has passed
    them.
    """
    key = audit.hmac_key()
    public = audit.public_key()
    problems: list[Problem] = []  # checkpoints, head
    mirror_problems: list[Problem] = []
    notes: list[str] = []
    head0 = _read_head(session)
    c = _CHECKPOINTS.c
    checkpoints = session.execute(select(_CHECKPOINTS).order_by(c.seq)).all()

    checker = chain.ChainChecker(key)
    # What the mirror writers had finished before we list the files: every such
    # line must be there; later ones may still be on their way.
    state0 = _mirrored_state(audit.audit_dir) if mirror else None
    reader = _MirrorReader(audit.audit_dir, mirror_problems) if mirror else None
    mirror_next = reader.next() if reader else None
    tail_unmirrored: list[tuple[int, str]] = []  # (seq, ts) after the mirror's end
    cp_index = 0
    cp_prev = 0
    leaves: list[bytes] = []  # leaves[i] belongs to event cp_prev + 1 + i
    covered = 0
    stored_prev = ZERO_MAC
    last_mac = ZERO_MAC
    mac_at_head0: str | None = ZERO_MAC if head0 is not None and head0.seq == 0 else None
    expected_cp_lines: list[bytes] = []

    def check_checkpoint(cp: Any, got_leaves: list[bytes], mac_at: str | None) -> None:
        nonlocal covered
        payload = _cp_payload(cp)
        if cp.prev_seq != cp_prev:
            problems.append(
                Problem(cp_prev + 1, f"checkpoint {cp.seq} does not follow checkpoint "
                        f"{cp_prev} (a checkpoint was removed or forged)")
            )
        try:
            public.verify(bytes.fromhex(cp.signature), chain.checkpoint_message(payload))
        except (InvalidSignature, ValueError):
            problems.append(
                Problem(cp.prev_seq + 1, f"checkpoint {cp.seq} has a bad signature "
                        "(checkpoint edited or forged)")
            )
            return
        if b"".join(got_leaves).hex() != cp.leaves:
            bad = _first_leaf_mismatch(got_leaves, cp.leaves, cp.prev_seq)
            problems.append(
                Problem(bad, f"event {bad} does not match signed checkpoint {cp.seq}")
            )
        if mac_at is not None and mac_at != cp.mac:
            problems.append(
                Problem(cp.seq, f"head mac at {cp.seq} differs from signed checkpoint")
            )
        covered = cp.seq
        expected_cp_lines.append(checkpoint_line(payload, cp.signature))

    for ev, mac in _stored_events(session):
        seq = ev["seq"]
        if seq > checker.expected:  # a gap: its leaves are unknown and never match
            leaves.extend(b"" for _ in range(checker.expected, seq))
            stored_prev = "?"
        event_json = checker.feed(ev, mac)
        line = (
            chain.mirror_line_from_canonical(event_json, mac, stored_prev)
            if event_json is not None
            else b""
        )
        leaves.append(chain.leaf(line))
        stored_prev = last_mac = mac
        if head0 is not None and seq == head0.seq:
            mac_at_head0 = mac
        while cp_index < len(checkpoints) and checkpoints[cp_index].seq <= seq:
            cp = checkpoints[cp_index]
            upto = cp.seq - cp_prev
            start = max(0, cp.prev_seq - cp_prev)
            check_checkpoint(cp, leaves[start:upto], mac if cp.seq == seq else None)
            leaves = leaves[upto:]
            cp_prev = cp.seq
            cp_index += 1
        if reader is not None:
            while mirror_next is not None and mirror_next.seq < seq:
                mirror_problems.append(
                    Problem(mirror_next.seq, f"the mirror has event {mirror_next.seq} "
                            "that the database lacks (removed from the database, or "
                            "forged in the mirror)")
                )
                mirror_next = reader.next()
            if mirror_next is None:
                tail_unmirrored.append((seq, ev["ts"]))
            elif mirror_next.seq > seq:
                mirror_problems.append(Problem(seq, f"event {seq} is missing from the mirror"))
            else:
                if mirror_next.line != line:
                    mirror_problems.append(
                        Problem(seq, f"mirror line of event {seq} ({mirror_next.where}) "
                                "differs from the database")
                    )
                mirror_next = reader.next()
    result = checker.result()
    last_seq = checker.expected - 1

    for cp in checkpoints[cp_index:]:
        problems.append(
            Problem(last_seq + 1, f"checkpoint {cp.seq} covers events up to {cp.seq} but "
                    f"the database ends at {last_seq} (events removed)")
        )
    if head0 is None:
        problems.append(Problem(last_seq + 1, "the audit head row is missing"))
    elif last_seq < head0.seq:
        problems.append(
            Problem(last_seq + 1, f"the head says {head0.seq} events but the database "
                    f"ends at {last_seq} (events removed at the end)")
        )
    elif mac_at_head0 != head0.mac:
        problems.append(
            Problem(head0.seq, f"the head mac does not match event {head0.seq} (events "
                    "removed or forged at the end)")
        )
    elif last_seq > head0.seq:  # appended while we read, or forged past the head
        head1 = _read_head(session)
        if head1 is None or head1.seq < last_seq:
            at = head0.seq + 1
            problems.append(
                Problem(at, f"events {at}–{last_seq} lie beyond the head (forged)")
            )
        elif head1.seq == last_seq and head1.mac != last_mac:
            problems.append(
                Problem(last_seq, f"the head mac does not match event {last_seq}")
            )

    if reader is not None and state0 is not None:
        extra: list[_MirrorLine] = []
        while mirror_next is not None:
            extra.append(mirror_next)
            mirror_next = reader.next()
        if extra:  # lines of events committed after our read, or forged lines
            _compare_late_lines(audit, session, last_seq, extra, mirror_problems)
        if tail_unmirrored:
            _judge_unmirrored_tail(audit, state0, tail_unmirrored, mirror_problems, notes)
        notes.extend(reader.notes)
        _compare_checkpoint_file(
                audit,
            session, state0, expected_cp_lines, checkpoints, mirror_problems
        )
    if witnessed is not None:
        _check_witnessed(
            witnessed,
            {cp.seq: (cp.mac, cp.signature) for cp in checkpoints},
            last_seq,
            problems,
            notes,
        )
    return _report(
        [*result.problems, *problems, *mirror_problems],  # this order within a seq
        events=result.count,
        checkpoints=len(checkpoints),
        last_seq=last_seq,
        covered_seq=covered,
        notes=notes,
    )

def _judge_unmirrored_tail(
    audit: AuditLog,
    state0: Mapping[str, Any],
    tail: list[tuple[int, str]],
    problems: list[Problem],
    notes: list[str],
) -> None:
    """Events the database has after the mirror's last line: removed from the
    mirror (a problem: the writers had written them before we looked), just
    committed and about to be mirrored (a note), or left out by a failed mirror
    write (a problem once older than `MIRROR_GRACE`)."""
    removed = [seq for seq, _ts in tail if seq <= state0["seq"]]
    if removed:
        problems.append(
            Problem(removed[0], f"events {removed[0]}–{removed[-1]} are missing from the "
                    "end of the mirror (removed)")
        )
    written = int(_mirrored_state(audit.audit_dir)["seq"])
    recent = utcnow() - MIRROR_GRACE
    behind, in_flight, passed = [], 0, 0
    for seq, ts in tail:
        if seq <= state0["seq"]:
            continue
        if seq <= written:
            passed += 1
            continue
        try:
            young = chain.parse_ts(ts) >= recent
        except ValueError:
            young = False
        if young:
            in_flight += 1
        else:
            behind.append(seq)
    if behind:
        problems.append(
            Problem(behind[0], f"events {behind[0]}–{behind[-1]} are missing from the "
                    "mirror (the mirror is behind the database after a failed mirror "
                    "write; `AuditLog.sync_mirror` appends them)")
        )
    if passed:
        notes.append(f"{passed} events were mirrored while verifying and not compared")
    if in_flight:
        notes.append(f"{in_flight} events committed moments ago are not in the mirror yet")

def _compare_late_lines(
    audit: AuditLog, session: Session, after: int, lines: list[_MirrorLine], problems: list[Problem]
) -> None:
    top = max(ln.seq for ln in lines)
    stored = {seq: line for seq, line, _mac in _db_lines(session.connection(), after, top)}
    for ln in lines:
        want = stored.get(ln.seq)
        if want is None:
            problems.append(
                Problem(ln.seq, f"the mirror has event {ln.seq} that the database lacks "
                        f"({ln.where})")
            )
        elif want != ln.line:
            problems.append(
                Problem(ln.seq, f"mirror line of event {ln.seq} ({ln.where}) differs "
                        "from the database")
            )

def _compare_checkpoint_file(
    audit: AuditLog,
    session: Session,
    state0: Mapping[str, Any],
    expected: list[bytes],
    checkpoints: Sequence[Any],
    problems: list[Problem],
) -> None:
    path = audit.audit_dir / CHECKPOINTS_FILE
    try:
        got = [ln for ln in path.read_bytes().split(b"\n") if ln]
    except FileNotFoundError:
        got = []
    except OSError as exc:
        problems.append(Problem(1, f"{path} cannot be read: {exc.strerror}"))
        return
    recent = utcnow() - MIRROR_GRACE
    for i, want in enumerate(expected):
        cp = checkpoints[i]
        if i >= len(got):
            # Written before we looked (removed since), or overdue: a problem;
            # committed moments ago: on its way.
            at = cp.created_at if cp.created_at.tzinfo else cp.created_at.replace(tzinfo=UTC)
            if cp.seq <= state0["checkpoint"] or at < recent:
                problems.append(
                    Problem(cp.prev_seq + 1, f"checkpoint {cp.seq} is missing from {path.name}")
                )
        elif got[i] != want:
            problems.append(
                Problem(cp.prev_seq + 1, f"checkpoint {cp.seq} in {path.name} differs "
                        "from the database")
            )
    if len(got) > len(expected):
        # Checkpoints made while we verified (PostgreSQL), or forged lines.
        after = checkpoints[-1].seq if checkpoints else 0
        c = _CHECKPOINTS.c
        later = [
            checkpoint_line(_cp_payload(r), r.signature)
            for r in session.execute(
                select(_CHECKPOINTS).where(c.seq > after).order_by(c.seq)
            )
        ]
        if got[len(expected) :] != later[: len(got) - len(expected)]:
            problems.append(
                Problem(
                    after + 1,
                    f"{path.name} has checkpoint(s) after {after} that the database lacks",
                )
            )


def _check_witnessed(
    witnessed: Sequence[witness.Witnessed],
    checkpoints: Mapping[int, tuple[str, str]],
    last_seq: int,
    problems: list[Problem],
    notes: list[str],
) -> None:
    """Every witnessed checkpoint must be in the trail, as witnessed: a trail that
    ends before the newest witnessed head was cut at the end."""
    if not witnessed:
        notes.append("the witness holds no checkpoint: nothing to compare")
        return
    newest = max(witnessed, key=lambda w: w.seq)
    if newest.seq > last_seq:
        problems.append(
            Problem(last_seq + 1, f"the trail ends at event {last_seq}, but the witness saw "
                    f"checkpoint {newest.seq} (a trail of {newest.seq} events, signed "
                    f"{newest.time}, {newest.where}): events {last_seq + 1}–{newest.seq} "
                    "were removed (truncated)")
        )
    for w in sorted(witnessed, key=lambda w: w.seq):
        if w.seq > last_seq:
            continue
        have = checkpoints.get(w.seq)
        if have is None:
            problems.append(
                Problem(w.seq, f"witnessed checkpoint {w.seq} ({w.where}) is missing from the "
                        "trail (removed)")
            )
        elif have != (w.mac, w.sig):
            problems.append(
                Problem(w.seq, f"checkpoint {w.seq} differs from the witnessed one ({w.where}): "
                        "the trail was rewritten")
            )
    if newest.seq <= last_seq:
        notes.append(
            f"the trail reaches the newest witnessed checkpoint ({newest.seq}, {newest.time})"
            + (f"; events {newest.seq + 1}–{last_seq} are not witnessed yet"
               if last_seq > newest.seq else "")
        )


def verify_offline(
    audit_dir: str | Path,
    public_key_pem: str | bytes,
    *,
    witnessed: Sequence[witness.Witnessed] | None = None,
) -> Report:
    """Check a copied ``audit/`` folder with the public signing key alone.

    Every checkpoint's signature and succession is checked; each event line
    covered by a checkpoint must hash to the signed leaf, so an edited, removed,
    swapped or inserted line is named. Events after the last checkpoint can only
    be checked for continuity (sequence numbers and ``prev`` = previous ``mac``):
    the report counts them as not covered.
    """
    folder = Path(audit_dir)
    public = _load_public_key(public_key_pem)
    problems: list[Problem] = []
    notes: list[str] = []

    cps: list[_Cp] = []
    cp_path = folder / CHECKPOINTS_FILE
    try:
        raw_cps = [ln for ln in cp_path.read_bytes().split(b"\n") if ln.strip()]
    except FileNotFoundError:
        raw_cps = []
        notes.append(f"no {CHECKPOINTS_FILE}: no event is covered by a signed checkpoint")
    prev_seq = 0
    for n, raw in enumerate(raw_cps, 1):
        try:
            doc = json.loads(raw)
            payload = chain.checkpoint_payload(
                seq=int(doc["seq"]),
                prev_seq=int(doc["prev_seq"]),
                mac=str(doc["mac"]),
                time=str(doc["time"]),
                key_id=str(doc["key_id"]),
                leaves=str(doc["leaves"]),
            )
            sig = bytes.fromhex(str(doc["sig"]))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(prev_seq + 1, f"unreadable checkpoint line {n} ({exc})"))
            continue
        try:
            public.verify(sig, chain.checkpoint_message(payload))
            leaves = chain.split_leaves(payload["leaves"])
            if len(leaves) != payload["seq"] - payload["prev_seq"]:
                raise ValueError("wrong number of leaves")
        except (InvalidSignature, ValueError):
            problems.append(
                Problem(
                    payload["prev_seq"] + 1,
                    f"checkpoint {payload['seq']} has a bad signature (edited or forged, or "
                    "signed with another key)",
                )
            )
            continue
        if payload["prev_seq"] != prev_seq:
            problems.append(
                Problem(
                    prev_seq + 1,
                    f"checkpoint {payload['seq']} follows {payload['prev_seq']}, not "
                    f"{prev_seq}: a checkpoint was removed or reordered",
                )
            )
            if payload["prev_seq"] < prev_seq:
                continue
        cps.append(
            _Cp(payload["seq"], payload["prev_seq"], payload["mac"], leaves, sig.hex())
        )
        prev_seq = payload["seq"]
    covered = cps[-1].seq if cps else 0

    cp_at = 0

    def expected_leaf(seq: int) -> tuple[_Cp, bytes] | None:
        nonlocal cp_at
        while cp_at < len(cps) and cps[cp_at].seq < seq:
            cp_at += 1
        if cp_at < len(cps) and cps[cp_at].prev_seq < seq <= cps[cp_at].seq:
            cp = cps[cp_at]
            return cp, cp.leaves[seq - cp.prev_seq - 1]
        return None

    reader = _MirrorReader(folder, problems)
    expected, prev_mac, count = 1, ZERO_MAC, 0
    cur = reader.next()
    while cur is not None:
        nxt = reader.next()
        seq = cur.seq
        if seq < expected:
            what = "duplicate event" if seq == expected - 1 else "out of order:"
            problems.append(
                Problem(seq, f"{what} {seq} at {cur.where}, after event {expected - 1} "
                        "(inserted or moved line)")
            )
            cur = nxt
            continue
        if seq > expected:
            if nxt is not None and nxt.seq == expected:
                problems.append(
                    Problem(expected, f"out of order: event {expected} comes after event {seq} "
                            f"({nxt.where})")
                )
            elif seq == expected + 1:
                problems.append(Problem(expected, f"missing event {expected}"))
            else:
                problems.append(Problem(expected, f"missing events {expected}–{seq - 1}"))
            prev_mac = "?"
        count += 1
        if prev_mac != "?" and cur.prev != prev_mac:
            problems.append(
                Problem(seq, f"chain broken at event {seq} ({cur.where}): its prev is not the "
                        "mac of the event before (edited, removed or inserted)")
            )
        found = expected_leaf(seq)
        if found is not None:
            cp, want = found
            if chain.leaf(cur.line) != want:
                problems.append(
                    Problem(seq, f"event {seq} ({cur.where}) does not match signed checkpoint "
                            f"{cp.seq}: line edited, swapped or forged")
                )
            elif seq == cp.seq and cur.mac != cp.mac:  # unreachable unless SHA-256 breaks
                problems.append(Problem(seq, f"event {seq} mac differs from checkpoint"))
        prev_mac = cur.mac or "?"
        expected = seq + 1
        cur = nxt
    last_seq = expected - 1
    if covered > last_seq:
        problems.append(
            Problem(last_seq + 1, f"missing events {last_seq + 1}–{covered} (covered by a "
                    "signed checkpoint)")
        )
    notes.extend(reader.notes)
    if last_seq > covered:
        notes.append(
            f"events {covered + 1}–{last_seq} are after the last checkpoint: not covered, "
            "only their continuity was checked"
        )
    if witnessed is not None:
        _check_witnessed(
            witnessed, {cp.seq: (cp.mac, cp.sig) for cp in cps}, last_seq, problems, notes
        )
    return _report(
        problems,
        events=count,
        checkpoints=len(cps),
        last_seq=last_seq,
        covered_seq=min(covered, last_seq),
        notes=notes,
    )
