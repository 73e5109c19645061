"""`schema.yml`: the column types of the project's tables as an engine reported
them, written by `segql schema pull` and kept in git, so that compile knows the
types where no database is reachable (LANGUAGE.md §2).

    # Column types of the tables segql.yml names, as postgres reports them.
    dialect: postgres
    tables:
      orders:
        customer_id: bigint
        ordered_at: timestamp without time zone

Tables are keyed by the name segql.yml gives them (not a target's qualified
name), so one file serves every target; the types stay in the engine's own
words and are read in its `dialect`, like types read from a live database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from segql.errors import Diagnostics, Span, did_you_mean
from segql.syntax.yamlsrc import compose, mapping_items, scalar, span_of

SCHEMA_FILE = "schema.yml"
_KEYS = ("dialect", "tables")


@dataclass(frozen=True)
class Column:
    type: str  # as the engine names it
    span: Span


@dataclass(frozen=True)
class SchemaFile:
    file: str
    text: str
    dialect: str
    tables: dict[str, dict[str, Column]]  # table (as segql.yml names it) -> columns


def path_of(root: Path) -> Path:
    return root / SCHEMA_FILE


def read(root: Path, diags: Diagnostics) -> SchemaFile | None:
    """The project's schema.yml, None when there is none; problems go to diags."""
    from segql.sql.dialects import DIALECTS
    from segql.syntax.text import read_source

    path = path_of(root)
    if not path.is_file():
        return None
    file = _shown(path)
    text = read_source(Path(file))
    node = compose(text, file)
    result = SchemaFile(file, text, "duckdb", {})
    if node is None:
        return result
    if not isinstance(node, yaml.MappingNode):
        diags.error("schema.yml must be a mapping with 'dialect' and 'tables'", span_of(node, file))
        return result
    dialect, tables = "duckdb", {}
    for k, v in mapping_items(node):
        key = scalar(k) or ""
        if key == "dialect":
            dialect = scalar(v) or ""
            if dialect not in DIALECTS:
                hint = did_you_mean(dialect, DIALECTS)
                diags.error(
                    f"unknown dialect '{dialect}' in schema.yml" + (f" ({hint})" if hint else ""),
                    span_of(v, file),
                )
        elif key == "tables":
            tables = _tables(v, file, diags)
        else:
            hint = did_you_mean(key, _KEYS)
            diags.error(
                f"unknown setting '{key}' in schema.yml" + (f" ({hint})" if hint else ""),
                span_of(k, file),
                "schema.yml has 'dialect' and 'tables'",
            )
    return SchemaFile(file, text, dialect, tables)


def _tables(node: yaml.Node, file: str, diags: Diagnostics) -> dict[str, dict[str, Column]]:
    if not isinstance(node, yaml.MappingNode):
        diags.error("'tables' must map table names to their columns", span_of(node, file))
        return {}
    tables: dict[str, dict[str, Column]] = {}
    for k, v in mapping_items(node):
        name = scalar(k) or ""
        if not isinstance(v, yaml.MappingNode):
            diags.error(f"table '{name}' must map column names to types", span_of(v, file))
            continue
        columns: dict[str, Column] = {}
        for c, t in mapping_items(v):
            type_name = scalar(t)
            if not type_name:
                diags.error(f"column '{scalar(c)}' of '{name}' needs a type", span_of(t, file))
                continue
            columns[scalar(c) or ""] = Column(type_name, span_of(c, file))
        tables[name] = columns
    return tables


def render(dialect: str, tables: dict[str, dict[str, str]], engine: str) -> str:
    """The text of schema.yml: tables and columns in the order given (the
    project's tables in segql.yml's order, columns in the engine's order)."""
    head = (
        f"# Column types of the tables segql.yml names, as {engine} reports them.\n"
        "# Written by `segql schema pull`; keep it in git: compile reads it when\n"
        "# no database is reachable, so the SQL does not depend on where it is compiled.\n"
    )
    body = yaml.safe_dump(
        {"dialect": dialect, "tables": tables},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1000,
    )
    return head + body


def _shown(path: Path) -> str:
    """The file as messages name it: relative to the current directory when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
