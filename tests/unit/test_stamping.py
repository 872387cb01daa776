"""Registered copies: stamping PDFs and images in memory, and page lists."""

from __future__ import annotations

import builtins
import io
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from hostile_pages import hostile_pdf, run_limited  # sibling test module
from PIL import Image, ImageChops
from pypdf import PdfReader, PdfWriter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from vault import stamping
from vault.stamping import Stamp, StampError

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
LINES = ("机密★10年", "副本 机密-2026-0042 副本 3", "领取人 吴员工 wu.yuangong", "2026-11-27")
STAMP = Stamp(LINES)
PDF = "application/pdf"


# ---------------------------------------------------------------------------
# Helpers


def make_pdf(n: int = 3, size: tuple[float, float] = (595, 842)) -> bytes:
    """``n`` pages, page i reading "第i页 内容" in Chinese (the font is embedded)."""
    if "TestSource" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TestSource", str(FONT), subfontIndex=0))
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=size)
    for i in range(1, n + 1):
        canvas.setFont("TestSource", 14)
        canvas.drawString(72, size[1] / 2, f"第{i}页 内容")
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def assert_stamped(text: str) -> None:
    for line in LINES:
        assert line in text, f"{line!r} missing from {text!r}"


def image_bytes(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def red_pixels(img: Image.Image, box: tuple[int, int, int, int]) -> int:
    raw = img.convert("RGB").crop(box).tobytes()
    pixels = zip(raw[0::3], raw[1::3], raw[2::3], strict=True)
    return sum(1 for r, g, b in pixels if r > 140 and g < 90 and b < 90)


def render(pdf: bytes, index: int) -> Image.Image:
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[index]
        try:
            bitmap = page.render(scale=1)
            img = bitmap.to_pil().convert("RGB")
            bitmap.close()
        finally:
            page.close()
    finally:
        doc.close()
    return img


# ---------------------------------------------------------------------------
# Media types


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        (PDF, True),
        ("image/png", True),
        ("image/jpeg", True),
        ("image/tiff", True),
        ("image/webp", True),
        ("audio/wav", False),
        ("text/plain", False),
        ("application/zip", False),
        ("", False),
        (None, False),
    ],
)
def test_can_stamp(media_type: str | None, expected: bool) -> None:
    assert stamping.can_stamp(media_type) is expected


def test_unsupported_type_is_refused() -> None:
    with pytest.raises(StampError, match="text/plain"):
        stamping.stamp("text/plain", b"hello", STAMP, FONT)
    with pytest.raises(StampError):
        stamping.page_count("audio/wav", b"RIFF")


def test_stamp_needs_lines() -> None:
    with pytest.raises(ValueError, match="line"):
        Stamp(())
    with pytest.raises(ValueError, match="control"):
        Stamp(("a\nb",))


# ---------------------------------------------------------------------------
# PDF


def test_page_count() -> None:
    assert stamping.page_count(PDF, make_pdf(3)) == 3
    assert stamping.page_count("image/png", image_bytes(Image.new("RGB", (10, 10)), "PNG")) == 1
    with pytest.raises(StampError):
        stamping.page_count(PDF, b"not a pdf at all")


def test_every_page_is_stamped_and_keeps_its_text() -> None:
    out, media_type = stamping.stamp(PDF, make_pdf(3), STAMP, FONT)
    assert media_type == PDF
    pages = texts(out)
    assert len(pages) == 3
    for i, text in enumerate(pages, start=1):
        assert f"第{i}页 内容" in text
        assert_stamped(text)


def test_excerpt_keeps_only_the_chosen_pages_in_order() -> None:
    out, _ = stamping.stamp(PDF, make_pdf(3), STAMP, FONT, pages=(2, 3))
    pages = texts(out)
    assert len(pages) == 2
    for text, original in zip(pages, (2, 3), strict=True):
        assert f"第{original}页 内容" in text
        assert_stamped(text)
    for other in ("第1页",):
        assert all(other not in text for text in pages)

    out, _ = stamping.stamp(PDF, make_pdf(3), STAMP, FONT, pages=[3, 1])
    assert [t.split("\n")[0] for t in texts(out)] == ["第3页 内容", "第1页 内容"]


@pytest.mark.parametrize("pages", [(0,), (4,), (1, 4), (-1,), (), (2, 2)])
def test_bad_page_choices_are_refused(pages: tuple[int, ...]) -> None:
    with pytest.raises(StampError):
        stamping.stamp(PDF, make_pdf(3), STAMP, FONT, pages=pages)


