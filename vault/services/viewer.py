"""The viewer (知悉): classified content read inside Vault, never handed out as bytes.

PDF pages and images are rendered here as PNG images carrying a visible, tiled
watermark with the viewer's name, the time and the marking; audio is streamed
segment by segment (HTTP ranges, so seeking works); plain text is returned as a
string for the page to escape; other formats show metadata only.

Everything is decrypted into memory only — no plaintext ever touches the disk —
so a file above `VIEW_MAX_BYTES` is "too large to view; request a copy". Every
release writes a ``document:view`` event in the caller's unit of work; the
caller commits first and only then sends the bytes (fail closed).
"""

from __future__ import annotations

import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from vault import imaging, policy
from vault.actions import Action
from vault.errors import ConfigError, InvalidInput, NotFound, VaultError
from vault.models import Document, DocumentVersion
from vault.services import documents
from vault.services.content import open_range, read_version
from vault.services.context import Ctx

VIEW_MAX_BYTES = 200 * 1024 * 1024  # decrypted into memory to render
TEXT_MAX_BYTES = 2 * 1024 * 1024  # shown of a text file; the rest needs a copy
RENDER_WIDTH = 1240  # pixels across a rendered page
MAX_IMAGE_SIDE = 2400  # larger images are scaled down before watermarking

# PDFium is not thread-safe: one render at a time per process (gunicorn threads).
_PDFIUM_LOCK = threading.Lock()


class Kind(StrEnum):
    """What the viewer can do with a version."""

    PDF = "pdf"
    IMAGE = "image"
    AUDIO = "audio"
    TEXT = "text"
    OTHER = "other"  # metadata only
    NONE = "none"  # a paper original: nothing stored
    TOO_LARGE = "too_large"  # over VIEW_MAX_BYTES: request a copy


IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff", "image/webp"})
TEXT_TYPES = frozenset({"text/plain", "text/csv"})


def kind_of(media_type: str | None, size: int) -> Kind:
    """The viewer's kind for a stored version (``media_type`` None: no content)."""
    if media_type is None:
        return Kind.NONE
    if media_type.startswith("audio/"):
        return Kind.AUDIO  # streamed segment by segment: no size cap
    if media_type == "application/pdf" or media_type in IMAGE_TYPES:
        if size > VIEW_MAX_BYTES:
            return Kind.TOO_LARGE
        return Kind.PDF if media_type == "application/pdf" else Kind.IMAGE
    if media_type in TEXT_TYPES:
        return Kind.TEXT
    return Kind.OTHER


class RangeNotSatisfiable(VaultError):
    """An HTTP range outside the file."""

    status = 416
    default_code = "range_not_satisfiable"


# ---------------------------------------------------------------------------
# Loading and decrypting (memory only)


def _open(ctx: Ctx, doc_id: int, version: int | None) -> tuple[Document, DocumentVersion]:
    """The document and version, if the actor may view it (refusals audited)."""
    doc = documents.load(ctx, doc_id, Action.DOCUMENT_VIEW, need="view")
    if version is None and not any(v.blob_id for v in doc.versions):
        return doc, _paper_version(doc)
    try:
        ver = documents._version(doc, version)
    except NotFound as exc:
        raise ctx.refuse(exc, Action.DOCUMENT_VIEW, object_type="document",
                         object_id=str(doc.id)) from None
    return doc, ver


def _paper_version(doc: Document) -> DocumentVersion:
    return DocumentVersion(document_id=doc.id, number=0, blob_id=None, size=0, media_type=None)


def _decrypt(ctx: Ctx, doc: Document, ver: DocumentVersion, limit: int | None = None) -> bytes:
    """The verified plaintext (or its first ``limit`` bytes), in memory."""
    return read_version(ctx, ver, limit)


def _marking(ctx: Ctx, doc: Document, lang: str) -> tuple[policy.Level, str]:
    level = documents.effective_level(ctx, doc)
    return level, policy.marking(level, documents.period_of(doc), lang)


# ---------------------------------------------------------------------------
# The viewer page


