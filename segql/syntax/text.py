"""Reading a source file's text: UTF-8, a byte order mark tolerated; a bad byte
is reported at its line and column. Used by the loader (definition files) and
the project file reader alike."""

from __future__ import annotations

from pathlib import Path

from segql.errors import SegqlError, Span

_BOM = b"\xef\xbb\xbf"


def read_source(path: Path) -> str:
    """The file's text: UTF-8, a leading byte order mark tolerated (and dropped)."""
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SegqlError(f"cannot read '{file}': {e.strerror or e}") from None
    # strip the BOM by hand: with 'utf-8-sig', error offsets would not count it
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        good = body[: e.start].decode("utf-8")  # valid up to the first bad byte
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        raise SegqlError(
            f"file is not valid UTF-8 (byte 0x{body[e.start]:02x})",
            Span(file, line, col, line, col + 1),
            ("save the file as UTF-8",),
            # shown with each bad byte as U+FFFD: one character each, columns stay right
            text=body.decode("utf-8", errors="replace"),
        ) from None
