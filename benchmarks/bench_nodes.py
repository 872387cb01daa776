"""Several app nodes: audit appends through 1 and 2 app nodes (gunicorn gthread,
as `vault serve` behind a load balancer) over one PostgreSQL and one SeaweedFS,
both throw-away servers on loopback (tests/servers.py).

20 concurrent writers, each downloading a small notice through the JSON API in a
loop (every download is one audit event, appended under the chain's head lock,
and one ranged read from the bucket), spread evenly over the nodes. Baseline in the
same run: the same writers on ``/healthz`` (no database, no audit). Afterwards the
chain is verified.

    python benchmarks/bench_nodes.py            # VAULT_BENCH_SECONDS=15 per phase
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import create_database, free_port, postgres, seaweedfs  # noqa: E402

from vault import db  # noqa: E402
from vault.actions import Action  # noqa: E402
from vault.audit.log import AuditLog  # noqa: E402
from vault.config import load_settings  # noqa: E402
from vault.crypto.keyring import Keyring  # noqa: E402
from vault.policy import Category  # noqa: E402
from vault.runtime import init_runtime  # noqa: E402
from vault.services import accounts, documents, tokens  # noqa: E402
from vault.services.context import Infra, unit_of_work  # noqa: E402

BIN = Path(sys.executable).parent
WRITERS = 20
SECONDS = int(os.environ.get("VAULT_BENCH_SECONDS", "15"))


def start_node(env: dict[str, str], work: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "6", "--log-level", "warning",
         "vault:create_app()"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    sys.exit(f"node {name} did not start: {(work / f'{name}.log').read_text()[-2000:]}")


def hammer(bases: list[str], path: str, headers: dict[str, str],
           seconds: float) -> tuple[int, int, list[float]]:
    """WRITERS threads spread over ``bases``; returns (ok, errors, latencies ms)."""
    ok, bad, lat = [0], [0], []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(base: str) -> None:
        http = requests.Session()
        mine: list[float] = []
        good = errors = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                resp = http.get(base + path, headers=headers, timeout=60)
                good, errors = (good + 1, errors) if resp.status_code == 200 else (good, errors + 1)
            except requests.RequestException:
                errors += 1
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            ok[0] += good
            bad[0] += errors
            lat.extend(mine)

    threads = [threading.Thread(target=run, args=(bases[i % len(bases)],))
               for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok[0], bad[0], lat


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else 0.0


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="vault-bench-nodes-"))
    with postgres() as base, seaweedfs() as s3:
        url = create_database(base, "bench")
        db.upgrade(url)
        common = {**{k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AWS_"))},
                  **s3.env(), "VAULT_DATABASE_URL": url,
                  "VAULT_STORAGE_URL": f"s3://{s3.new_bucket()}/vault",
                  "VAULT_KEYS_DIR": str(work / "keys"), "VAULT_REQUIRE_2FA_ROLES": "none"}
        os.environ.update(s3.env())
        envs = []
        for name in ("a", "b"):
            (work / name).mkdir()
            envs.append({**common, "VAULT_HOME": str(work / name)})
            init_runtime(load_settings(environ=envs[-1]))
        settings = load_settings(environ=envs[0])
        Keyring.create_first(settings)
        AuditLog.init_keys(settings)
        infra = Infra.build(settings, db.make_sessionmaker(db.make_engine(url)))
        with db.transaction(infra.sessions) as s:
            accounts.add_company(s, "SZ", "深圳公司")
            accounts.add_department(s, "SZ", "CS", "客服部")
            accounts.add_user(s, "reader", "Reader", "SZ", "CS",
                              frozenset({accounts.Role.STAFF}), "bench-password-0001")
        with unit_of_work(infra, "reader") as ctx:
            doc_id = documents.register(ctx, title="停水通知", category=Category.NOTICE,
                                        content=io.BytesIO("停水通知\n".encode() * 200),
                                        filename="n.txt").id
            token = tokens.create(ctx, "bench", datetime.now(UTC) + timedelta(days=1))[1]
        auth = {"Authorization": f"Bearer {token}"}
        figures = {}
        for count in (1, 2):
            nodes = [start_node(envs[i], work / "ab"[i], f"node{i}") for i in range(count)]
            bases = [b for _, b in nodes]
            try:
                hammer(bases, "/healthz", {}, 2)  # warm up
                h_ok, _, _ = hammer(bases, "/healthz", {}, SECONDS / 3)
                ok, bad, lat = hammer(bases, f"/api/v1/documents/{doc_id}/content", auth,
                                      SECONDS)
            finally:
                for proc, _ in nodes:
                    proc.terminate()
                for proc, _ in nodes:
                    proc.wait(60)
            rate, base_rate = ok / SECONDS, h_ok / (SECONDS / 3)
            figures[count] = rate
            print(f"{count} node(s), {WRITERS} writers, {SECONDS} s: {rate:7.1f} audited "
                  f"downloads/s (= audit appends/s)  p50 {pct(lat, 50):.0f} ms  "
                  f"p95 {pct(lat, 95):.0f} ms  errors {bad}   baseline /healthz "
                  f"{base_rate:.0f} req/s ({rate / base_rate:.2f}x)")
        print(f"2 nodes / 1 node: {figures[2] / figures[1]:.2f}x (one machine of 2 cores runs "
              "both nodes, the database, the object store and the load: a ratio near 1 "
              "means the chain is not the limit there, the cores are)")
        with infra.readonly_sessions()() as s:
            t0 = time.perf_counter()
            report = infra.audit.verify_database(s)
            took = time.perf_counter() - t0
        assert report.ok, report.summary()
        with infra.sessions() as s:
            from sqlalchemy import func, select

            from vault.audit.models import AuditEvent

            n = int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)
            downloads = int(s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == Action.DOCUMENT_DOWNLOAD.value)) or 0)
        print(f"chain after both runs: {n} events ({downloads} downloads), one chain, "
              f"verified in {took:.2f} s ({n / took:,.0f} events/s)")
        infra.sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main()
