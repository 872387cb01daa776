"""Stamping registered copies (复印件视同原件), in memory only.

A registered copy carries, visibly on every page, a stamp naming the recipient,
the copy number, the date and the secrecy marking. `stamp` takes the plaintext
of a PDF or an image and returns the stamped bytes; nothing here touches the
disk (every intermediate lives in an `io.BytesIO`).

PDF: a reportlab overlay per page, sized to that page's visible box (crop box)
and turned with the page's ``/Rotate`` so the stamp reads upright, is merged on
top of the original content with pypdf. The stamp is a red box of text in the
bottom-right margin, its type scaled to the page (real text in an embedded subset
of the configured font, so it can be searched and extracted) plus a faint diagonal
repeat across the page. The
original content is kept as it was (its text stays extractable).

Images: the same box drawn with Pillow, plus a faint diagonal repeat; the format
and the size are kept (EXIF orientation is applied first, other metadata except
the colour profile and resolution is dropped).

Excerpts: ``pages`` picks 1-based pages, in the given order; `parse_pages` reads
what a person types (``"1-3,5"``) and `pages_text` writes it back.
"""

from __future__ import annotations

import io
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf.errors import FileNotDecryptedError, PyPdfError

from vault import imaging
from vault.imaging import (
    MAX_IMAGE_PIXELS,
    MAX_PAGE_PIXELS,
    MAX_PAGE_SIDE,
    fit_scale,
    image_fits,
)

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_PAGES",
    "MAX_PAGE_PIXELS",
    "MAX_PAGE_SIDE",
    "STAMPABLE",
    "Stamp",
    "StampError",
    "can_stamp",
    "fit_scale",
    "page_count",
    "pages_text",
    "parse_pages",
    "stamp",
]

PDF = "application/pdf"

# Media type -> the Pillow format name an image must decode as.
_IMAGE_FORMATS: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
}

STAMPABLE: frozenset[str] = frozenset({PDF, *_IMAGE_FORMATS})

MAX_PAGES = 10_000  # the most pages an excerpt may name

_RED = (0.75, 0.0, 0.0)
_RED_RGB = (190, 0, 0)


class StampError(Exception):
    """The file cannot be stamped as asked (unreadable, encrypted, no such page...)."""


@dataclass(frozen=True)
class Stamp:
    """The lines of a stamp, top to bottom, e.g. the marking, the copy number,
    the recipient and the date."""

    lines: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.lines or not any(line.strip() for line in self.lines):
            raise ValueError("A stamp needs at least one non-empty line.")
        for line in self.lines:
            if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in line):
                raise ValueError(f"Stamp line {line!r} contains control characters.")


def can_stamp(media_type: str | None) -> bool:
    """Whether `stamp` can make a stamped copy of content of this type."""
    return media_type in STAMPABLE


def page_count(media_type: str, data: bytes) -> int:
    """Pages of a PDF; 1 for an image. `StampError` when it cannot be read."""
    if media_type == PDF:
        reader = _read_pdf(data)
        try:
            return len(reader.pages)
        except _PDF_ERRORS as exc:
            raise _unreadable_pdf(exc) from None
    if media_type in _IMAGE_FORMATS:
        img = _open_image(media_type, data)
        img.close()
        return 1
    raise _unsupported(media_type)


def stamp(
    media_type: str,
    data: bytes,
    stamp: Stamp,
    font_file: Path,
    pages: Sequence[int] | None = None,
) -> tuple[bytes, str]:
    """Stamp every delivered page of ``data`` with ``stamp``.

    ``pages`` (1-based) makes an excerpt: only those pages, in that order, each
    stamped; ``None`` keeps every page. Images have one page. Returns the
    delivered bytes and their media type (the same as ``media_type``).
    `StampError` for anything that cannot be stamped as asked.
    """
    if pages is not None:
        pages = tuple(pages)
        if not pages:
            raise StampError("No pages were chosen for the copy.")
        if len(set(pages)) != len(pages):
            raise StampError("A page was chosen more than once.")
    if media_type == PDF:
        return _stamp_pdf(data, stamp, font_file, pages), PDF
    if media_type in _IMAGE_FORMATS:
        if pages is not None and pages != (1,):
            raise StampError("An image has only page 1.")
        return _stamp_image(media_type, data, stamp, font_file), media_type
    raise _unsupported(media_type)


