"""`segql fmt [PATH…] [--check]`: rewrite `.seg` files in the canonical layout
(segql/syntax/fmt.py). YAML files are left alone."""

from __future__ import annotations

from pathlib import Path

from segql.errors import SegqlError, SegqlErrors
from segql.ops.files import replacing
from segql.project import find_project_file
from segql.syntax.fmt import format_text
from segql.syntax.loader import SEG_SUFFIXES, definition_files, display
from segql.syntax.text import read_source


def seg_files(paths: list[str], project: str | None) -> list[Path]:
    """The `.seg` files PATHs name, else those of the project (the nearest segql.yml's folder)."""
    if not paths:
        root = find_project_file(project, []).parent
        paths = [str(display(root.resolve()) if root.is_absolute() else root)]
    files = definition_files(paths, Path("."))
    return [f for f in files if f.suffix.lower() in SEG_SUFFIXES]


def format_files(files: list[Path], check: bool) -> tuple[list[Path], list[SegqlError]]:
    """Format each file: (the files that changed, or would with check; the errors).
    A file that does not parse is an error and is not written."""
    changed: list[Path] = []
    errors: list[SegqlError] = []
    for path in files:
        try:
            text = read_source(path)
            out = format_text(text, str(path))
        except SegqlErrors as e:
            errors.extend(e.errors)
            continue
        except SegqlError as e:
            errors.append(e)
            continue
        if out == text:
            continue
        changed.append(path)
        if not check:
            mode = path.stat().st_mode  # the temporary file replacing it is 0600
            with replacing(path) as f:
                f.write(out)
            path.chmod(mode)
    return changed, errors
