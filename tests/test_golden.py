"""Golden SQL: every example file in examples/segments/, in every dialect.

    tests/golden/<example-file-stem>/<dialect>.sql       compiled with --as-of 2025-07-01T00:00:00
    tests/golden/<LIVE_EXAMPLE>/<dialect>.live.sql       compiled without as_of (live: the
                                                         engine's current timestamp)
    tests/golden/<TRAITS_EXAMPLE>/<dialect>.traits.sql   with --traits (every trait a column)

Regenerate them all (then review the diff with `git diff tests/golden`) with ONE command:

    SEGQL_REGEN_GOLDEN=1 pytest tests/test_golden.py

Besides the byte comparison, each output must parse back with sqlglot in its dialect
as exactly one statement, contain none of the constructs that dialect `lacks`, and
compile to identical bytes twice.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import os
import re
from pathlib import Path

import pytest
import sqlglot

from segql import api
from segql.semantic.model import Model
from segql.sql.dialects import DIALECTS
from segql.syntax import ast
from segql.syntax.loader import definition_files, parse_file
from segql.syntax.parser import parse_module
from segql.syntax.yaml_front import parse_yaml_module

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "segments"
GOLDEN = Path(__file__).resolve().parent / "golden"
AS_OF = "2025-07-01T00:00:00"
LIVE_EXAMPLE = "ecommerce"  # the file whose live (no as_of) SQL is kept as a golden too
TRAITS_EXAMPLE = "language"  # the file whose SQL with --traits is kept as a golden too
REGEN = os.environ.get("SEGQL_REGEN_GOLDEN", "") == "1"
REGEN_COMMAND = "SEGQL_REGEN_GOLDEN=1 pytest tests/test_golden.py"

# the definition files as segql finds them in the folder (not segql.yml, schema.yml)
EXAMPLE_FILES = definition_files([str(EXAMPLES)], EXAMPLES)
STEMS = [p.stem for p in EXAMPLE_FILES]


def example_file(stem: str) -> Path:
    (path,) = [p for p in EXAMPLE_FILES if p.stem == stem]
    return path


def load_example(stem: str, con=None) -> Model:
    """The resolved model with the file's own outputs selected."""
    return api.load([str(example_file(stem))], project=str(EXAMPLES), con=con)


def as_of_instant() -> dt.datetime:
    return api.parse_as_of(AS_OF, "UTC")


def compile_example(stem: str, dialect: str, live: bool = False, con=None) -> str:
    """The membership query of one example file (fresh load every call)."""
    return api.compile_model(
        load_example(stem, con), dialect, None if live else as_of_instant()
    ).sql()


@functools.cache
def compiled(stem: str, dialect: str, live: bool = False) -> str:
    return compile_example(stem, dialect, live)


def golden_path(stem: str, dialect: str, live: bool = False) -> Path:
    return GOLDEN / stem / f"{dialect}{'.live' if live else ''}.sql"


CASES = [(s, d, False) for s in STEMS for d in DIALECTS] + [
    (LIVE_EXAMPLE, d, True) for d in DIALECTS
]
CASE_IDS = [f"{s}-{d}{'-live' if live else ''}" for s, d, live in CASES]


# ------------------------------------------------------------------ the examples


def test_examples_exist_and_stems_are_unique() -> None:
    assert {"language", "lifecycle", "ecommerce"} <= set(STEMS)
    assert len(STEMS) == len(set(STEMS)), "two example files share a stem: goldens would clash"
    assert LIVE_EXAMPLE in STEMS


def test_every_example_file_has_outputs() -> None:
    for stem in STEMS:
        model = api.load([str(example_file(stem))], project=str(EXAMPLES))
        assert model.selected, f"{stem}: no segments or segmentations"


def test_whole_project_validates_and_compiles() -> None:
    model = api.load([str(EXAMPLES)], project=str(EXAMPLES))
    sql = api.compile_model(model, "duckdb", as_of_instant()).sql()
    for stem in STEMS:  # every file's outputs are columns of the project's query
        for name in load_example(stem).selected:
            assert f'AS "{name}"' in sql


