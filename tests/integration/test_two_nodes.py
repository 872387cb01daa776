"""Two app nodes: two real `vault serve` processes (granian) on different ports
over one PostgreSQL and one SeaweedFS, sharing only what docs/deploy.md says must be
shared (the database, the bucket, the keys folder with the secret key). Each node
has its own home (upload spool, audit mirror).

- a file uploaded through node A is viewed and downloaded through node B;
- a session signed in on A works on B; signing out on B ends it on A;
- sign-in failures count across nodes (state in the database): the pause holds on both;
- 20 concurrent writers against both nodes, released together, leave one valid
  audit chain (no gap, no fork): `vault audit verify` passes on each node;
- `vault jobs run` on both nodes at once runs each job once.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from pagetext import csrf_of  # noqa: I001 - tests/pagetext.py
from people import PASSWORD, PEOPLE  # noqa: I001 - tests/people.py
from servers import S3Server, create_database
from servers import free_port as _free_port
from sqlalchemy import func, select

from vault import db
from vault.actions import Action
from vault.audit.log import AuditLog
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.config import load_settings
from vault.crypto.keyring import Keyring
from vault.models import Document, User
from vault.policy import Category, Level, Period
from vault.runtime import init_runtime
from vault.services import accounts, documents, samples, tokens
from vault.services.context import Infra, unit_of_work

BIN = Path(sys.executable).parent
START_SECONDS = 60
WRITERS = 20
DOWNLOADS_PER_WRITER = 5  # 100 audited downloads racing for the chain's head


@dataclass
class Node:
    name: str
    base: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path

    def vault(self, *args: str) -> Result:
        """`vault ARGS` in-process with this node's environment (the nodes' own
        processes are the servers and `vault jobs run` below)."""
        return CliRunner().invoke(main, list(args), env=self.env)


@dataclass
class Cluster:
    a: Node
    b: Node
    infra: Infra  # in-process view of the same database, bucket and keys (for checks)


def _wait_until_up(node: Node) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            pytest.fail(f"node {node.name} exited:\n{node.log.read_text()[-3000:]}")
        try:
            if requests.get(f"{node.base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(f"node {node.name} did not answer within {START_SECONDS} s:\n"
                f"{node.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg_server: str,
            s3_server: S3Server) -> Iterator[Cluster]:
    """One cluster for the module (starting two nodes is slow); each test uses its own
    people and documents."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _cluster(tmp_path_factory.mktemp("nodes"), pg_server, s3_server,
                            monkeypatch)


def _cluster(tmp_path: Path, pg_server: str, s3_server: S3Server,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    from argon2 import PasswordHasher

    # As tests/conftest.py's cheap_argon2 (function-scoped, so not yet in force here):
    # the nodes verify with the parameters stored in the hash.
    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    url = create_database(pg_server, "t_" + uuid.uuid4().hex[:12], template="vault_template")
    place = s3_server.new_place()  # a prefix in a bucket that has its volumes already
    shared_keys = tmp_path / "shared-keys"
    common = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AWS_"))},
        **s3_server.env(),
        "VAULT_DATABASE_URL": url,
        "VAULT_STORAGE_URL": f"s3://{place}/vault",
        "VAULT_KEYS_DIR": str(shared_keys),
        "VAULT_REQUIRE_2FA_ROLES": "none",
    }
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    envs = {}
    for name in ("a", "b"):
        home = tmp_path / f"node-{name}"
        home.mkdir()
        envs[name] = {**common, "VAULT_HOME": str(home)}
        init_runtime(load_settings(environ=envs[name]))
    settings = load_settings(environ=envs["a"])
    Keyring.create_first(settings)
    AuditLog.init_keys(settings)
    nodes: list[Node] = []
    engine = db.make_engine(url)
    try:
        # The nodes start (about 1.5 s each, in parallel) while this process adds the
        # people: they need the keys above, not the people, until the first request.
        for name in ("a", "b"):
            port = _free_port()
            log = tmp_path / f"node-{name}.log"
            with open(log, "wb") as fh:
                proc = subprocess.Popen(
                    [str(BIN / "vault"), "serve", "--host", "127.0.0.1", "--port", str(port),
                     # One worker each: the nodes are two processes already, and every
                     # extra worker is one more start-up of the application.
                     "--workers", "1", "--plain-http"],  # loopback without TLS
                    env=envs[name], stdout=fh, stderr=subprocess.STDOUT,
                    cwd=envs[name]["VAULT_HOME"])
            nodes.append(Node(name, f"http://127.0.0.1:{port}", envs[name], proc, log))
        infra = Infra.build(settings, db.make_sessionmaker(engine))
        with db.transaction(infra.sessions) as s:
            accounts.add_company(s, "HQ", "总公司", hq=True)
            accounts.add_company(s, "SZ", "深圳公司")
            accounts.add_company(s, "GZ", "广州公司")
            for company, dept in {(c, d) for c, d, _ in PEOPLE.values()}:
                accounts.add_department(s, company, dept, f"{company}-{dept}")
            for username, (company, dept, roles) in PEOPLE.items():
                accounts.add_user(s, username, username, company, dept,
                                  accounts.parse_roles(roles), PASSWORD)
        for node in nodes:
            _wait_until_up(node)
        yield Cluster(nodes[0], nodes[1], infra)
    finally:
        for node in nodes:
            node.proc.send_signal(signal.SIGINT)  # quick shutdown
        for node in nodes:
            try:
                node.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        engine.dispose()


