"""Settings: defaults → ``VAULT_*`` environment → explicit overrides (tests).

Nothing is read at import. `load_settings()` builds a `Settings`; `check()`
refuses to start, with a message saying what to run, when the keys folder or
the secret key is missing. There is no working default secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from vault.errors import ConfigError

SECRET_KEY_FILE = "secret.key"
AUDIT_KEY_FILE = "audit-hmac.key"
SIGNING_KEY_FILE = "audit-signing.key"


@dataclass(frozen=True)
class Settings:
    """Every setting, with its ``VAULT_*`` variable named in the README."""

    home: Path
    database_url: str
    storage_dir: Path
    keys_dir: Path
    audit_dir: Path
    secret_key: str | None = None  # VAULT_SECRET_KEY, else keys/secret.key
    master_key: str | None = None  # VAULT_MASTER_KEY (base64, 32 bytes), else keys/master-*.key
    # VAULT_STORAGE_URL: s3://bucket/prefix keeps blobs in an S3-compatible bucket
    # (endpoint and credentials from the AWS_* variables); unset: files in storage_dir.
    storage_url: str | None = None
    # VAULT_PROXY_HOPS: how many trusted proxies (load balancers) stand in front of the
    # app; their X-Forwarded-For/-Proto give the client's address. 0: none, headers ignored.
    proxy_hops: int = 0
    # 1: people reach Vault over HTTPS: Secure session cookie and HSTS. `vault serve`
    # sets it unless --plain-http (VAULT_PLAIN_HTTP=1) or --dev.
    https: int = 0
    utc_offset_hours: int = 8  # group time zone (China: UTC+8, no DST)
    max_upload_bytes: int = 2 * 1024**3
    # Downloads up to this size are authenticated whole before the first byte is sent
    # (an error page, not a cut connection); larger ones stream, each segment checked.
    verify_before_send_bytes: int = 64 * 1024**2
    segment_size: int = 64 * 1024
    copy_window_hours: int = 24
    recording_retention_days: int = 180
    # The department (code) that keeps each company's request register (客服部).
    service_department: str = "CS"
    font_file: Path = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    checkpoint_every: int = 1000
    # A checkpoint is signed when the last one is older than this (on an append, and
    # by the audit_checkpoint job on a quiet trail).
    checkpoint_seconds: int = 60
    # Witnesses outside the server for every signed checkpoint (vault/audit/witness.py).
    audit_witness_file: Path | None = None
    audit_witness_syslog: str | None = None
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # Roles that must sign in with a second factor (TOTP); "none" for nobody.
    require_2fa_roles: str = "hq_executive,company_gm,compliance,admin"
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "vault@localhost"
    # Where people open Vault: mails link to pages there (sign-in needed), never to content.
    base_url: str = "http://127.0.0.1:5000"

    @property
    def tz(self) -> tzinfo:
        return timezone(timedelta(hours=self.utc_offset_hours))

    def effective_secret_key(self) -> str | None:
        if self.secret_key:
            return self.secret_key
        path = self.keys_dir / SECRET_KEY_FILE
        if path.is_file():
            return path.read_text(encoding="ascii").strip() or None
        return None

    @property
    def second_factor_roles(self) -> frozenset[str]:
        """The role ids of ``require_2fa_roles`` (empty for "none")."""
        items = {r.strip() for r in self.require_2fa_roles.split(",")}
        return frozenset(r for r in items if r and r != "none")

    def check(self) -> None:
        """Refuse to start without keys; say what to run."""
        from vault.policy import Role

        unknown = sorted(self.second_factor_roles - {r.value for r in Role})
        if unknown:
            raise ConfigError(
                f"VAULT_REQUIRE_2FA_ROLES names unknown roles {', '.join(unknown)}; roles are "
                f"{', '.join(sorted(r.value for r in Role))} (or \"none\").",
                code="bad_setting",
            )
        if self.storage_url:
            from vault.blobstore_s3 import parse_storage_url

            parse_storage_url(self.storage_url)
        if not self.keys_dir.is_dir():
            raise ConfigError(
                f"The keys folder {self.keys_dir} does not exist. Run `vault init` first.",
                code="keys_missing",
            )
        if not self.effective_secret_key():
            raise ConfigError(
                f"No secret key: set VAULT_SECRET_KEY or run `vault init` to create "
                f"{self.keys_dir / SECRET_KEY_FILE}.",
                code="secret_key_missing",
            )
        if self.checkpoint_seconds < 1 or self.checkpoint_every < 1:
            raise ConfigError(
                "VAULT_CHECKPOINT_SECONDS and VAULT_CHECKPOINT_EVERY must be at least 1.",
                code="bad_setting",
            )
        witness = self.audit_witness_file
        if witness is not None:
            for folder in (self.audit_dir, self.keys_dir, self.storage_dir):
                if witness.resolve().is_relative_to(folder.resolve()):
                    raise ConfigError(
                        f"VAULT_AUDIT_WITNESS_FILE ({witness}) lies inside {folder}: a witness "
                        "must be out of reach of whoever can rewrite the trail (another mount).",
                        code="bad_setting",
                    )
        if self.recording_retention_days < 30:
            raise ConfigError(
                "VAULT_RECORDING_RETENTION_DAYS must be at least 30 (recordings are kept "
                f"at least 30 days); it is {self.recording_retention_days}.",
                code="retention_too_short",
            )


_INT_FIELDS = {f.name for f in fields(Settings) if f.type in ("int", int)}
_PATH_FIELDS = {"storage_dir", "keys_dir", "audit_dir", "font_file", "audit_witness_file"}
_OPTIONAL_STR = {"secret_key", "master_key", "smtp_host", "audit_witness_syslog", "storage_url"}


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build settings from defaults, then ``VAULT_*`` variables, then ``overrides``."""
    env = os.environ if environ is None else environ
    home = Path(overrides.pop("home", None) or env.get("VAULT_HOME") or Path.cwd()).resolve()
    values: dict[str, Any] = {
        "home": home,
        "storage_dir": home / "storage",
        "keys_dir": home / "keys",
        "audit_dir": home / "audit",
    }
    for f in fields(Settings):
        if f.name == "home":
            continue
        raw = env.get(f"VAULT_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        if f.name in _INT_FIELDS:
            try:
                values[f.name] = int(raw)
            except ValueError as exc:
                raise ConfigError(
                    f"VAULT_{f.name.upper()} must be a whole number, not {raw!r}.",
                    code="bad_setting",
                ) from exc
        elif f.name in _PATH_FIELDS:
            values[f.name] = Path(raw).resolve()
        else:
            values[f.name] = raw
    values.update(overrides)
    if "database_url" not in values:
        values["database_url"] = f"sqlite:///{Path(values['storage_dir']) / 'vault.db'}"
    return Settings(**values)