@dataclass
class Viewer:
    """What the viewer page shows (plain data: the session is closed when it renders)."""

    document_id: int
    title: str
    level: str
    marking: str
    kind: Kind
    version: int
    versions: list[int]
    media_type: str | None
    name: str | None
    size: int
    pages: int = 0
    text: str | None = None
    text_truncated: bool = False
    may_download: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def open_viewer(ctx: Ctx, doc_id: int, version: int | None = None, lang: str = "zh") -> Viewer:
    """The viewer for ``doc_id`` (latest version unless given), for someone who may view.

    Text is decrypted and returned here (audited as ``document:view``); PDF and
    image pages are released one by one by `page_image`, audio by `audio`, so
    opening the viewer for those is audited as a metadata view.
    """
    doc, ver = _open(ctx, doc_id, version)
    level, mark = _marking(ctx, doc, lang)
    kind = kind_of(ver.media_type, ver.size) if ver.blob_id else Kind.NONE
    view = Viewer(
        document_id=doc.id, title=doc.title, level=level.value, marking=mark, kind=kind,
        version=ver.number, versions=[v.number for v in doc.versions if v.blob_id],
        media_type=ver.media_type, name=ver.original_name, size=ver.size,
        may_download=bool(ver.blob_id) and policy.can_download(
            ctx.subject, documents.facts(doc, ctx.settings.tz), ctx.now).allowed,
    )
    action = Action.DOCUMENT_VIEW_METADATA
    detail: dict[str, Any] = {"part": "viewer", "version": ver.number, "kind": kind.value}
    if kind is Kind.TEXT:
        data = _decrypt(ctx, doc, ver, limit=TEXT_MAX_BYTES)
        view.text_truncated = ver.size > TEXT_MAX_BYTES
        view.text = decode_text(data, view.text_truncated)
        action = Action.DOCUMENT_VIEW
        detail["bytes"] = len(data)
    elif kind in (Kind.PDF, Kind.IMAGE):
        # A stored version's page count never changes (its blob id is random per
        # version; the blob is authenticated when first decrypted): kept in memory
        # like the rendered pages, rather than decrypting the whole file per opening.
        assert ver.blob_id is not None
        pages = _PAGE_COUNTS.get(ver.blob_id)
        if pages is None:
            pages = _count_pages(kind, _decrypt(ctx, doc, ver))
            _PAGE_COUNTS.put(ver.blob_id, pages, 64)
        view.pages = pages
    ctx.record(action, object_type="document", object_id=str(doc.id), level=level.value,
               reason="viewer", detail=detail)
    return view


def decode_text(data: bytes, truncated: bool = False) -> str:
    """Text as stored: UTF-8 (with or without BOM), else GB 18030 (common for Chinese
    files), else Latin-1. When ``truncated``, a character cut at the end is dropped."""
    for encoding in ("utf-8-sig", "gb18030"):
        for cut in range(4) if truncated else (0,):
            try:
                return data[: len(data) - cut].decode(encoding)
            except UnicodeDecodeError:
                continue
    return data.decode("latin-1")


# ---------------------------------------------------------------------------
# Rendering (pure: bytes in, images out)


def _count_pages(kind: Kind, data: bytes) -> int:
    if kind is Kind.PDF:
        import pypdfium2 as pdfium

        with _PDFIUM_LOCK:
            try:
                pdf = pdfium.PdfDocument(data)
            except pdfium.PdfiumError:
                raise _unrenderable() from None
            try:
                return len(pdf)
            finally:
                pdf.close()
    img = _open_image(data)
    return int(getattr(img, "n_frames", 1))


def _unrenderable() -> InvalidInput:
    return InvalidInput("This file cannot be rendered in the viewer; request a copy.",
                        code="unrenderable")


def _hostile_page() -> InvalidInput:
    return InvalidInput("Cannot show this page: its size is outside what the viewer draws "
                        "(a damaged or hostile file).", code="page_too_large")


