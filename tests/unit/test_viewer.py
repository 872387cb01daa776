"""The viewer's pure parts (rendering, watermark, ranges, text decoding) and the
encrypted upload spool. No database."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hostile_pages import hostile_pdf, run_limited  # sibling test module
from PIL import Image, ImageChops, ImageDraw

from vault import imaging
from vault.config import Settings
from vault.crypto.spool import SpooledEncryptedFile
from vault.errors import ConfigError, InvalidInput, NotFound
from vault.services import samples, viewer
from vault.services.viewer import Kind
from vault.web.documents import content_disposition

FONT = Settings.__dataclass_fields__["font_file"].default
assert isinstance(FONT, Path)


def _changed(a: Image.Image, b: Image.Image) -> int:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L")
    return sum(diff.histogram()[25:])


@pytest.mark.parametrize(
    ("media_type", "size", "kind"),
    [
        ("application/pdf", 1000, Kind.PDF),
        ("application/pdf", viewer.VIEW_MAX_BYTES + 1, Kind.TOO_LARGE),
        ("image/png", 10, Kind.IMAGE),
        ("image/tiff", 10, Kind.IMAGE),
        ("audio/wav", viewer.VIEW_MAX_BYTES * 5, Kind.AUDIO),  # streamed: no cap
        ("text/plain", 10, Kind.TEXT),
        ("text/csv", 10, Kind.TEXT),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", 10,
         Kind.OTHER),
        (None, 0, Kind.NONE),
    ],
)
def test_kind_of(media_type: str | None, size: int, kind: Kind) -> None:
    assert viewer.kind_of(media_type, size) is kind


@pytest.mark.parametrize(
    ("byte_range", "size", "expected"),
    [
        (None, 100, (0, 100)),
        ((0, 10), 100, (0, 10)),
        ((90, None), 100, (90, 100)),
        ((90, 200), 100, (90, 100)),
        ((-10, None), 100, (90, 100)),
        ((-500, None), 100, (0, 100)),
    ],
)
def test_resolve_range(byte_range: tuple[int, int | None] | None, size: int,
                       expected: tuple[int, int]) -> None:
    assert viewer.resolve_range(byte_range, size) == expected


@pytest.mark.parametrize("byte_range", [(100, None), (150, 200), (0, 0)])
def test_unsatisfiable_ranges(byte_range: tuple[int, int | None]) -> None:
    with pytest.raises(viewer.RangeNotSatisfiable) as err:
        viewer.resolve_range(byte_range, 100)
    assert err.value.status == 416


def test_decode_text() -> None:
    assert viewer.decode_text("中文 text".encode()) == "中文 text"
    assert viewer.decode_text(b"\xef\xbb\xbfBOM") == "BOM"
    assert viewer.decode_text("关于停水的通知".encode("gb18030")) == "关于停水的通知"
    cut = "保密".encode()[:-1]  # a character cut by the size cap
    assert viewer.decode_text(cut, truncated=True) == "保"
    assert viewer.decode_text(b"\xff\xfe\xfd\x80") != ""  # never fails


def test_render_pdf_pages() -> None:
    pdf = samples.pdf_pages("渲染测试", pages=2)
    first = viewer.render_page("application/pdf", pdf, 1)
    second = viewer.render_page("application/pdf", pdf, 2)
    assert first.mode == "RGB" and first.width == viewer.RENDER_WIDTH
    assert _changed(first, second) > 0  # "第 1 页" vs "第 2 页"
    with pytest.raises(NotFound):
        viewer.render_page("application/pdf", pdf, 3)
    with pytest.raises(InvalidInput) as err:
        viewer.render_page("application/pdf", b"%PDF-1.4 not really", 1)
    assert err.value.code == "unrenderable"


def test_render_images_flattens_transparency_and_scales_down() -> None:
    img = Image.new("RGBA", (3000, 1000), (0, 0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    out = viewer.render_page("image/png", buf.getvalue(), 1)
    assert out.mode == "RGB" and max(out.size) == viewer.MAX_IMAGE_SIDE
    assert out.getpixel((10, 10)) == (255, 255, 255)
    with pytest.raises(NotFound):
        viewer.render_page("image/png", buf.getvalue(), 2)
    with pytest.raises(InvalidInput):
        viewer.render_page("image/png", b"\x89PNG\r\n\x1a\nbroken", 1)


def test_multi_page_tiff() -> None:
    frames = [Image.new("RGB", (200, 100), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    data = buf.getvalue()
    assert viewer.render_page("image/tiff", data, 2).getpixel((5, 5)) == (0, 0, 255)


@pytest.mark.skipif(not FONT.is_file(), reason="needs fonts-wqy-microhei (make test installs it)")
def test_watermark_is_visible_tiled_and_draws_chinese() -> None:
    page = Image.new("RGB", (800, 1100), (255, 255, 255))
    marked = viewer.watermark(page, ["王总（wang.zong）", "2026-12-01 10:32", "机密★10年"], FONT)
    assert marked.size == page.size and marked.mode == "RGB"
    assert _changed(page, marked) > 800 * 1100 // 100
    # Tiled: every quarter of the page carries some of it.
    for box in ((0, 0, 400, 550), (400, 0, 800, 550), (0, 550, 400, 1100), (400, 550, 800, 1100)):
        assert _changed(page.crop(box), marked.crop(box)) > 0
    # Semi-transparent: the page underneath still shows through the tiles.
    dark = Image.new("RGB", (800, 1100), (0, 0, 0))
    ImageDraw.Draw(dark).rectangle((0, 0, 800, 1100), fill=(0, 0, 0))
    assert viewer.watermark(dark, ["机密"], FONT).crop((0, 0, 800, 900)).getextrema()[0][1] < 200
    # Chinese glyphs are drawn (boxes for missing glyphs would look all the same).
    a = viewer.watermark(page, ["机密★10年"], FONT)
    b = viewer.watermark(page, ["秘密★10年"], FONT)
    assert _changed(a, b) > 0


def test_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        viewer.watermark(Image.new("RGB", (10, 10)), ["机密"], tmp_path / "no-font.ttc")
    assert err.value.code == "font_missing"
    assert "fonts-wqy-microhei" in err.value.message


@pytest.mark.skipif(not FONT.is_file(), reason="needs fonts-wqy-microhei (make test installs it)")
def test_a_pages_colours_are_kept_and_each_viewer_gets_their_own_words() -> None:
    page = Image.new("RGB", (600, 800), (255, 255, 255))
    ImageDraw.Draw(page).rectangle((50, 50, 550, 300), fill=(30, 30, 30))
    key = ("blob-of-this-test", 1)
    viewer._PALETTES.clear()
    first = viewer.watermark(page, ["甲（jia）", "2026-12-01 10:32", "机密"], FONT)
    second = viewer.watermark(page, ["乙（yi）", "2026-12-01 10:33", "机密"], FONT)
    sent_first = Image.open(io.BytesIO(viewer.png_bytes(first, key))).convert("RGB")
    assert viewer._PALETTES.get(key) is not None  # chosen once, for the page
    sent_second = Image.open(io.BytesIO(viewer.png_bytes(second, key))).convert("RGB")
    # The second viewer's words, not the first's, in the first's colours: each pixel
    # within a few levels of the second viewer's watermarked page.
    assert _changed(sent_first, sent_second) > 1000
    worst = ImageChops.difference(sent_second, second).getextrema()
    assert max(high for _low, high in worst) <= 24
    assert _changed(sent_second, second) < 600 * 800 // 1000
    # A page shorter than the band still gets it (clipped), without an error.
    tiny = viewer.watermark(Image.new("RGB", (40, 12), (255, 255, 255)), ["机密"], FONT)
    assert tiny.size == (40, 12) and _changed(tiny, Image.new("RGB", (40, 12), "white")) > 0


def test_png_bytes_round_trip() -> None:
    img = Image.new("RGB", (20, 10), (1, 2, 3))
    back = Image.open(io.BytesIO(viewer.png_bytes(img)))
    assert back.format == "PNG" and back.convert("RGB").getpixel((0, 0)) == (1, 2, 3)


# ---------------------------------------------------------------------------
# The upload spool


def test_small_upload_stays_in_memory(tmp_path: Path) -> None:
    spool = SpooledEncryptedFile(tmp_path, max_memory=1024)
    spool.write(b"hello ")
    spool.write(memoryview(b"world"))
    assert not spool.spilled
    assert spool.seek(0) == 0
    assert spool.read() == b"hello world"
    assert os.listdir(tmp_path) == []
    spool.close()


def test_large_upload_is_encrypted_on_disk_and_reads_back(tmp_path: Path) -> None:
    marker = b"SECRET-PLAINTEXT-MARKER"
    data = (marker + os.urandom(1000)) * 3000  # ~3 MiB, not a multiple of the chunk
    spool = SpooledEncryptedFile(tmp_path, max_memory=64 * 1024)
    for i in range(0, len(data), 8192):
        spool.write(data[i : i + 8192])
    assert spool.spilled
    assert os.listdir(tmp_path) == []  # an unnamed temporary file
    spool.seek(0)
    assert spool._file is not None
    raw = os.pread(spool._file.fileno(), len(data) + 4096, 0)
    assert len(raw) > len(data) and marker not in raw  # ciphertext with tags
    out = bytearray()
    buf = bytearray(100_000)
    while n := spool.readinto(buf):
        out += buf[:n]
    assert bytes(out) == data
    spool.seek(0)
    assert spool.read(10) == data[:10]  # may be read again
    spool.close()
    assert spool.closed
    with pytest.raises(ValueError):
        spool.read()


@pytest.mark.parametrize("size", [0, SpooledEncryptedFile.CHUNK, 2 * SpooledEncryptedFile.CHUNK])
def test_chunk_boundaries(tmp_path: Path, size: int) -> None:
    spool = SpooledEncryptedFile(tmp_path, max_memory=0)
    data = os.urandom(size)
    spool.write(data)
    spool.seek(0)
    assert spool.read() == data
    spool.close()


def test_altered_spool_is_refused(tmp_path: Path) -> None:
    spool = SpooledEncryptedFile(tmp_path, max_memory=0)
    spool.write(b"x" * 100_000)
    spool.seek(0)
    assert spool._file is not None
    fd = spool._file.fileno()
    byte = os.pread(fd, 1, 50)
    os.pwrite(fd, bytes([byte[0] ^ 1]), 50)
    with pytest.raises(OSError, match="authentication"):
        spool.read()
    spool.close()


def test_spool_is_written_once(tmp_path: Path) -> None:
    spool = SpooledEncryptedFile(tmp_path)
    spool.write(b"abc")
    spool.seek(0)
    with pytest.raises(ValueError):
        spool.write(b"more")
    with pytest.raises(io.UnsupportedOperation):
        spool.seek(1)
    spool.close()


def test_content_disposition() -> None:
    assert content_disposition("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    header = content_disposition('合同 "v2";.pdf')
    assert 'filename="__ _v2__.pdf"' in header
    assert "filename*=UTF-8''%E5%90%88%E5%90%8C%20%22v2%22%3B.pdf" in header
    assert "\n" not in content_disposition("a\nb.pdf")


# ---------------------------------------------------------------------------
# Hostile pages: bounded by pixel count, refused when nothing readable is left

# Every box in one child process (importing the viewer takes seconds): each page
# renders within the child's address-space limit, or the child dies and every
# case fails.
_RENDER = """
import json, sys
from vault.errors import InvalidInput
from vault.services import viewer
out = []
for hexdata in json.loads(sys.stdin.buffer.read()):
    try:
        img = viewer.render_page("application/pdf", bytes.fromhex(hexdata), 1)
        out.append({"size": list(img.size)})
        img.close()
    except InvalidInput as exc:
        out.append({"code": exc.code, "message": str(exc)})
