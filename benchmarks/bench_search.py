"""Content search: indexing rate, query latency in scope, index size, OCR pages/minute.

    python benchmarks/bench_search.py [--docs N] [--db sqlite|postgresql|both]
                                      [--queries Q] [--ocr-pages P] [--keep DIR]

``--keep DIR`` builds the SQLite database and the PostgreSQL cluster in DIR and
leaves them there; run again with the same DIR and the building is skipped: only
the queries are measured.

Beyond ``--sample`` documents (3,000 by default) the corpus is bulk-filled
(`fill`): the job path indexes 20–100 documents a second, so 100,000 would take
an hour per database. The sample is registered first, the fill comes next, and
then the job path indexes the sample into the full-size index: the indexing
rate printed is the job path's, measured at full size. The fill writes the rows
the indexer writes (tokeniser, keyed hashes, encrypted texts, postings, index
events) and document rows and grants cloned from the registered sample; its
rate is printed apart and labelled as such.

Generated documents of ~2 KB of Chinese text each (words drawn from a Zipf
distribution over a generated vocabulary), spread over three companies, two
departments and the four levels, are registered through the service in batches
(encrypted blobs, audit events), then indexed by the real worker
(`search_index.work`: decrypt, extract, tokenise, HMAC, encrypt the text, insert
postings, audit). Queries of one to three words go through `search.search` as a
staff member (a narrow scope: the SQL scope filter does real work) and as an HQ
executive (everything), snippets and their audit events included.

Baselines measured in the same run: tokenising + hashing the same texts in
memory (what indexing costs without storage, crypto and audit); the same queries
as a bare `SELECT count(*)` over the postings of their tokens, no scope and no
ranking; OCR of the same page with Tesseract reading a file instead of stdin.

Targets (issue 15): 100,000 documents (pass --docs 100000, or run `make bench
BENCH_SEARCH_DOCS=100000`, where the disk and time allow), query p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import glob
import io
import itertools
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text  # noqa: E402

from vault import db, extract, textindex  # noqa: E402
from vault.actions import Action  # noqa: E402
from vault.audit.log import AuditLog  # noqa: E402
from vault.config import load_settings  # noqa: E402
from vault.crypto.keyring import Keyring  # noqa: E402
from vault.models import Document, DocumentText, DocumentVersion, Grant, Posting  # noqa: E402
from vault.policy import Category, Level  # noqa: E402
from vault.runtime import init_runtime  # noqa: E402
from vault.services import accounts, documents, search, search_index  # noqa: E402
from vault.services.context import Infra, unit_of_work  # noqa: E402

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
NOW = datetime.now(UTC)
COMMON = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words = {"".join(rng.choice(COMMON) for _ in range(rng.choice((2, 2, 2, 3, 4))))
             for _ in range(size * 2)}
    return sorted(words)[:size]


def zipf_weights(n: int) -> list[float]:
    return [1.0 / (i + 1) for i in range(n)]


def cumulative(weights: list[float]) -> list[float]:
    """What `random.choices` computes from ``weights`` on every call (same draws)."""
    return list(itertools.accumulate(weights))


def make_text(rng: random.Random, vocab: list[str], cum: list[float],
              nbytes: int = 2048) -> str:
    out: list[str] = []
    size = 0
    while size < nbytes:
        sentence = "".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 9))) + "。"
        out.append(sentence)
        size += len(sentence.encode())
    return "".join(out)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------------------
# Databases


@contextmanager
def postgres(keep: Path | None = None) -> Iterator[tuple[str, bool]]:
    """(URL of a throw-away cluster's database, whether it already held the corpus).
    With ``keep`` the cluster lives in that folder and is only stopped at the end."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found")
    bindir = Path(found[-1]).parent
    root = keep if keep is not None else Path(tempfile.mkdtemp(prefix="bench-search-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    data, sock = root / "data", root / "sock"
    existed = (data / "PG_VERSION").exists()
    sock.mkdir(exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if not existed:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                        "vault", "--no-sync", "-E", "UTF8", "--locale", "C"],
                       check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                    str(root / "log"), "-w", "-o",
                    f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off "
                    "-c synchronous_commit=off -c shared_buffers=256MB "
                    "-c maintenance_work_mem=256MB -c max_wal_size=4GB", "start"],
                   check=True, capture_output=True)
    try:
        import psycopg

        if not existed:
            with psycopg.connect(f"postgresql://vault@/postgres?host={sock}&port={port}",
                                 autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
        yield f"postgresql+psycopg://vault@/bench?host={sock}&port={port}", existed
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m",
                        "fast" if keep is not None else "immediate", "stop"],
                       capture_output=True)
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def build(home: Path, url: str) -> Infra:
    settings = load_settings(environ={}, home=home, database_url=url)
    init_runtime(settings)
    Keyring.create_first(settings)
    AuditLog.init_keys(settings)
    db.upgrade(url)
    engine = db.make_engine(url)
    infra = Infra.build(settings, db.make_sessionmaker(engine))
    with db.transaction(infra.sessions) as s:
        accounts.add_company(s, "HQ", "总公司", hq=True)
        accounts.add_company(s, "SZ", "深圳公司")
        accounts.add_company(s, "GZ", "广州公司")
        for company in ("HQ", "SZ", "GZ"):
            for dept in ("CS", "FIN"):
                accounts.add_department(s, company, dept, f"{company}-{dept}")
        people = {"ceo": ("HQ", "CS", "hq_executive")}
        for company in ("HQ", "SZ", "GZ"):
            for dept in ("CS", "FIN"):
                people[f"{company.lower()}.{dept.lower()}"] = (company, dept, "staff")
        for name, (company, dept, roles) in people.items():
            accounts.add_user(s, name, name, company, dept, accounts.parse_roles(roles),
                              "Lanterns drift over the quiet harbour at dusk 7")
    return infra


