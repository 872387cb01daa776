"""Files the CLI writes (exports, copies, sign-off sheets): whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from vault.errors import InvalidInput, VaultError


class NewFile:
    """What `atomic_file` hands to its block: ``write`` only; a failing write (a full
    disk) becomes a clear message."""

    def __init__(self, fh: BinaryIO, out: Path) -> None:
        self._fh, self._out = fh, out

    def write(self, data: bytes) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise cannot_write(self._out, exc) from None


def cannot_write(out: Path, exc: OSError) -> VaultError:
    return InvalidInput(f"Cannot write {out}: {exc.strerror or exc}.", code="cannot_write")


@contextmanager
def atomic_file(out: Path, *, replace: bool = False) -> Iterator[NewFile]:
    """OUT written whole or not at all: the block writes a hidden temporary file in
    the same folder (mode 0600), renamed to OUT when the block ends; on any error the
    temporary file is removed and OUT is left as it was. An existing OUT is refused
    unless ``replace``. Open it before releasing anything: an unwritable OUT then
    costs nothing."""
    if out.is_dir():
        raise InvalidInput(f"{out} is a folder; give a file name.", code="out_is_folder")
    if out.exists() and not replace:
        raise InvalidInput(f"{out} exists already; choose another path.", code="out_exists")
    partial = out.with_name(f".{out.name}.part")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise cannot_write(out, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield NewFile(fh, out)
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                raise cannot_write(out, exc) from None
        if not replace and out.exists():
            raise InvalidInput(f"{out} exists already; choose another path.",
                               code="out_exists")
        try:
            os.rename(partial, out)
        except OSError as exc:
            raise cannot_write(out, exc) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise

