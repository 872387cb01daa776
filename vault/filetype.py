"""Upload checks: hostile file names, and types decided by content (libmagic).

`check_name` returns the name to keep for display and for the download's
Content-Disposition (it never becomes a path). `check_content` sniffs the first
bytes with libmagic, applies the allow-list of the document's category and
returns the media type to store. Every refusal is an `InvalidInput` with a
stable ``code``:

``bad_filename``      empty, path separators (``../``, absolute paths), NUL,
                      control or bidirectional-override characters, over 255
                      bytes of UTF-8 (``params["problem"]`` says which)
``empty_file``        zero bytes
``too_large``         over the size limit (``VAULT_MAX_UPLOAD_BYTES``)
``type_not_allowed``  the content is of a type the category does not take
``type_mismatch``     the name's extension says another type than the content
``unreadable_file``   the content starts like its type but is not one: a PDF that
                      does not parse, a ``.docx`` that is a ZIP but not OOXML

Readings chosen here:

- An extension is the last ``.suffix`` when it is 1–8 ASCII letters/digits with
  at least one letter (``v1.2`` and ``2024.06.30 纪要`` have none). A name
  without one is accepted and typed by content alone; any other extension must
  belong to the detected type (``report.exe`` holding a PDF is refused too).
- Containers libmagic cannot look inside from the first bytes (a ZIP that is
  really DOCX, an OLE file that is really DOC) are accepted only when the
  extension names a format they can hold; a bare ZIP is not accepted.
- Any ``text/*`` content (libmagic sometimes says ``text/x-c`` for prose) is
  accepted as plain text when the name ends in ``.txt`` or ``.csv``; it is
  stored as ``text/plain``/``text/csv`` so it is never served as HTML.
- Text is judged by content: a ``.txt``/``.csv`` whose first bytes are all
  printable UTF-8 is text even when libmagic reads a binary signature in its
  first few bytes (a note starting ``BZh`` is not bzip2).
- First bytes are not proof: once stored, `check_structure` parses the whole file
  for the types that have a structure (PDF: pypdf opens it and finds its pages;
  OOXML: a ZIP with ``[Content_Types].xml`` and the part of its kind; ODF: a ZIP
  whose ``mimetype`` entry names its type).
"""

from __future__ import annotations

import unicodedata
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

import magic

from vault.errors import InvalidInput
from vault.policy import CERTIFICATES, Category

__all__ = [
    "MAX_NAME_BYTES",
    "FileKind",
    "allowed_media_types",
    "check_content",
    "check_name",
    "check_size",
    "check_structure",
    "check_type",
    "extension",
    "sniff",
]

MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class FileKind:
    media_type: str  # what is stored and served
    extensions: frozenset[str]
    detected: frozenset[str]  # what libmagic reports for it
    containers: frozenset[str] = field(default=frozenset())  # accepted when the extension agrees


def _kind(media_type: str, exts: str, detected: str = "", containers: str = "") -> FileKind:
    return FileKind(
        media_type,
        frozenset(exts.split()),
        frozenset({media_type, *detected.split()}),
        frozenset(containers.split()),
    )


# libmagic names OLE2 files by what it can see of them in the first bytes.
_OLE = (
    "application/x-ole-storage application/CDFV2 application/vnd.ms-office "
    "application/msword application/vnd.ms-excel application/vnd.ms-powerpoint"
)
_ZIP = "application/zip"
_OOXML = "application/vnd.openxmlformats-officedocument"

PDF = _kind("application/pdf", "pdf")
PNG = _kind("image/png", "png")
JPEG = _kind("image/jpeg", "jpg jpeg jpe jfif", "image/pjpeg")
TIFF = _kind("image/tiff", "tif tiff")
WEBP = _kind("image/webp", "webp")
DOC = _kind("application/msword", "doc", "", _OLE)
XLS = _kind("application/vnd.ms-excel", "xls", "", _OLE)
PPT = _kind("application/vnd.ms-powerpoint", "ppt", "", _OLE)
DOCX = _kind(f"{_OOXML}.wordprocessingml.document", "docx", "", _ZIP)
XLSX = _kind(f"{_OOXML}.spreadsheetml.sheet", "xlsx", "", _ZIP)
PPTX = _kind(f"{_OOXML}.presentationml.presentation", "pptx", "", _ZIP)
ODT = _kind("application/vnd.oasis.opendocument.text", "odt", "", _ZIP)
ODS = _kind("application/vnd.oasis.opendocument.spreadsheet", "ods", "", _ZIP)
TEXT = _kind("text/plain", "txt text log", "", "text/csv text/*")
CSV = _kind("text/csv", "csv", "application/csv", "text/plain text/*")
WAV = _kind("audio/wav", "wav", "audio/x-wav audio/wave audio/vnd.wave")
MP3 = _kind("audio/mpeg", "mp3", "audio/mp3")
OGG = _kind("audio/ogg", "ogg oga opus", "application/ogg audio/opus")
M4A = _kind("audio/mp4", "m4a", "audio/x-m4a", "video/mp4")
AMR = _kind("audio/amr", "amr")
FLAC = _kind("audio/flac", "flac", "audio/x-flac")
AAC = _kind("audio/aac", "aac", "audio/x-hx-aac-adts audio/x-aac")

