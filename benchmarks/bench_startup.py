"""Start-up of `vault` commands, as ratios to `python -c pass` measured in the same run.

    python benchmarks/bench_startup.py [--runs N]

Each command runs N times as a fresh process (wall clock, median and best). Commands:
``vault --help`` (no database: must not import Flask, SQLAlchemy, pypdf, reportlab or
Pillow) and ``vault can-i`` on a SQLite demo group (one policy question, read through
the standard library's sqlite3: vault/services/can_i.py; PostgreSQL takes the ORM path).
Baselines: ``python -c pass`` (the interpreter) and ``python -c "import sqlalchemy.orm"``
(the floor of any command that opens the database through the ORM, which `vault can-i`
on SQLite no longer pays).

Target (issue 13): both commands start in under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
VAULT = str(Path(PYTHON).with_name("vault"))


def timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """(median, best) wall seconds of ``cmd`` over ``runs`` fresh processes."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if not Path(VAULT).exists():
        sys.exit(f"{VAULT} is missing: run `make install-test` first")
    with tempfile.TemporaryDirectory(prefix="vault-bench-startup-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**os.environ, "VAULT_HOME": str(home),
               "VAULT_DATABASE_URL": f"sqlite:///{home / 'vault.db'}"}
        for setup in (["init"], ["demo"]):
            subprocess.run([VAULT, *setup], env=env, check=True, stdout=subprocess.DEVNULL)
        can_i = [VAULT, "can-i", "view", "1", "--as", "wang.zong"]
        if subprocess.run(can_i, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit("`vault can-i` failed on the demo group")
        cases = [
            ("python -c pass", [PYTHON, "-c", "pass"]),
            ("import sqlalchemy.orm", [PYTHON, "-c", "import sqlalchemy.orm"]),
            ("vault --help", [VAULT, "--help"]),
            ("vault can-i view 1", can_i),
        ]
        results = {name: timed(cmd, env, args.runs) for name, cmd in cases}
    base = results["python -c pass"][0]
    print(f"{args.runs} runs each; wall seconds; ratio = median / median of `python -c pass`")
    for name, (median, best) in results.items():
        print(f"{name:24s} median {median:6.3f} s  best {best:6.3f} s  {median / base:6.1f}x")
    print("target: vault --help and vault can-i under 0.3 s")


if __name__ == "__main__":
    main()
