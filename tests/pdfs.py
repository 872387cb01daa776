"""PDFs for tests that need a given size or given bytes inside a file that parses
(uploads check that a PDF really is one)."""

from __future__ import annotations


def pdf_around(body: bytes) -> bytes:
    """A one-page PDF that carries ``body`` verbatim in a stream object: it starts
    ``%PDF-1.4\\n`` + the first object's header, so ``body`` begins at a known offset."""
    head = b"%PDF-1.4\n"
    objects = [
        b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 200 200] >>",
    ]
    out, offsets = bytearray(head), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 2 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


#: Where ``body`` starts inside `pdf_around`'s result (for bodies under 10 GB).
def body_offset(body_size: int) -> int:
    return len(b"%PDF-1.4\n1 0 obj\n" + b"<< /Length %d >>\nstream\n" % body_size)
