"""The recording pages (录音): upload with the call's metadata (field errors in the
reader's language, nothing written on a refusal), the request record's list with an
inline player that loads nothing until played, the archive form (reason and event
required) and the archive register, a destroyed recording shown as such; in zh and
en; what people outside the circle get. SQLite (see pytestmark below)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from doctools import multipart  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.models import Document, Recording, RecordingArchive
from vault.services import recordings, samples
from vault.services.context import Infra, unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_recordings.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]
TZ = timezone(timedelta(hours=8))
WAV = samples.wav_tone(0.25)


def infra_of(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


def text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def register(app: Flask, who: str = "clerk", ref: str = "SQ-2026-0100",
             days_ago: float = 1) -> int:
    with unit_of_work(infra_of(app), who) as ctx:
        return recordings.register(
            ctx, content=io.BytesIO(WAV), filename="call.wav", caller_number="0755-8888 1234",
            called_at=datetime.now(UTC) - timedelta(days=days_ago), agent="李客服",
            request_ref=ref).id


def upload(client: FlaskClient, content: bytes = WAV, filename: str = "call.wav",
           **fields: str) -> Any:
    data = {"csrf_token": csrf_token(client, "/recordings/new"),
            "request_ref": "SQ-2026-0200", "called_at": "2026-01-15T09:30",
            "caller_number": "13800138000", "agent": "王坐席", "department": "CS"}
    data.update(fields)
    body, content_type = multipart(data, "file", content, filename)
    return client.post("/recordings/new", data=body, content_type=content_type)


def counts(app: Flask) -> tuple[int, int]:
    with infra_of(app).sessions() as s:
        return (int(s.scalar(select(func.count()).select_from(Document)) or 0),
                int(s.scalar(select(func.count()).select_from(Recording)) or 0))


def test_upload_form_in_chinese_then_english(login_as: Login) -> None:
    clerk = login_as("clerk")
    page = text(clerk.get("/recordings/new"))
    for words in ("上传录音", "诉求记录编号", "通话时间", "来电号码", "坐席", "音频文件",
                  "登记录音", 'type="datetime-local"', 'class="card register upload-form"'):
        assert words in page, words
    assert 'href="/recordings/"' in text(clerk.get("/documents/"))  # in the menu: 录音
    clerk.get("/lang/en")
    page = text(clerk.get("/recordings/new"))
    for words in ("Upload a recording", "Request record number", "Time of the call",
                  "Caller number", "Agent", "Audio file", "Register the recording"):
        assert words in page, words


def test_upload_registers_the_recording(app: Flask, login_as: Login) -> None:
    clerk = login_as("clerk")
    resp = upload(clerk, title="B座噪音投诉来电")
    assert resp.status_code == 302, text(resp)
    match = re.search(r"/recordings/(\d+)$", resp.headers["Location"])
    assert match
    doc_id = int(match.group(1))
    with infra_of(app).sessions() as s:
        rec = s.get(Recording, doc_id)
        doc = s.get(Document, doc_id)
        assert rec is not None and doc is not None
        assert rec.source == "upload" and rec.request_ref == "SQ-2026-0200"
        # The form speaks group time.
        assert rec.called_at == datetime(2026, 1, 15, 9, 30, tzinfo=TZ)
        assert (doc.title, doc.category, doc.level) == (
            "B座噪音投诉来电", "call_recording", "confidential")
    page = text(clerk.get(f"/recordings/{doc_id}"))
    assert "录音已登记" in page and "B座噪音投诉来电" in page
    assert "秘密★10年" in page and "13800138000" in page and "王坐席" in page
    assert f'src="/documents/{doc_id}/audio"' in page and 'preload="none"' in page
    assert 'id="archive-form"' in page
    # The player's address plays the audio (and says so on the trail).
    audio = clerk.get(f"/documents/{doc_id}/audio", headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206 and audio.mimetype == "audio/wav"
    assert audio.get_data() == WAV[:100]


def test_upload_refusals_name_the_field_and_write_nothing(app: Flask, login_as: Login) -> None:
    clerk = login_as("clerk")
    resp = upload(clerk, caller_number="call me", agent="", called_at="soon",
                  request_ref="SQ 1")
    page = text(resp)
    assert resp.status_code == 400
    assert "录音未登记" in page and "请填写接听电话的坐席" in page
    assert "请填写通话的日期和时间" in page
    resp = upload(clerk, caller_number="call me")
    assert resp.status_code == 400 and "来电号码须为 3–32 个字符" in text(resp)
    resp = upload(clerk, request_ref="SQ 1")
    assert resp.status_code == 400 and "诉求记录编号须为 1–64 个字符" in text(resp)
    resp = upload(clerk, called_at="2999-01-01T00:00")
    assert resp.status_code == 400 and "通话时间不能晚于当前时间" in text(resp)
    resp = upload(clerk, samples.pdf_pages("不是录音"), "call.pdf")
    assert resp.status_code == 415
    clerk.get("/lang/en")
    resp = upload(clerk, caller_number="call me")
    page = text(resp)
    assert "The recording was not registered" in page
    assert "The caller number must be 3–32 characters" in page
    body, content_type = multipart({"csrf_token": csrf_token(clerk, "/recordings/new"),
                                    "request_ref": "SQ-1"}, "file", b"", "")
    resp = clerk.post("/recordings/new", data=body, content_type=content_type)
    assert resp.status_code == 400 and "Choose the recording&#39;s audio file" in text(resp)
    assert counts(app) == (0, 0)
    assert list(infra_of(app).blobs.iter_ids()) == []


def test_list_grouped_by_request_record_with_players(app: Flask, login_as: Login) -> None:
    first = register(app, ref="SQ-A", days_ago=2)
    second = register(app, "boss", ref="SQ-A", days_ago=1)
    other = register(app, ref="SQ-B")
    theirs = register(app, "outsider", ref="SQ-A")
    manager = login_as("manager")
    page = text(manager.get("/recordings/"))
    assert "通话录音" in page and "共 3 条录音" in page
    assert "诉求记录 SQ-A" in page and "诉求记录 SQ-B" in page
    for doc_id in (first, second, other):
        assert f'id="player-{doc_id}"' in page
        assert f'src="/documents/{doc_id}/audio"' in page
    assert f"recording-{theirs}" not in page
    assert page.count('preload="none"') == 3
    # Within a request record, in call order.
    section = page[page.index('data-request-ref="SQ-A"'):]
    assert section.index(f"recording-{first}") < section.index(f"recording-{second}")
    page = text(manager.get("/recordings/?request_ref=SQ-B"))
    assert "共 1 条录音" in page and f"recording-{other}" in page
    resp = manager.get("/recordings/?request_ref=SQ%20B")
    assert resp.status_code == 400 and "诉求记录编号须为" in text(resp)
    manager.get("/lang/en")
    page = text(manager.get("/recordings/"))
    assert "Call recordings" in page and "Request record SQ-A" in page
    assert "3 recordings" in page
    outsider = text(login_as("outsider").get("/recordings/?request_ref=SQ-A"))
    assert f"recording-{theirs}" in outsider and f"recording-{first}" not in outsider


def test_archive_form_and_register(app: Flask, login_as: Login) -> None:
    doc_id = register(app, ref="SQ-EV")
    boss = login_as("boss")
    token = csrf_token(boss, f"/recordings/{doc_id}")
    resp = boss.post(f"/recordings/{doc_id}/archive",
                     data={"csrf_token": token, "reason": "", "event": "A座漏水事件"})
    page = text(resp)
    assert resp.status_code == 400
    assert "录音未存档" in page and "请说明需另行保存该录音的原因" in page
    assert 'value="A座漏水事件"' in page  # what was typed is kept
    resp = boss.post(f"/recordings/{doc_id}/archive",
                     data={"csrf_token": token, "reason": "投诉未结", "event": " "})
    assert resp.status_code == 400 and "请填写特殊事件" in text(resp)
    with infra_of(app).sessions() as s:
        assert s.scalar(select(func.count()).select_from(RecordingArchive)) == 0
    resp = boss.post(f"/recordings/{doc_id}/archive",
                     data={"csrf_token": token, "reason": "业主投诉未结，保留证据",
                           "event": "A座漏水事件"})
    assert resp.status_code == 302
    page = text(boss.get(resp.headers["Location"]))
    assert "录音已登记在录音存档记录表中，不会被销毁" in page
    assert 'id="archive-entry"' in page and "业主投诉未结，保留证据" in page
    assert 'id="archive-form"' not in page and "已存档：长期保存" in page
    register_page = text(boss.get("/recordings/archive-register"))
    assert "录音存档记录表" in register_page and "共 1 条存档录音" in register_page
    assert f'id="archived-{doc_id}"' in register_page and "A座漏水事件" in register_page
    again = boss.post(f"/recordings/{doc_id}/archive",
                      data={"csrf_token": token, "reason": "r", "event": "e"})
    assert again.status_code == 409 and "该录音已登记在录音存档记录表中" in text(again)
    boss.get("/lang/en")
    page = text(boss.get("/recordings/archive-register"))
    assert "Recording archive register" in page and "1 archived recordings" in page
    page = text(boss.get(f"/recordings/{doc_id}"))
    assert "archived: kept" in page and "Archived by" in page
    assert "尚无存档录音。" in text(login_as("outsider").get(
        "/recordings/archive-register"))


def test_a_destroyed_recording_has_no_player(app: Flask, login_as: Login) -> None:
    doc_id = register(app, ref="SQ-OLD", days_ago=40)
    infra = infra_of(app)
    short = replace(infra, settings=replace(infra.settings, recording_retention_days=30))
    with unit_of_work(short, None) as ctx:
        assert [p.document_id for p in recordings.purge(ctx)] == [doc_id]
    clerk = login_as("clerk")
    for path in (f"/recordings/{doc_id}", "/recordings/?request_ref=SQ-OLD"):
        page = text(clerk.get(path))
        assert "已按保存期限销毁" in page, path
        assert "<audio" not in page and f'id="destroyed-{doc_id}"' in page
    assert "已按保存期限销毁，无法再存档" in text(clerk.get(f"/recordings/{doc_id}"))
    token = csrf_token(clerk, f"/recordings/{doc_id}")
    resp = clerk.post(f"/recordings/{doc_id}/archive",
                      data={"csrf_token": token, "reason": "太晚", "event": "事件"})
    assert resp.status_code == 409 and "该录音已按保存期限销毁" in text(resp)
    clerk.get("/lang/en")
    assert "Destroyed after the retention period" in text(clerk.get(f"/recordings/{doc_id}"))


def test_people_outside_the_circle(app: Flask, login_as: Login) -> None:
    doc_id = register(app)
    assert login_as("outsider").get(f"/recordings/{doc_id}").status_code == 404
    auditor = login_as("auditor")  # compliance: may know of it, may not listen
    page = text(auditor.get(f"/recordings/{doc_id}"))
    assert "<audio" not in page and "只有有权收听该录音的人员才能将其存档" in page
    assert "您可以知悉该录音的存在，但无权收听" in page
    token = csrf_token(auditor, f"/recordings/{doc_id}")
    resp = auditor.post(f"/recordings/{doc_id}/archive",
                        data={"csrf_token": token, "reason": "r", "event": "e"})
    assert resp.status_code == 403
    assert login_as("clerk").get("/recordings/2147483648").status_code == 404