def _unsupported(media_type: str | None) -> StampError:
    return StampError(f"Files of type {media_type or 'unknown'} cannot be stamped.")


# ---------------------------------------------------------------------------
# Page lists


_RANGE = re.compile(r"([0-9]+)(?:\s*[-~–—]\s*([0-9]+))?")
_MAX_DIGITS = 9
_MAX_TEXT = 100_000


def parse_pages(text: str, limit: int | None = None) -> tuple[int, ...]:
    """``"1-3,5"`` -> ``(1, 2, 3, 5)``: sorted, without repeats.

    Items are separated by commas (also ``，`` and ``、``); a range is ``a-b`` (also
    ``a~b``) with ``a <= b``; spaces are ignored. `ValueError`, with a message to
    show, for an empty list, page 0, a negative or reversed range, a page past
    ``limit``, more than `MAX_PAGES` pages or anything else.
    """
    if len(text) > _MAX_TEXT:
        raise ValueError("The page list is too long.")
    norm = unicodedata.normalize("NFKC", text).replace("、", ",")
    items = [item.strip() for item in norm.split(",")]
    if all(not item for item in items):
        raise ValueError("No pages were given; write pages like 1-3,5.")
    chosen: set[int] = set()
    for item in items:
        if not item:
            raise ValueError(f"Empty item in the page list {text.strip()!r}.")
        if item.startswith("-") and item[1:].strip().isdigit():
            raise ValueError(f"Page numbers start at 1, not {item!r}.")
        match = _RANGE.fullmatch(item)
        if match is None:
            raise ValueError(f"{item!r} is not a page or a range of pages like 1-3.")
        first_text, last_text = match.group(1), match.group(2)
        if len(first_text) > _MAX_DIGITS or len(last_text or "") > _MAX_DIGITS:
            raise ValueError(f"{item!r}: no document has that many pages.")
        first = int(first_text)
        last = int(last_text) if last_text is not None else first
        if first < 1 or last < 1:
            raise ValueError(f"{item!r}: page numbers start at 1.")
        if last < first:
            raise ValueError(f"{item!r}: a range must go from the lower page to the higher.")
        if limit is not None and last > limit:
            raise ValueError(
                f"{item!r}: the document has {limit} page{'s' if limit != 1 else ''}."
            )
        if last - first + 1 > MAX_PAGES:
            raise ValueError(f"At most {MAX_PAGES} pages can be chosen.")
        chosen.update(range(first, last + 1))
        if len(chosen) > MAX_PAGES:
            raise ValueError(f"At most {MAX_PAGES} pages can be chosen.")
    return tuple(sorted(chosen))


def pages_text(pages: Sequence[int]) -> str:
    """``(1, 2, 3, 5)`` -> ``"1-3,5"``: runs of consecutive pages become ranges, in
    the given order (so `parse_pages` reads back a sorted list unchanged)."""
    parts: list[str] = []
    start: int | None = None
    prev = 0
    for page in pages:
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError(f"{page!r} is not a page number.")
        if start is not None and page == prev + 1:
            prev = page
            continue
        if start is not None:
            parts.append(_run(start, prev))
        start = prev = page
    if start is not None:
        parts.append(_run(start, prev))
    return ",".join(parts)