IMAGES = (PNG, JPEG, TIFF, WEBP)
OFFICE = (DOC, XLS, PPT, DOCX, XLSX, PPTX, ODT, ODS)
DOCUMENTS = (PDF, *IMAGES, *OFFICE, TEXT, CSV)
AUDIO = (WAV, MP3, OGG, M4A, AMR, FLAC, AAC)
ALL_KINDS = (*DOCUMENTS, *AUDIO)

ALLOWED: Mapping[Category, tuple[FileKind, ...]] = {
    category: (
        AUDIO
        if category is Category.CALL_RECORDING
        else (PDF, *IMAGES)
        if category in CERTIFICATES
        else DOCUMENTS
    )
    for category in Category
}

# Characters that change how a name displays: bidirectional overrides and isolates
# ("invoice\u202efdp.exe" shows as "invoiceexe.pdf").
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bad_name(problem: str, message: str) -> InvalidInput:
    return InvalidInput(message, code="bad_filename", problem=problem)


def check_name(name: str) -> str:
    """The sanitised display name (NFC, surrounding spaces removed); refuses hostile ones."""
    if not isinstance(name, str):
        raise _bad_name("empty", "The file name is missing.")
    if "\x00" in name:
        raise _bad_name("nul", "The file name contains a NUL character.")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_name("encoding", "The file name is not valid Unicode.") from None
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
            raise _bad_name(
                "control",
                f"The file name contains the control character U+{ord(ch):04X}.",
            )
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise _bad_name("empty", "The file name is empty.")
    if "/" in name or "\\" in name:
        raise _bad_name(
            "path",
            "The file name contains a path (a / or \\ separator, such as ../ or an "
            "absolute path); give the file name only.",
        )
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        raise _bad_name("path", "The file name starts with a drive letter (an absolute path).")
    if name in (".", ".."):
        raise _bad_name("path", f"{name!r} is not a file name.")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise _bad_name(
            "too_long",
            f"The file name is {size} bytes long in UTF-8; the limit is {MAX_NAME_BYTES}.",
        )
    return name


def extension(name: str) -> str | None:
    """The lower-cased extension of ``name`` as this module reads it, or None."""
    _, dot, ext = name.rpartition(".")
    if not dot or not ext or len(ext) > 8:
        return None
    if not (ext.isascii() and ext.isalnum() and any(c.isalpha() for c in ext)):
        return None
    return ext.lower()


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({size} bytes)"


def check_size(size: int, max_size: int) -> None:
    """Refuse an empty file or one over the limit (usable before reading the body)."""
    if size <= 0:
        raise InvalidInput("The file is empty.", code="empty_file")
    if size > max_size:
        raise InvalidInput(
            f"The file is {_human(size)}; the limit is {_human(max_size)}.",
            code="too_large",
            size=size,
            limit=max_size,
        )


def sniff(first_bytes: bytes) -> str:
    """The media type libmagic reads from the first bytes."""
    return str(magic.from_buffer(bytes(first_bytes), mime=True))


def _identify(detected: str, ext: str | None) -> FileKind | None:
    def holds(kind: FileKind) -> bool:
        if detected in kind.detected or detected in kind.containers:
            return True
        return detected.startswith("text/") and "text/*" in kind.containers

    if ext is not None:
        for kind in ALL_KINDS:
            if ext in kind.extensions and holds(kind):
                return kind
    for kind in ALL_KINDS:
        if detected in kind.detected:
            return kind
    return None


def check_content(
    category: Category | str, name: str, first_bytes: bytes, size: int, max_size: int
) -> str:
    """The media type to store for this upload, or `InvalidInput` saying what is wrong.

    ``first_bytes`` are the first bytes of the content (64 KiB is plenty),
    ``size`` its full length and ``max_size`` the limit in bytes.
    """
    category = _category(category)
    check_size(size, max_size)
    return check_type(category, name, first_bytes)


