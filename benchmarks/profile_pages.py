"""Time (and optionally profile) the pages every signed-in person sees most — the home
page, the documents list, a document's page — in-process through the Flask test
client, over the demo group (`vault init` + `vault demo`), as a member of staff
(wu.yuangong) and as an HQ executive (wang.zong, enrolled in a second factor through
the real pages), on SQLite and on a throw-away PostgreSQL (tests/servers.py).
A tool for finding what a page costs, not a benchmark (`make bench` does not run it).

    python benchmarks/profile_pages.py [N]                   # N=200 requests of each page
    VAULT_PROFILE_DB=sqlite python benchmarks/profile_pages.py     # one database only
    VAULT_PROFILE=1 VAULT_PROFILE_TOP=40 python benchmarks/profile_pages.py 200
    VAULT_PROFILE_PAGES=home,list python benchmarks/profile_pages.py
    VAULT_PROFILE_SQL=1 python benchmarks/profile_pages.py 5      # and the SQL of one request

Prints, per database × person × page, the wall and CPU time per request (median of
five rounds of N/5), and with VAULT_PROFILE=1 the top functions by cumulative time.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

PEOPLE = {"staff": "wu.yuangong", "executive": "wang.zong"}
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECRET_RE = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7]+)<')


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    from servers import create_database, postgres

    with postgres("fsync=off") as base:
        yield create_database(base, "pages")


def install(home: Path, url: str | None) -> dict[str, str]:
    env = {**os.environ, "VAULT_HOME": str(home)}
    if url:
        env["VAULT_DATABASE_URL"] = url
    for step in ("init", "demo"):
        subprocess.run([BIN / "vault", step], env=env, check=True, capture_output=True)
    logins = (home / "keys" / "demo-logins.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("\t")[0]: line.split("\t")[1] for line in logins}


def sign_in(app, username: str, password: str):  # type: ignore[no-untyped-def]
    import pyotp

    client = app.test_client()
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True))
    assert token
    resp = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token.group(1)})
    assert resp.status_code == 302, resp.status_code
    if resp.location.endswith("/login/enrol"):
        page = client.get("/login/enrol").get_data(as_text=True)
        secret, token = SECRET_RE.search(page), TOKEN_RE.search(page)
        assert secret and token
        resp = client.post("/login/enrol", data={"code": pyotp.TOTP(secret.group(1)).now(),
                                                 "csrf_token": token.group(1)})
        assert resp.status_code == 200
    return client


def show_statements(app, client, path: str) -> None:  # type: ignore[no-untyped-def]
    """Print the SQL statements one request of ``path`` sends (VAULT_PROFILE_SQL=1)."""
    from sqlalchemy import event

    seen: list[str] = []

    def note(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split())[:160])

    engine = app.extensions["vault.engine"]
    event.listen(engine, "before_cursor_execute", note)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    print(f"-- {path}: {len(seen)} statements")
    for line in seen:
        print("   ", line)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    kinds = os.environ.get("VAULT_PROFILE_DB", "sqlite,postgresql").split(",")
    pages = os.environ.get("VAULT_PROFILE_PAGES", "home,list,document").split(",")
    profiled = bool(os.environ.get("VAULT_PROFILE"))
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="vault-pages-") as tmp, database(kind) as url:
            home = Path(tmp)
            passwords = install(home, url)
            os.environ["VAULT_HOME"] = str(home)
            os.environ["VAULT_HTTPS"] = "0"
            if url:
                os.environ["VAULT_DATABASE_URL"] = url
            from vault import create_app

            app = create_app()
            for who, username in PEOPLE.items():
                client = sign_in(app, username, passwords[username])
                listing = client.get("/documents/").get_data(as_text=True)
                doc = re.search(r'href="/documents/(\d+)"', listing)
                assert doc, "no document listed"
                paths = {"home": "/", "list": "/documents/", "document": f"/documents/{doc[1]}"}
                for page in pages:
                    path = paths[page]
                    for _ in range(5):  # warm caches and imports
                        assert client.get(path).status_code == 200
                    if os.environ.get("VAULT_PROFILE_SQL"):
                        show_statements(app, client, path)
                    prof = cProfile.Profile()
                    walls, cpus = [], []
                    for _round in range(5):
                        t0, c0 = time.perf_counter(), time.process_time()
                        if profiled:
                            prof.enable()
                        for _ in range(n // 5):
                            resp = client.get(path)
                            assert resp.status_code == 200, (path, resp.status_code)
                        prof.disable()
                        walls.append((time.perf_counter() - t0) / (n // 5) * 1000)
                        cpus.append((time.process_time() - c0) / (n // 5) * 1000)
                    print(f"{kind:10} {who:9} {page:8} {statistics.median(walls):6.2f} ms wall "
                          f"{statistics.median(cpus):6.2f} ms CPU per request  "
                          f"({n} requests{', under cProfile' if profiled else ''}; "
                          f"load {os.getloadavg()[0]:.1f})", flush=True)
                    if profiled:
                        out = io.StringIO()
                        stats = pstats.Stats(prof, stream=out)
                        stats.sort_stats(os.environ.get("VAULT_PROFILE_SORT", "cumulative"))
                        stats.print_stats(int(os.environ.get("VAULT_PROFILE_TOP", "40")))
                        print("\n".join(line for line in out.getvalue().splitlines()[6:]
                                        if line.strip()))
            app.extensions["vault.engine"].dispose()
            os.environ.pop("VAULT_DATABASE_URL", None)


if __name__ == "__main__":
    main()
