"""Drawing shared by the viewer's pages (vault/services/viewer.py) and the stamps of
registered copies (vault/stamping.py): the page-size bounds both keep, the fonts
(loaded once per path and size) and the pieces of a watermark (a rotated tile of
text, pasted clipped onto a transparent layer). Pillow is imported when first
drawn with, so commands that draw nothing do not load it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

# Page size bounds, shared with the viewer (a 581-byte PDF can declare a page of
# 300 × 200,000 points). A page is drawn at most MAX_PAGE_PIXELS with no side over
# MAX_PAGE_SIDE, scaled down to fit; if that leaves its short side under
# MIN_PAGE_SIDE pixels (a sliver nobody can read), or its size is not a finite
# positive number, the page is hostile: "cannot show this page".
MAX_PAGE_PIXELS = 25_000_000
MAX_PAGE_SIDE = 10_000
MIN_PAGE_SIDE = 32
# Images are kept at their size in a copy (and decoded whole to view): refused
# above this, read from the header before decoding (a 600 dpi A4 scan is 35 MP).
MAX_IMAGE_PIXELS = 50_000_000


def fit_scale(width: float, height: float, wanted: float) -> float | None:
    """The scale (pixels per point) at most ``wanted`` at which a page of
    ``width`` × ``height`` points stays within MAX_PAGE_PIXELS and MAX_PAGE_SIDE;
    None for a hostile page (not finite, not positive, or a sliver once bounded)."""
    if not all(math.isfinite(v) and v > 0 for v in (width, height, wanted)):
        return None
    scale = min(
        wanted,
        math.sqrt(MAX_PAGE_PIXELS / (width * height)),
        MAX_PAGE_SIDE / max(width, height),
    )
    if min(width, height) * scale < MIN_PAGE_SIDE:
        return None
    return scale


def image_fits(width: int, height: int) -> bool:
    """Whether an image of this size may be decoded (viewer) or stamped."""
    return 0 < width and 0 < height and width * height <= MAX_IMAGE_PIXELS


@lru_cache(maxsize=64)
def font(path: str, size: int) -> Any:
    """The TrueType font at ``path`` (first face of a .ttc) at ``size`` pixels."""
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=0)


def text_tile(text: str, face: Any, fill: tuple[int, int, int, int], degrees: float) -> Any:
    """``text`` drawn in ``face`` on a transparent tile just its size, turned by
    ``degrees`` (counter-clockwise): the unit a diagonal watermark repeats."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = face.getbbox(text)
    tile = Image.new("RGBA", (right - left + 2, bottom - top + 2), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((1 - left, 1 - top), text, font=face, fill=fill)
    return tile.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)


def paste_clipped(layer: Any, tile: Any, x: int, y: int) -> None:
    """Composite ``tile`` onto ``layer`` with its top-left corner at (x, y), which may
    lie outside the layer: only the part that overlaps is drawn."""
    dx, dy = max(x, 0), max(y, 0)
    sx, sy = dx - x, dy - y
    if sx < tile.width and sy < tile.height and dx < layer.width and dy < layer.height:
        layer.alpha_composite(tile, dest=(dx, dy), source=(sx, sy))


def text_mask(text: str, face: Any, alpha: int, degrees: float) -> Any:
    """``text`` as a coverage mask ("L": ``alpha`` where the glyphs are, 0 around
    them) just its size, turned by ``degrees``: pasting one colour through it draws
    the text semi-transparently, one byte per pixel kept instead of four."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = face.getbbox(text)
    mask = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), text, font=face, fill=alpha)
    if degrees:
        mask = mask.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    return mask
