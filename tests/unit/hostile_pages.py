"""Hostile pages for the viewer and stamping tests: tiny PDFs declaring huge pages,
and a runner that renders them in a child process under an address-space limit
(so a renderer without bounds fails the test instead of taking the machine)."""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
from typing import Any

from pypdf import PdfWriter

LIMIT_BYTES = 1536 * 1024 * 1024


def hostile_pdf(width: float, height: float) -> bytes:
    """One blank page with MediaBox [0 0 width height]: a few hundred bytes."""
    writer = PdfWriter()
    writer.add_blank_page(width=width, height=height)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def run_limited(code: str, data: bytes) -> dict[str, Any]:
    """Run ``code`` (reads ``data`` from stdin, prints one JSON object) in a child
    limited to LIMIT_BYTES of address space; its JSON, or {"crashed": stderr}."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, env=env,
        preexec_fn=_limit, timeout=600, check=False,
    )
    if proc.returncode != 0:
        return {"crashed": proc.stderr.decode(errors="replace")[-2000:]}
    return dict(json.loads(proc.stdout.decode().strip().splitlines()[-1]))
