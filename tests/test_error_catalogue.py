"""The catalogue of error messages: one bad input per kind of error, and the
exact text segql prints for it (tests/errors/<kind>.txt), so that a worse
message is a visible diff.

Each case is a file tests/errors/<kind>.seg or .yml, validated on its own in a
temporary project made of tests/errors/segql.yml (or <kind>.project when it
exists) and a DuckDB file built from tests/errors/schema.sql. A first line
`# run: compile [--dialect D] [--target T] [--segment N | --segmentation N]`
compiles instead of validating.

Regenerate every golden file after a deliberate change of messages with

    SEGQL_REGEN_ERRORS=1 python -m pytest tests/test_error_catalogue.py

and review the diff. Messages still judged poor are listed in
tests/errors/known_poor.md.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from segql import api
from segql.errors import SegqlError, SegqlErrors

HERE = Path(__file__).parent / "errors"
REGEN = os.environ.get("SEGQL_REGEN_ERRORS", "") == "1"
CASES = sorted(p for p in HERE.iterdir() if p.suffix in (".seg", ".yml") and p.name != "segql.yml")
# errors that name no place in a file: usage errors and "nothing to compile"
UNLOCATED = {
    "unknown_dialect",
    "compile_nothing_selected",
    "compile_segment_is_segmentation",
    "compile_segmentation_is_segment",
    "compile_segment_is_split",
    "target_unknown_name",
}
# usage errors: exit status 2
USAGE = {"unknown_dialect", "target_unknown_name"}


def _command(case: Path) -> list[str]:
    first = case.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    m = re.match(r"#\s*run:\s*(.*)", first)
    return shlex.split(m.group(1)) if m else ["validate"]


def _option(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def _project(case: Path, tmp: Path) -> Path:
    """A temporary project holding the case alone, so no other case is loaded."""
    import duckdb

    override = case.with_suffix(".project")
    shutil.copy(override if override.exists() else HERE / "segql.yml", tmp / "segql.yml")
    con = duckdb.connect(str(tmp / "catalogue.duckdb"))
    con.execute((HERE / "schema.sql").read_text())
    con.close()
    shutil.copy(case, tmp / case.name)
    return tmp


def _run(case: Path) -> tuple[list[SegqlError], str]:
    """The case's errors, and their rendering as the CLI prints them (one after
    another), run with the case's folder as the current directory."""
    command = _command(case)
    try:
        if command[0] == "compile":
            api.compile(
                [case.name],
                dialect=_option(command, "--dialect"),
                segment=_option(command, "--segment"),
                segmentation=_option(command, "--segmentation"),
                target=_option(command, "--target"),
            ).sql()
        else:
            api.validate([case.name])
    except SegqlErrors as e:
        errors = e.errors
    except SegqlError as e:
        errors = [e]
    else:
        return [], "(no error)\n"
    return errors, "\n".join(e.render() for e in errors) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_message(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(case, tmp_path))
    errors, text = _run(case)
    golden = case.with_suffix(".txt")
    if REGEN:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with SEGQL_REGEN_ERRORS=1"
    assert text == golden.read_text(encoding="utf-8")
    # every case is an error, never a traceback, and located unless it names no file
    assert errors, "a catalogue case must be an error"
    if case.stem not in UNLOCATED:
        for e in errors:
            assert e.span is not None and e.span.line >= 1, e.render()
            assert text.startswith(f"{case.name}:") or text.startswith("segql.yml:")


def test_every_golden_file_has_a_case() -> None:
    stems = {c.stem for c in CASES}
    orphans = [g.name for g in HERE.glob("*.txt") if g.stem not in stems]
    assert not orphans, f"golden files without a case: {orphans}"


def test_errors_come_in_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = HERE / "syntax_several_errors.seg"
    monkeypatch.chdir(_project(case, tmp_path))
    errors, _ = _run(case)
    places = [(e.span.line, e.span.col) for e in errors if e.span]
    assert len(places) == 4 and places == sorted(places)


@pytest.mark.skipif(
    importlib.util.find_spec("segql.cli") is None, reason="the command line is not there yet"
)
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_command_line_prints_the_same(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`segql validate|compile` prints the catalogued text on stderr and exits 1
    (2 for a usage error), with nothing on stdout."""
    _project(case, tmp_path)
    command = _command(case)
    r = subprocess.run(
        [sys.executable, "-m", "segql", *command, case.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    golden = case.with_suffix(".txt").read_text(encoding="utf-8")
    assert r.returncode == (2 if case.stem in USAGE else 1), r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(golden.rstrip("\n")), r.stderr
