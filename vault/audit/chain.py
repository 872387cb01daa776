"""The audit chain, pure: canonical events, MACs, mirror lines, checkpoint payloads,
escaping and the refusal of secrets. Standard library only; no database, no files.

- An *event* is a flat mapping of `EVENT_FIELDS` (strings, integers, ``None``).
- ``canonical(event)``: JSON with sorted keys, ``(",", ":")`` separators, UTF-8,
  no floats. This is what the MAC covers.
- ``mac_n = HMAC-SHA256(key, bytes.fromhex(mac_{n-1}) ‖ canonical(event_n))``,
  with ``mac_0`` = 64 zeros.
- A *mirror line* (``audit/YYYY-MM-DD.jsonl``) is the canonical JSON of
  ``{"event": event, "mac": mac_n, "prev": mac_{n-1}}``.
- A *leaf* is the first 16 bytes of SHA-256 over a mirror line (without its
  newline). A signed checkpoint carries the leaves of the events since the
  previous checkpoint, so a copy of the mirror can be checked line by line with
  the public key alone, and the first altered line named.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ZERO_MAC = "0" * 64
LEAF_BYTES = 16
CHECKPOINT_DOMAIN = b"vault-audit-checkpoint-v1\n"

EVENT_FIELDS: tuple[str, ...] = (
    "seq",
    "ts",
    "actor",
    "actor_roles",
    "source",
    "action",
    "object_type",
    "object_id",
    "document_id",
    "level",
    "outcome",
    "reason",
    "request_id",
    "detail",
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
# One encoder, built once: json.dumps() with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_encode = _ENCODER.encode


# --------------------------------------------------------------------------- canonical


def _check_value(value: Any, path: str) -> None:
    t = type(value)
    if value is None or t is str or t is int or t is bool:
        return
    if t is float or isinstance(value, float):
        raise ValueError(f"audit event field {path} is a float; canonical JSON has no floats")
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"audit event field {path} has a non-text key {k!r}")
            _check_value(v, f"{path}.{k}")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_value(v, f"{path}[{i}]")
        return
    if isinstance(value, str | int):  # str/int subclasses (StrEnum members)
        return
    raise ValueError(f"audit event field {path} has type {t.__name__}, not allowed in the trail")


def canonical(event: Mapping[str, Any]) -> bytes:
    """Canonical JSON of ``event``: sorted keys, no spaces, UTF-8, floats refused."""
    for k, v in event.items():
        t = type(v)
        if v is None or t is str or t is int:
            continue
        _check_value(v, str(k))
    return _encode(event).encode("utf-8")


def next_mac(key: bytes, prev_mac_hex: str, event: Mapping[str, Any]) -> str:
    """``HMAC-SHA256(key, bytes.fromhex(prev) ‖ canonical(event))`` as lowercase hex."""
    return hmac.digest(key, bytes.fromhex(prev_mac_hex) + canonical(event), "sha256").hex()


def is_mac(text: str) -> bool:
    """64 lowercase hex digits."""
    return _HEX64.fullmatch(text) is not None


def _json_str(text: str) -> bytes:
    if _HEX64.fullmatch(text):
        return b'"' + text.encode("ascii") + b'"'
    return _encode(text).encode("utf-8")


def mirror_line(event: Mapping[str, Any], mac: str, prev: str) -> bytes:
    """The canonical JSON line (no newline) for the mirror: ``{"event", "mac", "prev"}``."""
    return mirror_line_from_canonical(canonical(event), mac, prev)


def mirror_line_from_canonical(event_json: bytes, mac: str, prev: str) -> bytes:
    # Equal to canonical({"event": ..., "mac": ..., "prev": ...}): keys already in order.
    return b'{"event":' + event_json + b',"mac":' + _json_str(mac) + b',"prev":' + _json_str(
        prev
    ) + b"}"


def leaf(line: bytes) -> bytes:
    """The leaf a checkpoint signs for one mirror line (without its newline)."""
    return hashlib.sha256(line).digest()[:LEAF_BYTES]


def format_ts(ts: datetime) -> str:
    """UTC, always with microseconds, ``Z``: ``2026-01-02T03:04:05.000006Z``."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime in an audit event")
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