def test_page_out_of_range_says_how_many_pages() -> None:
    with pytest.raises(StampError, match="Page 4 does not exist; the PDF has 3 pages"):
        stamping.stamp(PDF, make_pdf(3), STAMP, FONT, pages=(4,))


def _encrypted(user: str, owner: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(2))))
    writer.encrypt(user_password=user, owner_password=owner, algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_password_protected_pdf_is_refused() -> None:
    data = _encrypted("pw", "pw")
    with pytest.raises(StampError, match="password"):
        stamping.stamp(PDF, data, STAMP, FONT)
    with pytest.raises(StampError, match="password"):
        stamping.page_count(PDF, data)


def test_owner_password_only_pdf_opens_and_is_stamped() -> None:
    out, _ = stamping.stamp(PDF, _encrypted("", "owner-secret"), STAMP, FONT)
    pages = texts(out)
    assert len(pages) == 2
    for i, text in enumerate(pages, start=1):
        assert f"第{i}页 内容" in text
        assert_stamped(text)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage bytes, certainly not a PDF",
        b"%PDF-1.7\n" + os.urandom(64),
        make_pdf(2)[:200],  # truncated
    ],
    ids=["empty", "text", "random-after-header", "truncated"],
)
def test_unreadable_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(StampError):
        stamping.stamp(PDF, data, STAMP, FONT)


def test_missing_font_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StampError, match="font"):
        stamping.stamp(PDF, make_pdf(1), STAMP, tmp_path / "nope.ttc")


def _rotated(rotate: int, box: tuple[float, float, float, float] | None) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(1))))
    page = writer.pages[0]
    if box is not None:
        page.mediabox.lower_left = box[:2]
        page.mediabox.upper_right = box[2:]
    if rotate:
        page.rotate(rotate)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("box", [None, (50.0, 100.0, 500.0, 700.0)], ids=["a4", "offset-box"])