LEVELS = [Level.INTERNAL] * 4 + [Level.CONFIDENTIAL] * 3 + [Level.SECRET] * 2 + \
    [Level.TOP_SECRET]


def register_all(infra: Infra, texts: list[str], rng: random.Random, batch: int = 100) -> float:
    t = time.perf_counter()
    for start in range(0, len(texts), batch):
        by_actor: dict[str, list[tuple[int, str]]] = {}
        for i in range(start, min(start + batch, len(texts))):
            actor = rng.choice(["hq.cs", "sz.cs", "sz.fin", "gz.cs", "gz.fin", "hq.fin"])
            by_actor.setdefault(actor, []).append((i, texts[i]))
        for actor, items in by_actor.items():
            with unit_of_work(infra, actor, NOW) as ctx:
                for i, body in items:
                    level = rng.choice(LEVELS)
                    category = Category.NOTICE if level is Level.INTERNAL else Category.CONTRACT
                    documents.register(ctx, title=f"文件{i}", category=category, level=level,
                                       issued_on=date(2026, 1, 1),
                                       content=io.BytesIO(body.encode()), filename=f"{i}.txt")
    return time.perf_counter() - t


def size_of_index(infra: Infra, url: str, home: Path) -> tuple[int, int]:
    """(bytes of postings incl. indexes, bytes of encrypted texts) or the file delta."""
    with infra.sessions() as s:
        if url.startswith("postgresql"):
            postings = int(s.execute(text(
                "select pg_total_relation_size('postings')")).scalar_one())
            texts = int(s.execute(text(
                "select pg_total_relation_size('document_texts')")).scalar_one())
            return postings, texts
        rows = s.execute(text(
            "select name, sum(pgsize) from dbstat where name in "
            "('postings', 'ix_postings_document_id', 'document_texts', "
            "'ix_document_texts_state', 'ix_document_texts_master_key_id') group by name"
        )).all()
    sizes = {str(n): int(b) for n, b in rows}
    posting_bytes = sizes.get("postings", 0) + sizes.get("ix_postings_document_id", 0)
    return posting_bytes, sum(sizes.values()) - posting_bytes


