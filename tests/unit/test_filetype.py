"""Upload checks (vault/filetype.py) on real files generated here."""

from __future__ import annotations

import io
import struct
import unicodedata
import wave
import zipfile
from collections.abc import Callable

import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from vault import filetype
from vault.errors import InvalidInput
from vault.filetype import check_content, check_name, check_size, extension
from vault.policy import CERTIFICATES, Category

LIMIT = 10 * 1024 * 1024
OOXML = "application/vnd.openxmlformats-officedocument"


# --- generated files ---------------------------------------------------------------


def image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "Quarterly report")
    c.showPage()
    c.save()
    return buf.getvalue()


def wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 4000)
    return buf.getvalue()


def mp3() -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames (417 bytes each) after an ID3v2 tag.
    frame = b"\xff\xfb\x90\x64" + bytes(413)
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * 8


def ogg() -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBIiii", 0, 1, 8000, 0, 64000, 0) + b"\xb8\x01"
    page = (
        b"OggS\x00\x02" + bytes(8) + struct.pack("<I", 1) + bytes(8) + b"\x01"
        + bytes([len(ident)])
    )
    return page + ident


def m4a() -> bytes:
    return struct.pack(">I", 32) + b"ftypM4A " + bytes(4) + b"M4A mp42isom" + bytes(4) + bytes(64)


def amr() -> bytes:
    return b"#!AMR\n" + (b"\x3c" + bytes(31)) * 20


def ooxml(main_part: str, *, content_types_first: bool = True) -> bytes:
    buf = io.BytesIO()
    parts = [
        ("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
         'openxmlformats.org/package/2006/content-types"/>'),
        ("_rels/.rels", "<Relationships/>"),
        (main_part, "<document/>"),
    ]
    if not content_types_first:
        parts = [("docProps/app.xml", "<Properties/>"), *parts[::-1]]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts:
            z.writestr(name, text)
    return buf.getvalue()


def odf(media_type: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), media_type, compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", "<office:document-content/>")
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


def ole() -> bytes:
    # An OLE2 compound file header (what .doc/.xls/.ppt files start with).
    return bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff" + bytes(482)


TEXT = "会议纪要\n时间：2024年5月\n地点：总部三楼会议室\n".encode()
CSV = "名称,金额,日期\n物业费,100,2024-01-01\n停车费,200,2024-01-02\n".encode()

Make = Callable[[], bytes]
FILES: dict[str, Make] = {
    "pdf": pdf,
    "png": lambda: image("PNG"),
    "jpeg": lambda: image("JPEG"),
    "tiff": lambda: image("TIFF"),
    "webp": lambda: image("WEBP"),
    "gif": lambda: image("GIF"),
    "wav": wav,
    "mp3": mp3,
    "ogg": ogg,
    "m4a": m4a,
    "amr": amr,
    "docx": lambda: ooxml("word/document.xml"),
    "xlsx": lambda: ooxml("xl/workbook.xml"),
    "pptx": lambda: ooxml("ppt/presentation.xml"),
    "odt": lambda: odf("application/vnd.oasis.opendocument.text"),
    "ods": lambda: odf("application/vnd.oasis.opendocument.spreadsheet"),
    "zip": plain_zip,
    "ole": ole,
    "text": lambda: TEXT,
    "gbk": lambda: TEXT.decode().encode("gbk"),
    "csv": lambda: CSV,
    "html": lambda: b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "svg": lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
    "exe": lambda: b"MZ" + bytes(200),
    "c": lambda: b"#include <stdio.h>\nint main(void) { return 0; }\n",
    "json": lambda: b'{"a": 1, "b": [1, 2, 3]}\n',
}


def check(category: Category | str, name: str, kind: str) -> str:
    data = FILES[kind]()
    return check_content(category, name, data[: 64 * 1024], len(data), LIMIT)