def _run(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


# ---------------------------------------------------------------------------
# PDF


# Hostile or broken PDFs make pypdf fail in many ways besides its own errors.
_PDF_ERRORS: tuple[type[BaseException], ...] = (
    PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
    OSError, RecursionError, ZeroDivisionError, OverflowError, UnicodeError,
)


def _unreadable_pdf(exc: BaseException) -> StampError:
    return StampError(f"The PDF cannot be read, so it cannot be stamped ({type(exc).__name__}).")


def _read_pdf(data: bytes) -> Any:
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # An owner password alone (restrictions) opens with the empty password.
            try:
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except FileNotDecryptedError:
                opened = False
            if not opened:
                raise StampError(
                    "The PDF is protected by a password, so it cannot be stamped."
                )
        return reader
    except StampError:
        raise
    except _PDF_ERRORS as exc:
        raise _unreadable_pdf(exc) from None


_FONT_LOCK = threading.Lock()
_PDF_FONTS: dict[str, str] = {}  # font file -> the name it is registered under in reportlab


def _pdf_font(font_file: Path) -> str:
    """Register the font (first face of a .ttc) with reportlab once per path."""
    key = str(font_file)
    with _FONT_LOCK:
        name = _PDF_FONTS.get(key)
        if name is not None:
            return name
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFError, TTFont

        _check_font(font_file)
        name = f"VaultStamp{len(_PDF_FONTS)}"  # one name per file: names are global
        try:
            pdfmetrics.registerFont(TTFont(name, key, subfontIndex=0))
        except (TTFError, OSError) as exc:
            raise StampError(f"The stamp font {font_file} cannot be used: {exc}") from None
        _PDF_FONTS[key] = name
        return name


def _check_font(font_file: Path) -> None:
    if not Path(font_file).is_file():
        raise StampError(
            f"The stamp font {font_file} is missing; install fonts-wqy-microhei or set "
            "VAULT_FONT_FILE to a font with Chinese glyphs."
        )


def _stamp_pdf(
    data: bytes, mark: Stamp, font_file: Path, pages: tuple[int, ...] | None
) -> bytes:
    from pypdf import PdfWriter

    font = _pdf_font(font_file)
    reader = _read_pdf(data)
    try:
        total = len(reader.pages)
        if total < 1:
            raise StampError("The PDF has no pages.")
        chosen = pages if pages is not None else tuple(range(1, total + 1))
        for number in chosen:
            if not 1 <= number <= total:
                raise StampError(
                    f"Page {number} does not exist; the PDF has {total} "
                    f"page{'s' if total != 1 else ''}."
                )
        for number in chosen:
            left, bottom, right, top = _visible_box(reader.pages[number - 1])
            if fit_scale(right - left, top - bottom, 1.0) is None:
                raise StampError(
                    f"Page {number} cannot be stamped: its size ({right - left:g} × "
                    f"{top - bottom:g} points) is outside what Vault draws (a damaged or "
                    "hostile file)."
                )
        writer = PdfWriter()
        for number in chosen:
            writer.add_page(reader.pages[number - 1])
        overlays = _overlays(writer.pages, mark, font)
        for page, overlay in zip(writer.pages, overlays, strict=True):
            page.merge_page(overlay)
        out = io.BytesIO()
        writer.write(out)
    except StampError:
        raise
    except _PDF_ERRORS as exc:
        raise _unreadable_pdf(exc) from None
    return out.getvalue()


def _visible_box(page: Any) -> tuple[float, float, float, float]:
    box = page.cropbox
    left, right = sorted((float(box.left), float(box.right)))
    bottom, top = sorted((float(box.bottom), float(box.top)))
    if right - left < 1 or top - bottom < 1:
        box = page.mediabox
        left, right = sorted((float(box.left), float(box.right)))
        bottom, top = sorted((float(box.bottom), float(box.top)))
    return left, bottom, right, top


def _rotation(page: Any) -> int:
    try:
        rotate = int(page.rotation) % 360
    except (TypeError, ValueError):
        return 0
    return rotate if rotate in (0, 90, 180, 270) else 0


def _overlays(pages: Sequence[Any], mark: Stamp, font: str) -> list[Any]:
    """One overlay page per target page, drawn in one reportlab document (so the
    font subset is embedded once)."""
    from pypdf import PdfReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf, pageCompression=1)
    for page in pages:
        left, bottom, right, top = _visible_box(page)
        width, height = right - left, top - bottom
        rotate = _rotation(page)
        canvas.setPageSize((max(1.0, right), max(1.0, top)))
        canvas.saveState()
        # Draw in the coordinates of the page as displayed (after /Rotate turns it
        # clockwise), origin at its bottom-left corner.
        canvas.translate(left, bottom)
        if rotate == 90:
            canvas.translate(width, 0)
        elif rotate == 180:
            canvas.translate(width, height)
        elif rotate == 270:
            canvas.translate(0, height)
        canvas.rotate(rotate)
        shown_w, shown_h = (height, width) if rotate in (90, 270) else (width, height)
        _draw_pdf_stamp(canvas, shown_w, shown_h, mark, font)
        canvas.restoreState()
        canvas.showPage()
    canvas.save()
    return list(PdfReader(io.BytesIO(buf.getvalue())).pages)