def test_stamp_is_upright_bottom_right_on_rotated_and_cropped_pages(
    rotate: int, box: tuple[float, float, float, float] | None
) -> None:
    out, _ = stamping.stamp(PDF, _rotated(rotate, box), STAMP, FONT)
    (text,) = texts(out)
    assert "第1页 内容" in text
    assert_stamped(text)
    shown = render(out, 0)
    width, height = shown.size
    # The box is in the bottom-right margin of the page as displayed, nowhere else
    # (issue 16: a box at the top covered the title).
    bottom_right = red_pixels(shown, (width * 2 // 3, height * 14 // 15, width, height))
    top_left = red_pixels(shown, (0, 0, width // 3, height // 6))
    above = red_pixels(shown, (width * 2 // 3, 0, width, height * 5 // 6))
    assert bottom_right > 20
    assert top_left < bottom_right // 10 and above < bottom_right // 5


def test_font_is_registered_once_per_file() -> None:
    stamping.stamp(PDF, make_pdf(1), STAMP, FONT)
    name = stamping._PDF_FONTS[str(FONT)]
    stamping.stamp(PDF, make_pdf(1), STAMP, FONT)
    assert stamping._PDF_FONTS[str(FONT)] == name
    assert len(stamping._PDF_FONTS) == 1


# ---------------------------------------------------------------------------
# Images


@pytest.mark.parametrize(
    ("media_type", "fmt", "params"),
    [
        ("image/png", "PNG", {}),
        ("image/jpeg", "JPEG", {"quality": 95}),
        ("image/webp", "WEBP", {"lossless": True}),
        ("image/tiff", "TIFF", {}),
    ],
)
def test_image_is_stamped_in_place(media_type: str, fmt: str, params: dict[str, Any]) -> None:
    original = Image.new("RGB", (800, 600), (235, 235, 235))
    data = image_bytes(original, fmt, **params)
    out, out_type = stamping.stamp(media_type, data, STAMP, FONT)
    assert out_type == media_type
    result = Image.open(io.BytesIO(out))
    assert result.format == fmt
    assert result.size == original.size
    result.load()
    before = Image.open(io.BytesIO(data)).convert("RGB")
    # The stamp box sits in the bottom-right corner: changed, and red there.
    box = (400, 500, 800, 600)
    diff = ImageChops.difference(before.crop(box), result.convert("RGB").crop(box))
    assert sum(diff.convert("L").histogram()[40:]) > 1000
    assert red_pixels(result, box) > 80


def test_stamp_on_an_image_changes_it_everywhere_faintly() -> None:
    original = Image.new("RGB", (800, 600), (235, 235, 235))
    out, _ = stamping.stamp("image/png", image_bytes(original, "PNG"), STAMP, FONT)
    result = Image.open(io.BytesIO(out)).convert("RGB")
    # The diagonal repeat reaches the lower half too.
    lower = (0, 300, 800, 600)
    diff = ImageChops.difference(original.crop(lower), result.crop(lower)).convert("L")
    assert sum(diff.histogram()[5:]) > 500


def test_png_transparency_is_kept() -> None:
    original = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    out, _ = stamping.stamp("image/png", image_bytes(original, "PNG"), STAMP, FONT)
    result = Image.open(io.BytesIO(out))
    assert result.mode == "RGBA"
    alpha = result.getchannel("A")
    assert alpha.getextrema() == (0, 255)  # see-through away from the box, opaque text
    corner = alpha.getpixel((5, 295))
    assert isinstance(corner, int) and corner < 128


def test_jpeg_exif_orientation_is_applied_first() -> None:
    original = Image.new("RGB", (400, 200), (235, 235, 235))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = image_bytes(original, "JPEG", exif=exif.tobytes())
    out, _ = stamping.stamp("image/jpeg", data, STAMP, FONT)
    result = Image.open(io.BytesIO(out))
    assert result.size == (200, 400)
    assert result.getexif().get(0x0112) in (None, 1)
    assert red_pixels(result, (100, 300, 200, 400)) > 50


def test_small_images_still_get_the_whole_stamp() -> None:
    original = Image.new("RGB", (160, 120), (255, 255, 255))
    out, _ = stamping.stamp("image/png", image_bytes(original, "PNG"), STAMP, FONT)
    result = Image.open(io.BytesIO(out))
    assert result.size == (160, 120)
    assert red_pixels(result, (0, 0, 160, 120)) > 50


def test_image_pages() -> None:
    data = image_bytes(Image.new("RGB", (100, 100), "white"), "PNG")
    assert stamping.stamp("image/png", data, STAMP, FONT, pages=(1,))[1] == "image/png"
    for pages in [(2,), (1, 2), ()]:
        with pytest.raises(StampError):
            stamping.stamp("image/png", data, STAMP, FONT, pages=pages)


def test_image_of_another_format_than_its_type_is_refused() -> None:
    jpeg = image_bytes(Image.new("RGB", (100, 100), "white"), "JPEG")
    with pytest.raises(StampError, match="PNG"):
        stamping.stamp("image/png", jpeg, STAMP, FONT)
    with pytest.raises(StampError):
        stamping.stamp("image/jpeg", b"\xff\xd8\xff garbage", STAMP, FONT)


def test_multi_page_tiff_is_refused() -> None:
    frames = [Image.new("RGB", (50, 50), c) for c in ("white", "black")]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(StampError, match="frames"):
        stamping.stamp("image/tiff", buf.getvalue(), STAMP, FONT)


@pytest.mark.parametrize("side", [40, 100], ids=["over-the-limit", "twice-over"])
def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch, side: int) -> None:
    data = image_bytes(Image.new("RGB", (side, side), "white"), "PNG")
    # 40² is over 1000 (a warning in Pillow), 100² over twice 1000 (an error).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(StampError, match="too large"):
        stamping.stamp("image/png", data, STAMP, FONT)
    with pytest.raises(StampError, match="too large"):
        stamping.page_count("image/png", data)


# ---------------------------------------------------------------------------
# Nothing touches the disk


def test_nothing_is_written_to_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(spool))
    writes: list[str] = []
    real_open: Callable[..., Any] = builtins.open
    real_os_open: Callable[..., int] = os.open

    def spy_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+"):
            writes.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def spy_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append(str(path))
        return real_os_open(path, flags, *args, **kwargs)

    pdf = make_pdf(2)
    png = image_bytes(Image.new("RGB", (300, 200), "white"), "PNG")
    jpeg = image_bytes(Image.new("RGB", (300, 200), "white"), "JPEG")
    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    stamping.stamp(PDF, pdf, STAMP, FONT, pages=(2,))
    stamping.stamp("image/png", png, STAMP, FONT)
    stamping.stamp("image/jpeg", jpeg, STAMP, FONT)
    monkeypatch.undo()
    assert writes == []
    assert list(spool.iterdir()) == []


# ---------------------------------------------------------------------------
# Page lists


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("1", None, (1,)),
        ("1-3,5", None, (1, 2, 3, 5)),
        (" 5 , 1 - 3 ", None, (1, 2, 3, 5)),
        ("3,1,2,2,1-2", None, (1, 2, 3)),
        ("7-7", 7, (7,)),
        ("1-3，5、8", None, (1, 2, 3, 5, 8)),  # Chinese punctuation
        ("１－３", None, (1, 2, 3)),  # full-width digits and dash
        ("2~4", None, (2, 3, 4)),
        ("1-10000", None, tuple(range(1, 10001))),
        ("10", 10, (10,)),
    ],
)
def test_parse_pages(text: str, limit: int | None, expected: tuple[int, ...]) -> None:
    assert stamping.parse_pages(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "limit", "message"),
    [
        ("", None, "No pages"),
        ("   ", None, "No pages"),
        (",", None, "No pages"),
        ("1,,2", None, "Empty item"),
        ("1,", None, "Empty item"),
        ("0", None, "start at 1"),
        ("0-2", None, "start at 1"),
        ("-1", None, "start at 1"),
        ("-3-5", None, "not a page"),
        ("5-3", None, "lower page"),
        ("11", 10, "has 10 pages"),
        ("1-11", 10, "has 10 pages"),
        ("2", 1, "has 1 page"),
        ("1-10001", None, "At most 10000"),
        ("1-5000,5001-10001", None, "At most 10000"),
        ("1-999999999", None, "At most 10000"),
        ("12345678901", None, "that many pages"),
        ("abc", None, "not a page"),
        ("1-", None, "not a page"),
        ("1-2-3", None, "not a page"),
        ("1.5", None, "not a page"),
        ("1 2", None, "not a page"),
        ("一", None, "not a page"),
        ("1;2", None, "not a page"),
    ],
)
def test_parse_pages_refusals(text: str, limit: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stamping.parse_pages(text, limit)


@pytest.mark.parametrize(
    ("pages", "text"),
    [
        ((), ""),
        ((1,), "1"),
        ((1, 2, 3, 5), "1-3,5"),
        ((1, 2), "1-2"),
        ((1, 3, 5), "1,3,5"),
        ((4, 5, 6, 10, 11, 20), "4-6,10-11,20"),
        ((3, 1, 2), "3,1-2"),  # the given order is kept
    ],
)
def test_pages_text(pages: tuple[int, ...], text: str) -> None:
    assert stamping.pages_text(pages) == text


@pytest.mark.parametrize("bad", [(0,), (1, -2), (True,)])
def test_pages_text_refuses_non_pages(bad: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        stamping.pages_text(bad)


def test_pages_text_round_trip() -> None:
    rng = random.Random(20261127)
    for _ in range(300):
        pages = tuple(sorted(set(rng.sample(range(1, 60), rng.randint(1, 30)))))
        text = stamping.pages_text(pages)
        assert stamping.parse_pages(text) == pages
        assert stamping.pages_text(stamping.parse_pages(text)) == text


# ---------------------------------------------------------------------------
# Hostile pages: bounded the same way as the viewer


@pytest.mark.parametrize("box", [(300, 200000), (200000, 10)], ids=["sliver", "ribbon"])
def test_hostile_pdf_page_is_refused(box: tuple[int, int]) -> None:
    with pytest.raises(StampError, match="Page 1 cannot be stamped"):
        stamping.stamp(PDF, hostile_pdf(*box), STAMP, FONT)
    pdf = make_pdf(2)  # an excerpt of the good pages of a file with a hostile one
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_blank_page(width=box[0], height=box[1])
    buf = io.BytesIO()
    writer.write(buf)
    assert len(PdfReader(io.BytesIO(stamping.stamp(PDF, buf.getvalue(), STAMP, FONT,
                                                   pages=[2, 1])[0])).pages) == 2
    with pytest.raises(StampError, match="Page 3 cannot be stamped"):
        stamping.stamp(PDF, buf.getvalue(), STAMP, FONT)


def test_huge_page_gets_a_bounded_stamp() -> None:
    out, _ = stamping.stamp(PDF, hostile_pdf(200000, 200000), STAMP, FONT)
    content = PdfReader(io.BytesIO(out)).pages[0].get_contents()
    assert content is not None
    shows = content.get_data().count(b"Tj")
    assert 0 < shows <= 210  # ~200 diagonal repeats at most, and the box


_STAMP_IMAGE = """
import json, sys
from pathlib import Path
from vault import stamping
try:
    stamping.stamp("image/png", sys.stdin.buffer.read(), stamping.Stamp(("x",)),
                   Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"))
    print(json.dumps({"stamped": True}))
except stamping.StampError as exc:
    print(json.dumps({"refused": str(exc)}))
"""


def test_image_over_the_pixel_bound_is_refused_before_decoding() -> None:
    buf = io.BytesIO()
    Image.new("1", (10000, 6000)).save(buf, format="PNG")  # 60 MP in a few kB
    out = run_limited(_STAMP_IMAGE, buf.getvalue())
    assert "too large to stamp (10000 × 6000 pixels" in out.get("refused", ""), out