def event_dict(
    seq: int,
    ts: datetime,
    actor: str,
    actor_roles: str,
    source: str | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    document_id: int | None,
    level: str | None,
    outcome: str,
    reason: str | None,
    request_id: str | None,
    detail: str | None,
) -> dict[str, Any]:
    """An event mapping in `EVENT_FIELDS` order, from stored values."""
    return {
        "seq": seq,
        "ts": format_ts(ts),
        "actor": actor,
        "actor_roles": actor_roles,
        "source": source,
        "action": str(action),
        "object_type": object_type,
        "object_id": object_id,
        "document_id": document_id,
        "level": level,
        "outcome": str(outcome),
        "reason": reason,
        "request_id": request_id,
        "detail": detail,
    }


# --------------------------------------------------------------------------- checkpoints


def checkpoint_payload(
    *, seq: int, prev_seq: int, mac: str, time: str, key_id: str, leaves: str
) -> dict[str, Any]:
    """What a checkpoint signs (and, with ``sig``, its line in ``checkpoints.jsonl``)."""
    return {
        "type": "checkpoint",
        "seq": seq,
        "prev_seq": prev_seq,
        "mac": mac,
        "time": time,
        "key_id": key_id,
        "leaves": leaves,
    }


def checkpoint_message(payload: Mapping[str, Any]) -> bytes:
    """The bytes signed with Ed25519 (domain-separated)."""
    body = {k: v for k, v in payload.items() if k != "sig"}
    return CHECKPOINT_DOMAIN + canonical(body)


def split_leaves(leaves: str) -> list[bytes]:
    raw = bytes.fromhex(leaves)
    if len(raw) % LEAF_BYTES:
        raise ValueError("leaves are not a whole number of hashes")
    return [raw[i : i + LEAF_BYTES] for i in range(0, len(raw), LEAF_BYTES)]


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Problem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.message}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    first_bad_seq: int | None = None
    problem: str | None = None
    problems: tuple[Problem, ...] = field(default=())
    last_seq: int = 0
    last_mac: str = ZERO_MAC


class ChainChecker:
    """Feeds events in sequence order and notes what is wrong with each.

    After a bad MAC the checker carries on from the *stored* MAC, so one edited
    event is reported once, not as every event after it.
    """

    def __init__(self, key: bytes, *, start_seq: int = 1, start_mac: str = ZERO_MAC) -> None:
        self.key = key
        self.expected = start_seq
        self.prev = start_mac
        self.count = 0
        self.problems: list[Problem] = []

    def note(self, seq: int, message: str) -> None:
        self.problems.append(Problem(seq, message))

    def feed(
        self, event: Mapping[str, Any], mac: str, *, next_seq: int | None = None
    ) -> bytes | None:
        """Check one event; returns its canonical JSON (None when it was unusable)."""
        seq = event.get("seq")
        if type(seq) is not int:
            self.note(self.expected, f"unreadable sequence number {seq!r}")
            return None
        if seq < self.expected:
            what = "duplicate" if seq == self.expected - 1 else "out of order"
            self.note(seq, f"{what}: event {seq} found after event {self.expected - 1}")
            return None
        if seq > self.expected:
            if next_seq == self.expected:
                self.note(self.expected, f"out of order: event {self.expected} comes after {seq}")
            elif seq == self.expected + 1:
                self.note(self.expected, f"missing event {self.expected}")
            else:
                self.note(self.expected, f"missing events {self.expected}–{seq - 1}")
            self.prev = "?"  # continuity across a gap cannot be checked
        self.count += 1
        try:
            event_json: bytes | None = canonical(event)
        except ValueError as exc:
            self.note(seq, f"unreadable event: {exc}")
            event_json = None
        # After a gap the previous MAC is unknown: the event cannot be checked.
        if event_json is not None and self.prev != "?":
            good = hmac.compare_digest(
                hmac.digest(self.key, bytes.fromhex(self.prev) + event_json, "sha256").hex(),
                mac if isinstance(mac, str) else "",
            )
            if not good:
                self.note(seq, "mac mismatch: field edited or event forged")
        self.prev = mac if isinstance(mac, str) and _HEX64.fullmatch(mac) else "?"
        self.expected = seq + 1
        return event_json

    def result(self) -> VerifyResult:
        problems = tuple(sorted(self.problems, key=lambda p: p.seq))
        first = problems[0] if problems else None
        return VerifyResult(
            ok=not problems,
            count=self.count,
            first_bad_seq=first.seq if first else None,
            problem=first.message if first else None,
            problems=problems,
            last_seq=self.expected - 1,
            last_mac=self.prev,
        )


def _with_next(items: Iterable[tuple[Mapping[str, Any], str]]) -> Iterator[
    tuple[Mapping[str, Any], str, int | None]
]:
    it = iter(items)
    try:
        cur = next(it)
    except StopIteration:
        return
    for nxt in it:
        seq = nxt[0].get("seq")
        yield cur[0], cur[1], seq if type(seq) is int else None
        cur = nxt
    yield cur[0], cur[1], None