def test_every_output_compiles_alone() -> None:
    """Every segment and segmentation of the examples compiles on its own."""
    model = api.load([str(EXAMPLES)], project=str(EXAMPLES))
    for name in model.selected:
        option = "segmentation" if model.kind(name) == "split" else model.kind(name)
        api.compile_model(model, "duckdb", as_of_instant(), **{option: name}).sql()


# ------------------------------------------------------------------ LANGUAGE.md coverage


def _language_md() -> str:
    for candidate in (ROOT.parent / "shared" / "LANGUAGE.md", ROOT / "docs" / "LANGUAGE.md"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    pytest.skip("LANGUAGE.md (the contract) is not beside this checkout")


def _block(text: str, section: str, fence: str) -> str:
    start = text.index(f"## {section}")
    body = text[start:]
    m = re.search(r"^" + re.escape(fence) + r"\n(.*?)^```", body, re.S | re.M)
    assert m, f"no {fence} block in section {section}"
    return m.group(1)


# §4's names as renamed in lifecycle.yml (one namespace per project)
SECTION4_RENAMES = {
    "recency": "recency_y",
    "recent_buyers": "recent_buyers_y",
    "high_value": "high_value_y",
    "lifecycle": "lifecycle_y",
    "vip": "vip_y",
    "at_risk": "at_risk_y",
    "browsers": "browsers_y",
}


def test_language_seg_is_section_3_verbatim() -> None:
    doc = parse_module(_block(_language_md(), "3.", "```"), "LANGUAGE.md")
    ours = parse_file(example_file("language"))
    assert doc.definitions  # the block parsed into something
    assert ours.definitions == doc.definitions  # spans aside


def test_lifecycle_yml_is_section_4_renamed() -> None:
    text = _block(_language_md(), "4.", "```yaml")
    for old, new in SECTION4_RENAMES.items():
        text = re.sub(rf"\b{old}\b", new, text)
    doc = parse_yaml_module(text, "LANGUAGE.md")
    ours = parse_file(example_file("lifecycle"))
    assert len(doc.definitions) == 4
    assert ours.definitions == doc.definitions


def test_section_6_phrasings_are_in_the_ecommerce_examples() -> None:
    defs = {d.name: d for d in parse_file(example_file("ecommerce")).definitions}
    phrasings = {
        "lapsing_customers": "did(orders, 30 to 90 days ago) and not did(orders, last 30 days)",
        "regulars": "count_distinct(date(events.occurred_at), last 28 days) >= 10",
        "viewed_not_bought": (
            'did(events where name = "view" then not orders within 2 days on sku)'
        ),
        "not_recent_buyers": "not (days_since(last(orders.ordered_at)) < 30)",
    }
    for name, text in phrasings.items():
        (expected,) = parse_module(f"segment {name} = {text}", "LANGUAGE.md").definitions
        assert defs[name] == expected
    used = {type(n).__name__ for d in defs.values() for n in ast.walk(d)}
    assert {"Sequence", "SlidingWindow", "CalendarWindow", "AgoWindow"} <= used


# ------------------------------------------------------------------ the goldens


def _diff(expected: str, actual: str, path: Path) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), str(path), "compiled", lineterm="", n=2
        )
    )
    shown = "\n".join(lines[:80]) + ("\n…" if len(lines) > 80 else "")
    return f"{path.relative_to(ROOT)} differs (regenerate: {REGEN_COMMAND}):\n{shown}"


@pytest.mark.parametrize(("stem", "dialect", "live"), CASES, ids=CASE_IDS)
def test_golden(stem: str, dialect: str, live: bool) -> None:
    sql = compiled(stem, dialect, live)
    path = golden_path(stem, dialect, live)
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != sql:
            path.write_text(sql, encoding="utf-8")
        return
    assert path.is_file(), f"missing golden {path.relative_to(ROOT)}: run {REGEN_COMMAND}"
    expected = path.read_text(encoding="utf-8")
    assert sql == expected, _diff(expected, sql, path)