def _open_image(data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Refuse decompression bombs outright rather than warn (the same in tests and
        # in production).
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, OSError):
            raise _unrenderable() from None
    if not imaging.image_fits(img.width, img.height):  # from the header, before decoding
        img.close()
        raise _hostile_page()
    return img


def render_page(media_type: str, data: bytes, page: int) -> Any:
    """Page ``page`` (1-based) of a PDF or image as an RGB PIL image, unwatermarked.

    `NotFound` (``unknown_page``) when the page does not exist.
    """
    from PIL import Image

    if media_type == "application/pdf":
        import pypdfium2 as pdfium

        with _PDFIUM_LOCK:
            try:
                pdf = pdfium.PdfDocument(data)
            except pdfium.PdfiumError:
                raise _unrenderable() from None
            try:
                if not 1 <= page <= len(pdf):
                    raise NotFound(f"No page {page}.", code="unknown_page")
                pg = pdf[page - 1]
                try:
                    width, height = pg.get_size()  # points, as displayed (after /Rotate)
                    wanted = min(4.0, max(0.5, RENDER_WIDTH / max(1.0, width)))
                    scale = imaging.fit_scale(width, height, wanted)
                    if scale is None:
                        raise _hostile_page()
                    bitmap = pg.render(scale=scale)
                    img = bitmap.to_pil().convert("RGB")
                    bitmap.close()
                finally:
                    pg.close()
            finally:
                pdf.close()
        return img
    src = _open_image(data)
    frames = int(getattr(src, "n_frames", 1))
    if not 1 <= page <= frames:
        raise NotFound(f"No page {page}.", code="unknown_page")
    try:
        src.seek(page - 1)
        src.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        if src.mode in ("RGBA", "LA", "P"):
            base = Image.new("RGB", src.size, (255, 255, 255))
            rgba = src.convert("RGBA")
            base.paste(rgba, mask=rgba.getchannel("A"))
            return base
        return src.convert("RGB")
    except (OSError, ValueError):
        raise _unrenderable() from None


def check_font(font_file: Path) -> None:
    """The watermark font must exist: without it Chinese would come out as boxes."""
    if not Path(font_file).is_file():
        raise ConfigError(
            f"The watermark font {font_file} is missing, so pages cannot be shown with "
            "a readable watermark. Install Debian's fonts-wqy-microhei or set "
            "VAULT_FONT_FILE to a font with Chinese glyphs.",
            code="font_missing",
        )


class _ByteBudgetCache:
    """A small LRU of images bounded by their size in bytes, per process.

    Rendering a page and drawing a tiled, rotated watermark each cost tens of
    milliseconds; people page back and forth within a minute. Entries live in
    memory only (never on disk) and the budget keeps them few."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            hit = self.items.get(key)
            if hit is None:
                return None
            self.items.move_to_end(key)
            return hit[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        if size > self.budget:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self.items[key] = (value, size)
            self.used += size
            while self.used > self.budget:
                _, (_, dropped) = self.items.popitem(last=False)
                self.used -= dropped

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.used = 0


_PAGES = _ByteBudgetCache(64 * 1024 * 1024)  # rendered pages, before watermarking
_STAMPS = _ByteBudgetCache(16 * 1024 * 1024)  # watermark masks per (size, text)
_PALETTES = _ByteBudgetCache(1024 * 1024)  # a rendered page's 256 colours, once watermarked
_PAGE_COUNTS = _ByteBudgetCache(1024 * 1024)  # pages of a stored version (by blob id)

WATERMARK_RGB = (170, 20, 20)  # the diagonal rows, drawn at WATERMARK_ALPHA
WATERMARK_ALPHA = 80
BAND_RGB = (140, 10, 10)  # the legible line at the bottom, on a white band
BAND_ALPHA = 190


TILE_STRIPS = 12  # a rotated tile is pasted as this many trimmed strips


@dataclass(frozen=True)
class _Stamp:
    """A watermark for one page size and text: the rotated text cut in strips, each
    trimmed to its glyphs (an ``L`` mask and a solid piece of the colour, with its
    offset in the tile), where the tile repeats, and the bottom band's masks."""

    pieces: tuple[tuple[int, int, Any, Any], ...]
    spots: tuple[tuple[int, int], ...]
    band_top: int
    band_fill: Any
    band_text: Any

    @property
    def size(self) -> int:
        return (sum(4 * m.width * m.height for _dx, _dy, m, _s in self.pieces)
                + 2 * self.band_fill.width * self.band_fill.height + 16 * len(self.spots))


def _pieces(tile: Any, rgb: tuple[int, int, int]) -> tuple[tuple[int, int, Any, Any], ...]:
    """A rotated text's mask in horizontal strips trimmed to what they draw: the
    glyphs cover a few per cent of a diagonal tile's box, so pasting the strips
    touches a fraction of the pixels (on a 1240×1754 page, 45 tiles: 4 ms, against
    15 ms pasting whole tiles)."""
    from PIL import Image

    height = -(-tile.height // TILE_STRIPS)
    pieces = []
    for top in range(0, tile.height, height):
        strip = tile.crop((0, top, tile.width, min(tile.height, top + height)))
        box = strip.getbbox()
        if box is not None:
            mask = strip.crop(box)
            pieces.append((box[0], top + box[1], mask, Image.new("RGB", mask.size, rgb)))
    return tuple(pieces)


def _stamp(width: int, height: int, text: str, font_file: Path) -> _Stamp:
    """The watermark masks for a page of this size and text (cached: a person's
    pages within a minute share them)."""
    from PIL import Image, ImageDraw

    key = (width, height, text, str(font_file))
    cached = _STAMPS.get(key)
    if cached is not None:
        return cast(_Stamp, cached)
    size = max(12, min(width, height) // 45)
    font = imaging.font(str(font_file), size)
    _left, top, _right, bottom = font.getbbox(text)
    th = bottom - top
    # One rotated tile of the text, pasted on a staggered grid: diagonal rows
    # across the whole page.
    tile = imaging.text_mask(text, font, WATERMARK_ALPHA, 28)
    step_x = tile.width + 2 * size
    step_y = max(tile.height * 3 // 4, th * 5)
    spots = tuple(
        (x, y)
        for row, y in enumerate(range(-tile.height, height + step_y, step_y))
        for x in range(-(row % 2) * step_x // 2 - tile.width // 2, width + step_x, step_x))
    # A legible band at the bottom: the same words, darker, on a white band.
    band_font = imaging.font(str(font_file), max(11, size * 3 // 4))
    bl, bt, _br, bb = band_font.getbbox(text)
    band_h = min(height, (bb - bt) + 10)
    band_text = Image.new("L", (width, band_h), 0)
    ImageDraw.Draw(band_text).text((8 - bl, 5 - bt), text, font=band_font, fill=255)
    stamp = _Stamp(_pieces(tile, WATERMARK_RGB), spots, height - band_h,
                   Image.new("L", (width, band_h), BAND_ALPHA), band_text)
    _STAMPS.put(key, stamp, stamp.size)
    return stamp


def watermark(img: Any, lines: Sequence[str], font_file: Path) -> Any:
    """``img`` with ``lines`` tiled across it (diagonal, semi-transparent) and written
    in a band at the bottom; returns a new RGB image.

    One colour is pasted through the cached masks onto a copy of the page: no
    page-sized transparent layer is drawn or blended per viewer (measured on a
    1240×1754 page: 4 ms of CPU, against 14 ms compositing a cached RGBA layer
    and 16 ms more to draw that layer, which each person needs anew each minute)."""
    check_font(font_file)
    out = img.convert("RGB") if img.mode != "RGB" else img.copy()
    width, height = out.size
    stamp = _stamp(width, height, "  ·  ".join(lines), font_file)
    for x, y in stamp.spots:
        for dx, dy, mask, solid in stamp.pieces:
            out.paste(solid, (x + dx, y + dy), mask)
    band = (0, stamp.band_top, width, height)
    out.paste((255, 255, 255), band, stamp.band_fill)
    out.paste(BAND_RGB, band, stamp.band_text)
    return out


def png_bytes(img: Any, palette_key: Any = None) -> bytes:
    """The page as a 256-colour PNG.

    Measured on a watermarked 1600×2263 page (CPU time): RGB PNG at level 1 95 ms
    and 316 KiB; WebP quality 80 at its fastest method 61 ms and 125 KiB (lossless
    77 ms, 174 KiB); 256-colour PNG (fast octree, level 1) 42 ms and 100 KiB, with no
    visible difference on text pages. Scans are mostly grey: 256 levels keep them.

    With ``palette_key`` (a rendered page), the colours chosen the first time that
    page is sent are kept (768 bytes, memory only) and later viewers' copies are
    mapped onto them: their pages differ only in the watermark's words, not in its
    colours (on a 1240×1754 page: 15 ms of CPU in all, against 25 ms choosing the
    colours anew; the same size)."""
    from PIL import Image

    palette = _PALETTES.get(palette_key) if palette_key is not None else None
    if palette is None:
        small = img.quantize(256, method=Image.Quantize.FASTOCTREE)
        if palette_key is not None:
            palette = Image.new("P", (1, 1))
            palette.putpalette(small.getpalette() or [])
            _PALETTES.put(palette_key, palette, 1024)
    else:
        small = img.quantize(palette=palette, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    small.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def watermark_lines(ctx: Ctx, mark: str) -> list[str]:
    """Viewer name (user name), time in the group's time zone, and the marking."""
    actor = ctx.actor
    assert actor is not None
    when = ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M")
    return [f"{actor.name} ({actor.username})", when, mark]


# ---------------------------------------------------------------------------
# Releasing content


@dataclass
class PagePlan:
    """A page whose release is audited: render it once the unit of work committed.

    Watermarking and PNG encoding take most of a page's time; doing them after
    the commit keeps the database transaction (and SQLite's writer lock) short."""

    base: Any
    lines: list[str]
    font_file: Path
    palette_key: Any = None  # the rendered page's key in the memory cache

    def render(self) -> bytes:
        return png_bytes(watermark(self.base, self.lines, self.font_file), self.palette_key)


def prepare_page(
    ctx: Ctx, doc_id: int, page: int, version: int | None = None, lang: str = "zh"
) -> PagePlan:
    """Check, render (or reuse) page ``page`` and audit ``document:view`` with the page
    number; the caller commits, then calls ``render()`` and sends the bytes."""
    doc, ver = _open(ctx, doc_id, version)
    kind = kind_of(ver.media_type, ver.size) if ver.blob_id else Kind.NONE
    if kind is Kind.TOO_LARGE:
        raise InvalidInput("This file is too large to view; request a copy.",
                           code="too_large_to_view")
    if kind not in (Kind.PDF, Kind.IMAGE):
        raise InvalidInput("This file has no pages to show.", code="not_renderable")
    check_font(ctx.settings.font_file)  # before decrypting anything
    level, mark = _marking(ctx, doc, lang)
    assert ver.media_type is not None and ver.blob_id is not None
    # The blob id is random per version and authenticated on first render.
    key = (ver.blob_id, page)
    img = _PAGES.get(key)
    if img is None:
        try:
            img = render_page(ver.media_type, _decrypt(ctx, doc, ver), page)
        except NotFound as exc:
            raise ctx.refuse(exc, Action.DOCUMENT_VIEW, object_type="document",
                             object_id=str(doc.id), level=level.value) from None
        _PAGES.put(key, img, img.width * img.height * len(img.getbands()))
    ctx.record(Action.DOCUMENT_VIEW, object_type="document", object_id=str(doc.id),
               level=level.value, reason="rendered",
               detail={"page": page, "version": ver.number})
    return PagePlan(img, watermark_lines(ctx, mark), ctx.settings.font_file, key)


THUMB_WIDTH = 160  # pixels across a list's thumbnail (shown at half that, sharp on HiDPI)


def prepare_thumbnail(ctx: Ctx, doc_id: int, lang: str = "zh") -> PagePlan:
    """The first page of the latest version, small, for a list: the same checks,
    memory-only cache and per-viewer watermark as `prepare_page`, audited
    ``document:view`` (reason ``thumbnail``) — a thumbnail shows content."""
    doc, ver = _open(ctx, doc_id, None)
    kind = kind_of(ver.media_type, ver.size) if ver.blob_id else Kind.NONE
    if kind not in (Kind.PDF, Kind.IMAGE):
        raise InvalidInput("This file has no pages to show.", code="not_renderable")
    check_font(ctx.settings.font_file)
    level, mark = _marking(ctx, doc, lang)
    assert ver.media_type is not None and ver.blob_id is not None
    key = (ver.blob_id, 1, "thumbnail")
    small = _PAGES.get(key)
    if small is None:
        page = _PAGES.get((ver.blob_id, 1))
        if page is None:
            try:
                page = render_page(ver.media_type, _decrypt(ctx, doc, ver), 1)
            except NotFound as exc:
                raise ctx.refuse(exc, Action.DOCUMENT_VIEW, object_type="document",
                                 object_id=str(doc.id), level=level.value) from None
            _PAGES.put((ver.blob_id, 1), page, page.width * page.height * len(page.getbands()))
        small = page.copy()
        small.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 2))
        _PAGES.put(key, small, small.width * small.height * len(small.getbands()))
    ctx.record(Action.DOCUMENT_VIEW, object_type="document", object_id=str(doc.id),
               level=level.value, reason="thumbnail",
               detail={"page": 1, "version": ver.number})
    return PagePlan(small, watermark_lines(ctx, mark), ctx.settings.font_file, key)


def page_image(
    ctx: Ctx, doc_id: int, page: int, version: int | None = None, lang: str = "zh"
) -> bytes:
    """Page ``page`` of a PDF or image as a watermarked PNG; audited ``document:view``
    with the page number. The caller sends the bytes only after committing."""
    return prepare_page(ctx, doc_id, page, version, lang).render()


@dataclass
class AudioStream:
    """A verified byte range of a recording, read segment by segment when iterated."""

    media_type: str
    size: int  # the whole recording
    start: int
    stop: int  # exclusive
    partial: bool
    chunks: Iterator[bytes]
    close: Any = None

    @property
    def length(self) -> int:
        return self.stop - self.start


def resolve_range(byte_range: tuple[int, int | None] | None, size: int) -> tuple[int, int]:
    """``(start, stop)`` for an HTTP range ``(begin, end-exclusive)``; a negative
    begin counts from the end (``bytes=-500``); None means the whole file."""
    if byte_range is None:
        return 0, size
    begin, end = byte_range
    if begin < 0:
        start, stop = max(0, size + begin), size
    else:
        start, stop = begin, size if end is None else min(end, size)
    if start >= size or stop <= start:
        raise RangeNotSatisfiable(f"The range is outside the file ({size} bytes).",
                                  code="range_not_satisfiable", size=size)
    return start, stop


def audio(
    ctx: Ctx, doc_id: int, byte_range: tuple[int, int | None] | None = None,
    version: int | None = None,
) -> AudioStream:
    """A recording (or the requested range of it) for the inline player; audited
    ``document:view`` with the range. Each segment is authenticated before use."""
    doc, ver = _open(ctx, doc_id, version)
    if not (ver.blob_id and ver.media_type and ver.media_type.startswith("audio/")):
        raise InvalidInput("This file is not a recording.", code="not_audio")
    reader, close = open_range(ctx, ver)
    ctx.on_rollback(close)
    start, stop = resolve_range(byte_range, reader.plaintext_size)
    level = documents.effective_level(ctx, doc)
    ctx.record(Action.DOCUMENT_VIEW, object_type="document", object_id=str(doc.id),
               level=level.value, reason="streamed",
               detail={"range": f"{start}-{stop - 1}", "version": ver.number})

    def chunks() -> Iterator[bytes]:
        try:
            yield from reader.iter_range(start, stop)
        finally:
            close()

    return AudioStream(ver.media_type, reader.plaintext_size, start, stop,
                       byte_range is not None, chunks(), close)
