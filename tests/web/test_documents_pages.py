"""The document pages: register (with the upload spool), browse and search, the
document page, grants, versions, the viewer, audio, downloads, home."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from doctools import doc_id_from, document_count, events, make_doc, upload  # noqa: I001
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageChops
from pypdf import PdfWriter
from webtools import csrf_token

from vault import create_app
from vault.policy import Category, Level
from vault.services import samples, viewer
from vault.services.context import Infra, unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_documents_service.py and test_documents_register.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]


def _blobs(app: Flask) -> list[str]:
    return list(app.extensions["vault.infra"].blobs.iter_ids())


def _changed_pixels(a: Image.Image, b: Image.Image, threshold: int = 24) -> int:
    diff = ImageChops.difference(a, b).convert("L")
    return sum(diff.histogram()[threshold + 1 :])


def _banners(page: str) -> list[tuple[str, str, str]]:
    """(level class, top/bottom, text) of each marking banner."""
    return re.findall(r'<div class="marking (\w+) banner-(top|bottom)"[^>]*>([^<]+)</div>', page)


# ---------------------------------------------------------------------------
# Register


def test_register_form_has_progress_bar_prefill_map_and_pickers(login_as: Login) -> None:
    page = login_as("clerk").get("/documents/new").get_data(as_text=True)
    assert 'id="upload-progress"' in page and "upload.js" in page
    assert 'class="card register upload-form"' in page
    match = re.search(r'data-defaults="([^"]+)"', page)
    assert match
    defaults = json.loads(match.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert defaults["contract"] == {"level": "confidential", "years": 10}
    assert defaults["strategy"] == {"level": "top_secret", "years": 30}
    assert defaults["notice"] == {"level": "internal", "years": 0}
    # Supervisor picker: people of the actor's company (SZ) only; departments of SZ.
    supervisors = re.search(r'<select name="supervisor".*?</select>', page, re.S)
    assert supervisors
    assert 'value="boss"' in supervisors.group(0) and 'value="ceo"' not in supervisors.group(0)
    assert 'value="outsider"' not in supervisors.group(0)
    assert re.search(r'<option value="clerk" selected', supervisors.group(0))
    departments = re.search(r'<select name="department".*?</select>', page, re.S)
    assert departments and 'value="FIN"' in departments.group(0)
    assert "合同" in page and "录音" in page and "营业执照" in page  # categories translated
    assert "绝密" in page and "机密" in page and "秘密" in page


def test_register_pdf_then_view_watermarked_page(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    pdf = samples.pdf_pages("上传的合同", pages=2)
    resp = upload(client, pdf, "合同.pdf", title="上传的合同")
    assert resp.status_code == 302
    doc_id = doc_id_from(resp.headers["Location"])

    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert _banners(page) == [("confidential", "top", "秘密★10年"),
                              ("confidential", "bottom", "秘密★10年")]
    assert "上传的合同" in page and "合同.pdf" in page and "在查看器中打开" in page
    assert "下载" not in page  # a classified file is not downloaded directly

    view = client.get(f"/documents/{doc_id}/view").get_data(as_text=True)
    assert f"/documents/{doc_id}/pages/1.png?v=1" in view
    assert "第 1 页，共 2 页" in view
    assert _banners(view) == _banners(page)

    before = len(events(app, action="document:view", document_id=doc_id))
    resp = client.get(f"/documents/{doc_id}/pages/1.png?v=1")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    # This person's image: only their browser may keep it, and only for a minute.
    assert resp.headers["Cache-Control"] == "private, max-age=60"
    assert client.get(f"/documents/{doc_id}/view").headers["Cache-Control"] == "no-store"
    shown = Image.open(io.BytesIO(resp.data)).convert("RGB")
    plain = viewer.render_page("application/pdf", pdf, 1)
    assert shown.size == plain.size
    changed = _changed_pixels(shown, plain)
    assert changed > shown.width * shown.height // 200  # the watermark is visible
    views = events(app, action="document:view", document_id=doc_id)
    assert len(views) == before + 1
    assert views[-1].actor == "clerk" and views[-1].outcome == "allowed"
    assert json.loads(views[-1].detail or "{}")["page"] == 1

    assert client.get(f"/documents/{doc_id}/pages/3.png").status_code == 404


def test_register_paper_original_without_file(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    data = {"csrf_token": csrf_token(client, "/documents/new"), "title": "纸质营业执照",
            "category": "business_licence", "level": "", "period_kind": "duration",
            "supervisor": "gm", "department": "ADM", "paper_original": "on"}
    resp = client.post("/documents/new", data=data)
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "秘密★10年" in page and "纸质原件" in page and "营业执照" in page


def test_register_field_errors_in_the_users_language(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    token = csrf_token(client, "/documents/new")
    resp = client.post("/documents/new", data={
        "csrf_token": token, "title": "", "category": "contract", "level": "secret",
        "period_kind": "date", "period_until": "soon"})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "请输入标题" in page and "请填写保密的最后一天" in page
    assert "请选择文件" in page
    assert document_count(app) == 0
    client.get("/lang/en")
    resp = client.post("/documents/new", data={
        "csrf_token": token, "title": "x", "category": "notice", "level": "internal",
        "supervisor": "outsider", "paper_original": "on"})
    assert resp.status_code == 400
    assert "The responsible supervisor must be an active person of your company" in (
        resp.get_data(as_text=True))


def test_period_on_internal_file_and_period_before_issue(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    resp = upload(client, samples.pdf_pages("x"), "a.pdf", level="secret",
                  period_kind="date", period_until="2020-01-01", issued_on="2024-01-01")
    assert resp.status_code == 400 and "保密期限早于制发日期结束" in resp.get_data(as_text=True)
    assert document_count(app) == 0 and _blobs(app) == []


def test_hostile_file_name_is_refused_and_nothing_stored(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    for name in ("../../etc/passwd.pdf", "a\x01b.pdf", "/abs/x.pdf"):
        resp = upload(client, samples.pdf_pages("x"), name)
        assert resp.status_code == 400, name
        assert "文件名不可接受" in resp.get_data(as_text=True)
    assert document_count(app) == 0 and _blobs(app) == []
    assert list((app.extensions["vault.infra"].settings.storage_dir / "tmp").iterdir()) == []


def test_type_mismatch_and_empty_file(app: Flask, login_as: Login) -> None:
    client = login_as("clerk")
    resp = upload(client, b"just text\n", "contract.pdf")
    assert resp.status_code == 415
    assert "文件名以 .pdf 结尾" in resp.get_data(as_text=True)
    resp = upload(client, b"", "empty.pdf")
    assert resp.status_code == 400
    assert document_count(app) == 0 and _blobs(app) == []


@pytest.fixture
def small_app(org: Infra) -> Iterator[Flask]:
    """The app with a 64 KiB upload limit."""
    s = org.settings
    flask_app = create_app({"home": s.home, "database_url": s.database_url,
                            "max_upload_bytes": 64 * 1024, "flask": {"TESTING": True}})
    yield flask_app
    flask_app.extensions["vault.engine"].dispose()


def test_oversized_upload_is_413_with_nothing_stored(small_app: Flask) -> None:
    from webtools import sign_in

    client = small_app.test_client()
    assert sign_in(client, "clerk") == 302
    # Over the request limit (the file limit plus 1 MiB for the form): refused while parsing.
    resp = upload(client, b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024), "big.pdf")
    assert resp.status_code == 413
    assert "上传的文件超过大小限制" in resp.get_data(as_text=True)
    # Over the file limit but inside the request limit: refused by the service.
    resp = upload(client, b"%PDF-1.4\n" + b"0" * (200 * 1024), "big.pdf")
    assert resp.status_code == 413
    assert "文件超过 64.0 KiB 的大小限制" in resp.get_data(as_text=True)
    assert document_count(small_app) == 0 and _blobs(small_app) == []
    assert list((small_app.extensions["vault.infra"].settings.storage_dir / "tmp").iterdir()) == []


def _files_holding(marker: bytes, folders: list[Path]) -> list[str]:
    """Named files under ``folders`` and files this process has open (unlinked and
    O_TMPFILE ones included, through /proc/self/fd) whose bytes contain ``marker``."""
    found: list[str] = []
    for folder in folders:
        for root, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(root) / name
                try:
                    st = path.lstat()
                    # Regular files only (a FIFO would block); a spooled upload of a few
                    # MiB is far below the size cap.
                    if not stat.S_ISREG(st.st_mode) or st.st_size > 64 * 1024 * 1024:
                        continue
                    if marker in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    continue
    for fd in os.listdir("/proc/self/fd"):
        link = f"/proc/self/fd/{fd}"
        try:
            target = os.readlink(link)
            # Devices and /proc are no files; /dev/shm is (`make test` keeps its
            # temporary folders there, so a spool would be there too).
            if not Path(link).is_file() or (target.startswith(("/dev/", "/proc/"))
                                            and not target.startswith("/dev/shm/")):
                continue
            with open(link, "rb") as fh:
                if marker in fh.read():
                    found.append(target)
        except OSError:
            continue
    return found


def test_the_disk_scan_finds_plaintext_spooled_the_default_way(tmp_path: Path) -> None:
    """The scan below is sensitive: Werkzeug's default spool is caught holding plaintext."""
    from werkzeug.formparser import default_stream_factory

    marker = f"MARKER-{uuid.uuid4().hex}".encode()
    spool = default_stream_factory(total_content_length=None, content_type=None,
                                   filename="x.txt")
    spool.write(marker * 100_000)
    spool.flush()
    try:
        assert _files_holding(marker, [tmp_path]) != []
    finally:
        spool.close()