def csrf(http: requests.Session, url: str) -> str:
    return csrf_of(http.get(url).text, url)


def sign_in(http: requests.Session, base: str, username: str,
            password: str = PASSWORD) -> requests.Response:
    token = csrf(http, f"{base}/login")
    return http.post(f"{base}/login", data={"username": username, "password": password,
                                            "csrf_token": token}, allow_redirects=False)


def signed_in(http: requests.Session, base: str) -> bool:
    resp = http.get(f"{base}/documents/", allow_redirects=False)
    return resp.status_code == 200


def api_token(infra: Infra, username: str) -> str:
    with unit_of_work(infra, username) as ctx:
        return tokens.create(ctx, "node test", datetime.now(UTC) + timedelta(days=1))[1]


def count(infra: Infra, action: Action) -> int:
    with infra.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == action.value)) or 0)


# ---------------------------------------------------------------------------


def test_upload_on_a_view_on_b_and_one_session_for_both(cluster: Cluster) -> None:
    a, b = cluster.a.base, cluster.b.base
    http = requests.Session()
    assert sign_in(http, a, "boss").status_code == 302
    assert signed_in(http, a) and signed_in(http, b)  # the cookie of A opens B

    pdf = samples.pdf_pages("两节点测试", pages=2)
    auth = {"Authorization": f"Bearer {api_token(cluster.infra, 'boss')}"}
    resp = requests.post(f"{a}/api/v1/documents", headers=auth,
                         data={"title": "两节点合同", "category": "contract"},
                         files={"file": ("contract.pdf", pdf, "application/pdf")}, timeout=60)
    assert resp.status_code == 201, resp.text
    doc_id = resp.json()["id"]
    # Through B: the document page, the viewer, a page image and the download.
    assert http.get(f"{b}/documents/{doc_id}").status_code == 200
    assert http.get(f"{b}/documents/{doc_id}/view").status_code == 200
    page = http.get(f"{b}/documents/{doc_id}/pages/1.png")
    assert page.status_code == 200 and page.content[:8] == b"\x89PNG\r\n\x1a\n"
    # A notice (internal: downloadable without a copy approval) up through A, down through B.
    text = "停水通知\n".encode() * 50_000
    resp = requests.post(f"{a}/api/v1/documents", headers=auth,
                         data={"title": "停水通知", "category": "notice"},
                         files={"file": ("notice.txt", text, "text/plain")}, timeout=60)
    assert resp.status_code == 201, resp.text
    got = requests.get(f"{b}/api/v1/documents/{resp.json()['id']}/content", headers=auth,
                       timeout=60)
    assert got.status_code == 200 and got.content == text
    # Signing out on B ends the session everywhere.
    token = csrf(http, f"{b}/documents/")
    http.post(f"{b}/logout", data={"csrf_token": token})
    assert not signed_in(http, a) and not signed_in(http, b)


