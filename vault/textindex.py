"""Tokens for the content index, their keyed hashes, BM25 and snippets (pure).

A text is normalised (NFKC, which also turns full-width letters, digits and
punctuation into half-width ones, then case-folded) and cut into tokens:

- runs of Chinese (CJK) characters give every character bigram and, so that a
  one-character query finds something, every single character. Whitespace
  between two CJK characters does not break a run (OCR puts spaces between
  Chinese characters; Chinese text itself has none);
- Latin words and numbers (runs of letters and digits) give one token each.

A query is cut the same way, except that a CJK run of two or more characters
gives only its bigrams (a phrase must match as adjacent pairs, not as loose
characters) and one character alone gives itself.

The index never stores a token: only ``token_hash(key, token)``, the first 8
bytes of HMAC-SHA256 under the index key, as a signed 64-bit integer (the
database's BIGINT). Without the key a hash cannot be tested against a guess.
"""

from __future__ import annotations

import hmac
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

#: BM25 parameters (the usual ones).
K1 = 1.2
B = 0.75

_CJK = (
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\u3040-\u30ff"  # kana
    "\uac00-\ud7af"  # hangul syllables
    "\U00020000-\U0002ebef"  # extensions B–F
)
_CJK_RE = re.compile(f"[{_CJK}]")
# A CJK run (spaces inside it dropped later), or a word of letters and digits.
_TOKEN_RE = re.compile(f"([{_CJK}](?:\\s*[{_CJK}])*)|([^\\W_{_CJK}]+)")
_SPACE_RE = re.compile(r"\s+")

#: Longest Latin token kept (longer runs are cut: base64 blobs, hashes).
MAX_WORD = 64


def normalise(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms folded) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _runs(text: str) -> Iterable[tuple[str, bool]]:
    """(run, is_cjk) pairs of the normalised text."""
    for m in _TOKEN_RE.finditer(normalise(text)):
        cjk, word = m.group(1), m.group(2)
        if cjk is not None:
            yield _SPACE_RE.sub("", cjk), True
        else:
            yield word[:MAX_WORD], False


def document_tokens(text: str) -> Counter[str]:
    """Every token of a document with its frequency (bigrams, unigrams, words)."""
    counts: Counter[str] = Counter()
    for run, cjk in _runs(text):
        if not cjk:
            counts[run] += 1
            continue
        counts.update(run)
        counts.update(run[i : i + 2] for i in range(len(run) - 1))
    return counts


def query_tokens(text: str) -> list[str]:
    """The distinct tokens a query asks for, in order (bigrams; one character alone)."""
    out: list[str] = []
    for run, cjk in _runs(text):
        if not cjk or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(out))


def token_hash(key: bytes, token: str) -> int:
    """The keyed hash stored in place of ``token``: HMAC-SHA256, 8 bytes, signed."""
    digest = hmac.digest(key, token.encode("utf-8"), "sha256")
    return int.from_bytes(digest[:8], "big", signed=True)


def hashed_counts(key: bytes, counts: Counter[str]) -> dict[int, int]:
    """Token frequencies keyed by hash (two tokens sharing a hash add up)."""
    out: dict[int, int] = {}
    for token, n in counts.items():
        h = token_hash(key, token)
        out[h] = out.get(h, 0) + n
    return out


