"""Finding, reading and parsing definition files (LANGUAGE.md §11).

PATH arguments select `.seg`/`.yml`/`.yaml` files or folders of them; every
definition file under the project root is loaded as well, so that definitions
in the project's other files resolve. File names in spans are paths as given,
so that error messages name files the way the user wrote them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from segql.errors import Diagnostics, SegqlError, SegqlErrors, Span
from segql.project import PROJECT_FILE
from segql.semantic.schema_file import SCHEMA_FILE
from segql.syntax import ast
from segql.syntax.parser import parse_module_recovering
from segql.syntax.text import read_source
from segql.syntax.yaml_front import parse_yaml_module_recovering

SEG_SUFFIXES = (".seg",)
YAML_SUFFIXES = (".yml", ".yaml")
SUFFIXES = SEG_SUFFIXES + YAML_SUFFIXES
# never definitions: virtual environments and JavaScript dependencies are big
# and may hold YAML of their own; hidden folders (.git, .github) are skipped too
SKIPPED_DIRS = (".venv", "node_modules")


def parse_file(path: Path) -> ast.Module:
    """Parse one definitions file; raises SegqlError (one error) or SegqlErrors."""
    module, errors = read_file(path)
    if len(errors) == 1:
        raise errors[0]
    if errors or module is None:
        raise SegqlErrors(errors)
    return module


def read_file(path: Path) -> tuple[ast.Module | None, list[SegqlError]]:
    """Parse one definitions file as far as it goes: its module (the definitions
    that parsed, the names of those that did not) and its errors. The module is
    None when the file is no definitions file."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return None, [SegqlError(_not_definitions(str(path)))]
    parse = parse_module_recovering if suffix in SEG_SUFFIXES else parse_yaml_module_recovering
    try:
        text = read_source(path)
    except SegqlError as e:
        if e.text is None:  # unreadable
            return ast.Module(str(path), ()), [e]
        # not UTF-8: its definitions are not used, but they are defined, so
        # that their uses elsewhere are not reported as unknown names
        module, _ = parse(e.text, str(path))
        names = (*(n for d in module.definitions for n in ast.defined_names(d)), *module.broken)
        return ast.Module(str(path), (), module.span, e.text, names), [e]
    return parse(text, str(path))


def definition_files(paths: list[str], root: Path) -> list[Path]:
    """The definition files that PATH arguments name, sorted by path, each once.

    Raises SegqlError (SegqlErrors when several paths are wrong)."""
    diags = Diagnostics()
    files = _collect(paths, diags)
    if len(diags.errors) == 1:
        raise diags.errors[0]
    diags.check()
    return files


class Loaded(NamedTuple):
    modules: list[ast.Module]  # sorted by file name
    selected: set[str]  # file names the PATHs selected
    errors: list[SegqlError]  # of every file: the modules hold what could be parsed


def load_modules(paths: list[str], root: Path) -> Loaded:
    """Parse every definition file under the project root plus those PATHs name.

    Errors do not stop the loading: every module holds the definitions that
    parsed, so that resolve still checks them, and the errors of all files are
    reported together with resolve's."""
    diags = Diagnostics()
    selected = _collect(paths, diags)
    project = [display(p) for p in _collect([str(root)], diags)]
    by_file: dict[str, Path] = {}
    for path in selected:  # a selected file keeps the name it was given
        by_file.setdefault(_identity(path), path)
    for path in project:
        # other YAML in the project tree (dbt_project.yml, CI files) is not ours
        if path.suffix.lower() in SEG_SUFFIXES or _holds_definitions(path):
            by_file.setdefault(_identity(path), path)
    # a file named on the command line that defines nothing is a mistake (a wrong
    # path, an unsaved editor); empty files met in a folder are placeholders
    named = {_identity(Path(p)) for p in paths if Path(p).is_file()}
    modules = []
    for path in sorted(by_file.values(), key=str):
        module, errors = read_file(path)
        diags.extend(errors)
        if module is None:
            continue
        modules.append(module)
        if not errors and not module.definitions and _identity(path) in named:
            diags.error(
                "empty file: it defines no traits, segments or segmentations",
                Span(str(path), 1, 1, 1, 2),
                "write a definition, e.g. 'segment recent = count(orders, last 30 days) >= 1'",
            )
    sources = {m.file: m.text for m in modules}
    errors = [e.located(sources) for e in diags.errors]
    return Loaded(modules, {str(p) for p in selected}, errors)


def _collect(paths: list[str], diags: Diagnostics) -> list[Path]:
    found: dict[str, Path] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            diags.error(f"no such file or folder '{given}'")
        elif path.is_dir():
            for file in _walk(path):
                if not _holds_tests(file):  # unit tests (`segql test`) beside definitions
                    found.setdefault(_identity(file), file)
        elif path.name == PROJECT_FILE:
            diags.error(f"'{given}' is the project file, not a definitions file")
        elif _is_schema_file(path.name, path.parent):
            diags.error(f"'{given}' is the project's column types (schema.yml), not definitions")
        elif path.suffix.lower() not in SUFFIXES:
            diags.error(_not_definitions(given))
        else:
            found.setdefault(_identity(path), path)
    return sorted(found.values(), key=str)


def _holds_definitions(path: Path) -> bool:
    """Whether an unselected YAML file of the project is a definitions file."""
    import yaml

    try:
        data = yaml.safe_load(read_source(path))
    except (SegqlError, yaml.YAMLError):
        return False
    sections = {"traits", "segments", "segmentations", "splits"}
    return isinstance(data, dict) and bool(sections & set(data))


def _holds_tests(path: Path) -> bool:
    from segql.ops.unit_tests import is_test_file

    return is_test_file(path) and not _holds_definitions(path)


def _walk(folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        # pruning in place stops os.walk from descending; sorted for a stable walk
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in filenames:
            if name == PROJECT_FILE or name.startswith(".") or _is_schema_file(name, dirpath):
                continue
            if Path(name).suffix.lower() in SUFFIXES:
                out.append(Path(dirpath) / name)
    return out


def _is_schema_file(name: str, folder) -> bool:
    """schema.yml beside segql.yml holds column types (`segql schema pull`)."""
    return name == SCHEMA_FILE and (Path(folder) / PROJECT_FILE).is_file()


def _identity(path: Path) -> str:
    """One key per file however it is spelled (`a/x.seg`, `./a/../a/x.seg`)."""
    return os.path.normcase(str(path.resolve()))


def display(path: Path) -> Path:
    """A project file found from an absolute root, named relative to the current
    directory when inside it, as a user would write it."""
    if not path.is_absolute():
        return path
    for base in (Path.cwd(), Path.cwd().resolve()):
        try:
            return path.relative_to(base)
        except ValueError:
            continue
    return path


def _not_definitions(given: str) -> str:
    return f"'{given}' is not a definitions file (expected .seg, .yml or .yaml)"