def refused(category: Category | str, name: str, kind: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check(category, name, kind)
    return info.value


# --- accepted --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "category,name,kind,media_type",
    [
        (Category.CONTRACT, "租赁合同 2024.pdf", "pdf", "application/pdf"),
        (Category.CONTRACT, "scan.PNG", "png", "image/png"),
        (Category.CONTRACT, "photo.jpg", "jpeg", "image/jpeg"),
        (Category.CONTRACT, "photo.jpeg", "jpeg", "image/jpeg"),
        (Category.CONTRACT, "fax.tif", "tiff", "image/tiff"),
        (Category.CONTRACT, "shot.webp", "webp", "image/webp"),
        (Category.MEETING_MINUTES, "纪要.docx", "docx", f"{OOXML}.wordprocessingml.document"),
        (Category.SALARY, "工资表.xlsx", "xlsx", f"{OOXML}.spreadsheetml.sheet"),
        (Category.STRATEGY, "plan.pptx", "pptx", f"{OOXML}.presentationml.presentation"),
        (Category.NOTICE, "通知.odt", "odt", "application/vnd.oasis.opendocument.text"),
        (Category.STATISTICAL_REPORT, "stats.ods", "ods",
         "application/vnd.oasis.opendocument.spreadsheet"),
        (Category.LETTER, "old letter.doc", "ole", "application/msword"),
        (Category.FINANCIAL_REPORT, "ledger.xls", "ole", "application/vnd.ms-excel"),
        (Category.ANNUAL_PLAN, "deck.ppt", "ole", "application/vnd.ms-powerpoint"),
        (Category.ADMINISTRATIVE, "纪要.txt", "text", "text/plain"),
        (Category.ADMINISTRATIVE, "gbk.txt", "gbk", "text/plain"),
        (Category.CUSTOMER_INFO, "客户.csv", "csv", "text/csv"),
        (Category.CUSTOMER_INFO, "客户.txt", "csv", "text/plain"),
        (Category.CUSTOMER_INFO, "plain.csv", "text", "text/csv"),
        (Category.BUSINESS_LICENCE, "营业执照.pdf", "pdf", "application/pdf"),
        (Category.TAX_REGISTRATION, "税务登记证.jpg", "jpeg", "image/jpeg"),
        (Category.OTHER_CERTIFICATE, "cert.png", "png", "image/png"),
        (Category.CALL_RECORDING, "call-0501.wav", "wav", "audio/wav"),
        (Category.CALL_RECORDING, "call.mp3", "mp3", "audio/mpeg"),
        (Category.CALL_RECORDING, "call.ogg", "ogg", "audio/ogg"),
        (Category.CALL_RECORDING, "call.m4a", "m4a", "audio/mp4"),
        (Category.CALL_RECORDING, "call.amr", "amr", "audio/amr"),
        # libmagic calls some prose text/x-c; any text named .txt is stored as text/plain
        (Category.NOTICE, "snippet.txt", "c", "text/plain"),
        (Category.NOTICE, "page.txt", "html", "text/plain"),  # never served as HTML
        (Category.NOTICE, "snippet.csv", "c", "text/csv"),
        ("contract", "no extension at all", "pdf", "application/pdf"),
        (Category.CONTRACT, "v1.2", "pdf", "application/pdf"),
        (Category.CONTRACT, "2024.06.30 会议", "png", "image/png"),
        (Category.CALL_RECORDING, "录音", "wav", "audio/wav"),
    ],
)
def test_accepted(category: Category | str, name: str, kind: str, media_type: str) -> None:
    assert check(category, name, kind) == media_type


def test_docx_seen_as_plain_zip_is_accepted_when_the_name_agrees() -> None:
    data = ooxml("word/document.xml", content_types_first=False)
    assert filetype.sniff(data) in (f"{OOXML}.wordprocessingml.document", "application/zip")
    got = check_content(Category.CONTRACT, "合同.docx", data, len(data), LIMIT)
    assert got == f"{OOXML}.wordprocessingml.document"
    # A bare ZIP named .docx passes the first-bytes check (libmagic cannot tell; a .zip
    # does not); check_structure refuses it once the whole file is there.
    assert check(Category.CONTRACT, "x.docx", "zip") == f"{OOXML}.wordprocessingml.document"