def idf(n_docs: int, doc_freq: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


# ---------------------------------------------------------------------------
# Snippets (decrypted text, at query time, for files the reader may view)


@dataclass(frozen=True)
class Piece:
    text: str
    hit: bool


_WORD_RE = re.compile(f"[^\\W_{_CJK}]+")


def _match_spans(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` whose normalised form is one of ``tokens``: at every
    position the CJK bigram starting there (OCR spaces between its characters
    allowed), else the CJK character; whole Latin words. Regular expressions over
    the normalised text when normalising keeps positions (the common case)."""
    if not tokens:
        return []
    norm = normalise(text)
    if len(norm) != len(text):
        return _match_spans_by_char(text, tokens)
    cjk = sorted((t for t in tokens if _CJK_RE.match(t)), key=len, reverse=True)
    words = {t for t in tokens if not _CJK_RE.match(t)}
    spans: list[tuple[int, int]] = []
    if cjk:
        alternatives = "|".join("\\s*".join(map(re.escape, t)) for t in cjk)
        spans += [(m.start(), m.start() + len(m.group(1)))
                  for m in re.finditer(f"(?=({alternatives}))", norm)]
    if words:
        spans += [m.span() for m in _WORD_RE.finditer(norm) if m.group()[:MAX_WORD] in words]
    spans.sort()
    return spans


def _match_spans_by_char(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """`_match_spans` character by character, for a text whose normalised form
    is not as long as itself (ligatures, compatibility forms)."""
    if not tokens:
        return []
    # Normalise per character so positions map back to the original text.
    norm = [normalise(ch) for ch in text]
    cjk_tokens = {t for t in tokens if _CJK_RE.match(t)}
    words = {t for t in tokens if t not in cjk_tokens}
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = norm[i]
        if ch and _CJK_RE.match(ch):
            # Longest CJK token starting here (2 characters, or 1), skipping spaces.
            j = i + 1
            while j < n and norm[j].isspace():
                j += 1
            if j < n and ch + norm[j] in cjk_tokens:
                spans.append((i, j + 1))
                i += 1
                continue
            if ch in cjk_tokens:
                spans.append((i, i + 1))
            i += 1
            continue
        if ch and (ch[0].isalnum()):
            j = i
            while j < n and norm[j] and norm[j][0].isalnum() and not _CJK_RE.match(norm[j]):
                j += 1
            if "".join(norm[i:j])[:MAX_WORD] in words:
                spans.append((i, j))
            i = max(j, i + 1)
            continue
        i += 1
    return spans


def _first_hit(text: str, tokens: list[str]) -> int:
    """Where the first hit is likely to be (0 when unknown): a plain search of the
    normalised text when normalising keeps positions (the common case)."""
    norm = normalise(text)
    if len(norm) != len(text):
        return 0
    found = [i for i in (norm.find(t) for t in tokens) if i >= 0]
    return min(found) if found else 0


#: Characters scanned for hits around the first one (the rest is never shown).
_SCAN = 4000


def snippet(text: str, tokens: list[str], width: int = 120) -> list[Piece]:
    """A window of ``text`` around its first hits, hits marked; the start when none.

    Only what can be shown is scanned character by character: a few widths from
    where the first hit is likely to be (up to `_SCAN` characters when that guess
    fails), then the shown window again, to mark every hit in it."""
    offset = max(0, _first_hit(text, tokens) - width)
    found = _match_spans(text[offset : offset + 3 * width], tokens)
    if not found and len(text) > offset + 3 * width:
        found = _match_spans(text[offset : offset + _SCAN], tokens)
    if not found:
        body = _SPACE_RE.sub(" ", text[:width]).strip()
        return [Piece(body + ("…" if len(text) > width else ""), False)] if body else []
    first = found[0][0] + offset
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    # The shown window, with a margin for hits that straddle its edges (OCR spaces).
    lo = max(0, start - 8)
    spans = [(a + lo, b + lo) for a, b in _match_spans(text[lo : end + 8], tokens)]
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if b <= start:
            continue
        if a >= end:
            break
        a, b = max(a, start), min(b, end)
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    pieces: list[Piece] = []
    pos = start
    if start > 0:
        pieces.append(Piece("…", False))
    for a, b in merged:
        if a > pos:
            pieces.append(Piece(_SPACE_RE.sub(" ", text[pos:a]), False))
        pieces.append(Piece(_SPACE_RE.sub(" ", text[a:b]), True))
        pos = b
    if pos < end:
        pieces.append(Piece(_SPACE_RE.sub(" ", text[pos:end]), False))
    if end < len(text):
        pieces.append(Piece("…", False))
    return pieces
