"""Tokens, keyed hashes, snippets and the in-memory extraction of office files."""

from __future__ import annotations

import io
import zipfile
from collections import Counter

import pytest

from vault import extract, textindex


@pytest.mark.parametrize(("text", "expected"), [
    ("保密文件", ["保密", "密文", "文件"]),
    ("保", ["保"]),
    ("Ｖａｕｌｔ ２０２６", ["vault", "2026"]),  # full-width → half-width, case-folded
    ("STRASSE straße", ["strasse"]),  # case-folding, not lower()
    ("A座 3号楼", ["a", "座", "3", "号楼"]),
    ("保 密 文 件", ["保密", "密文", "文件"]),  # OCR spacing does not break a run
    ("合同，租金", ["合同", "租金"]),  # punctuation does
    ("，。！", []),
])
def test_query_tokens(text: str, expected: list[str]) -> None:
    assert textindex.query_tokens(text) == expected


def test_document_tokens_hold_bigrams_unigrams_and_words() -> None:
    assert textindex.document_tokens("电梯电梯 Lift lift") == Counter({
        "电": 2, "梯": 2, "电梯": 2, "梯电": 1, "lift": 2})


def test_token_hash_is_keyed_and_fits_a_bigint() -> None:
    a, b = b"k" * 32, b"j" * 32
    h = textindex.token_hash(a, "保密")
    assert h == textindex.token_hash(a, "保密") != textindex.token_hash(b, "保密")
    assert -(2**63) <= h < 2**63
    assert textindex.hashed_counts(a, Counter({"保密": 3})) == {h: 3}


def test_idf_falls_with_document_frequency() -> None:
    assert textindex.idf(100, 1) > textindex.idf(100, 50) > textindex.idf(100, 100) > 0


def test_snippet_marks_hits_around_the_first() -> None:
    text = "开头。" * 30 + "请于本月缴清物业费，逾期加收。" + "结尾。" * 30
    pieces = textindex.snippet(text, textindex.query_tokens("物业费"))
    marked = "".join(f"[{p.text}]" if p.hit else p.text for p in pieces)
    assert "缴清[物业费]，" in marked
    assert marked.startswith("…") and marked.endswith("…")
    latin = textindex.snippet("Call the LIFT company", ["lift"])
    assert [(p.text, p.hit) for p in latin] == [("Call the ", False), ("LIFT", True),
                                                (" company", False)]
    assert textindex.snippet("短文", ["无"]) == [textindex.Piece("短文", False)]


def test_snippet_finds_a_far_hit_when_normalising_moves_positions() -> None:
    # "ﬁ" becomes "fi" under NFKC: the quick guess of the first hit fails and the
    # scan goes on; a hit with OCR spaces inside is marked whole; every hit in the
    # window is marked, none outside it.
    text = "ﬁ" + "前言。" * 500 + "检 查 电 梯，再查电梯。" + "后记。" * 100
    pieces = textindex.snippet(text, textindex.query_tokens("电梯"))
    marked = "".join(f"[{p.text}]" if p.hit else p.text for p in pieces)
    assert "检 查 [电 梯]，再查[电梯]。" in marked
    assert marked.startswith("…") and marked.endswith("…")
    assert sum(len(p.text) for p in pieces if p.text != "…") == 120
    # Beyond the scanned characters: the start of the text, nothing marked.
    far = textindex.snippet("ﬁ" + "无关。" * 2000 + "电梯", ["电梯"])
    assert not any(p.hit for p in far) and far[0].text.startswith("ﬁ无关。")


def test_hits_found_by_expression_match_the_character_scan() -> None:
    texts = ["检 查 电 梯，再查电梯。电梯钢缆 Lift-cable LIFT lifting 2026年 ２０２６",
             "物业费物业费，物 业 费。Phase2 phase 2 PHASE", "梯梯梯电电梯 a_b lift_x"]
    queries = ["电梯", "电梯钢缆", "梯", "lift", "2026", "物业费", "phase 2", "电 梯", "b"]
    for text in texts:
        for query in queries:
            tokens = textindex.query_tokens(query)
            assert textindex._match_spans(text, tokens) == \
                textindex._match_spans_by_char(text, tokens), (text, query)


def _zip(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def test_docx_and_xlsx_text() -> None:
    docx = _zip({"word/document.xml": f'<w:document {W}><w:body><w:p><w:r><w:t>第一段</w:t>'
                 '</w:r></w:p><w:p><w:r><w:t>Second</w:t></w:r></w:p></w:body></w:document>'})
    got = extract.extract(docx, "application/vnd.openxmlformats-officedocument."
                                "wordprocessingml.document")
    assert got.method == "office" and got.text.split() == ["第一段", "Second"]
    xlsx = _zip({"xl/workbook.xml": f"<workbook {S}/>",
                 "xl/sharedStrings.xml": f"<sst {S}><si><t>租金</t></si></sst>",
                 "xl/worksheets/sheet1.xml": f'<worksheet {S}><sheetData><row><c t="s"><v>0</v>'
                 "</c><c><v>4200</v></c></row></sheetData></worksheet>"})
    got = extract.extract(xlsx, "application/vnd.openxmlformats-officedocument."
                                "spreadsheetml.sheet")
    assert "租金" in got.text and "4200" in got.text


def test_text_encodings_and_unknown_types() -> None:
    notice = "物业管理处通知"
    assert extract.extract(notice.encode("gb18030"), "text/plain").text == notice
    assert extract.extract(b"\xef\xbb\xbfabc", "text/csv").text == "abc"
    assert extract.extract(b"ID3", "audio/mpeg") == extract.Extracted("", "none")
    with pytest.raises(extract.ExtractionError, match="not a valid zip"):
        extract.extract(b"PK nonsense", "application/vnd.oasis.opendocument.text")