def _category(category: Category | str) -> Category:
    try:
        return Category(category)
    except ValueError:
        raise InvalidInput(f"Unknown category {category!r}.", code="bad_category") from None


def check_type(category: Category | str, name: str, first_bytes: bytes) -> str:
    """The type checks of `check_content` alone (no size checks).

    For ``encrypt_stream(on_first_bytes=...)``: refuses a wrong type after the
    first 64 KiB instead of after the whole upload. Call `check_size` (or
    `check_content`) once the size is known.
    """
    category = _category(category)
    detected = sniff(first_bytes)
    ext = extension(name)
    if (ext in TEXT.extensions | CSV.extensions and not _textual_format(detected)
            and _is_text(first_bytes)):
        detected = "text/plain"
    kind = _identify(detected, ext)
    if kind is None or kind not in ALLOWED[category]:
        raise InvalidInput(
            f"Files of type {detected} are not accepted in the category {category.value}.",
            code="type_not_allowed",
            detected=detected,
            category=category.value,
        )
    if ext is not None and ext not in kind.extensions:
        raise InvalidInput(
            f"The name ends in .{ext} but the content is {detected}; "
            "rename the file or upload the right one.",
            code="type_mismatch",
            detected=detected,
            extension=ext,
        )
    return kind.media_type


#: Formats written in text that libmagic recognises by their syntax: they keep its
#: verdict (JSON named .txt stays JSON); only binary signatures yield to the content.
_TEXT_FORMATS = frozenset({"application/pdf", "application/postscript", "application/rtf",
                           "text/rtf", "application/x-php"})


def _textual_format(detected: str) -> bool:
    return (detected.startswith("text/") or detected in _TEXT_FORMATS
            or detected.endswith(("xml", "json", "javascript", "ecmascript")))


def _is_text(first_bytes: bytes) -> bool:
    """All printable UTF-8 (tabs and line breaks allowed; a character cut by the end
    of the window is forgiven)."""
    data = bytes(first_bytes)
    for cut in range(4):
        try:
            text = data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return bool(text) and all(c.isprintable() or c in "\t\r\n\f" for c in text)
    return False


# What an OOXML package of each kind holds besides [Content_Types].xml.
_OOXML_PARTS = {DOCX.media_type: "word/", XLSX.media_type: "xl/", PPTX.media_type: "ppt/"}
_ODF = frozenset({ODT.media_type, ODS.media_type})


def _unreadable(kind: str, why: str) -> InvalidInput:
    return InvalidInput(f"The content is not a readable {kind} file ({why}).",
                        code="unreadable_file", kind=kind)


def check_structure(media_type: str, content: IO[bytes]) -> None:
    """Parse the whole stored file for the types with a structure; `InvalidInput`
    (``unreadable_file``) when it is not what its first bytes claimed.
    ``content`` is a seekable reader over the plaintext."""
    if media_type == PDF.media_type:
        _check_pdf(content)
    elif media_type in _OOXML_PARTS or media_type in _ODF:
        _check_package(media_type, content)


def _check_pdf(content: IO[bytes]) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(content, strict=False)
            if reader.is_encrypted:
                return  # its pages open only with the password: parsed as far as can be
            pages = len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError) as exc:
        raise _unreadable("PDF", f"it does not parse: {type(exc).__name__}") from None
    if pages < 1:
        raise _unreadable("PDF", "it has no pages")


def _check_package(media_type: str, content: IO[bytes]) -> None:
    kind = "Office" if media_type in _OOXML_PARTS else "OpenDocument"
    try:
        with zipfile.ZipFile(content) as package:
            names = package.namelist()
            if media_type in _OOXML_PARTS:
                part = _OOXML_PARTS[media_type]
                if ("[Content_Types].xml" not in names
                        or not any(n.startswith(part) for n in names)):
                    raise _unreadable(kind, f"a ZIP archive without [Content_Types].xml and "
                                            f"{part}: not an Office document")
            else:
                info = package.getinfo("mimetype") if "mimetype" in names else None
                if (info is None or info.file_size > 200
                        or package.read(info).decode("ascii", "replace").strip() != media_type):
                    raise _unreadable(kind, "a ZIP archive without the mimetype of its kind")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError,
            NotImplementedError, EOFError) as exc:
        raise _unreadable(kind, f"the archive does not open: {type(exc).__name__}") from None


def allowed_media_types(category: Category | str) -> frozenset[str]:
    """Media types a category accepts (for an upload form's ``accept`` hint)."""
    return frozenset(kind.media_type for kind in ALLOWED[Category(category)])
