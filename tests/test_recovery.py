"""Every error at once, across files and within a file: a definition that does
not parse hides no other mistake, uses of its name are not reported again, and
errors are shown from the texts as they were read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from segql import api
from segql.cli import app
from segql.errors import SegqlError, SegqlErrors
from segql.syntax.loader import load_modules

PROFILES = """\
profiles:
  table: customers
  columns: {age: number}
"""
PROJECT = f"""\
entity: customer
key: customer_id
{PROFILES}sources:
  orders: {{table: orders, time: ordered_at}}
"""
GOOD = "segment x = age > 'a'\n"  # a type error
DRAFT = "segment vip = count(orders, last 30 days >= 1\n"  # a syntax error


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "good.seg").write_text(GOOD)
    (tmp_path / "draft.seg").write_text(DRAFT)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def errors_of(paths: list[str]) -> list[SegqlError]:
    with pytest.raises(SegqlErrors) as info:
        api.validate(paths)
    return info.value.errors


def where(errors: list[SegqlError]) -> list[tuple[str, int, int]]:
    return [(e.span.file, e.span.line, e.span.col) for e in errors if e.span]


def test_broken_sibling_hides_no_error_of_the_file_named(project: Path) -> None:
    errors = errors_of(["good.seg"])
    assert where(errors) == [("draft.seg", 1, 42), ("good.seg", 1, 13)]
    assert errors[1].message == "'>' compares a number with a string"


def test_command_line_prints_both_files_errors(project: Path) -> None:
    r = CliRunner().invoke(app, ["validate", "good.seg"])
    assert r.exit_code == 1
    assert r.stderr == (
        "draft.seg:1:42: error: expected ')' to close '(' opened at 1:20, found '>='\n"
        "  segment vip = count(orders, last 30 days >= 1\n"
        "                                           ^^\n"
        "good.seg:1:13: error: '>' compares a number with a string\n"
        "  segment x = age > 'a'\n"
        "              ^^^^^^^^^\n"
        "2 errors\n"
    )


def test_same_file_definitions_after_a_syntax_error_still_resolve(project: Path) -> None:
    (project / "draft.seg").write_text(
        "# notes\n"
        "segment a = count(orders, last 30 days >= 1\n"
        "\n"
        "segment b = age > 'b'\n"  # on line 4 of the file
        "segmentation s {\n"
        "  p = count(orders) >\n"
        "  q = true\n"
        "}\n"
        "trait t = foo(1)\n"  # an error of the parser's builder: t is broken too
        "segment c = age > 'x'\n"
    )
    errors = [e for e in errors_of(["draft.seg"]) if e.span.file == "draft.seg"]
    assert [(e.span.line, e.span.col) for e in errors] == [
        (2, 40),
        (4, 13),
        (7, 5),
        (9, 11),
        (10, 13),
    ]
    assert errors[1].message == "'>' compares a number with a string"
    assert errors[1].render().splitlines()[1:] == [
        "  segment b = age > 'b'",
        "              ^^^^^^^^^",
    ]
    assert errors[4].message == "'>' compares a number with a string"


def test_uses_of_a_broken_name_are_not_reported(project: Path) -> None:
    # no profiles table: a name no file defines is unknown
    (project / "segql.yml").write_text(PROJECT.replace(PROFILES, ""))
    (project / "draft.seg").write_text(
        DRAFT
        + "segmentation lifecycle {\n  p = count(orders) >\n  else quiet\n}\n"
        + "trait t = foo(1)\n"  # parsed, but with an error: broken too
    )
    (project / "draft.yml").write_text("segments:\n  z: x >\n")  # a definition with an error
    (project / "bad.yml").write_text("segments:\n  w: 1\n   v: 2\n")  # not YAML at all
    (project / "good.seg").write_text(
        "segment x = vip and not lifecycle = 'p'\n"
        "segment y = count(orders where vip) > 1 or p or t > 2 or quiet or z or w or v or nope\n"
    )
    errors = errors_of(["good.seg", "bad.yml"])
    assert {e.span.file for e in errors} == {"draft.seg", "draft.yml", "bad.yml", "good.seg"}
    assert [e.message for e in errors if e.span.file == "good.seg"] == ["unknown name 'nope'"]


def test_loader_keeps_what_parsed_and_names_what_did_not(project: Path) -> None:
    (project / "draft.seg").write_text(DRAFT + "segment ok = true\n")
    modules, _, errors = load_modules(["draft.seg"], project)
    draft = next(m for m in modules if m.file == "draft.seg")
    assert [d.name for d in draft.definitions] == ["ok"]
    assert draft.broken == ("vip",)
    assert draft.text == DRAFT + "segment ok = true\n"
    assert len(errors) == 1 and errors[0].text == draft.text


def test_errors_show_the_text_as_it_was_read(project: Path) -> None:
    with pytest.raises(SegqlErrors) as info:
        api.validate(["good.seg"])
    (project / "good.seg").write_text("# changed since\n")
    (project / "draft.seg").unlink()
    shown = "\n".join(e.render() for e in info.value.errors)
    assert "  segment vip = count(orders, last 30 days >= 1" in shown
    assert "  segment x = age > 'a'" in shown


def test_project_file_errors_show_its_text_as_read(project: Path) -> None:
    (project / "segql.yml").write_text(PROJECT + "universe: age > 'a'\n")
    (project / "draft.seg").unlink()
    with pytest.raises(SegqlErrors) as info:
        api.validate(["good.seg"])
    (project / "segql.yml").write_text("")
    shown = "\n".join(e.render() for e in info.value.errors)
    assert "  universe: age > 'a'" in shown


def test_non_utf8_sibling_defines_its_names(project: Path) -> None:
    (project / "draft.seg").write_bytes(b"# caf\xe9\nsegment vip = true\n")
    (project / "good.seg").write_text("segment x = vip\n")
    errors = errors_of(["good.seg"])
    assert [e.message for e in errors] == ["file is not valid UTF-8 (byte 0xe9)"]
    assert errors[0].render().splitlines()[1] == "  # caf\ufffd"
