"""HTTP under load, on gunicorn over loopback.

1. 50 signed-in people (each their own session) mix search, document pages and
   viewer page images for 60 s, driven by `wrk` (a C load generator) from the
   same machine: requests/s, p50/p95/p99 latency, errors.
2. A 1 GiB upload and download through the JSON API, as ratios to the
   service-layer store and read of the same file measured in the same run.

    python benchmarks/bench_http.py          # VAULT_BENCH_SECONDS=60 VAULT_BENCH_MIB=1024
    VAULT_BENCH_THINK_MS=1000 python benchmarks/bench_http.py   # people pause ~1 s
    VAULT_BENCH_SECONDS=0 python benchmarks/bench_http.py       # transfers only, no load test
Targets (issue 5): 0 errors, p95 < 300 ms; HTTP >= 0.5x the service layer.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEOPLE = 50
WORKERS = os.environ.get("VAULT_BENCH_WORKERS", "3")
THREADS = os.environ.get("VAULT_BENCH_THREADS", "8")
THINK_MS = int(os.environ.get("VAULT_BENCH_THINK_MS", "0"))
MIB = 1024 * 1024


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
import sys
from datetime import UTC, datetime
from pathlib import Path
from vault import db
from vault.config import load_settings
from vault.services import accounts, documents, tokens
from vault.services.context import Infra, unit_of_work
s = load_settings(environ={{}}, home=Path({str(home)!r}))
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


def load_test(base: str, work: Path, doc_ids: list[int], seconds: int) -> dict[str, float]:
    cookies = [sign_in(base, f"load{i:02d}") for i in range(PEOPLE)]
    paths = []
    for n, cookie in enumerate(cookies):
        doc = doc_ids[n % len(doc_ids)]
        paths += [(f"/documents/?q={urllib.parse.quote('合同')}", cookie),
                  (f"/documents/{doc}", cookie),
                  (f"/documents/{doc}/view", cookie),
                  (f"/documents/{doc}/pages/1.png", cookie)]
    table = work / "requests.tsv"
    table.write_text("".join(f"{p}\t{c}\n" for p, c in paths))
    script = work / "mix.lua"
    script.write_text(LUA)
    out = subprocess.run(["wrk", "-t2", f"-c{PEOPLE}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(script), base, "--", str(table), str(THINK_MS)],
                         check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON"))
    return json.loads(line[4:])


def upload(port: int, token: str, src: Path) -> tuple[float, int]:
    boundary = "vaultbench" + os.urandom(8).hex()
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\nnotice\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nbench\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"bench.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + src.stat().st_size + len(tail)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.putrequest("POST", "/api/v1/documents")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    conn.send(head)
    with open(src, "rb") as fh:
        while chunk := fh.read(MIB):
            conn.send(chunk)
    conn.send(tail)
    resp = conn.getresponse()
    body = resp.read()
    seconds = time.perf_counter() - start
    assert resp.status == 201, (resp.status, body[:300])
    return seconds, int(json.loads(body)["id"])


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


def download(port: int, token: str, doc_id: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("GET", f"/api/v1/documents/{doc_id}/content",
                 headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    while resp.read(MIB):
        pass
    return time.perf_counter() - start


def main() -> None:
    seconds = int(os.environ.get("VAULT_BENCH_SECONDS", "60"))
    if seconds > 0 and shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs it (Debian package wrk)")
    size_mib = int(os.environ.get("VAULT_BENCH_MIB", "1024"))
    work = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=ROOT))
    server = None
    try:
        home = work / "home"
        home.mkdir()
        doc_ids, token = setup(home)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "VAULT_HOME": str(home)}
        server = subprocess.Popen(
            [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", WORKERS,
             "--worker-class", "gthread", "--threads", THREADS, "--timeout", "600",
             "--log-level", "warning", "vault:create_app()"],
            env=env, cwd=work)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        if seconds > 0:
            result = load_test(base, work, doc_ids, seconds)
            print(f"load: {PEOPLE} signed-in people, {seconds} s, search + document page + "
                  f"viewer page + page image (gunicorn gthread {WORKERS}x{THREADS}, wrk on the "
                  f"same 2 cores, think time {THINK_MS} ms)")
            print(f"  {result['requests'] / result['seconds']:8.1f} requests/s   "
                  f"p50 {result['p50']:.0f} ms   p95 {result['p95']:.0f} ms   "
                  f"p99 {result['p99']:.0f} ms   errors {result['errors']} "
                  f"(target: 0 errors, p95 < 300 ms)")

        src = work / "big.txt"
        line = b"Vault HTTP benchmark line of plain text 0123456789 abcdefghijklmnop\n"
        block = (line * (MIB // len(line) + 1))[:MIB]
        with open(src, "wb") as fh:
            for _ in range(size_mib):
                fh.write(block)
        if shutil.which("curl"):
            up, new_id = curl_upload(port, token, src, work)
            down = curl_download(port, token, new_id, work)
            client = "curl"
        else:
            up, new_id = upload(port, token, src)
            down = download(port, token, new_id)
            client = "Python http.client"
        server.terminate()
        server.wait(30)
        server = None
        svc_home = work / "svc"
        shutil.copytree(home, svc_home)
        bench = ROOT / "benchmarks" / "bench_storage.py"
        store = json.loads(subprocess.run(
            [sys.executable, bench, "--child", "store", str(svc_home), str(src)],
            check=True, capture_output=True, text=True, env={**env, "VAULT_HOME": str(svc_home)},
        ).stdout.splitlines()[-1])["seconds"]
        read = json.loads(subprocess.run(
            [sys.executable, bench, "--child", "read", str(svc_home), str(src)],
            check=True, capture_output=True, text=True, env={**env, "VAULT_HOME": str(svc_home)},
        ).stdout.splitlines()[-1])["seconds"]
        print(f"transfer of {size_mib} MiB over HTTP (API, bearer token, client {client}):")
        print(f"  upload   {size_mib / up:7.0f} MiB/s   {store / up:5.2f}x service-layer store "
              f"({size_mib / store:.0f} MiB/s)   (target >= 0.5x)")
        print(f"  download {size_mib / down:7.0f} MiB/s   {read / down:5.2f}x service-layer read "
              f"({size_mib / read:.0f} MiB/s)   (target >= 0.5x)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