def test_no_plaintext_on_disk_during_upload(
    app: Flask, login_as: Login, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from vault.services import document_pages

    # The process's temporary folder is this test's own (scanning the shared /tmp would
    # read every other test's files, and other programs').
    own_tmp = tmp_path / "process-tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    monkeypatch.setenv("TMPDIR", str(own_tmp))
    marker = f"PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()
    body = (marker + " 保密内容\n".encode()) * 60_000  # ~4 MiB: well past the in-memory part
    settings = app.extensions["vault.infra"].settings
    folders = [settings.storage_dir, Path(tempfile.gettempdir())]
    assert folders[1] == own_tmp
    seen: dict[str, list[str]] = {}
    real = document_pages.documents.register

    def spy(ctx: object, **kwargs: object) -> object:
        # The whole request body has been received and spooled at this point.
        seen["during"] = _files_holding(marker, folders)
        return real(ctx, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(document_pages.documents, "register", spy)
    client = login_as("clerk")
    resp = upload(client, body, "通知.txt", category="notice", level="internal")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert seen["during"] == []
    assert _files_holding(marker, folders) == []
    doc_id = doc_id_from(resp.headers["Location"])
    text = client.get(f"/documents/{doc_id}/download").data
    assert text == body


# ---------------------------------------------------------------------------
# Viewer: text, audio, other formats; downloads


def test_text_is_shown_escaped(app: Flask, login_as: Login) -> None:
    content = "<script>alert('x')</script>\n第二行 & more\n".encode()
    doc_id = make_doc(app, Level.CONFIDENTIAL, category=Category.NOTICE, content=content,
                      filename="note.txt")
    client = login_as("clerk")
    resp = client.get(f"/documents/{doc_id}/view")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "第二行 &amp; more" in page
    assert events(app, action="document:view", document_id=doc_id)[-1].actor == "clerk"


def test_text_in_gb18030_is_decoded(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.INTERNAL, category=Category.NOTICE,
                      content="关于停水的通知\n".encode("gb18030"), filename="gbk.txt")
    page = login_as("accountant").get(f"/documents/{doc_id}/view").get_data(as_text=True)
    assert "关于停水的通知" in page


def test_audio_streams_with_ranges(app: Flask, login_as: Login) -> None:
    wav = samples.wav_tone(seconds=12.0)  # ~190 KiB: several segments
    doc_id = make_doc(app, Level.CONFIDENTIAL, category=Category.CALL_RECORDING,
                      content=wav, filename="call.wav")
    client = login_as("boss")
    page = client.get(f"/documents/{doc_id}/view").get_data(as_text=True)
    assert f'<audio id="audio-player" controls preload="metadata" src="/documents/{doc_id}/audio' \
        in page
    full = client.get(f"/documents/{doc_id}/audio")
    assert full.status_code == 200 and full.data == wav
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.headers["Cache-Control"] == "no-store"
    start = 64 * 1024 - 10  # across a segment boundary
    part = client.get(f"/documents/{doc_id}/audio",
                      headers={"Range": f"bytes={start}-{start + 99}"})
    assert part.status_code == 206 and part.data == wav[start : start + 100]
    assert part.headers["Content-Range"] == f"bytes {start}-{start + 99}/{len(wav)}"
    tail = client.get(f"/documents/{doc_id}/audio", headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.data == wav[-500:]
    open_end = client.get(f"/documents/{doc_id}/audio", headers={"Range": f"bytes={len(wav) - 7}-"})
    assert open_end.data == wav[-7:]
    bad = client.get(f"/documents/{doc_id}/audio", headers={"Range": f"bytes={len(wav) + 5}-"})
    assert bad.status_code == 416
    ranges = [json.loads(e.detail or "{}").get("range")
              for e in events(app, action="document:view", document_id=doc_id)]
    assert f"{start}-{start + 99}" in ranges
    # Someone who may not listen: refused, and the try is on the trail.
    assert login_as("accountant").get(f"/documents/{doc_id}/audio").status_code == 404
    assert events(app, action="document:view", document_id=doc_id)[-1].outcome == "denied"


def test_internal_download_and_other_formats(app: Flask, login_as: Login) -> None:
    content = "会议通知\n".encode()
    doc_id = make_doc(app, Level.INTERNAL, category=Category.NOTICE, content=content,
                      filename="会议 通知.txt")
    client = login_as("outsider")
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'id="download"' in page and "内部" in page
    resp = client.get(f"/documents/{doc_id}/download")
    assert resp.status_code == 200 and resp.data == content
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E4%BC%9A%E8%AE%AE%20%E9%80%9A%E7%9F%A5.txt" in disposition
    assert events(app, action="document:download", document_id=doc_id)[-1].actor == "outsider"

    docx = _docx()
    other = make_doc(app, Level.SECRET, category=Category.CONTRACT, content=docx,
                     filename="合同.docx")
    view = login_as("boss").get(f"/documents/{other}/view").get_data(as_text=True)
    assert 'id="metadata-only"' in view and "仅显示元数据" in view


def _docx() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def test_image_page_is_watermarked(app: Flask, login_as: Login) -> None:
    png = samples.png_card("营业执照", app.extensions["vault.infra"].settings.font_file)
    doc_id = make_doc(app, Level.CONFIDENTIAL, category=Category.BUSINESS_LICENCE,
                      content=png, filename="licence.png", supervisor="gm", department="ADM",
                      registrant="keeper")
    client = login_as("keeper")
    resp = client.get(f"/documents/{doc_id}/pages/1.png")
    assert resp.status_code == 200
    shown = Image.open(io.BytesIO(resp.data)).convert("RGB")
    original = Image.open(io.BytesIO(png)).convert("RGB")
    assert shown.size == original.size
    assert ImageChops.difference(shown, original).getbbox() is not None


# ---------------------------------------------------------------------------
# Browse and search


def test_browse_and_search_show_only_documents_in_scope(app: Flask, login_as: Login) -> None:
    secret = make_doc(app, Level.SECRET, title="机密年度计划")
    conf = make_doc(app, Level.CONFIDENTIAL, title="秘密合同甲")
    internal = make_doc(app, Level.INTERNAL, title="内部通知乙", category=Category.NOTICE,
                        content=b"hello\n", filename="n.txt")
    clerk = login_as("clerk").get("/documents/").get_data(as_text=True)
    for doc_id in (secret, conf, internal):
        assert f'href="/documents/{doc_id}"' in clerk
    assert "共找到 3 份文件" in clerk
    outsider = login_as("outsider").get("/documents/").get_data(as_text=True)
    assert f'href="/documents/{internal}"' in outsider
    assert f'href="/documents/{secret}"' not in outsider
    assert f'href="/documents/{conf}"' not in outsider
    assert "机密年度计划" not in outsider and "共找到 1 份文件" in outsider
    # Searching by title does not reveal out-of-scope files either.
    found = login_as("outsider").get("/documents/?q=机密").get_data(as_text=True)
    assert "共找到 0 份文件" in found
    assert events(app, action="document:search")[-1].actor == "outsider"


def test_search_filters(app: Flask, login_as: Login) -> None:
    a = make_doc(app, Level.SECRET, title="甲方案")
    b = make_doc(app, Level.CONFIDENTIAL, title="乙合同")
    c = make_doc(app, Level.INTERNAL, title="丙通知", category=Category.NOTICE,
                 content=b"x\n", filename="n.txt", department="FIN", registrant="accountant",
                 supervisor="accountant")
    client = login_as("ceo")

    def ids(query: str) -> set[int]:
        page = client.get("/documents/" + query).get_data(as_text=True)
        return {int(x) for x in re.findall(r'<a href="/documents/(\d+)">', page)}

    assert ids("?level=secret") == {a}
    assert ids("?category=notice") == {c}
    assert ids("?q=合同") == {b}
    assert ids("?department=SZ/FIN") == {c}
    assert ids("?company=SZ") == {a, b, c}
    assert ids("?company=HQ") == set()
    today = datetime.now(UTC).astimezone(app.extensions["vault.infra"].settings.tz).date()
    assert ids(f"?from={today.isoformat()}&to={today.isoformat()}") == {a, b, c}
    assert ids(f"?from={(today + timedelta(days=1)).isoformat()}") == set()
    page = client.get("/documents/?level=nope&from=yesterday").get_data(as_text=True)
    assert "未知密级" in page and "日期格式为 YYYY-MM-DD" in page


def test_search_is_paginated(app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    from vault.services import documents

    with unit_of_work(infra, "clerk") as ctx:
        for i in range(30):
            documents.register(ctx, title=f"纸质档案 {i:02d}", category=Category.NOTICE,
                               paper_original=True)
    client = login_as("clerk")
    first = client.get("/documents/").get_data(as_text=True)
    assert "第 1 页，共 2 页" in first and 'rel="next"' in first
    second = client.get("/documents/?page=2").get_data(as_text=True)
    assert "第 2 页，共 2 页" in second and 'rel="prev"' in second
    assert len(re.findall(r'<a href="/documents/\d+">', second)) == 5
    assert client.get("/documents/?page=abc").status_code == 200


def test_a_big_list_says_more_than_instead_of_counting(app: Flask, login_as: Login,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    infra = app.extensions["vault.infra"]
    from vault.services import documents

    with unit_of_work(infra, "clerk") as ctx:
        for i in range(4):
            documents.register(ctx, title=f"纸质档案 {i:02d}", category=Category.NOTICE,
                               paper_original=True)
    monkeypatch.setattr(documents, "COUNT_CAP", 3)
    client = login_as("clerk")
    page = client.get("/documents/").get_data(as_text=True)
    assert "找到的文件超过 3 份：请缩小搜索范围以计数。" in page
    assert len(re.findall(r'<a href="/documents/\d+">', page)) == 4  # the page is whole
    client.get("/lang/en")
    page = client.get("/documents/?q=档案 01").get_data(as_text=True)
    assert "1 documents found." in page and "More than" not in page
    page = client.get("/documents/").get_data(as_text=True)
    assert "More than 3 documents found: narrow the search to count them." in page


# ---------------------------------------------------------------------------
# The document page, grants, versions


def test_document_page_history_knowers_and_grant_forms(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.SECRET)
    boss = login_as("boss").get(f"/documents/{doc_id}").get_data(as_text=True)
    assert [b[2] for b in _banners(boss)] == ["机密★20年", "机密★20年"]
    assert "定密历史" in boss and "登记" in boss
    knowers = re.search(r'id="knowers".*?</section>', boss, re.S)
    assert knowers
    assert "clerk" in knowers.group(0) and "文件登记人" in knowers.group(0)
    assert "ceo" in knowers.group(0) and "总公司领导" in knowers.group(0)
    assert "manager" not in knowers.group(0)
    assert 'class="grant-add"' in boss  # the supervisor designates for a secret file
    assert f'action="/documents/{doc_id}/versions"' in boss
    clerk = login_as("clerk").get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'class="grant-add"' not in clerk  # the registrant does not
    gm = login_as("gm").get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "您可知悉此文件的存在，但不能阅读其内容" in gm
    assert 'id="open-viewer"' not in gm and 'class="grant-add"' not in gm


def test_grant_and_revoke(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.SECRET)
    accountant = login_as("accountant")
    assert accountant.get(f"/documents/{doc_id}").status_code == 404
    boss = login_as("boss")
    token = csrf_token(boss, f"/documents/{doc_id}")
    resp = boss.post(f"/documents/{doc_id}/grants",
                     data={"csrf_token": token, "grantee": "accountant"})
    assert resp.status_code == 302
    page = boss.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已授权 accountant 知悉" in page and "有效" in page
    assert accountant.get(f"/documents/{doc_id}/pages/1.png").status_code == 200
    home = accountant.get("/").get_data(as_text=True)
    assert "最近与我共享的文件" in home and f'href="/documents/{doc_id}"' in home
    # Twice: a clear message, not an error page.
    resp = boss.post(f"/documents/{doc_id}/grants",
                     data={"csrf_token": token, "grantee": "accountant"}, follow_redirects=True)
    assert "此人已获得此文件的授权" in resp.get_data(as_text=True)
    resp = boss.post(f"/documents/{doc_id}/grants/accountant/revoke",
                     data={"csrf_token": token})
    assert resp.status_code == 302
    assert accountant.get(f"/documents/{doc_id}").status_code == 404
    assert [e.action for e in events(app, document_id=doc_id, actor="boss")
            if e.action.startswith("grant:")] == ["grant:create", "grant:revoke"]
    # A grant with an end date in the past is refused clearly.
    resp = boss.post(f"/documents/{doc_id}/grants", follow_redirects=True,
                     data={"csrf_token": token, "grantee": "accountant", "until": "2000-01-01"})
    assert "授权截止时间须在将来" in resp.get_data(as_text=True)


def test_add_version(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.CONFIDENTIAL)
    client = login_as("clerk")
    token = csrf_token(client, f"/documents/{doc_id}")
    resp = client.post(f"/documents/{doc_id}/versions", content_type="multipart/form-data",
                       data={"csrf_token": token,
                             "file": (io.BytesIO(samples.pdf_pages("第二版", 3)), "v2.pdf")})
    assert resp.status_code == 302
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "v2.pdf" in page and "已添加第 2 版" in page
    view = client.get(f"/documents/{doc_id}/view").get_data(as_text=True)
    assert "第 1 页，共 3 页" in view and "v2" in view
    assert client.get(f"/documents/{doc_id}/view?v=1").status_code == 200
    assert client.get(f"/documents/{doc_id}/view?v=9").status_code == 404
    assert client.get(f"/documents/{doc_id}/view?v=x").status_code == 400
    resp = client.post(f"/documents/{doc_id}/versions", content_type="multipart/form-data",
                       data={"csrf_token": token, "file": (io.BytesIO(b"text"), "v3.pdf")})
    assert resp.status_code == 415


def test_english_pages(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.CONFIDENTIAL)
    client = login_as("clerk")
    client.get("/lang/en")
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "CONFIDENTIAL★10 years" in page and "Classification history" in page
    assert "Contract" in page and "Who may view, and why" in page
    assert "Register a document" in client.get("/documents/new").get_data(as_text=True)
    resp = login_as("gm").get(f"/documents/{doc_id}/view")
    assert resp.status_code == 403


def test_home_lists_expiring_periods(app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    from vault.policy import Period
    from vault.services import documents

    soon = datetime.now(UTC).astimezone(infra.settings.tz).date() + timedelta(days=10)
    with unit_of_work(infra, "clerk") as ctx:
        doc = documents.register(ctx, title="即将解密的协议", category=Category.AGREEMENT,
                                 period=Period(until=soon), paper_original=True)
        later = documents.register(ctx, title="远期协议", category=Category.AGREEMENT,
                                   paper_original=True)
        doc_id, later_id = doc.id, later.id
    home = login_as("clerk").get("/").get_data(as_text=True)
    assert f'href="/documents/{doc_id}"' in home and f'href="/documents/{later_id}"' not in home
    assert "即将解密的协议" in home and 'action="/search"' in home
    other = login_as("outsider").get("/").get_data(as_text=True)
    assert "即将解密的协议" not in other


def test_bad_ids_and_numbers_never_500(app: Flask, login_as: Login) -> None:
    client = login_as("ceo")
    for url in ("/documents/99999999999999999999", "/documents/0", "/documents/5/view?page=-1",
                "/documents/99999999999/pages/1.png", "/documents/1/pages/99999999999.png",
                "/documents/1/download?v=99999999999999"):
        assert client.get(url).status_code in (400, 404), url


def test_no_audit_no_content(app: Flask, login_as: Login) -> None:
    """Fail closed: when the view cannot be audited, no page image leaves."""
    import shutil

    doc_id = make_doc(app, Level.SECRET)
    client = login_as("boss")
    audit_dir = app.extensions["vault.infra"].settings.audit_dir
    shutil.rmtree(audit_dir)
    audit_dir.write_text("not a folder")
    for url in (f"/documents/{doc_id}/pages/1.png", f"/documents/{doc_id}/view"):
        resp = client.get(url)
        assert resp.status_code == 503 and resp.mimetype == "text/html"
        assert not resp.data.startswith(b"\x89PNG")
        assert "无法写入审计记录" in resp.get_data(as_text=True)


def test_missing_font_is_a_clear_error_page(app: Flask, login_as: Login) -> None:
    import dataclasses

    doc_id = make_doc(app, Level.CONFIDENTIAL)
    infra = app.extensions["vault.infra"]
    infra.settings = dataclasses.replace(infra.settings,
                                         font_file=infra.settings.home / "missing.ttc")
    resp = login_as("boss").get(f"/documents/{doc_id}/pages/1.png")
    assert resp.status_code == 500 and "服务器缺少水印字体" in resp.get_data(as_text=True)


def test_hostile_pdf_page_cannot_be_shown_never_a_500(app: Flask, login_as: Login) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=300, height=200000)  # a sliver once bounded
    writer.add_blank_page(width=300, height=20000)  # scaled down
    buf = io.BytesIO()
    writer.write(buf)
    client = login_as("clerk")
    resp = upload(client, buf.getvalue(), "长条.pdf", title="长条")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    doc_id = doc_id_from(resp.headers["Location"])
    resp = client.get(f"/documents/{doc_id}/pages/1.png")
    assert resp.status_code == 400
    assert "无法显示此页" in resp.get_data(as_text=True)
    client.get("/lang/en")
    resp = client.get(f"/documents/{doc_id}/pages/1.png")
    assert resp.status_code == 400 and "Cannot show this page" in resp.get_data(as_text=True)
    resp = client.get(f"/documents/{doc_id}/pages/2.png")
    assert resp.status_code == 200
    shown = Image.open(io.BytesIO(resp.data))
    assert shown.width * shown.height <= 25_000_000 and max(shown.size) <= 10_000
