"""Exceptions services raise; views and the CLI map them to responses in one place.

Each carries a stable ``code`` (for the JSON API, the audit reason and the CLI)
and a human ``message``. ``params`` fill the message when it is translated.
"""

from __future__ import annotations

from typing import Any


class VaultError(Exception):
    """Base class: a refusal a person can act on."""

    status = 400
    exit_code = 2
    default_code = "error"

    def __init__(self, message: str, code: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.params = params


class InvalidInput(VaultError):
    """The input cannot be accepted as given (bad date, unknown level, hostile name)."""

    status = 400
    default_code = "invalid_input"


class NotFound(VaultError):
    """The object does not exist *for this actor* (out of scope looks the same)."""

    status = 404
    default_code = "not_found"


class Forbidden(VaultError):
    """The actor may know the object but may not do this to it."""

    status = 403
    exit_code = 1
    default_code = "forbidden"


class Conflict(VaultError):
    """The request clashes with the current state (already exists, already spent)."""

    status = 409
    default_code = "conflict"


class IntegrityFailure(VaultError):
    """Stored data failed authentication: nothing of it is released."""

    status = 500
    exit_code = 3
    default_code = "integrity_failure"


class AuditUnavailable(VaultError):
    """The audit event could not be written, so the action was refused (fail closed)."""

    status = 503
    exit_code = 3
    default_code = "audit_unavailable"


class ConfigError(VaultError):
    """Vault cannot start as configured; the message says what to run."""

    status = 500
    exit_code = 2
    default_code = "config_error"


class BlobStoreError(OSError):
    """The blob store could not be reached or refused a request (not a missing blob)."""
