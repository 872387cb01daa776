"""Audit trail throughput on SQLite, with baselines measured in the same run.

    python benchmarks/bench_audit.py [--events N]

Appends: one event per transaction (``record`` + commit + mirror line fsync'd),
the way services write them, by one writer and by 4 threads at once; and 50
events per transaction (the chain's own cost: head lock, MAC, insert, head
update, one mirror fsync per 50), as 50 ``record`` calls and as one
``append_many`` (one head lock, one batched insert, one head update).
Baselines: the same transaction shape inserting an equally wide row into a
plain table (no head lock, no MAC, no mirror), and appending + fsyncing a
line of the same size to a file.

Verification: the database chain plus checkpoints plus mirror comparison
(`verify_database`), the mirror copy with the public key (`verify_offline`) and
the pure chain in memory (`verify_chain`).
Baseline: canonical JSON + HMAC-SHA256 per event, nothing else.

Targets (issue 4): ≥ 2,000 appends/s single writer, ≥ 100,000 verified events/s.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from vault import db  # noqa: E402
from vault.actions import Action, Outcome  # noqa: E402
from vault.audit import chain  # noqa: E402
from vault.audit.log import AuditLog, verify_offline  # noqa: E402
from vault.config import load_settings  # noqa: E402
from vault.runtime import init_runtime  # noqa: E402

EVENT = {
    "actor": "zhang.wei",
    "actor_roles": "custodian,staff",
    "action": Action.DOCUMENT_VIEW,
    "outcome": Outcome.ALLOWED,
    "object_type": "document",
    "object_id": 4711,
    "level": "secret",
    "reason": "grant",
    "source": "10.20.30.40",
    "request_id": "9f1c2a7be04d11aa",
}


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    t = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - t


def append_events(factory: sessionmaker[Session], audit: AuditLog, n: int) -> int:
    for _ in range(n):
        with db.transaction(factory) as s:
            audit.record(s, **EVENT)  # type: ignore[arg-type]
    return n


def concurrent(fn: Callable[[int], int], writers: int, per_writer: int) -> int:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn(per_writer)
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return writers * per_writer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="appends per measurement")
    args = parser.parse_args()
    n = args.events

    with tempfile.TemporaryDirectory(prefix="vault-bench-audit-") as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'vault.db'}"
        settings = load_settings(environ={}, home=home, database_url=url)
        init_runtime(settings)
        AuditLog.init_keys(settings)
        db.upgrade(url)
        engine = db.make_engine(url)
        factory = db.make_sessionmaker(engine)
        audit = AuditLog(settings)

        # Baseline: the same transaction shape into a plain table.
        meta = MetaData()
        plain = Table(
            "bench_plain", meta, Column("id", Integer, primary_key=True),
            *(Column(c, String(200)) for c in ("a", "b", "c", "d", "e", "f", "g", "h", "i")),
            Column("j", Text), Column("mac", String(64)),
        )
        meta.create_all(engine)
        row = {c: "x" * 12 for c in "abcdefghij"} | {"mac": "0" * 64}

        def plain_inserts(k: int) -> int:
            for _ in range(k):
                with db.transaction(factory) as s:
                    s.execute(insert(plain).values(row))
            return k

        base_n, base_t = timed(lambda: plain_inserts(n))
        base_insert = rate(base_n, base_t)
        c_n, c_t = timed(lambda: concurrent(plain_inserts, 4, n // 4))
        base_insert4 = rate(c_n, c_t)

        def fsynced_lines(k: int) -> int:
            path = home / "fsync-baseline.jsonl"
            line = b"x" * 420 + b"\n"  # about one mirror line
            for _ in range(k):
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                os.write(fd, line)
                os.fsync(fd)
                os.close(fd)
            return k

        base_fsync = rate(*timed(lambda: fsynced_lines(n)))

        one_n, one_t = timed(lambda: append_events(factory, audit, n))
        four_n, four_t = timed(
            lambda: concurrent(lambda k: append_events(factory, audit, k), 4, n // 4)
        )
        single, four = rate(one_n, one_t), rate(four_n, four_t)

        def batched(k: int, per_txn: int = 50) -> int:
            for _ in range(k // per_txn):
                with db.transaction(factory) as s:
                    for _ in range(per_txn):
                        audit.record(s, **EVENT)  # type: ignore[arg-type]
            return k - k % per_txn

        batch_n, batch_t = timed(lambda: batched(n))
        in_txn = rate(batch_n, batch_t)

        def appended_many(k: int, per_txn: int = 50) -> int:
            for _ in range(k // per_txn):
                with db.transaction(factory) as s:
                    audit.append_many(s, [EVENT] * per_txn)
            return k - k % per_txn

        many_n, many_t = timed(lambda: appended_many(n))
        many = rate(many_n, many_t)

        # Verification over everything written above.
        def vdb() -> int:
            with db.transaction(factory) as s:
                report = audit.verify_database(s)
            assert report.ok, report.summary()
            return report.events

        def vdb_chain_only() -> int:
            with db.transaction(factory) as s:
                report = audit.verify_database(s, mirror=False)
            assert report.ok, report.summary()
            return report.events

        def voff() -> int:
            report = verify_offline(settings.audit_dir, audit.public_key_pem())
            assert report.ok, report.summary()
            return report.events

        total = one_n + four_n + batch_n + many_n
        key = audit.hmac_key()
        events: list[tuple[dict[str, object], str]] = []
        prev = chain.ZERO_MAC
        now = datetime.now(UTC)
        for i in range(1, total + 1):
            ev = chain.event_dict(
                i, now, "zhang.wei", "custodian,staff", "10.20.30.40", "document:view",
                "document", "4711", 4711, "secret", "allowed", "grant", "9f1c2a7be04d11aa", None,
            )
            prev = chain.next_mac(key, prev, ev)
            events.append((ev, prev))

        def vmem() -> int:
            result = chain.verify_chain(key, events)
            assert result.ok
            return result.count

        def raw_hmac() -> int:
            p = bytes(32)
            for ev, _mac in events:
                p = hmac.digest(key, p + chain.canonical(ev), "sha256")
            return len(events)

        best: dict[str, float] = {}
        for name, fn in [("raw", raw_hmac), ("mem", vmem), ("db", vdb), ("dbchain", vdb_chain_only),
                         ("offline", voff)]:
            best[name] = max(rate(*timed(fn)) for _ in range(3))

    print(f"audit benchmark on SQLite ({n} events per append run, {total} verified), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    print("appends")
    print(f"  baseline plain insert+commit, 1 writer   {base_insert:10,.0f} /s")
    print(f"  baseline plain insert+commit, 4 writers  {base_insert4:10,.0f} /s")
    print(f"  baseline 420-byte line append+fsync      {base_fsync:10,.0f} /s")
    print(f"  audit append+commit+mirror fsync, 1 wr.  {single:10,.0f} /s   "
          f"{single / base_insert:5.2f}x plain insert   target 2,000: "
          f"{'met' if single >= 2000 else 'MISSED'}")
    print(f"  audit append+commit+mirror fsync, 4 wr.  {four:10,.0f} /s   "
          f"{four / base_insert4:5.2f}x plain insert")
    print(f"  audit append, 50 per transaction, 1 wr.  {in_txn:10,.0f} /s   "
          f"{in_txn / base_insert:5.2f}x plain insert   target 2,000: "
          f"{'met' if in_txn >= 2000 else 'MISSED'}")
    print(f"  audit append_many, 50 per transaction    {many:10,.0f} /s   "
          f"{many / base_insert:5.2f}x plain insert   {many / in_txn:5.2f}x 50 records")
    print()
    print("verification (best of 3)")
    print(f"  baseline canonical+HMAC           {best['raw']:10,.0f} /s")
    print(f"  verify_chain (memory)             {best['mem']:10,.0f} /s   "
          f"{best['mem'] / best['raw']:5.2f}x baseline   target 100,000: "
          f"{'met' if best['mem'] >= 100_000 else 'MISSED'}")
    print(f"  verify_database chain+checkpoints {best['dbchain']:10,.0f} /s   "
          f"{best['dbchain'] / best['raw']:5.2f}x baseline   target 100,000: "
          f"{'met' if best['dbchain'] >= 100_000 else 'MISSED'}")
    print(f"  verify_database, + mirror compare {best['db']:10,.0f} /s   "
          f"{best['db'] / best['raw']:5.2f}x baseline")
    print(f"  verify_offline (public key only)  {best['offline']:10,.0f} /s   "
          f"{best['offline'] / best['raw']:5.2f}x baseline")
    engine.dispose()


if __name__ == "__main__":
    main()