def test_only_the_first_bytes_are_needed() -> None:
    data = pdf() + bytes(500_000)
    assert check_content("contract", "a.pdf", data[:65536], len(data), LIMIT) == "application/pdf"


# --- refused ---------------------------------------------------------------------------


def test_empty_file() -> None:
    with pytest.raises(InvalidInput) as info:
        check_content(Category.CONTRACT, "empty.pdf", b"", 0, LIMIT)
    assert info.value.code == "empty_file"
    assert "empty" in info.value.message


def test_too_large() -> None:
    data = pdf()
    with pytest.raises(InvalidInput) as info:
        check_content(Category.CONTRACT, "big.pdf", data, 3 * 1024**3, 2 * 1024**3)
    assert info.value.code == "too_large"
    assert "3.0 GiB" in info.value.message and "2.0 GiB" in info.value.message
    assert check_content(Category.CONTRACT, "ok.pdf", data, LIMIT, LIMIT) == "application/pdf"


def test_check_size_alone() -> None:
    check_size(1, 1)
    for size, code in ((0, "empty_file"), (-1, "empty_file"), (2, "too_large")):
        with pytest.raises(InvalidInput) as info:
            check_size(size, 1)
        assert info.value.code == code


@pytest.mark.parametrize(
    "category,name,kind,detected",
    [
        (Category.CONTRACT, "song.mp3", "mp3", "audio/mpeg"),
        (Category.CONTRACT, "call.wav", "wav", "audio/x-wav"),
        (Category.CALL_RECORDING, "minutes.pdf", "pdf", "application/pdf"),
        (Category.CALL_RECORDING, "minutes.txt", "text", "text/plain"),
        (Category.BUSINESS_LICENCE, "licence.docx", "docx", f"{OOXML}.wordprocessingml.document"),
        (Category.ORG_CODE_CERTIFICATE, "code.txt", "text", "text/plain"),
        (Category.CONTRACT, "archive.zip", "zip", "application/zip"),
        (Category.CONTRACT, "archive", "zip", "application/zip"),
        (Category.CONTRACT, "report.pdf", "zip", "application/zip"),
        (Category.CONTRACT, "setup.exe", "exe", "application/x-dosexec"),
        (Category.CONTRACT, "invoice.pdf", "exe", "application/x-dosexec"),
        (Category.NOTICE, "page.html", "html", "text/html"),
        (Category.NOTICE, "page", "html", "text/html"),
        (Category.NOTICE, "snippet.c", "c", "text/x-c"),
        (Category.NOTICE, "snippet", "c", "text/x-c"),
        (Category.NOTICE, "data.json", "json", "application/json"),
        (Category.NOTICE, "data.txt", "json", "application/json"),
        (Category.NOTICE, "logo.svg", "svg", "image/svg+xml"),
        (Category.CONTRACT, "anim.gif", "gif", "image/gif"),
        (Category.CONTRACT, "old.doc.bin", "ole", "application/x-ole-storage"),
    ],
)
def test_type_not_allowed(category: Category, name: str, kind: str, detected: str) -> None:
    err = refused(category, name, kind)
    assert err.code == "type_not_allowed"
    assert detected in err.message
    assert category.value in err.message
    assert err.params["detected"] == detected


