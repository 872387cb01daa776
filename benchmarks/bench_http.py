"""HTTP under load over loopback, on the server `vault serve` runs and, in the
same run, on the old configuration (gunicorn, 2 sync workers) and candidates.

For each server (VAULT_BENCH_SERVERS, default ``old,serve``):
1. slow clients: 20 (and 200) connections trickling a POST body at 1 byte/s;
   does /healthz still answer, and how fast (issue 12);
2. 50 signed-in people (each their own session) mix search, document pages and
   viewer page images for VAULT_BENCH_SECONDS, driven by `wrk` (a C load
   generator) from the same machine: requests/s, p50/p95/p99 latency, errors;
3. an upload and a download of VAULT_BENCH_MIB through the JSON API (curl), and
   the server's peak memory meanwhile; as ratios to the service-layer store and
   read of the same file, measured in the same run.

    python benchmarks/bench_http.py          # VAULT_BENCH_SECONDS=30 VAULT_BENCH_MIB=512
    VAULT_BENCH_THINK_MS=1000 python benchmarks/bench_http.py   # people pause ~1 s
    VAULT_BENCH_SECONDS=0 python benchmarks/bench_http.py       # transfers only, no load test
    VAULT_BENCH_SERVERS=old,gthread,granian,serve python benchmarks/bench_http.py
    VAULT_BENCH_SERVERS=serve,serve-w2-t4,serve-w3-t8 ...  # vault serve --workers W --threads N
    VAULT_BENCH_NODES=2 VAULT_BENCH_DB=postgresql ...   # also the same mix over two
        # nodes of each server (one PostgreSQL, one storage folder and keys), 25 people
        # each; on SQLite two nodes under load meet "database is locked"

Before the load test, each kind of request of the mix is timed one at a time (median
and slowest of VAULT_BENCH_ONE=20), the figures the load test's are compared with.
Targets (issue 5): 0 errors, p95 < 300 ms; HTTP >= 0.5x the service layer.
Target (issue 12): /healthz answers with 20 slow clients connected.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEOPLE = 50
THINK_MS = int(os.environ.get("VAULT_BENCH_THINK_MS", "0"))
MIB = 1024 * 1024


def servers(port: int) -> dict[str, tuple[str, list[str]]]:
    """Name -> (description, command) of the servers that can be compared."""
    gunicorn = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "--timeout", "600"]
    variants = {}
    for workers in (1, 2, 3, 4):
        for n in (2, 4, 6, 8, 16, 32, 64):
            variants[f"serve-w{workers}-t{n}"] = (
                f"`vault serve --workers {workers} --threads {n}`",
                [str(BIN / "vault"), "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--plain-http", "--workers", str(workers), "--threads", str(n)])
    return {
        **variants,
        "old": ("gunicorn, 2 sync workers (vault serve before issue 12)",
                [*gunicorn, "--workers", "2", "vault:create_app()"]),
        "gthread": ("gunicorn gthread, 2 workers x 32 threads",
                    [*gunicorn, "--workers", "2", "--worker-class", "gthread", "--threads", "32",
                     "vault:create_app()"]),
        "granian": ("granian WSGI, 2 workers (defaults)",
                    [str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                     "--port", str(port), "--workers", "2", "--log-level", "warning",
                     "--factory", "vault:create_app"]),
        "serve": ("`vault serve` as shipped",
                  [str(BIN / "vault"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--plain-http"]),
    }


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes (/proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += [c for c, parent in parents.items() if parent == p]
    return total


class PeakRss:
    """Samples a process tree's memory every 0.2 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def slow_clients(port: int, n: int, seconds: float = 8) -> tuple[int, int, float]:
    """Open ``n`` connections trickling a POST body at 1 byte/s, then ask /healthz
    once a second: (answered, asked, slowest answer in s; inf if one timed out)."""
    socks: list[socket.socket] = []
    stop = threading.Event()
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /login HTTP/1.1\r\nHost: bench\r\nContent-Type: "
                      b"application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nu=")
            socks.append(s)

        def trickle() -> None:
            while not stop.wait(1):
                for s in socks:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass

        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(1.5)
        answered, asked, slowest = 0, 0, 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            asked += 1
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()  # noqa: S310
                answered += 1
                slowest = max(slowest, time.perf_counter() - t0)
            except OSError:
                slowest = float("inf")
            time.sleep(1)
        return answered, asked, slowest
    finally:
        stop.set()
        for s in socks:
            s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(home: Path) -> tuple[list[int], str]:
    """Demo group, 50 staff of SZ/CS, an API token; returns visible doc ids and the token."""
    env = {**os.environ, "VAULT_HOME": str(home)}
    subprocess.run([BIN / "vault", "init"], env=env, check=True, capture_output=True)
    subprocess.run([BIN / "vault", "demo"], env=env, check=True, capture_output=True)
    script = f"""
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from vault import db
from vault.config import load_settings
from vault.services import accounts, documents, tokens
from vault.services.context import Infra, unit_of_work
s = load_settings(environ={{k: v for k, v in os.environ.items() if k == "VAULT_DATABASE_URL"}},
                  home=Path({str(home)!r}))
infra = Infra.build(s, db.make_sessionmaker(db.make_engine(s.database_url)))
with unit_of_work(infra, None) as ctx:
    for i in range({PEOPLE}):
        accounts.create_user(ctx, f"load{{i:02d}}", f"Load {{i}}", "SZ", "CS",
                             frozenset({{accounts.Role.STAFF}}), "load-password-{PEOPLE}")
    accounts.create_user(ctx, "bench", "Bench", "SZ", "CS", frozenset({{accounts.Role.STAFF}}),
                         "load-password-{PEOPLE}")
with unit_of_work(infra, "load00") as ctx:
    page = documents.search(ctx, documents.Query(per_page=500))
    ids = [d.id for d in page.items
           if d.versions and d.versions[-1].media_type in ("application/pdf", "image/png")]
    _, token = tokens.create(ctx, "bench")
print(",".join(map(str, ids)))
print(token)
"""
    out = subprocess.run([BIN / "python", "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return [int(x) for x in out[0].split(",")], out[1]


def sign_in(base: str, username: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # The same User-Agent as wrk's requests: Flask-Login's strong session
    # protection ties the session to it.
    opener.addheaders = [("User-Agent", "vault-bench")]
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on /login"
    data = urllib.parse.urlencode({"username": username, "password": f"load-password-{PEOPLE}",
                                   "csrf_token": token.group(1)}).encode()
    opener.open(f"{base}/login", data)
    cookies = [f"{c.name}={c.value}" for c in jar]
    assert any(c.startswith("vault_session=") for c in cookies), f"{username} not signed in"
    return "; ".join(cookies)


LUA = r"""
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
local reqs = {}
local i = 0
not_ok = 0
think_ms = 0
init = function(args)
  think_ms = tonumber(args[2]) or 0
  for line in io.lines(args[1]) do
    local path, cookie = line:match("([^\t]+)\t(.+)")
    reqs[#reqs + 1] = wrk.format("GET", path, {["Cookie"] = cookie, ["User-Agent"] = "vault-bench"})
  end
end
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
-- Think time between a person's requests (ms; 0: back to back, the worst case).
delay = function()
  if think_ms > 0 then
    return math.random(math.floor(think_ms / 2), math.floor(think_ms * 3 / 2))
  end
  return 0
end
-- Anything but 200 is an error here, a redirect to the sign-in page included.
response = function(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("not_ok") end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.timeout + bad
  io.write(string.format("JSON{\"requests\":%d,\"seconds\":%f,\"p50\":%f,\"p95\":%f,\"p99\":%f,\"errors\":%d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, errors))
end
"""


def mix(doc: int) -> list[tuple[str, str]]:
    """The four requests of a person's round: (kind, path)."""
    return [("search", f"/documents/?q={urllib.parse.quote('合同')}"),
            ("document page", f"/documents/{doc}"),
            ("viewer page", f"/documents/{doc}/view"),
            ("page image", f"/documents/{doc}/pages/1.png")]


def one_at_a_time(base: str, doc_ids: list[int], repeat: int) -> dict[str, tuple[float, float]]:
    """Each kind of request alone, ``repeat`` times in a row: kind -> (median, slowest) ms."""
    cookie = sign_in(base, "load00")
    times: dict[str, list[float]] = {}
    for i in range(repeat):
        for kind, path in mix(doc_ids[i % len(doc_ids)]):
            req = urllib.request.Request(base + path, headers={  # noqa: S310
                "Cookie": cookie, "User-Agent": "vault-bench"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
                resp.read()
                assert resp.status == 200, (path, resp.status)
            times.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
    return {k: (statistics.median(v), max(v)) for k, v in times.items()}


def _wrk(base: str, work: Path, paths: list[tuple[str, str]], people: int, seconds: int,
         tag: str) -> subprocess.Popen[str]:
    table = work / f"requests{tag}.tsv"
    table.write_text("".join(f"{p}\t{c}\n" for p, c in paths))
    script = work / "mix.lua"
    script.write_text(LUA)
    return subprocess.Popen(["wrk", "-t2", f"-c{people}", f"-d{seconds}s", "--timeout", "10s",
                             "-s", str(script), base, "--", str(table), str(THINK_MS)],
                            stdout=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"wrk failed ({proc.returncode})")
    line = next(x for x in out.splitlines() if x.startswith("JSON"))
    return dict(json.loads(line[4:]))


def load_test(bases: list[str], work: Path, doc_ids: list[int],
              seconds: int) -> dict[str, float]:
    """PEOPLE people spread evenly over the nodes in ``bases``, each signed in once on
    the first node (a session works on every node: the shared secret key). With
    several nodes: requests summed, the slowest node's percentiles."""
    cookies = [sign_in(bases[0], f"load{i:02d}") for i in range(PEOPLE)]
    procs = []
    for k, base in enumerate(bases):
        mine = range(k, PEOPLE, len(bases))
        paths = [(path, cookies[n]) for n in mine for _kind, path in mix(doc_ids[n % len(doc_ids)])]
        procs.append(_wrk(base, work, paths, len(mine), seconds, str(k)))
    results = [_result(p) for p in procs]
    merged = {key: max(r[key] for r in results) for key in ("seconds", "p50", "p95", "p99")}
    merged.update(requests=sum(r["requests"] for r in results),
                  errors=sum(r["errors"] for r in results))
    return merged


def curl_upload(port: int, token: str, src: Path, work: Path) -> tuple[float, int]:
    """The same upload with curl (a C client, like wrk), so the client is not the limit."""
    header = work / "auth.header"
    header.write_text(f"Authorization: Bearer {token}\n")
    start = time.perf_counter()
    out = subprocess.run(
        ["curl", "-sS", "-H", f"@{header}", "-F", "category=notice", "-F", "title=bench",
         "-F", f"file=@{src};type=text/plain", f"http://127.0.0.1:{port}/api/v1/documents"],
        check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, int(json.loads(out)["id"])


def curl_download(port: int, token: str, doc_id: int, work: Path) -> float:
    header = work / "auth.header"
    start = time.perf_counter()
    subprocess.run(["curl", "-sS", "-f", "-o", os.devnull, "-H", f"@{header}",
                    f"http://127.0.0.1:{port}/api/v1/documents/{doc_id}/content"], check=True)
    return time.perf_counter() - start


def start(cmd: list[str], env: dict[str, str], work: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(cmd, env=env, cwd=work)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310
            return server
        except OSError:
            if server.poll() is not None:
                sys.exit(f"the server exited: {' '.join(cmd)}")
            time.sleep(0.2)
    stop(server)
    sys.exit(f"the server did not answer /healthz: {' '.join(cmd)}")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def _load() -> str:
    """The machine's 1-minute load average (other work on the same cores)."""
    return f"{os.getloadavg()[0]:.1f}"


def _slow_text(result: tuple[int, int, float]) -> str:
    answered, asked, slowest = result
    worst = "timed out" if slowest == float("inf") else f"slowest {slowest * 1000:.0f} ms"
    return f"{answered}/{asked} answered, {worst}"


def main() -> None:
    seconds = int(os.environ.get("VAULT_BENCH_SECONDS", "30"))
    if seconds > 0 and shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs it (Debian package wrk)")
    size_mib = int(os.environ.get("VAULT_BENCH_MIB", "512"))
    names = [n.strip() for n in os.environ.get("VAULT_BENCH_SERVERS", "old,serve").split(",")]
    nodes = int(os.environ.get("VAULT_BENCH_NODES", "1"))
    one = int(os.environ.get("VAULT_BENCH_ONE", "20"))
    work = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=ROOT))
    server = None
    stack = contextlib.ExitStack()
    if os.environ.get("VAULT_BENCH_DB") == "postgresql":
        # Several nodes share a database that takes concurrent writers: a throw-away
        # PostgreSQL (tests/servers.py); every process below inherits its URL.
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import create_database, postgres

        base = stack.enter_context(postgres())
        os.environ["VAULT_DATABASE_URL"] = create_database(base, "bench")
    try:
        home = work / "home"
        home.mkdir()
        doc_ids, token = setup(home)
        env = {**os.environ, "VAULT_HOME": str(home)}
        src = work / "big.txt"
        line = b"Vault HTTP benchmark line of plain text 0123456789 abcdefghijklmnop\n"
        block = (line * (MIB // len(line) + 1))[:MIB]
        with open(src, "wb") as fh:
            for _ in range(size_mib):
                fh.write(block)
        rows: dict[str, dict[str, object]] = {}
        for name in names:
            port = free_port()
            description, cmd = servers(port)[name]
            print(f"== {name}: {description}", flush=True)
            server = start(cmd, env, work, port)
            row: dict[str, object] = {"description": description}
            row["slow20"] = slow_clients(port, 20)
            row["slow200"] = slow_clients(port, 200)
            print(f"  slow clients: 20 -> /healthz {_slow_text(row['slow20'])};  "  # type: ignore[arg-type]
                  f"200 -> {_slow_text(row['slow200'])}", flush=True)  # type: ignore[arg-type]
            stop(server)  # a fresh server: slow clients must not weigh on the load test
            server = start(cmd, env, work, port)
            alone = one_at_a_time(f"http://127.0.0.1:{port}", doc_ids, one)
            print("  one at a time: " + ";  ".join(
                f"{kind} {med:.0f} ms (slowest {worst:.0f})"
                for kind, (med, worst) in alone.items()), flush=True)
            if seconds > 0:
                result = load_test([f"http://127.0.0.1:{port}"], work, doc_ids, seconds)
                row["load"] = result
                print(f"  load, 1 node (load average {_load()}): "
                      f"{result['requests'] / result['seconds']:8.1f} requests/s   "
                      f"p50 {result['p50']:.0f} ms   p95 {result['p95']:.0f} ms   "
                      f"p99 {result['p99']:.0f} ms   errors {result['errors']:.0f}", flush=True)
            if seconds > 0 and nodes > 1:
                ports = [free_port() for _ in range(nodes - 1)]
                others = [start(servers(p)[name][1], env, work, p) for p in ports]
                try:
                    result = load_test([f"http://127.0.0.1:{p}" for p in [port, *ports]],
                                       work, doc_ids, seconds)
                finally:
                    for other in others:
                        stop(other)
                print(f"  load, {nodes} nodes (load average {_load()}): "
                      f"{result['requests'] / result['seconds']:8.1f} requests/s   "
                      f"p50 {result['p50']:.0f} ms   p95 {result['p95']:.0f} ms   "
                      f"p99 {result['p99']:.0f} ms   errors {result['errors']:.0f} "
                      f"(the slowest node's percentiles)", flush=True)
            before = tree_rss(server.pid)
            with PeakRss(server.pid) as mem:
                up, new_id = curl_upload(port, token, src, work)
            down = curl_download(port, token, new_id, work)
            row.update(up=up, down=down, rss=mem.peak - before)
            grown = (mem.peak - before) / MIB
            print(f"  upload {size_mib / up:6.0f} MiB/s (server memory +{grown:.0f} MiB "
                  f"meanwhile)   download {size_mib / down:6.0f} MiB/s", flush=True)
            stop(server)
            server = None
            rows[name] = row

        if os.environ.get("VAULT_BENCH_DB") == "postgresql":
            print("\n(the service-layer transfer ratios are measured on SQLite runs only)")
            return
        svc_home = work / "svc"
        shutil.copytree(home, svc_home)
        bench = ROOT / "benchmarks" / "bench_storage.py"
        svc_env = {**env, "VAULT_HOME": str(svc_home)}
        store = json.loads(subprocess.run(
            [sys.executable, bench, "--child", "store", str(svc_home), str(src)],
            check=True, capture_output=True, text=True, env=svc_env,
        ).stdout.splitlines()[-1])["seconds"]
        read = json.loads(subprocess.run(
            [sys.executable, bench, "--child", "read", str(svc_home), str(src)],
            check=True, capture_output=True, text=True, env=svc_env,
        ).stdout.splitlines()[-1])["seconds"]
        print(f"\nsummary: {PEOPLE} signed-in people for {seconds} s (search + document page + "
              f"viewer page + page image, wrk on the same 2 cores, think time {THINK_MS} ms); "
              f"{size_mib} MiB over the API with curl; service layer: store "
              f"{size_mib / store:.0f} MiB/s, read {size_mib / read:.0f} MiB/s")
        base = rows.get("old")
        for name, row in rows.items():
            up, down = float(row["up"]), float(row["down"])  # type: ignore[arg-type]
            text = (f"  {name:8} upload {size_mib / up:5.0f} MiB/s ({store / up:4.2f}x store)  "
                    f"download {size_mib / down:5.0f} MiB/s ({read / down:4.2f}x read)  "
                    f"memory +{int(row['rss']) / MIB:4.0f} MiB")  # type: ignore[call-overload]
            load = row.get("load")
            if isinstance(load, dict):
                text += (f"  {load['requests'] / load['seconds']:5.1f} req/s  p95 "
                         f"{load['p95']:6.0f} ms  errors {load['errors']:.0f}")
            text += f"  slow clients 20: {_slow_text(row['slow20'])}"  # type: ignore[arg-type]
            if base is not None and name != "old":
                text += f"  | upload {float(base['up']) / up:4.2f}x old"  # type: ignore[arg-type]
                base_load = base.get("load")
                if isinstance(load, dict) and isinstance(base_load, dict) and load["p95"] > 0:
                    text += f", p95 {base_load['p95'] / load['p95']:4.2f}x better than old"
            print(text)
    finally:
        if server is not None:
            stop(server)
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
