"""The audit chain, without a database: canonical JSON, MACs, verification of
edited, removed, swapped and inserted events, escaping and refused secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from vault.actions import KNOWING_ACTIONS, Action, Outcome
from vault.audit import chain
from vault.audit.chain import ZERO_MAC

KEY = bytes(range(32))


def make_events(n: int, key: bytes = KEY) -> list[tuple[dict[str, Any], str]]:
    """A valid chain of n events as (event, mac) pairs."""
    out = []
    prev = ZERO_MAC
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    for i in range(1, n + 1):
        ev = chain.event_dict(
            i, t0 + timedelta(seconds=i), f"user{i % 3}", "staff", "10.0.0.1",
            "document:view", "document", str(100 + i), 100 + i, "secret", "allowed",
            "grant", f"req{i}", None,
        )
        mac = chain.next_mac(key, prev, ev)
        out.append((ev, mac))
        prev = mac
    return out


# --------------------------------------------------------------------------- canonical


def test_canonical_is_sorted_compact_utf8() -> None:
    got = chain.canonical({"b": 1, "a": "机密", "c": None, "d": True})
    assert got == '{"a":"机密","b":1,"c":null,"d":true}'.encode()


@pytest.mark.parametrize(
    "event", [{"x": 1.5}, {"x": {"y": 2.0}}, {"x": [1, 0.1]}, {"x": float("nan")}]
)
def test_canonical_refuses_floats(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="float"):
        chain.canonical(event)


def test_canonical_refuses_other_types() -> None:
    with pytest.raises(ValueError):
        chain.canonical({"x": b"bytes"})
    with pytest.raises(ValueError):
        chain.canonical({"x": datetime.now(UTC)})


def test_next_mac_is_hmac_sha256_over_prev_and_canonical() -> None:
    ev = {"seq": 1, "actor": "alice"}
    prev = "ab" * 32
    want = hmac.new(KEY, bytes.fromhex(prev) + chain.canonical(ev), hashlib.sha256).hexdigest()
    assert chain.next_mac(KEY, prev, ev) == want
    assert chain.next_mac(KEY, ZERO_MAC, ev) != want


def test_mirror_line_is_canonical_json_of_event_mac_prev() -> None:
    ev, mac = make_events(1)[0]
    line = chain.mirror_line(ev, mac, ZERO_MAC)
    assert line == chain.canonical({"event": ev, "mac": mac, "prev": ZERO_MAC})
    assert json.loads(line) == {"event": ev, "mac": mac, "prev": ZERO_MAC}
    # a non-hex mac (tampered) still gives valid JSON
    odd = chain.mirror_line(ev, 'x"y', ZERO_MAC)
    assert json.loads(odd)["mac"] == 'x"y'


def test_format_ts_utc_with_microseconds() -> None:
    assert chain.format_ts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000000Z"
    )
    beijing = timezone(timedelta(hours=8))
    assert chain.format_ts(datetime(2026, 1, 2, 8, 0, 0, 7, tzinfo=beijing)) == (
        "2026-01-02T00:00:00.000007Z"
    )
    with pytest.raises(ValueError):
        chain.format_ts(datetime(2026, 1, 2))
    ts = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert chain.parse_ts(chain.format_ts(ts)) == ts


# --------------------------------------------------------------------------- verify_chain


def test_untouched_chain_verifies() -> None:
    result = chain.verify_chain(KEY, make_events(30))
    assert result.ok and result.count == 30 and result.first_bad_seq is None
    assert result.last_seq == 30


def test_wrong_key_fails_at_first_event() -> None:
    result = chain.verify_chain(b"k" * 32, make_events(5))
    assert not result.ok and result.first_bad_seq == 1


def test_edited_field_is_named() -> None:
    events = make_events(30)
    events[11][0]["actor"] = "mallory"
    result = chain.verify_chain(KEY, events)
    assert not result.ok
    assert result.first_bad_seq == 12
    assert "mac mismatch" in (result.problem or "")
    assert len(result.problems) == 1  # only the edited event, not all after it


def test_deleted_event_is_named() -> None:
    events = make_events(30)
    del events[16]  # seq 17
    result = chain.verify_chain(KEY, events)
    assert result.first_bad_seq == 17
    assert result.problem == "missing event 17"


def test_deleted_range_is_named() -> None:
    events = make_events(30)
    del events[16:19]
    result = chain.verify_chain(KEY, events)
    assert result.first_bad_seq == 17 and result.problem == "missing events 17–19"


def test_swapped_contents_are_named() -> None:
    events = make_events(30)
    (a, ma), (b, mb) = events[9], events[10]
    a_seq, b_seq = a["seq"], b["seq"]
    events[9] = ({**b, "seq": a_seq}, mb)
    events[10] = ({**a, "seq": b_seq}, ma)
    result = chain.verify_chain(KEY, events)
    assert result.first_bad_seq == 10 and "mac mismatch" in (result.problem or "")


def test_swapped_order_is_named_out_of_order() -> None:
    events = make_events(30)
    events[9], events[10] = events[10], events[9]
    result = chain.verify_chain(KEY, events)
    assert result.first_bad_seq == 10
    assert "out of order" in (result.problem or "")


def test_inserted_forged_event_is_named() -> None:
    events = make_events(30)
    forged = dict(events[6][0], actor="mallory", seq=8)
    renumbered = [(dict(ev, seq=ev["seq"] + 1), mac) for ev, mac in events[7:]]
    tampered = events[:7] + [(forged, "ab" * 32)] + renumbered
    result = chain.verify_chain(KEY, tampered)
    assert result.first_bad_seq == 8 and "mac mismatch" in (result.problem or "")


def test_inserted_duplicate_is_named() -> None:
    events = make_events(30)
    forged = (dict(events[6][0], actor="mallory"), "cd" * 32)
    tampered = events[:7] + [forged] + events[7:]
    result = chain.verify_chain(KEY, tampered)
    assert result.first_bad_seq == 7 and "duplicate" in (result.problem or "")


def test_forged_event_at_the_end_is_named() -> None:
    events = make_events(10)
    forged = dict(events[-1][0], seq=11, actor="mallory")
    result = chain.verify_chain(KEY, [*events, (forged, "ef" * 32)])
    assert result.first_bad_seq == 11


def test_verify_from_a_later_start() -> None:
    events = make_events(10)
    result = chain.verify_chain(KEY, events[5:], start_seq=6, start_mac=events[4][1])
    assert result.ok and result.count == 5


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_message_is_domain_separated_and_excludes_sig() -> None:
    payload = chain.checkpoint_payload(
        seq=5, prev_seq=0, mac="a" * 64, time="t", key_id="k", leaves="00" * 16 * 5
    )
    msg = chain.checkpoint_message(payload)
    assert msg.startswith(chain.CHECKPOINT_DOMAIN)
    assert chain.checkpoint_message({**payload, "sig": "ff"}) == msg
    assert len(chain.split_leaves(payload["leaves"])) == 5
    with pytest.raises(ValueError):
        chain.split_leaves("00" * 17)


def test_raw_verification_query_selects_the_event_fields_in_order() -> None:
    from vault.audit import export

    selected = export._ALL_EVENTS_SQL.split("SELECT ", 1)[1].split(" FROM", 1)[0]
    assert [c.strip() for c in selected.split(",")] == [*chain.EVENT_FIELDS, "mac"]


def test_leaf_is_truncated_sha256_of_line() -> None:
    assert chain.leaf(b"abc") == hashlib.sha256(b"abc").digest()[:16]


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain 机密 text", "plain 机密 text"),
        ("a\nb", "a\\nb"),
        ("a\r\nfake line", "a\\r\\nfake line"),
        ("tab\there", "tab\\there"),
        ("esc\x1b[31m", "esc\\u001b[31m"),
        ("nel\x85", "nel\\u0085"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("bidi\u202egnp.exe", "bidi\\u202egnp.exe"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_escape_text(raw: str, escaped: str) -> None:
    assert chain.escape_text(raw) == escaped
    assert not re.search(r"[\r\n\x00-\x1f\u2028\u2029]", chain.escape_text(raw))


def test_escaping_is_unambiguous() -> None:
    # A user cannot type text that looks like an escaped newline.
    assert chain.escape_text("a\\nb") != chain.escape_text("a\nb")


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "name",
    ["password", "new_password", "passwordHash", "api_key", "apiKey", "key", "master_key",
     "token", "access_token", "secret", "client_secret", "otp", "Authorization", "cookie"],
)
def test_secret_looking_names(name: str) -> None:
    assert chain.looks_secret(name)
    with pytest.raises(ValueError, match="secret"):
        chain.detail_text({name: "x"})


@pytest.mark.parametrize(
    "name", ["key_id", "token_id", "master_key_id", "token_name", "title", "keyword", "monkey",
             "grantee", "level", "copy_id"],
)
def test_harmless_names(name: str) -> None:
    assert not chain.looks_secret(name)
    assert chain.detail_text({name: "x"}) is not None


def test_secret_refused_when_nested() -> None:
    with pytest.raises(ValueError, match="secret"):
        chain.detail_text({"user": {"profile": [{"password": "hunter2"}]}})


def test_binary_floats_and_pem_refused() -> None:
    with pytest.raises(ValueError, match="binary"):
        chain.detail_text({"content": b"%PDF-1.7"})
    with pytest.raises(ValueError, match="float"):
        chain.detail_text({"ratio": 0.5})
    with pytest.raises(ValueError, match="key"):
        chain.detail_text({"note": "-----BEGIN PRIVATE KEY-----\nMC4C"})
    with pytest.raises(ValueError):
        chain.detail_text(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_detail_text_escapes_clips_and_is_canonical() -> None:
    text = chain.detail_text({"title": "年报\r\nadmin: granted", "n": 3, "long": "x" * 2000})
    assert text is not None
    doc = json.loads(text)
    assert doc["title"] == "年报\\r\\nadmin: granted"
    assert len(doc["long"]) == chain.DETAIL_VALUE_WIDTH
    assert text == chain.canonical(doc).decode()
    assert chain.detail_text(None) is None and chain.detail_text({}) is None
    with pytest.raises(ValueError, match="at most"):
        chain.detail_text({f"k{i}": "y" * 400 for i in range(20)})


# --------------------------------------------------------------------------- actions


def test_actions_are_scope_verb_and_alphabetical() -> None:
    values = [a.value for a in Action]
    assert values == sorted(values)
    assert all(re.fullmatch(r"[a-z]+:[a-z_]+", v) for v in values)
    assert len(set(values)) == len(values)
    for needed in ("auth:sign_in_failed", "copy:approve", "document:declassify", "key:rotate",
                   "audit:verify", "leak:report", "recording:purge", "org:department_add"):
        assert Action(needed).value == needed
    assert Action.COPY_APPROVE.scope == "copy"


def test_outcomes_and_knowing_actions() -> None:
    assert [o.value for o in Outcome] == ["allowed", "denied", "failed"]
    assert Action.DOCUMENT_VIEW in KNOWING_ACTIONS and Action.COPY_DOWNLOAD in KNOWING_ACTIONS
    assert Action.DOCUMENT_VIEW_METADATA not in KNOWING_ACTIONS