@pytest.mark.parametrize(
    "category,name,kind,ext",
    [
        (Category.CONTRACT, "report.pdf", "png", "pdf"),
        (Category.CONTRACT, "photo.png", "pdf", "png"),
        (Category.CONTRACT, "photo.jpg", "png", "jpg"),
        (Category.CONTRACT, "report.exe", "pdf", "exe"),
        (Category.CONTRACT, "report.html", "png", "html"),
        (Category.CONTRACT, "table.xlsx", "docx", "xlsx"),
        (Category.CONTRACT, "notes.txt", "pdf", "txt"),
        (Category.CALL_RECORDING, "call.mp3", "wav", "mp3"),
        (Category.CALL_RECORDING, "call.wav", "ogg", "wav"),
        (Category.BUSINESS_LICENCE, "licence.PDF", "jpeg", "pdf"),
    ],
)
def test_type_contradicting_the_name(category: Category, name: str, kind: str, ext: str) -> None:
    err = refused(category, name, kind)
    assert err.code == "type_mismatch"
    assert f".{ext}" in err.message
    assert err.params["extension"] == ext


def test_check_type_alone_for_early_refusal() -> None:
    assert filetype.check_type(Category.CONTRACT, "a.pdf", pdf()[:65536]) == "application/pdf"
    with pytest.raises(InvalidInput) as info:
        filetype.check_type(Category.CALL_RECORDING, "a.pdf", pdf())
    assert info.value.code == "type_not_allowed"
    with pytest.raises(InvalidInput) as info:
        filetype.check_type(Category.CONTRACT, "a.pdf", image("PNG"))
    assert info.value.code == "type_mismatch"
    with pytest.raises(InvalidInput) as info:
        filetype.check_type("nope", "a.pdf", pdf())
    assert info.value.code == "bad_category"


def test_unknown_category() -> None:
    err = refused("recipes", "a.pdf", "pdf")
    assert err.code == "bad_category"


def test_every_category_has_an_allow_list() -> None:
    for category in Category:
        types = filetype.allowed_media_types(category)
        if category is Category.CALL_RECORDING:
            assert types and all(t.startswith("audio/") for t in types)
        elif category in CERTIFICATES:
            assert types == {"application/pdf", "image/png", "image/jpeg", "image/tiff",
                             "image/webp"}
        else:
            assert "application/pdf" in types and "text/plain" in types
            assert not any(t.startswith("audio/") for t in types)
        assert "text/html" not in types and "application/zip" not in types


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,kept",
    [
        ("租赁合同（2024）.pdf", "租赁合同（2024）.pdf"),
        ("  spaced name.pdf  ", "spaced name.pdf"),
        ("report v1.2.pdf", "report v1.2.pdf"),
        ("..hidden-looking.pdf", "..hidden-looking.pdf"),
        ("Re: offer.pdf", "Re: offer.pdf"),
        ("汉" * 85, "汉" * 85),  # 255 bytes of UTF-8
        ("x" * 255, "x" * 255),
        (unicodedata.normalize("NFD", "café.pdf"), "café.pdf"),
    ],
)
def test_good_names_are_kept(name: str, kept: str) -> None:
    assert check_name(name) == kept