def _draw_pdf_stamp(canvas: Any, width: float, height: float, mark: Stamp, font: str) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines = [line for line in mark.lines if line.strip()]
    short = min(width, height)
    margin = max(4.0, min(24.0, short * 0.03))

    # A faint diagonal repeat of the copy across the page, under the box.
    diagonal = "  ".join(lines[1:3] if len(lines) > 2 else lines)
    size = max(6.0, min(28.0, short / 22))
    canvas.saveState()
    canvas.setFillColorRGB(*_RED)
    canvas.setFillAlpha(0.10)
    canvas.setFont(font, size)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(math.degrees(math.atan2(height, width)))
    diag = math.hypot(width, height)
    step = max(size * 8, diag / 200)  # at most ~200 repeats, whatever the page size
    y = -diag / 2
    while y <= diag / 2:
        canvas.drawCentredString(0, y, diagonal)
        y += step
    canvas.restoreState()

    # The box: red text on white in the bottom-right margin, its type scaled to the
    # page (7 pt on A4) so that it stays in the margin instead of covering content,
    # shrunk further to fit narrow pages.
    size = max(4.0, min(9.0, short / 85))
    margin = max(3.0, min(18.0, short * 0.02))
    widest = max(stringWidth(line, font, size) for line in lines)
    room = width - 2 * margin - size
    if widest > room > 0:
        size = max(3.0, size * room / widest)
        widest = max(stringWidth(line, font, size) for line in lines)
    pad = size * 0.5
    leading = size * 1.3
    box_w = widest + 2 * pad
    box_h = leading * len(lines) + pad * 2 - (leading - size)
    x = max(0.0, width - margin - box_w)
    y_top = min(height, margin + box_h)
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFillAlpha(0.85)
    canvas.setStrokeColorRGB(*_RED)
    canvas.setLineWidth(max(0.5, size / 10))
    canvas.rect(x, y_top - box_h, box_w, box_h, stroke=1, fill=1)
    canvas.setFillAlpha(1)
    canvas.setFillColorRGB(*_RED)
    canvas.setFont(font, size)
    baseline = y_top - pad - size * 0.88
    for line in lines:
        canvas.drawString(x + pad, baseline, line)
        baseline -= leading
    canvas.restoreState()


# ---------------------------------------------------------------------------
# Images


def _open_image(media_type: str, data: bytes) -> Any:
    """Open ``data`` as the format its media type names; refuse bombs and animations."""
    from PIL import Image, UnidentifiedImageError

    fmt = _IMAGE_FORMATS[media_type]
    with warnings.catch_warnings():
        # A decompression bomb is refused outright rather than warned about.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise StampError(
                "The image is too large to stamp (it may be a decompression bomb)."
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise StampError(
                f"The file cannot be read as {fmt}, so it cannot be stamped."
            ) from None
    if int(getattr(img, "n_frames", 1)) > 1:
        img.close()
        raise StampError(
            "The image has several frames or pages; only single-frame images can be stamped."
        )
    if not image_fits(img.width, img.height):
        size = f"{img.width} × {img.height}"
        img.close()
        raise StampError(
            f"The image is too large to stamp ({size} pixels; at most "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
        )
    return img


