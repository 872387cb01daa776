"""Durable appends for the audit's files (the mirror, a file witness)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from vault.runtime import fsync_dir


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write fewer), then fsync."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[n:]
    os.fsync(fd)


def fsync_folder(path: Path) -> None:
    """fsync the folder holding ``path``, so that a file just created stays listed."""
    fsync_dir(path.parent)
