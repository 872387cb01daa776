"""The audit trail's keys (in ``settings.keys_dir``): the HMAC key that chains the
events and the Ed25519 key that signs the checkpoints. Created once by `vault init`
(0600 files in a 0700 folder, never overwritten); read with a clear refusal
(`AuditUnavailable`) when missing or damaged, since nothing may happen unaudited.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from vault.audit.common import HMAC_KEY_BYTES
from vault.config import AUDIT_KEY_FILE, SIGNING_KEY_FILE, Settings
from vault.errors import AuditUnavailable
from vault.runtime import ensure_dir, write_new_secret


def init_keys(settings: Settings) -> list[str]:
    """Create the HMAC key and the Ed25519 signing key when missing (0600, in a
    0700 folder); never overwrite one. Returns the paths created."""
    created: list[str] = []
    keys = Path(settings.keys_dir)
    if ensure_dir(keys, 0o700):
        created.append(str(keys))
    hmac_path = keys / AUDIT_KEY_FILE
    if not hmac_path.exists() and write_new_secret(hmac_path, os.urandom(HMAC_KEY_BYTES)):
        created.append(str(hmac_path))
    signing_path = keys / SIGNING_KEY_FILE
    if not signing_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if write_new_secret(signing_path, pem):
            created.append(str(signing_path))
    return created


def read_hmac_key(settings: Settings) -> bytes:
    """The HMAC key of the chain; `AuditUnavailable` when missing or damaged."""
    path = Path(settings.keys_dir) / AUDIT_KEY_FILE
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise AuditUnavailable(
            f"The audit key {path} cannot be read ({exc.strerror}); nothing can be "
            "audited, so the action is refused. Run `vault init` to create it.",
            code="audit_key_missing",
        ) from exc
    if len(key) != HMAC_KEY_BYTES:
        raise AuditUnavailable(
            f"The audit key {path} is damaged (not {HMAC_KEY_BYTES} bytes); the action "
            "is refused.",
            code="audit_key_damaged",
        )
    return key


def read_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 checkpoint signing key; `AuditUnavailable` when missing or damaged."""
    path = Path(settings.keys_dir) / SIGNING_KEY_FILE
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise AuditUnavailable(
            f"The audit signing key {path} cannot be read ({exc.strerror}); the action "
            "is refused. Run `vault init` to create it.",
            code="audit_key_missing",
        ) from exc
    except ValueError as exc:
        raise AuditUnavailable(
            f"The audit signing key {path} is damaged; the action is refused.",
            code="audit_key_damaged",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditUnavailable(
            f"The audit signing key {path} is not an Ed25519 key.",
            code="audit_key_damaged",
        )
    return key


def public_key_pem(public: Ed25519PublicKey) -> str:
    """``public`` as PEM text (SubjectPublicKeyInfo)."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