def _stamp_image(media_type: str, data: bytes, mark: Stamp, font_file: Path) -> bytes:
    from PIL import Image, ImageOps

    _check_font(font_file)
    src = _open_image(media_type, data)
    fmt = _IMAGE_FORMATS[media_type]
    try:
        src.load()
        info = dict(src.info)
        # The colour profile is kept only when it describes the RGB pixels written out.
        rgb_profile = src.mode in ("RGB", "RGBA", "RGBX", "P", "PA")
        img = ImageOps.exif_transpose(src)
        alpha = img.mode in ("RGBA", "LA", "PA") or (
            img.mode == "P" and "transparency" in img.info
        )
        if fmt == "JPEG":
            alpha = False
        base = img.convert("RGBA")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise StampError(f"The file cannot be read as {fmt}, so it cannot be stamped.") from None
    finally:
        src.close()
    overlay = _image_overlay(base.size, mark, str(font_file))
    out_img = Image.alpha_composite(base, overlay)
    out_img = out_img if alpha else out_img.convert("RGB")

    params: dict[str, Any] = {}
    if rgb_profile and info.get("icc_profile"):
        params["icc_profile"] = info["icc_profile"]
    if info.get("dpi"):
        params["dpi"] = info["dpi"]
    if fmt == "JPEG":
        params.update(quality=90)
    elif fmt == "WEBP":
        params.update(quality=90)
    elif fmt == "TIFF":
        params.update(compression="tiff_deflate")
    elif fmt == "PNG":
        params.update(compress_level=6)
    out = io.BytesIO()
    try:
        out_img.save(out, format=fmt, **params)
    except (OSError, ValueError) as exc:
        raise StampError(f"The stamped image cannot be written as {fmt}: {exc}") from None
    return out.getvalue()


def _image_overlay(size: tuple[int, int], mark: Stamp, font_file: str) -> Any:
    """The transparent stamp layer: a faint diagonal repeat and the red box, bottom right."""
    from PIL import Image, ImageDraw

    width, height = size
    lines = [line for line in mark.lines if line.strip()]
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))

    # Faint diagonal repeat.
    diagonal = "  ".join(lines[1:3] if len(lines) > 2 else lines)
    dsize = max(10, min(width, height) // 24)
    dfont = imaging.font(font_file, dsize)
    left, _top, right, _bottom = dfont.getbbox(diagonal)
    angle = math.atan2(height, width)
    tile = imaging.text_tile(diagonal, dfont, (*_RED_RGB, 40), math.degrees(angle))
    # Tiles on a lattice along the text's direction (rows staggered by half a tile).
    along = (math.cos(angle), -math.sin(angle))
    across = (math.sin(angle), math.cos(angle))
    length = (right - left) + dsize * 3
    spacing = dsize * 6
    reach = math.hypot(width, height) / 2 + length
    n_along, n_across = int(reach // length) + 1, int(reach // spacing) + 1
    for j in range(-n_across, n_across + 1):
        for i in range(-n_along, n_along + 1):
            t = (i + (j % 2) / 2) * length
            cx = width / 2 + t * along[0] + j * spacing * across[0]
            cy = height / 2 + t * along[1] + j * spacing * across[1]
            imaging.paste_clipped(overlay, tile, int(cx - tile.width / 2),
                                  int(cy - tile.height / 2))

    # The box, in the bottom-right margin: font size scaled to the image (about
    # width/85), shrunk so the widest line fits.
    fsize = max(10, width // 85)
    font = imaging.font(font_file, fsize)
    while fsize > 6 and _widest(font, lines) > width * 0.9:
        fsize = max(6, fsize * 9 // 10)
        font = imaging.font(font_file, fsize)
    ascent, descent = font.getmetrics()
    leading = ascent + descent + max(1, fsize // 5)
    pad = max(2, fsize // 2)
    margin = max(2, min(width, height) // 50)
    box_w = _widest(font, lines) + 2 * pad
    box_h = leading * len(lines) - (leading - ascent - descent) + 2 * pad
    x0 = max(0, width - margin - box_w)
    y0 = max(0, height - margin - box_h)
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((x0, y0, x0 + box_w, y0 + box_h), fill=(255, 255, 255, 200),
                   outline=(*_RED_RGB, 255), width=max(1, fsize // 10))
    y = y0 + pad
    for line in lines:
        draw.text((x0 + pad, y), line, font=font, fill=(*_RED_RGB, 255))
        y += leading
    return overlay


def _widest(font: Any, lines: Sequence[str]) -> int:
    return max(int(math.ceil(font.getlength(line))) for line in lines)


def pdf_font(font_file: Path) -> str:
    """The reportlab name of the CJK font (registered once), for other PDFs Vault makes
    (reports, letters)."""
    return _pdf_font(font_file)