print(json.dumps({"results": out}))
"""
_SCALED = [(300, 20000), (20000, 300), (14400, 14400), (200000, 200000)]
_HOSTILE = [(300, 200000), (200000, 10)]


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[int, int], dict[str, Any]]:
    boxes = _SCALED + _HOSTILE
    pdfs = [hostile_pdf(*box) for box in boxes]
    assert all(len(pdf) < 1000 for pdf in pdfs)
    out = run_limited(_RENDER, json.dumps([pdf.hex() for pdf in pdfs]).encode())
    assert "results" in out, out
    return dict(zip(boxes, out["results"], strict=True))


@pytest.mark.parametrize("box", _SCALED, ids=["tall", "wide", "pdf-maximum", "huge-square"])
def test_huge_pdf_page_is_scaled_down_within_the_pixel_bound(
    rendered: dict[tuple[int, int], dict[str, Any]], box: tuple[int, int]
) -> None:
    out = rendered[box]
    assert "size" in out, out
    width, height = out["size"]
    assert width * height <= imaging.MAX_PAGE_PIXELS
    assert max(width, height) <= imaging.MAX_PAGE_SIDE
    assert min(width, height) >= imaging.MIN_PAGE_SIDE
    # The shape is kept (within rounding).
    assert abs(width / height - box[0] / box[1]) <= 0.02 * box[0] / box[1]


@pytest.mark.parametrize("box", _HOSTILE, ids=["sliver", "ribbon"])
def test_hostile_pdf_page_cannot_be_shown(
    rendered: dict[tuple[int, int], dict[str, Any]], box: tuple[int, int]
) -> None:
    out = rendered[box]
    assert out.get("code") == "page_too_large", out
    assert "Cannot show this page" in out["message"]


def test_image_over_the_pixel_bound_is_refused_from_its_header() -> None:
    buf = io.BytesIO()
    Image.new("1", (10000, 6000)).save(buf, format="PNG")  # 60 MP, 1 bit deep
    with pytest.raises(InvalidInput) as err:
        viewer.render_page("image/png", buf.getvalue(), 1)
    assert err.value.code == "page_too_large"
    with pytest.raises(InvalidInput) as err:
        viewer._count_pages(Kind.IMAGE, buf.getvalue())
    assert err.value.code == "page_too_large"


def test_page_scale_bounds() -> None:
    assert imaging.fit_scale(595, 842, 2.0) == 2.0  # A4 at the viewer's scale: unchanged
    assert imaging.fit_scale(300, 20000, 4.0) == pytest.approx(0.5)
    for bad in [(0, 100), (-5, 100), (float("nan"), 100), (float("inf"), 100), (300, 200000)]:
        assert imaging.fit_scale(bad[0], bad[1], 1.0) is None