def test_sign_in_failures_count_across_nodes(cluster: Cluster) -> None:
    a, b = cluster.a.base, cluster.b.base
    before = count(cluster.infra, Action.AUTH_SIGN_IN_FAILED)
    # Ten wrong passwords at once, half at each node: every one counts.
    results: list[int] = []

    def attempt(base: str) -> None:
        results.append(sign_in(requests.Session(), base, "clerk", "wrong password!").status_code)

    threads = [threading.Thread(target=attempt, args=(a if i % 2 else b,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 10
    # The fifth failure paused the account; the attempts after it were refused as
    # paused without counting. A lost update (two nodes reading the same count)
    # would leave fewer than five failures and no pause.
    with cluster.infra.sessions() as s:
        clerk = s.scalars(select(User).where(User.username == "clerk")).one()
        assert clerk.failed_logins == accounts.MAX_FAILURES
        assert clerk.locked_until is not None
        reasons = sorted(s.scalars(select(AuditEvent.reason).where(
            AuditEvent.action == Action.AUTH_SIGN_IN_FAILED.value,
            AuditEvent.object_id == "clerk")))
    assert reasons == ["paused"] * 5 + ["wrong_password"] * 5
    assert count(cluster.infra, Action.AUTH_SIGN_IN_FAILED) == before + 10
    assert count(cluster.infra, Action.AUTH_LOCKOUT) == 1
    # Paused on both nodes, even with the right password.
    for base in (a, b):
        http = requests.Session()
        sign_in(http, base, "clerk")
        assert not signed_in(http, base)


def test_audit_appends_from_both_nodes_keep_one_chain(cluster: Cluster) -> None:
    with unit_of_work(cluster.infra, "boss") as ctx:
        doc_id = documents.register(
            ctx, title="通知", category=Category.NOTICE,
            content=io.BytesIO("停水通知\n".encode() * 100),
            filename="n.txt").id
    auth = {"Authorization": f"Bearer {api_token(cluster.infra, 'accountant')}"}
    before = count(cluster.infra, Action.DOCUMENT_DOWNLOAD)
    done = {"a": 0, "b": 0}
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS, timeout=60)  # all at once, whatever the machine

    def writer(node: Node) -> None:
        http = requests.Session()
        start.wait()
        for _ in range(DOWNLOADS_PER_WRITER):
            resp = http.get(f"{node.base}/api/v1/documents/{doc_id}/content", headers=auth,
                            timeout=60)
            with lock:
                if resp.status_code == 200:
                    done[node.name] += 1
                else:
                    failures.append(f"{node.name}: {resp.status_code} {resp.text[:200]}")

    threads = [threading.Thread(target=writer, args=(cluster.a if i % 2 else cluster.b,))
               for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert done == {"a": WRITERS // 2 * DOWNLOADS_PER_WRITER,
                    "b": WRITERS // 2 * DOWNLOADS_PER_WRITER}
    # Every download is on the trail exactly once, and the chain verifies on each node.
    assert count(cluster.infra, Action.DOCUMENT_DOWNLOAD) == before + done["a"] + done["b"]
    with cluster.infra.sessions() as s:
        seqs = list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no fork
    for node in (cluster.a, cluster.b):
        verify = node.vault("audit", "verify")
        assert verify.exit_code == 0, (node.name, verify.output)


def test_jobs_run_on_both_nodes_runs_each_job_once(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    past = (now - timedelta(days=400)).date()
    expired = []
    for i in range(4):
        with unit_of_work(cluster.infra, "clerk", now) as ctx:
            expired.append(documents.register(
                ctx, title=f"到期合同 {i}", category=Category.CONTRACT, level=Level.SECRET,
                period=Period(years=1), issued_on=past,
                supervisor=accounts.get_user(ctx.session, "boss"),
                content=io.BytesIO(samples.pdf_pages(f"到期 {i}")),
                filename="doc.pdf").id)
    procs = [subprocess.Popen([str(BIN / "vault"), "jobs", "run"], env=node.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for node in (cluster.a, cluster.b)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, (out, err)
    lines = [ln.split() for out, _ in outputs for ln in out.splitlines()
             if ln.startswith("declassify ")]
    ran = [ln for ln in lines if ln[1] == "ran"]
    assert sum(int(ln[2].split("=")[1]) for ln in ran) == len(expired)
    with cluster.infra.sessions() as s:
        levels = {d.id: d.level for d in s.scalars(select(Document))}
    assert all(levels[i] == Level.INTERNAL.value for i in expired)
    with cluster.infra.sessions() as s:
        declassified = list(s.scalars(select(AuditEvent.object_id).where(
            AuditEvent.action == Action.DOCUMENT_DECLASSIFY.value)))
    assert sorted(int(x or 0) for x in declassified) == sorted(expired)
    verify = cluster.b.vault("audit", "verify")
    assert verify.exit_code == 0, verify.output
