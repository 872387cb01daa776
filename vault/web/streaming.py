"""multipart/form-data read as it arrives, for the API's uploads.

Werkzeug's form parser reads a whole body before the view runs, so an upload
used to wait in the encrypted spool (`SpooledEncryptedFile`), then was read
back (decrypted) and encrypted again into the blob store. `MultipartReader`
walks the parts of ``request.stream`` with werkzeug's sans-IO
`MultipartDecoder` instead: the view collects the text fields that come first
and hands the file part to the service as `FilePart`, a raw stream that pulls
the next bytes off the socket as the service's encryption asks for them. No
copy of the upload waits anywhere, in clear or otherwise.

Bulk data skips the decoder's copies: inside a part, while a read holds no
``--boundary`` at all, its bytes are handed on from the read buffer, holding
back only the tail that could begin a delimiter — the decoder's own rule
(`MultipartDecoder._parse_data`). A read that holds the boundary goes back to
the decoder, which finds the part's end and everything after it.

A part that is not asked for is read to its end and dropped; a text field over
``max_form_memory_size`` answers 413, as werkzeug's parser does. A body that is
not well-formed multipart (truncated, no closing boundary, garbage) raises
`MalformedMultipart`: 400, code ``invalid_input`` on the field ``file``, the
answer the form parser's silent failure gave before (no file found).
"""

from __future__ import annotations

import io
from collections import deque
from dataclasses import replace
from typing import IO, Any, cast

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
    Preamble,
    State,
)

from vault.errors import InvalidInput

#: Bytes asked of the request stream at once: large reads keep the per-call
#: overhead (WSGI server, decoder, GIL hand-offs) small against the payload.
READ_SIZE = 1024 * 1024
#: Charsets a text part may declare (werkzeug's safe list); UTF-8 otherwise.
CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1"})

Chunk = bytes | memoryview


class MalformedMultipart(InvalidInput):
    """The body is not well-formed multipart/form-data."""

    def __init__(self, why: str) -> None:
        super().__init__(f"file: the multipart/form-data body is malformed ({why})",
                         code="invalid_input", field="file")


def sent_filename(headers: Any, parsed: str | None) -> str | None:
    """The file name as the client sent it. A quoted ``filename`` reads ``\\x`` as
    an escaped ``x`` (RFC 9110), so werkzeug turns ``..\\..\\x.txt`` into
    ``....x.txt``; browsers never escape that way (they send ``%22`` for a quote),
    so every backslash is kept here and the name check refuses it as a path."""
    raw = headers.get("Content-Disposition") if headers is not None else None
    if parsed is None or not raw or "\\" not in raw:
        return parsed
    _, options = parse_options_header(raw.replace("\\", "\\\\"))
    return options.get("filename", parsed)


def boundary_of(mimetype_params: dict[str, str]) -> bytes | None:
    """The boundary of a multipart Content-Type, or None when absent or not ASCII
    (werkzeug's form parser finds no parts in such a body)."""
    try:
        boundary = mimetype_params.get("boundary", "").encode("ascii")
    except UnicodeEncodeError:
        return None
    return boundary or None


