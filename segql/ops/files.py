"""Files segql writes (schema.yml, exports): whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from segql.errors import SegqlError


@contextlib.contextmanager
def replacing(path: Path, mode: str = "w") -> Iterator[IO]:
    """A file opened beside `path` and renamed over it once the block ends
    without an error: a reader, or a command killed half-way, sees the old
    file or the new one, never part of one."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SegqlError(f"cannot write '{path}': folder '{folder}' does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise SegqlError(f"cannot write '{path}': {e.strerror or e}") from None
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
