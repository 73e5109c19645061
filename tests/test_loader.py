"""Finding, reading and parsing definition files."""

from __future__ import annotations

from pathlib import Path

import pytest

from segql.errors import SegqlError, SegqlErrors, Span
from segql.syntax import ast
from segql.syntax.loader import definition_files, load_modules, parse_file, read_source


def write(root: Path, rel: str, text: str | bytes = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder, made the current directory so that paths are relative."""
    write(tmp_path, "segql.yml", "entity: customer\nkey: id\nsources: {}\n")
    write(tmp_path, "traits.seg", "trait t = 1\n")
    write(tmp_path, "segments/b.yml", "segments:\n  b: t > 1\n")
    write(tmp_path, "segments/a.seg", "segment a = t > 0\n")
    write(tmp_path, "segments/deep/c.yaml", "traits:\n  c: 2\n")
    write(tmp_path, "segments/notes.txt", "not definitions")
    write(tmp_path, "segments/.hidden/x.seg", "this is never read (")
    write(tmp_path, ".venv/lib/y.yml", "not: [definitions")
    write(tmp_path, "node_modules/pkg/z.yml", "not: [definitions")
    write(tmp_path, "segments/.draft.seg", "this is never read (")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def names(files: list[Path]) -> list[str]:
    return [str(f) for f in files]


def test_folders_recurse_sorted_skipping_hidden_venv_and_project_file(project: Path) -> None:
    assert names(definition_files(["."], project)) == [
        "segments/a.seg",
        "segments/b.yml",
        "segments/deep/c.yaml",
        "traits.seg",
    ]


def test_files_and_folders_together_each_once(project: Path) -> None:
    files = definition_files(["traits.seg", "segments", "segments/a.seg", "./traits.seg"], project)
    assert names(files) == [
        "segments/a.seg",
        "segments/b.yml",
        "segments/deep/c.yaml",
        "traits.seg",
    ]


def test_missing_path(project: Path) -> None:
    with pytest.raises(SegqlError) as info:
        definition_files(["nope"], project)
    assert info.value.message == "no such file or folder 'nope'"
    assert info.value.usage is False


def test_several_bad_paths_reported_together(project: Path) -> None:
    with pytest.raises(SegqlErrors) as info:
        definition_files(["nope", "segments/notes.txt"], project)
    assert [e.message for e in info.value.errors] == [
        "'segments/notes.txt' is not a definitions file (expected .seg, .yml or .yaml)",
        "no such file or folder 'nope'",
    ]


def test_unknown_extension(project: Path) -> None:
    with pytest.raises(SegqlError, match="not a definitions file"):
        definition_files(["segments/notes.txt"], project)
    with pytest.raises(SegqlError, match="not a definitions file"):
        parse_file(Path("segments/notes.txt"))


def test_project_file_is_not_a_definitions_file(project: Path) -> None:
    with pytest.raises(SegqlError, match="is the project file"):
        definition_files(["segql.yml"], project)


def test_non_utf8_error_points_at_the_first_bad_byte(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.seg", 'trait a = 1\n# café\nsegment s = "é\xff"\n'.encode("latin-1")
    )
    with pytest.raises(SegqlError) as info:
        read_source(path)
    # "é" is 0xe9 in Latin-1: invalid UTF-8 at line 2, after "# caf"
    assert info.value.message.startswith("file is not valid UTF-8")
    assert info.value.span == Span(str(path), 2, 6, 2, 7)
    path = write(tmp_path, "bad2.yml", b"\xef\xbb\xbfa: 1\n  \xc3\xa9\xc3x\n")
    with pytest.raises(SegqlError) as info:
        parse_file(path)
    # code points count as one column; the BOM is not a column
    assert info.value.span == Span(str(path), 2, 4, 2, 5)


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.seg", b"\xef\xbb\xbftrait a = 1\n")
    assert read_source(path) == "trait a = 1\n"
    assert parse_file(path).definitions[0].span.col == 1


@pytest.mark.parametrize("name", ["empty.seg", "empty.yml", "empty.yaml"])
def test_empty_file_is_an_empty_module(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "")
    assert parse_file(path) == ast.Module(str(path), ())


def test_spans_name_files_as_given(project: Path) -> None:
    module = parse_file(Path("segments/b.yml"))
    assert module.file == "segments/b.yml"
    assert module.definitions[0].span.file == "segments/b.yml"


def test_load_modules_reads_the_whole_project_and_knows_the_selection(project: Path) -> None:
    modules, selected, _ = load_modules(["segments/a.seg"], project)
    assert [m.file for m in modules] == [
        "segments/a.seg",
        "segments/b.yml",
        "segments/deep/c.yaml",
        "traits.seg",
    ]
    assert selected == {"segments/a.seg"}


def test_selected_file_under_the_root_is_parsed_once_with_its_given_name(project: Path) -> None:
    modules, selected, _ = load_modules(["./segments/../segments/a.seg", "segments"], project)
    files = [m.file for m in modules]
    assert len(files) == 4
    assert "segments/../segments/a.seg" in files and "segments/a.seg" not in files
    assert selected == {"segments/../segments/a.seg", "segments/b.yml", "segments/deep/c.yaml"}


def test_selected_file_outside_the_root(project: Path, tmp_path_factory) -> None:
    outside = write(tmp_path_factory.mktemp("elsewhere"), "x.seg", "trait x = 1\n")
    modules, selected, _ = load_modules([str(outside)], project)
    assert str(outside) in {m.file for m in modules}
    assert selected == {str(outside)}


def test_errors_of_all_files_together(project: Path) -> None:
    write(project, "segments/broken.seg", "segment s = count(orders,\n")
    write(project, "segments/broken.yml", "segments:\n  y: x >\n")
    write(project, "latin.seg", b"trait \xe9 = 1\n")
    errors = load_modules(["segments"], project).errors
    where = [(e.span.file, e.span.line) for e in SegqlErrors(errors).errors]
    assert where == [("latin.seg", 1), ("segments/broken.seg", 1), ("segments/broken.yml", 2)]