def traits_golden_path(dialect: str) -> Path:
    return GOLDEN / TRAITS_EXAMPLE / f"{dialect}.traits.sql"


@functools.cache
def compiled_with_traits(dialect: str) -> str:
    model = load_example(TRAITS_EXAMPLE)
    return api.compile_model(model, dialect, as_of_instant(), traits=True).sql()


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_traits_golden(dialect: str) -> None:
    """--traits: the membership with a column per trait of the file, after the
    other outputs, each with its comment; it parses back as one statement."""
    sql = compiled_with_traits(dialect)
    path = traits_golden_path(dialect)
    if REGEN:
        if not path.is_file() or path.read_text(encoding="utf-8") != sql:
            path.write_text(sql, encoding="utf-8")
    else:
        assert path.is_file(), f"missing golden {path.relative_to(ROOT)}: run {REGEN_COMMAND}"
        expected = path.read_text(encoding="utf-8")
        assert sql == expected, _diff(expected, sql, path)
    for name in ("recency", "frequency", "monetary"):
        assert f"/* trait {name} (language.seg:" in sql
    statements = [s for s in sqlglot.parse(sql, read=DIALECTS[dialect].sqlglot) if s is not None]
    assert len(statements) == 1


def test_no_stale_goldens() -> None:
    wanted = {golden_path(s, d, live) for s, d, live in CASES}
    wanted |= {traits_golden_path(d) for d in DIALECTS}
    present = set(GOLDEN.rglob("*.sql")) if GOLDEN.is_dir() else set()
    stale = present - wanted
    if REGEN:
        for p in stale:
            p.unlink()
        for d in sorted(GOLDEN.iterdir()):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        return
    assert not stale, f"goldens for no example (delete them or run {REGEN_COMMAND}): {stale}"


@pytest.mark.parametrize(("stem", "dialect", "live"), CASES, ids=CASE_IDS)
def test_parses_back_as_one_statement(stem: str, dialect: str, live: bool) -> None:
    sql = compiled(stem, dialect, live)
    statements = [s for s in sqlglot.parse(sql, read=DIALECTS[dialect].sqlglot) if s is not None]
    assert len(statements) == 1
    assert isinstance(statements[0], sqlglot.exp.Query)


@pytest.mark.parametrize(("stem", "dialect", "live"), CASES, ids=CASE_IDS)
def test_has_nothing_the_dialect_lacks(stem: str, dialect: str, live: bool) -> None:
    sql = " ".join(compiled(stem, dialect, live).upper().split())  # one space between words
    d = DIALECTS[dialect]
    assert d.lacks, f"{dialect} lists no lacks: the check would be vacuous"
    found = [c for c in d.lacks if " ".join(c.upper().split()) in sql]
    assert not found, f"{dialect} lacks {found}"


@pytest.mark.parametrize(("stem", "dialect", "live"), CASES, ids=CASE_IDS)
def test_compiling_twice_gives_identical_bytes(stem: str, dialect: str, live: bool) -> None:
    first = compiled(stem, dialect, live)
    again = compile_example(stem, dialect, live)  # a fresh parse, resolve, plan, generate
    assert again.encode() == first.encode()


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_as_of_is_fixed_or_live(dialect: str) -> None:
    fixed, live = compiled(LIVE_EXAMPLE, dialect), compiled(LIVE_EXAMPLE, dialect, True)
    assert "2025-07-01" in fixed
    assert "2025-07-01" not in live  # the live query never bakes in a date
    assert fixed != live


@pytest.mark.parametrize("stem", STEMS)
def test_public_compile_matches_golden(stem: str) -> None:
    """api.compile (what `segql compile --as-of` runs) gives the golden bytes."""
    sql = api.compile([str(example_file(stem))], project=str(EXAMPLES), as_of=AS_OF).sql()
    assert sql == compiled(stem, "duckdb")
    assert (
        sql
        == api.compile(
            [str(example_file(stem))], project=str(EXAMPLES), as_of=AS_OF, dialect="duckdb"
        ).sql()
    )
