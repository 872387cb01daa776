"""Profile the four requests of bench_http's mix in-process (no server, no network):
the Flask test client of a real app over a demo installation (bench_http's setup),
each kind of request ``N`` times under cProfile; prints the CPU per request and the
top functions by cumulative time. A tool for finding what costs, not a benchmark
(`make bench` does not run it).

    python benchmarks/profile_mix.py [N] [kind ...]     # N=200; kinds: search document viewer image
    VAULT_PROFILE_HOME=/tmp/x python benchmarks/profile_mix.py   # reuse an installation
    VAULT_PROFILE_OFF=1 python benchmarks/profile_mix.py      # CPU per request, no profiler
    VAULT_PROFILE_SORT=tottime VAULT_PROFILE_TOP=60 python benchmarks/profile_mix.py 100 document
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_http  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    kinds = sys.argv[2:] or ["search", "document", "viewer", "image"]
    home_env = os.environ.get("VAULT_PROFILE_HOME")
    if home_env and (Path(home_env) / "ids").exists():
        home = Path(home_env)
        doc_ids = [int(x) for x in (home / "ids").read_text().split(",")]
    else:
        home = Path(home_env) if home_env else Path(tempfile.mkdtemp(prefix="vault-profile-"))
        home.mkdir(parents=True, exist_ok=True)
        doc_ids, _token = bench_http.setup(home)
        (home / "ids").write_text(",".join(map(str, doc_ids)))
    os.environ["VAULT_HOME"] = str(home)
    os.environ["VAULT_HTTPS"] = "0"
    from vault import create_app

    app = create_app()
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "vault-bench"
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    resp = client.post("/login", data={"username": "load00", "password": "load-password-50",
                                       "csrf_token": token.group(1)})
    assert resp.status_code in (302, 303), resp.status_code
    paths = {"search": lambda d: f"/documents/?q={urllib.parse.quote('合同')}",
             "document": lambda d: f"/documents/{d}",
             "viewer": lambda d: f"/documents/{d}/view",
             "image": lambda d: f"/documents/{d}/pages/1.png"}
    for kind in kinds:
        for d in doc_ids[:3]:  # warm caches and imports
            assert client.get(paths[kind](d)).status_code == 200
        prof = cProfile.Profile()
        profiled = not os.environ.get("VAULT_PROFILE_OFF")  # 1: time only, no profiler
        t0, c0 = time.perf_counter(), time.process_time()
        if profiled:
            prof.enable()
        for i in range(n):
            r = client.get(paths[kind](doc_ids[i % len(doc_ids)]))
            assert r.status_code == 200, (kind, r.status_code)
        prof.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"== {kind}: {wall / n * 1000:.1f} ms wall, {cpu / n * 1000:.1f} ms CPU per request "
              f"({'under cProfile' if profiled else 'no profiler'}; {len(doc_ids)} documents; "
              f"load average {os.getloadavg()[0]:.1f})")
        if not profiled:
            continue
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats(os.environ.get("VAULT_PROFILE_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("VAULT_PROFILE_TOP", "45")))
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


if __name__ == "__main__":
    main()
