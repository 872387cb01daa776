"""Free text about customers, sealed in its own row (诉求内容、答复、回访记录).

The scheme is the one file versions use, applied to short fields: each row has
its own random 256-bit data key, wrapped by the key ring's active master key
(``wrapped_key`` + ``master_key_id`` on the row, re-wrapped by `vault keys
rotate`, counted by `vault keys list`); each field is AES-256-GCM under that
key with a fresh 96-bit nonce, and the associated data names the table, the
row and the field, so a sealed value cannot be moved to another row or field.

    sealed field = version (1) | nonce (12) | ciphertext | tag (16)
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import IntegrityFailure
from vault.services.context import Ctx

_VERSION = 1
_NONCE = 12


class SealedRow(Protocol):
    """A row holding sealed fields under its own data key."""

    __tablename__: str
    id: int
    wrapped_key: bytes | None
    master_key_id: str | None


def _aad(row: SealedRow, field: str) -> bytes:
    return f"vault-sealed-v1|{row.__tablename__}|{row.id}|{field}".encode("ascii")


def _data_key(ctx: Ctx, row: SealedRow) -> bytes:
    ring = ctx.infra.keyring
    if row.wrapped_key is None or row.master_key_id is None:
        key = os.urandom(32)
        row.master_key_id, row.wrapped_key = ring.wrap(key)
        return key
    return ring.unwrap(row.master_key_id, bytes(row.wrapped_key))


def seal(ctx: Ctx, row: SealedRow, field: str, text: str | None) -> bytes | None:
    """Seal ``text`` for ``row.field`` (the row must have its id: flush first)."""
    if text is None:
        return None
    if row.id is None:
        raise ValueError("seal needs a flushed row")
    key = _data_key(ctx, row)
    nonce = os.urandom(_NONCE)
    return bytes([_VERSION]) + nonce + AESGCM(key).encrypt(nonce, text.encode("utf-8"),
                                                           _aad(row, field))


def open_(ctx: Ctx, row: SealedRow, field: str, blob: bytes | None) -> str | None:
    """The text sealed in ``blob`` for ``row.field``; `IntegrityFailure` if it fails."""
    if blob is None:
        return None
    data = bytes(blob)
    damaged = IntegrityFailure(
        f"A sealed field ({row.__tablename__} {row.id} {field}) failed its integrity check.",
        code="sealed_field_damaged")
    if len(data) < 1 + _NONCE + 16 or data[0] != _VERSION or row.wrapped_key is None \
            or row.master_key_id is None:
        raise damaged
    key = ctx.infra.keyring.unwrap(row.master_key_id, bytes(row.wrapped_key))
    try:
        return AESGCM(key).decrypt(data[1:1 + _NONCE], data[1 + _NONCE:],
                                   _aad(row, field)).decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        raise damaged from None
