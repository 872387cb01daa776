"""Setting up an installation (`vault init`): folders, the object-store bucket, the
first master key, the audit keys and the database schema. Idempotent: what exists is
kept, a key is never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vault.config import Settings


@dataclass(frozen=True)
class Installed:
    """What `initialise` made, in order (empty when everything was there), and the
    database it migrated, its password hidden."""

    created: tuple[str, ...]
    database: str


def initialise(settings: Settings, now: datetime) -> Installed:
    from vault import db
    from vault.actions import Action
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.runtime import init_runtime
    from vault.services.context import Infra, unit_of_work

    created = [str(path) for path in init_runtime(settings)]
    if settings.storage_url:
        from vault.blobstore_s3 import S3BlobStore

        store = S3BlobStore.from_url(settings.storage_url)
        if store.ensure_bucket():
            created.append(f"bucket {store.location.bucket}")
    master = Keyring.create_first(settings)
    if master:
        created.append(f"master key {master}")
    created.extend(str(path) for path in AuditLog.init_keys(settings))
    db.upgrade(settings.database_url)
    if master:
        settings.check()
        engine = db.make_engine(settings.database_url)
        try:
            infra = Infra.build(settings, db.make_sessionmaker(engine))
            with unit_of_work(infra, None, now, source="cli") as ctx:
                ctx.record(Action.KEY_GENERATE, object_type="master_key", object_id=master,
                           reason="vault_init")
        finally:
            engine.dispose()
    return Installed(created=tuple(created), database=db.safe_url(settings.database_url))