@pytest.mark.parametrize(
    "name,problem,words",
    [
        ("", "empty", "empty"),
        ("   ", "empty", "empty"),
        ("../../etc/passwd", "path", "path"),
        ("../secret.pdf", "path", "path"),
        ("..\\secret.pdf", "path", "path"),
        ("/etc/passwd", "path", "path"),
        ("C:\\Windows\\x.pdf", "path", "path"),
        ("C:x.pdf", "path", "drive"),
        ("dir/file.pdf", "path", "path"),
        ("..", "path", "not a file name"),
        (".", "path", "not a file name"),
        ("a\x00b.pdf", "nul", "NUL"),
        ("report.pdf\x00.png", "nul", "NUL"),
        ("line\nbreak.pdf", "control", "U+000A"),
        ("report.pdf\n", "control", "U+000A"),
        ("tab\there.pdf", "control", "U+0009"),
        ("del\x7f.pdf", "control", "U+007F"),
        ("c1\x85.pdf", "control", "U+0085"),
        ("invoice\u202efdp.exe", "control", "U+202E"),
        ("para\u2029sep.pdf", "control", "U+2029"),
        ("\ud800.pdf", "encoding", "Unicode"),
        ("汉" * 86, "too_long", "258 bytes"),
        ("x" * 256, "too_long", "256 bytes"),
    ],
)
def test_hostile_names_are_refused(name: str, problem: str, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_name(name)
    assert info.value.code == "bad_filename"
    assert info.value.params["problem"] == problem
    assert words in info.value.message


def test_non_string_name() -> None:
    with pytest.raises(InvalidInput) as info:
        check_name(None)  # type: ignore[arg-type]
    assert info.value.code == "bad_filename"


@pytest.mark.parametrize(
    "name,ext",
    [
        ("a.PDF", "pdf"),
        ("a.tar.gz", "gz"),
        ("v1.2", None),
        ("2024.06.30 纪要", None),
        ("noext", None),
        ("trailing.", None),
        (".bashrc", "bashrc"),
        ("a.报告", None),
        ("a.verylongext", None),
        ("a.mp3", "mp3"),
    ],
)
def test_extension(name: str, ext: str | None) -> None:
    assert extension(name) == ext


# --- whole-file structure and text by content (issue 12) -------------------------------


def structure(media_type: str, data: bytes) -> None:
    filetype.check_structure(media_type, io.BytesIO(data))


DOCX_TYPE = f"{OOXML}.wordprocessingml.document"


@pytest.mark.parametrize(
    "kind,media_type",
    [("pdf", "application/pdf"), ("docx", DOCX_TYPE),
     ("xlsx", f"{OOXML}.spreadsheetml.sheet"), ("pptx", f"{OOXML}.presentationml.presentation"),
     ("odt", "application/vnd.oasis.opendocument.text"),
     ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
     ("png", "image/png"), ("text", "text/plain")],
)
def test_real_files_have_their_structure(kind: str, media_type: str) -> None:
    structure(media_type, FILES[kind]())


@pytest.mark.parametrize(
    "media_type,data,words",
    [
        (DOCX_TYPE, plain_zip(), "not an Office document"),
        (f"{OOXML}.spreadsheetml.sheet", ooxml("word/document.xml"), "xl/"),
        (DOCX_TYPE, b"PK\x03\x04" + bytes(100), "does not open"),
        ("application/vnd.oasis.opendocument.text",
         odf("application/vnd.oasis.opendocument.spreadsheet"), "mimetype"),
        ("application/pdf", b"%PDF-1.7\n<html><body><script>alert(1)</script></body></html>\n",
         "PDF"),
        ("application/pdf", b"%PDF-1.4\n%%EOF\n", "PDF"),
    ],
)
def test_structure_refused(media_type: str, data: bytes, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        structure(media_type, data)
    assert info.value.code == "unreadable_file"
    assert words in info.value.message


def test_pdf_followed_by_html_passes_the_sniff_but_not_the_structure() -> None:
    data = b"%PDF-1.7\n<html><body>hello</body></html>\n"
    assert check_content(Category.CONTRACT, "x.pdf", data, len(data), LIMIT) == "application/pdf"
    with pytest.raises(InvalidInput):
        structure("application/pdf", data)


def test_text_starting_like_bzip2_is_text() -> None:
    data = "BZh, the note says: call the plumber on Monday.\n维修记录\n".encode()
    assert filetype.sniff(data) == "application/x-bzip2"  # what libmagic reads
    assert check_content(Category.NOTICE, "note.txt", data, len(data), LIMIT) == "text/plain"
    assert check_content(Category.NOTICE, "note.csv", data, len(data), LIMIT) == "text/csv"
    # A real bzip2 file named .txt stays refused, and a name of another type keeps libmagic's word.
    import bz2

    packed = bz2.compress(bytes(range(256)) * 64)
    with pytest.raises(InvalidInput):
        check_content(Category.NOTICE, "note.txt", packed, len(packed), LIMIT)
    with pytest.raises(InvalidInput):
        check_content(Category.NOTICE, "note.pdf", data, len(data), LIMIT)
