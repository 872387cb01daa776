"""Store and read back a large file through the service layer, against `cp`+`sync`,
`cat` and `openssl enc` on the same file in the same run, plus peak RSS growth.

    python benchmarks/bench_storage.py            # 1 GiB
    VAULT_BENCH_MIB=256 python benchmarks/bench_storage.py

Each service step runs in a child process so its peak RSS is its own; growth is
the child's peak after the step minus its peak once set up. Three rounds,
medians, with baseline and Vault steps alternating (VAULT_BENCH_ROUNDS).
Targets (issue 3): store >= 0.6x cp+sync, read >= 0.5x cat, RSS growth < 64 MiB.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def timed(cmd: str) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)  # noqa: S602 - fixed commands over our temp paths
    return time.perf_counter() - start


def child(mode: str, home: str, src: str) -> None:
    """Runs in a fresh interpreter: one service step, then report time and peak RSS."""
    from datetime import UTC, datetime

    from vault import db
    from vault.config import load_settings
    from vault.policy import Category
    from vault.services import accounts, documents
    from vault.services.context import Infra, unit_of_work

    settings = load_settings(environ={}, home=Path(home))
    infra = Infra.build(settings, db.make_sessionmaker(db.make_engine(settings.database_url)))
    infra.keyring.active_id  # noqa: B018 - keys loaded before the baseline
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = 0.0
    if mode == "store":
        start = time.perf_counter()
        with open(src, "rb") as fh, unit_of_work(infra, "bench", datetime.now(UTC)) as ctx:
            documents.register(ctx, title="bench", category=Category.NOTICE, content=fh,
                               filename="bench.txt")
        seconds = time.perf_counter() - start
    elif mode == "read":
        start = time.perf_counter()
        with unit_of_work(infra, "bench", datetime.now(UTC)) as ctx:
            doc_id = documents.search(ctx, documents.Query(text="bench")).items[0].id
            content = documents.open_content(ctx, doc_id)
        with open(os.devnull, "wb") as out:
            for chunk in content.chunks:
                out.write(chunk)
        seconds = time.perf_counter() - start
    _ = accounts
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_kib": rss, "rss_before_kib": rss_before}))


def run_child(mode: str, home: Path, src: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(home), str(src)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    size_mib = int(os.environ.get("VAULT_BENCH_MIB", "1024"))
    work = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=ROOT))
    try:
        src = work / "source.txt"
        line = b"Vault benchmark line of plain text 0123456789 abcdefghijklmnopqrstuvwxyz\n"
        block = line * (MIB // len(line) + 1)
        with open(src, "wb") as fh:
            for _ in range(size_mib):
                fh.write(block[:MIB])
        home = work / "home"
        home.mkdir()
        env = {**os.environ, "VAULT_HOME": str(home)}
        vault = str(Path(sys.executable).with_name("vault"))
        subprocess.run([vault, "init"], env=env, check=True, capture_output=True)
        for cmd in (["org", "add-company", "B", "Bench", "--hq"],
                    ["users", "add", "bench", "--name", "Bench", "--company", "B",
                     "--roles", "staff"]):
            subprocess.run([vault, *cmd], env=env, check=True, capture_output=True)

        rounds = int(os.environ.get("VAULT_BENCH_ROUNDS", "3"))
        have_openssl = shutil.which("openssl") is not None
        samples: dict[str, list[float]] = {}
        stores, reads = [], []
        # Alternate baseline and Vault in each round, flushing dirty pages first, so
        # writeback from one step does not land on the next; report medians.
        for r in range(rounds):
            timed("sync")
            samples.setdefault("cp", []).append(timed(f"cp {src} {work / 'copy'} && sync"))
            (work / "copy").unlink()
            timed("sync")
            stores.append(run_child("store", home, src))
            samples.setdefault("cat", []).append(timed(f"cat {src} > /dev/null"))
            reads.append(run_child("read", home, src))
            if have_openssl:
                timed("sync")
                samples.setdefault("enc", []).append(timed(
                    f"openssl enc -aes-256-ctr -pbkdf2 -pass pass:bench -in {src} "
                    f"-out {work / 'copy.enc'} && sync"))
                samples.setdefault("dec", []).append(timed(
                    f"openssl enc -d -aes-256-ctr -pbkdf2 -pass pass:bench "
                    f"-in {work / 'copy.enc'} -out /dev/null"))
                (work / "copy.enc").unlink()
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)

        def median(values: list[float]) -> float:
            return sorted(values)[len(values) // 2]

        cp, cat = median(samples["cp"]), median(samples["cat"])
        if have_openssl:
            enc, dec = median(samples["enc"]), median(samples["dec"])
        store = {"seconds": median([x["seconds"] for x in stores]),
                 "growth": max(x["rss_kib"] - x["rss_before_kib"] for x in stores)}
        read = {"seconds": median([x["seconds"] for x in reads]),
                "growth": max(x["rss_kib"] - x["rss_before_kib"] for x in reads)}

        def mibs(seconds: float) -> float:
            return size_mib / seconds

        print(f"file: {size_mib} MiB of text")
        print(f"cp+sync          {mibs(cp):8.0f} MiB/s   (baseline for store)")
        print(f"cat              {mibs(cat):8.0f} MiB/s   (baseline for read)")
        if have_openssl:
            print(f"openssl enc      {mibs(enc):8.0f} MiB/s   {cp / enc:5.2f}x cp+sync")
            print(f"openssl enc -d   {mibs(dec):8.0f} MiB/s   {cat / dec:5.2f}x cat")
        print(f"vault store      {mibs(store['seconds']):8.0f} MiB/s   "
              f"{cp / store['seconds']:5.2f}x cp+sync   (target >= 0.60x)")
        print(f"vault read       {mibs(read['seconds']):8.0f} MiB/s   "
              f"{cat / read['seconds']:5.2f}x cat       (target >= 0.50x)")
        for name, res in (("store", store), ("read", read)):
            growth = res["growth"] / 1024
            print(f"peak RSS growth ({name}): {growth:6.1f} MiB   (target < 64 MiB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
