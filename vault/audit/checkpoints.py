"""Signed checkpoints: the key id, the payload of a stored checkpoint and its mirror
line, and locating the first altered line from the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PublicKey,
)

from vault.audit import chain


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _cp_payload(row: Any) -> dict[str, Any]:
    return chain.checkpoint_payload(
        seq=row.seq,
        prev_seq=row.prev_seq,
        mac=row.mac,
        time=chain.format_ts(row.created_at),
        key_id=row.key_id,
        leaves=row.leaves,
    )


def checkpoint_line(payload: Mapping[str, Any], signature: str) -> bytes:
    return chain.canonical({**payload, "sig": signature})


def _first_leaf_mismatch(got: list[bytes], leaves_hex: str, prev_seq: int) -> int:
    try:
        want = chain.split_leaves(leaves_hex)
    except ValueError:
        return prev_seq + 1
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return prev_seq + 1 + i
    return prev_seq + 1 + min(len(got), len(want))


def _load_public_key(public_key_pem: str | bytes) -> Ed25519PublicKey:
    data = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


@dataclass


class _Cp:
    seq: int
    prev_seq: int
    mac: str
    leaves: list[bytes]
    sig: str = ""