def timed_queries(infra: Infra, user: str, queries: list[str]
                  ) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each search (with SQLite the database works
    in this process: its CPU time is the query's cost without waiting for a core)."""
    wall, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        with unit_of_work(infra, user) as ctx:
            search.search(ctx, documents.Query(text=q, per_page=20))
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def baseline_queries(infra: Infra, queries: list[str]) -> list[float]:
    key = search_index.index_key(infra)
    assert key is not None
    out = []
    for q in queries:
        hashes = [textindex.token_hash(key, t) for t in textindex.query_tokens(q)]
        t = time.perf_counter()
        with infra.sessions() as s:
            s.scalar(select(func.count()).select_from(Posting).where(Posting.token.in_(hashes)))
        out.append((time.perf_counter() - t) * 1000)
    return out


def fill(infra: Infra, url: str, count: int, rng: random.Random, vocab: list[str],
         cum: list[float], first_title: int) -> float:
    """Add ``count`` indexed documents without the job path; seconds taken.

    Writes what registration and the indexer write for search: document rows and
    grants cloned from the registered documents (same companies, departments,
    levels, categories, supervisors and registration grants), each with a new
    generated text tokenised by `textindex.document_tokens` (title included),
    hashed under the index key, encrypted by `search_index.seal_text`, its
    postings inserted by `search_index.insert_postings`, its text row ``done``,
    and one ``document:index`` event each (`append_many`). Not written: file
    versions and blobs, the registration's classification changes and events
    (search reads none of them)."""
    key = search_index.index_key(infra)
    assert key is not None
    hasher = search_index._Hasher(key)  # one cache for the whole fill
    docs_t, grants_t = Document.__table__, Grant.__table__
    with infra.sessions() as s:
        templates = [dict(r._mapping) for r in s.execute(select(docs_t).order_by(docs_t.c.id))]
        grants: dict[int, list[dict[str, object]]] = {}
        for r in s.execute(select(grants_t)):
            g = dict(r._mapping)
            g.pop("id")
            grants.setdefault(int(g["document_id"]), []).append(g)
        next_id = int(s.scalar(select(func.max(docs_t.c.id))) or 0) + 1
    # SQLite: the postings go to an unindexed table first and into the index once,
    # in key order (appending to a B-tree costs a fraction of inserting all over it).
    staged = url.startswith("sqlite")
    if staged:
        with db.transaction(infra.sessions) as s:
            s.execute(text("CREATE TABLE fill_postings (token INTEGER, document_id INTEGER, "
                           "version INTEGER, tf INTEGER)"))
    chunk = 1000
    t = time.perf_counter()
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        doc_rows, grant_rows, text_rows, events = [], [], [], []
        postings: list[tuple[int, int, int, int]] = []
        for k in range(size):
            tpl = templates[(start + k) % len(templates)]
            doc_id = next_id + start + k
            title = f"文件{first_title + start + k}"
            doc_rows.append({**tpl, "id": doc_id, "title": title})  # text_tokens below
            grant_rows += [{**g, "document_id": doc_id} for g in grants.get(int(tpl["id"]), [])]
            body = make_text(rng, vocab, cum)
            counts = textindex.document_tokens(f"{title}\n{body}")
            doc_rows[-1]["text_tokens"] = sum(counts.values())
            hashed = hasher.counts(counts)
            postings += [(h, doc_id, 1, n) for h, n in hashed.items()]
            ciphertext, master_id, wrapped = search_index.seal_text(infra, doc_id, 1, body)
            text_rows.append({
                "document_id": doc_id, "version": 1, "indexed_version": 1,
                "state": search_index.DONE, "method": "text", "pages_done": 0,
                "pages_total": 0, "ocr_pages": 0, "chars": len(body),
                "tokens": sum(counts.values()), "ciphertext": ciphertext,
                "wrapped_key": wrapped, "master_key_id": master_id, "attempts": 1,
                "queued_at": NOW, "finished_at": NOW})
            events.append({"object_type": "document", "object_id": str(doc_id),
                           "level": tpl["level"], "reason": search_index.DONE,
                           "detail": {"version": 1, "method": "text", "pages": 0,
                                      "ocr_pages": 0, "tokens": len(hashed)}})
        with unit_of_work(infra, None, NOW, source="job") as ctx:
            ctx.session.execute(insert(docs_t), doc_rows)
            if grant_rows:
                ctx.session.execute(insert(grants_t), grant_rows)
            ctx.session.execute(insert(DocumentText.__table__), text_rows)
            if staged:
                ctx.session.connection().exec_driver_sql(
                    "INSERT INTO fill_postings VALUES (?, ?, ?, ?)", postings)
            else:
                search_index.insert_postings(ctx.session, postings)
            ctx.record_many(Action.DOCUMENT_INDEX, events)
    if staged:
        raw = infra.sessions.kw["bind"].raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA foreign_keys=OFF")  # the documents were inserted above
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("DROP INDEX ix_postings_document_id")
            cur.execute("INSERT INTO postings (token, document_id, version, tf) SELECT token, "
                        "document_id, version, tf FROM fill_postings ORDER BY token, document_id")
            cur.execute("CREATE INDEX ix_postings_document_id ON postings (document_id)")
            cur.execute("DROP TABLE fill_postings")
            cur.execute("COMMIT")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        finally:
            raw.close()
    with db.transaction(infra.sessions) as s:
        if url.startswith("postgresql"):
            s.execute(text("select setval(pg_get_serial_sequence('documents', 'id'), "
                           "(select max(id) from documents))"))
    return time.perf_counter() - t


def analyze(infra: Infra, url: str) -> None:
    """PostgreSQL: VACUUM ANALYZE, where autovacuum would be after a bulk load."""
    if not url.startswith("postgresql"):
        return
    engine = infra.sessions.kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def run_db(name: str, url: str, home: Path, n: int, n_queries: int,
           reuse: bool = False, sample: int = 3000, reindex: bool = True) -> None:
    rng = random.Random(15)
    vocab = vocabulary(rng)
    weights = zipf_weights(len(vocab))
    cum = cumulative(weights)
    print(f"-- {name}: {n:,} documents of ~2 KB Chinese text "
          f"({uptime()})")
    if reuse:
        db.upgrade(url)  # indexes added since the corpus was built
        settings = load_settings(environ={}, home=home, database_url=url)
        infra = Infra.build(settings, db.make_sessionmaker(db.make_engine(url)))
        with infra.sessions() as s:
            n = int(s.scalar(text("select count(*) from document_texts")) or 0)
            sample_ids = list(s.scalars(
                select(DocumentVersion.document_id).distinct()
                .order_by(DocumentVersion.document_id).limit(sample)))
        print(f"   reusing the indexed corpus in {home} ({n:,} documents)")
        if not reindex:
            print("   queries only (--no-reindex: the job path is not measured again)")
        else:
            # The registered sample through the job path again, into the full-size index.
            texts = [make_text(rng, vocab, cum) for _ in range(min(2000, len(sample_ids)))]
            key = search_index.index_key(infra)
            assert key is not None
            t = time.perf_counter()
            for body in texts:
                textindex.hashed_counts(key, textindex.document_tokens(body))
            base = len(texts) / (time.perf_counter() - t)
            with unit_of_work(infra, None, NOW, source="cli") as ctx:
                for doc_id in sample_ids:
                    search_index.enqueue(ctx, doc_id, 1)
            t = time.perf_counter()
            done = search_index.work(infra)
            rate = len(sample_ids) / (time.perf_counter() - t)
            assert len(done) == len(sample_ids) and all(o.state == "done" for o in done)
            print(f"   JOB PATH re-indexing rate (search_index.work, the {len(sample_ids):,} "
                  f"registered documents queued again, into the index of {n:,}): {rate:,.0f} "
                  f"docs/s (baseline tokenise+HMAC in memory {base:,.0f} docs/s; ratio "
                  f"{rate / base:.2f}x; {uptime()})")
    else:
        sample = min(n, sample)
        texts = [make_text(rng, vocab, cum) for _ in range(sample)]
        infra = build(home, url)
        t_reg = register_all(infra, texts, rng)
        print(f"   registered through documents.register (encrypted, audited): "
              f"{sample / t_reg:,.0f} docs/s")
        key = search_index.index_key(infra)
        assert key is not None
        if n > sample:
            t_fill = fill(infra, url, n - sample, rng, vocab, cum, sample)
            print(f"   BULK FILL (not the job path; same tokeniser, keyed hashes, encrypted "
                  f"texts, document rows and grants, index events): {n - sample:,} documents "
                  f"in {t_fill:,.0f} s ({(n - sample) / t_fill:,.0f} docs/s; {uptime()})")
        t = time.perf_counter()
        for body in texts[:2000]:
            textindex.hashed_counts(key, textindex.document_tokens(body))
        t_base = time.perf_counter() - t
        base = min(sample, 2000) / t_base
        del texts
        t = time.perf_counter()
        done = search_index.work(infra)
        t_idx = time.perf_counter() - t
        assert len(done) == sample and all(o.state == "done" for o in done), "indexing failed"
        rate = sample / t_idx
        into = f", into an index of {n:,} documents" if n > sample else ""
        print(f"   JOB PATH indexing rate (search_index.work, {sample:,} registered "
              f"documents{into}): {rate:,.0f} docs/s "
              f"(baseline tokenise+HMAC in memory {base:,.0f} docs/s; ratio {rate / base:.2f}x; "
              f"{uptime()})")
        analyze(infra, url)
    postings, texts_bytes = size_of_index(infra, url, home)
    with infra.sessions() as s:
        rows = int(s.scalar(select(func.count()).select_from(Posting)) or 0)
    print(f"   index size: {postings / n / 1024:.1f} KiB/doc postings ({rows / n:,.0f} rows/doc), "
          f"{texts_bytes / n / 1024:.1f} KiB/doc encrypted text")
    qrng = random.Random(7)
    queries = []
    for _ in range(n_queries):
        k = qrng.choice((1, 1, 2, 3))
        queries.append(" ".join(qrng.choices(vocab[:3000], weights[:3000], k=k)))
    timed_queries(infra, "sz.cs", queries[:5])  # warm caches
    for user, label in (("sz.cs", "staff member (SZ/CS)"), ("ceo", "HQ executive")):
        lat, cpu = timed_queries(infra, user, queries)
        print(f"   query as {label}: p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms, "
              f"max {max(lat):.1f} ms (target p95 < 150 ms; {uptime()}); "
              f"CPU of this process p50 {pct(cpu, 50):.1f} ms, p95 {pct(cpu, 95):.1f} ms")
    base_lat = baseline_queries(infra, queries)
    print(f"   baseline bare count(*) over the tokens' postings: p50 {pct(base_lat, 50):.1f} ms, "
          f"p95 {pct(base_lat, 95):.1f} ms")
    infra.sessions.kw["bind"].dispose()


def uptime() -> str:
    """`uptime`, to print beside every figure."""
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return out.strip() or f"load average {os.getloadavg()[0]:.1f}"


def ocr_bench(pages: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    if not extract.tesseract_available():
        print("-- OCR: tesseract not installed (skipped)")
        return
    rng = random.Random(3)
    vocab = vocabulary(rng, 800)
    font = ImageFont.truetype(FONT, 42)
    page = Image.new("L", (2480, 3508), 255)  # A4 at 300 dpi
    draw = ImageDraw.Draw(page)
    for line in range(40):
        draw.text((180, 200 + line * 76), "".join(rng.choices(vocab, k=12))[:48], font=font,
                  fill=0)
    out = io.BytesIO()
    page.save(out, "PNG")
    png = out.getvalue()

    def per_minute(fn: Callable[[], object]) -> float:
        t = time.perf_counter()
        for _ in range(pages):
            fn()
        return pages / (time.perf_counter() - t) * 60

    stdin_rate = per_minute(lambda: extract.ocr_image(png, dpi=300))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.png"
        path.write_bytes(png)  # generated text, not a document: the baseline may use disk
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        file_rate = per_minute(lambda: subprocess.run(
            ["tesseract", str(path), "stdout", "-l", extract.OCR_LANGS, "--dpi", "300"],
            capture_output=True, check=True, env=env))
    print(f"-- OCR (A4, 300 dpi, 40 lines of Chinese, chi_sim+eng, one thread): "
          f"{stdin_rate:.1f} pages/min via stdin "
          f"(baseline from a file {file_rate:.1f} pages/min; ratio {stdin_rate / file_rate:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int,
                        default=int(os.environ.get("BENCH_SEARCH_DOCS", "2000")),
                        help="documents (default 2000, or $BENCH_SEARCH_DOCS: "
                             "`make bench BENCH_SEARCH_DOCS=100000`)")
    parser.add_argument("--sample", type=int, default=3000,
                        help="documents registered and indexed through the job path; the "
                             "rest of --docs is bulk-filled (default 3000)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--ocr-pages", type=int, default=3)
    parser.add_argument("--no-reindex", action="store_true",
                        help="with --keep on a built corpus: measure the queries only (no "
                             "job-path indexing rate; keeps a measured run short)")
    parser.add_argument("--keep", type=Path,
                        help="build in (or reuse) DIR/sqlite and DIR/pg; delete DIR yourself")
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        base = args.keep if args.keep is not None else Path(tmp)
        if args.db in ("sqlite", "both"):
            home = base / "sqlite"
            home.mkdir(parents=True, exist_ok=True)
            reuse = args.keep is not None and (home / "vault.db").exists()
            run_db("SQLite", f"sqlite:///{home / 'vault.db'}", home, args.docs, args.queries,
                   reuse, args.sample, not args.no_reindex)
        if args.db in ("postgresql", "both"):
            home = base / "pg-home"
            home.mkdir(parents=True, exist_ok=True)
            with postgres(base / "pg" if args.keep is not None else None) as (url, existed):
                run_db("PostgreSQL", url, home, args.docs, args.queries, existed, args.sample,
                       not args.no_reindex)
    if args.ocr_pages:
        ocr_bench(args.ocr_pages)


if __name__ == "__main__":
    main()