def verify_chain(
    key: bytes,
    events: Iterable[tuple[Mapping[str, Any], str]],
    *,
    start_seq: int = 1,
    start_mac: str = ZERO_MAC,
) -> VerifyResult:
    """Recompute the chain over ``(event, mac)`` pairs in stored order.

    Names the first bad event: an edited field or a forged event (MAC mismatch),
    a deleted event (gap: "missing event N"), swapped events (MAC mismatch, or
    "out of order" when sequence numbers are out of order) and inserted ones
    (duplicate sequence number, or MAC mismatch).
    """
    checker = ChainChecker(key, start_seq=start_seq, start_mac=start_mac)
    for event, mac, next_seq in _with_next(events):
        checker.feed(event, mac, next_seq=next_seq)
    return checker.result()


# --------------------------------------------------------------------------- escaping, secrets

_NEEDS_ESCAPE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_SIMPLE = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    return _SIMPLE.get(c) or f"\\u{ord(c):04x}"


def escape_text(text: str) -> str:
    """Escape what could forge a line or hide text in a viewer: backslash, CR, LF,
    other control characters, Unicode line/paragraph separators and bidi controls.

    Reversible and idempotent-safe (a backslash becomes ``\\\\``).
    """
    if not _NEEDS_ESCAPE.search(text):
        return text
    return _NEEDS_ESCAPE.sub(_escape_char, text)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


SECRET_WORDS = frozenset(
    {
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "otp",
        "passcode",
        "passphrase",
        "passwd",
        "password",
        "pin",
        "privatekey",
        "pwd",
        "secret",
        "token",
    }
)
# A key naming a secret's *identity*, not the secret: "key_id", "token_id", "token_name".
SAFE_LAST_WORDS = frozenset({"id", "ids", "count", "fingerprint", "name", "kind", "type"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

DETAIL_VALUE_WIDTH = 500
DETAIL_MAX_CHARS = 4096


def looks_secret(name: str) -> bool:
    """True for a field name that could carry a password, key, token or secret."""
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words:
        return False
    if words[-1] in SAFE_LAST_WORDS:
        return False
    return any(w in SECRET_WORDS for w in words) or words[-1] == "key"


def _clean(value: Any, path: str) -> Any:
    if value is None or type(value) is bool or type(value) is int:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        if "-----BEGIN" in value:
            raise ValueError(f"audit detail {path} looks like a key or certificate")
        return clip(escape_text(str(value)), DETAIL_VALUE_WIDTH)
    if isinstance(value, float):
        raise ValueError(f"audit detail {path} is a float; use an integer or text")
    if isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"audit detail {path} is binary; file content never enters the trail")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"audit detail {path} has a non-text key {k!r}")
            if looks_secret(k):
                raise ValueError(
                    f"audit detail key {path}.{k} looks like a secret "
                    "(password, key, token, secret); secrets never enter the trail"
                )
            out[escape_text(k)] = _clean(v, f"{path}.{k}")
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_clean(v, f"{path}[{i}]") for i, v in enumerate(items)]
    raise ValueError(f"audit detail {path} has type {type(value).__name__}, not allowed")


def detail_text(detail: Mapping[str, Any] | None) -> str | None:
    """Canonical JSON text of a detail mapping, strings escaped, secrets refused.

    Raises ValueError for a key that looks like a secret, binary content, floats,
    or a detail larger than `DETAIL_MAX_CHARS`.
    """
    if detail is None:
        return None
    if not isinstance(detail, Mapping):
        raise ValueError("audit detail must be a mapping")
    text = _encode(_clean(detail, "detail"))
    if len(text) > DETAIL_MAX_CHARS:
        raise ValueError(f"audit detail is {len(text)} characters; at most {DETAIL_MAX_CHARS}")
    return text if text != "{}" else None


__all__ = [
    "CHECKPOINT_DOMAIN",
    "EVENT_FIELDS",
    "LEAF_BYTES",
    "ZERO_MAC",
    "ChainChecker",
    "Problem",
    "VerifyResult",
    "canonical",
    "checkpoint_message",
    "checkpoint_payload",
    "clip",
    "detail_text",
    "escape_text",
    "event_dict",
    "format_ts",
    "is_mac",
    "leaf",
    "looks_secret",
    "mirror_line",
    "mirror_line_from_canonical",
    "next_mac",
    "parse_ts",
    "split_leaves",
    "verify_chain",
]