class MultipartReader:
    """The parts of one multipart body, in order, read from ``stream`` on demand.

    ``next_part()`` gives each part's `Field` or `File` event (None after the
    closing boundary), skipping what is left of the part before; then
    ``read_text()`` takes a field's value, ``file()`` a stream over a file's
    content. A body that is not multipart raises `MalformedMultipart`; too
    many parts, or a field or header block over ``max_form_memory_size``,
    `RequestEntityTooLarge`.
    """

    def __init__(self, stream: IO[bytes], boundary: bytes, *,
                 max_form_memory_size: int | None = 500_000,
                 max_parts: int | None = 1000, read_size: int | None = None) -> None:
        read_size = read_size or READ_SIZE
        self._stream = stream
        self._readinto = getattr(stream, "readinto", None)
        self._decoder = MultipartDecoder(boundary, None, max_parts=max_parts)
        self._max_field = max_form_memory_size
        # What the decoder may hold unparsed between events (a header block, a
        # preamble or epilogue): werkzeug's limit on a field, or about one read.
        self._max_held = max(max_form_memory_size or 0, 64 * 1024) + read_size
        self._buf = bytearray(read_size)
        self._view = memoryview(self._buf)
        self._dash_boundary = b"--" + boundary  # what the decoder looks for
        self._tail = len(b"\r\n--" + boundary)  # the longest start of a delimiter
        self._in_part = False  # the current part has content left
        self._done = False  # the closing boundary was read
        # Fast path (see the module's doc): on while the decoder sits in a part's
        # content with nothing to say; _held is the tail it would keep back.
        self._fast = False
        self._held = b""
        self._queue: deque[Chunk] = deque()

    # -- reading and the decoder

    def _read(self) -> int:
        if self._readinto is not None:
            return int(self._readinto(self._buf) or 0)
        data = self._stream.read(len(self._buf))
        self._buf[: len(data)] = data
        return len(data)

    def _event(self, *, in_content: bool = False) -> Event | None:
        """The decoder's next event, reading the stream as it needs. Inside a
        part's content (``in_content``), None instead of a read: the fast path
        takes over."""
        decoder = self._decoder
        while True:
            try:
                event = decoder.next_event()
            except HTTPException:  # too many parts: 413, as werkzeug answers
                raise
            except Exception as exc:  # noqa: BLE001 - any decoder failure is the body's
                raise MalformedMultipart(_why(exc)) from None
            if not isinstance(event, NeedData):
                return event
            if in_content and decoder.state is State.DATA and len(decoder.buffer) <= self._tail:
                return None
            if len(decoder.buffer) > self._max_held:
                raise RequestEntityTooLarge()
            self._feed(self._read())

    def _scan(self) -> bool:
        """One read on the fast path. True when its content was queued; False when
        it went to the decoder (it holds the boundary, or the body ended)."""
        n = self._read()
        buf, held, dash = self._buf, self._held, self._dash_boundary
        if (n >= self._tail and buf.find(dash, 0, n) == -1
                and (not held or (held + buf[: len(dash) - 1]).find(dash) == -1)):
            # No boundary: all but a possible delimiter's start is content
            # (the last CR or LF within the final len("\r\n--boundary") bytes).
            start = n - self._tail
            ends = [i for i in (buf.rfind(b"\n", start, n), buf.rfind(b"\r", start, n))
                    if i >= 0]
            cut = min(ends, default=n)
            if held:
                self._queue.append(held)
            self._queue.append(self._view[:cut])
            self._held = bytes(self._view[cut:n])
            return True
        self._fast = False
        self._decoder.buffer[:] = held
        self._feed(n)
        return False

    def _feed(self, n: int) -> None:
        """Give the decoder the ``n`` bytes just read (it copies them); 0: the end."""
        self._decoder.receive_data(cast(bytes, self._view[:n]) if n else None)

    def read_data(self) -> Chunk | None:
        """The next piece of the current part's content (maybe empty), valid until
        the next call; None at the part's end."""
        while self._in_part:
            if self._queue:
                return self._queue.popleft()
            if self._fast:
                self._scan()
                continue
            event = self._event(in_content=True)
            if event is None:
                self._fast, self._held = True, bytes(self._decoder.buffer)
                continue
            if not isinstance(event, Data):  # the decoder gives nothing else in a part
                raise MalformedMultipart("unexpected part structure")
            if not event.more_data:
                self._in_part = False
            return event.data
        return None

    # -- parts

    def next_part(self) -> Field | File | None:
        """The next part (the rest of the current one is skipped), or None at the end."""
        while self.read_data() is not None:
            pass
        while not self._done:
            event = self._event()
            if isinstance(event, (Field, File)):
                self._in_part = True
                if isinstance(event, File):
                    name = sent_filename(event.headers, event.filename)
                    return replace(event, filename=name) if name is not None else event
                return event
            if isinstance(event, Epilogue):
                self._done = True
            elif not isinstance(event, Preamble):
                raise MalformedMultipart("content outside a part")
        return None

    def read_text(self, part: Field) -> str:
        """The value of the text field just returned by `next_part`."""
        pieces, size = [], 0
        while (data := self.read_data()) is not None:
            size += len(data)
            if self._max_field is not None and size > self._max_field:
                raise RequestEntityTooLarge()
            pieces.append(bytes(data))
        return b"".join(pieces).decode(_charset(part), "replace")

    def file(self) -> FilePart:
        """A stream over the content of the file part just returned by `next_part`."""
        return FilePart(self)

    def copy_file(self, out: IO[bytes]) -> int:
        """Write the rest of the current part's content to ``out``; returns its size."""
        total = 0
        while (data := self.read_data()) is not None:
            if data:
                out.write(data)
                total += len(data)
        return total

    def rest(self) -> MultiDict[str, str]:
        """Read to the closing boundary: the text fields on the way (files skipped)."""
        fields: MultiDict[str, str] = MultiDict()
        while (part := self.next_part()) is not None:
            if isinstance(part, Field) and part.name is not None:
                fields.add(part.name, self.read_text(part))
        return fields


class FilePart(io.RawIOBase):
    """The content of one file part, read from the body as it is asked for.

    Read once, front to back; it ends where the part ends. A malformed or
    truncated body raises `MalformedMultipart` from the read, so a service
    reading it stops and rolls back, keeping nothing.
    """

    def __init__(self, reader: MultipartReader) -> None:
        super().__init__()
        self._reader = reader
        self._chunk = memoryview(b"")  # received, not yet read
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes read so far."""
        return self._size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        while not self._chunk:
            data = self._reader.read_data()
            if data is None:
                return 0
            self._chunk = memoryview(data)
        n = min(len(view), len(self._chunk))
        view[:n] = self._chunk[:n]
        self._chunk = self._chunk[n:]
        self._size += n
        return n


def _charset(part: Field) -> str:
    content_type = part.headers.get("content-type")
    if content_type:
        charset = parse_options_header(content_type)[1].get("charset", "").lower()
        if charset in CHARSETS:
            return charset
    return "utf-8"


def _why(exc: Exception) -> str:
    text = str(exc)
    if "cannot parse beyond" in text:
        return "the body ends before its closing boundary"
    if isinstance(exc, UnicodeError):
        return "a part's headers are not UTF-8"
    return text[:200] or type(exc).__name__
