"""Every audit code the console shows has words (issue 16: no raw codes on pages)."""

from __future__ import annotations

import re
from pathlib import Path

from vault.actions import Action
from vault.policy import CopyKind, Reason
from vault.web import labels

VAULT = Path(__file__).resolve().parents[2] / "vault"
HOW = ("give each new code a label in vault/web/labels.py (ACTIONS or REASONS) and its "
       "Chinese in the admin catalogue: scripts/i18n.py admin … vault/web/labels.py")


def test_every_action_has_a_label() -> None:
    assert sorted(set(Action) - set(labels.ACTIONS)) == [], HOW


def test_every_policy_reason_and_request_kind_has_a_label() -> None:
    assert sorted({r.value for r in Reason} - set(labels.REASONS)) == [], HOW
    assert sorted({k.value for k in CopyKind} - set(labels.REASONS)) == [], HOW


def test_every_reason_written_in_the_code_has_a_label() -> None:
    written = set()
    for path in VAULT.rglob("*.py"):
        written |= set(re.findall(r'reason\s?=\s?"([a-z_+]+)"', path.read_text("utf-8")))
    assert sorted(written - set(labels.REASONS)) == [], HOW


def test_details_read_as_words_in_group_time() -> None:
    def local(ts: object) -> str:
        return f"<{ts}>"

    pairs = labels.details('{"called_at": "2026-11-20T02:32:00+00:00", "from": "staff,admin",'
                           ' "open_only": true, "kind": "copy"}', local)
    assert [p[1] for p in pairs][0] == "<2026-11-20 02:32:00+00:00>"
    assert all("_" not in label for label, _v in pairs)
    assert labels.value("some_new_code", local) == "some new code"
    assert labels.action("brand:new_thing") == "brand · new thing"


def test_every_detail_field_written_in_the_code_has_a_label() -> None:
    written: set[str] = set()
    for path in VAULT.rglob("*.py"):
        for block in re.findall(r"detail=\{(.*?)\}", path.read_text("utf-8"), re.S):
            written |= set(re.findall(r'"([a-z_]+)":', block))
    assert written, "the scan found no detail fields"
    assert sorted(written - set(labels.DETAIL_FIELDS)) == [], HOW.replace(
        "(ACTIONS or REASONS)", "(DETAIL_FIELDS)")


def test_nothing_and_service_codes_read_as_words() -> None:
    def local(ts: object) -> str:
        return str(ts)

    pairs = dict(labels.details('{"status": null, "found": 3, "channel": "hotline", '
                                '"note": ""}', local))
    assert pairs == {"state": "—", "results": "3", "channel": "Hotline", "note": "—"}
