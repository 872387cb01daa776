"""Text out of stored files, in memory only: PDF text layer (pypdfium2), OCR of
scanned pages and images (Tesseract, ``chi_sim+eng``, the image fed on stdin and
the text read from stdout: no plaintext image or text touches the disk), plain
text, and the text of DOCX/XLSX/ODT/ODS (read from the zip in memory).

Failures raise `ExtractionError` whose message never quotes the file.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree import ElementTree as ET  # noqa: S405 - parses our own decrypted files, no DTDs

#: A PDF page with fewer visible characters than this in its text layer is OCR'd.
MIN_PAGE_CHARS = 8
#: Pages OCR'd per file at most (a 2,000-page scan is split before import).
MAX_OCR_PAGES = 300
#: Characters of text kept per file.
MAX_CHARS = 2_000_000
#: Bytes read from one member of an office zip (a zip bomb stops here).
MAX_XML_BYTES = 64 * 1024 * 1024
OCR_DPI = 300
OCR_LANGS = "chi_sim+eng"
OCR_TIMEOUT = 180

Progress = Callable[[int, int], None]


class ExtractionError(Exception):
    """Text could not be extracted; the message names the cause, never the content."""


@dataclass(frozen=True)
class Extracted:
    text: str
    method: str  # text, pdf, pdf+ocr, ocr, office, none
    pages: int = 0
    ocr_pages: int = 0


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def ocr_image(png: bytes, dpi: int | None = None) -> str:
    """OCR one image given as PNG bytes: Tesseract reads it on stdin, writes text to
    stdout. One thread (the machine is shared); a stuck run is killed."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise ExtractionError("tesseract is not installed (Debian: tesseract-ocr, "
                              "tesseract-ocr-chi-sim, tesseract-ocr-eng)")
    cmd = [exe, "stdin", "stdout", "-l", OCR_LANGS]
    if dpi:
        cmd += ["--dpi", str(dpi)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(cmd, input=png, capture_output=True, timeout=OCR_TIMEOUT,
                              env=env, check=False)
    except subprocess.TimeoutExpired:
        raise ExtractionError(f"OCR took longer than {OCR_TIMEOUT} s") from None
    if done.returncode != 0:
        raise ExtractionError(f"tesseract failed with status {done.returncode}")
    return done.stdout.decode("utf-8", errors="replace")


def _png(image: object) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    if image.mode not in ("L", "1"):
        image = image.convert("L")
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _images(data: bytes, progress: Progress | None) -> Extracted:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frames = [f.copy() for f in ImageSequence.Iterator(image)][:MAX_OCR_PAGES]
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ExtractionError("the image could not be read") from None
    texts = []
    for i, frame in enumerate(frames):
        texts.append(ocr_image(_png(frame)))
        if progress:
            progress(i + 1, len(frames))
    return Extracted("\n\f".join(texts), "ocr", len(frames), len(frames))


def _pdf(data: bytes, ocr: bool, progress: Progress | None) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise ExtractionError("the PDF could not be opened") from None
    texts: list[str] = []
    ocr_pages = 0
    try:
        total = len(pdf)
        for i in range(total):
            page = pdf[i]
            try:
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_bounded()
                finally:
                    textpage.close()
                if ocr and len("".join(text.split())) < MIN_PAGE_CHARS \
                        and ocr_pages < MAX_OCR_PAGES:
                    bitmap = page.render(scale=OCR_DPI / 72, grayscale=True)
                    try:
                        text = ocr_image(_png(bitmap.to_pil()), dpi=OCR_DPI)
                    finally:
                        bitmap.close()
                    ocr_pages += 1
            finally:
                page.close()
            texts.append(text)
            if progress:
                progress(i + 1, total)
    finally:
        pdf.close()
    method = "pdf+ocr" if ocr_pages else "pdf"
    return Extracted("\n\f".join(texts), method, total, ocr_pages)


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as fh:
        data = fh.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise ExtractionError("an office file member is too large")
    return data


def _xml_text(data: bytes, paragraph_tags: tuple[str, ...]) -> str:
    """Every text node, a line break after each paragraph-like element."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD processing in ElementTree
    except ET.ParseError:
        raise ExtractionError("an office file member is not valid XML") from None
    out: list[str] = []

    def walk(el: ET.Element) -> None:
        if el.text:
            out.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                out.append(child.tail)
        if el.tag.rsplit("}", 1)[-1] in paragraph_tags:
            out.append("\n")

    walk(root)
    return "".join(out)


def _office(data: bytes) -> Extracted:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ExtractionError("the office file is not a valid zip") from None
    with zf:
        names = set(zf.namelist())
        parts: list[str] = []
        if "word/document.xml" in names:  # DOCX
            members = ["word/document.xml"] + sorted(
                n for n in names if n.startswith(("word/header", "word/footer"))
                and n.endswith(".xml"))
            tags = ("p", "tr", "br", "tab")
        elif "xl/workbook.xml" in names:  # XLSX
            members = sorted(n for n in names if n == "xl/sharedStrings.xml"
                             or (n.startswith("xl/worksheets/") and n.endswith(".xml")))
            tags = ("si", "c", "row", "t")
        elif "content.xml" in names:  # ODT, ODS
            members = ["content.xml"]
            tags = ("p", "h", "table-cell", "table-row")
        else:
            raise ExtractionError("not a known office format")
        for name in members:
            parts.append(_xml_text(_read_member(zf, name), tags))
    return Extracted("\n".join(parts), "office")


OFFICE_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff", "image/webp"})
TEXT_TYPES = frozenset({"text/plain", "text/csv"})


def extractable(media_type: str | None) -> bool:
    return media_type in (OFFICE_TYPES | IMAGE_TYPES | TEXT_TYPES | {"application/pdf"})


def extract(data: bytes, media_type: str | None, *, ocr: bool = True,
            progress: Progress | None = None) -> Extracted:
    """The text of a file of ``media_type`` (as stored by `vault.filetype`)."""
    if media_type in TEXT_TYPES:
        result = Extracted(_text(data), "text")
    elif media_type == "application/pdf":
        result = _pdf(data, ocr, progress)
    elif media_type in IMAGE_TYPES:
        result = _images(data, progress) if ocr else Extracted("", "none")
    elif media_type in OFFICE_TYPES:
        result = _office(data)
    else:
        return Extracted("", "none")
    if len(result.text) > MAX_CHARS:
        result = Extracted(result.text[:MAX_CHARS], result.method, result.pages,
                           result.ocr_pages)
    return result
