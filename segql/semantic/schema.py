"""Column types from the database (DuckDB) or from declarations in segql.yml.

A table that cannot be found is a user error pointing at segql.yml; when no
database is reachable, columns are accepted untyped (type 'any') unless the
project declares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segql.errors import Diagnostics
from segql.project import Project, Table
from segql.semantic.model import ANY, BOOLEAN, DATE, NUMBER, STRING, TIMESTAMP

# DuckDB type name prefixes → language types
_DUCK_TYPES = (
    ("TIMESTAMP WITH TIME ZONE", "timestamptz"),
    ("TIMESTAMPTZ", "timestamptz"),
    ("TIMESTAMP", TIMESTAMP),
    ("DATETIME", TIMESTAMP),
    ("DATE", DATE),
    ("BOOLEAN", BOOLEAN),
    ("VARCHAR", STRING),
    ("TEXT", STRING),
    ("UUID", STRING),
    ("ENUM", STRING),
    ("TINYINT", NUMBER),
    ("SMALLINT", NUMBER),
    ("INTEGER", NUMBER),
    ("BIGINT", NUMBER),
    ("HUGEINT", NUMBER),
    ("UTINYINT", NUMBER),
    ("USMALLINT", NUMBER),
    ("UINTEGER", NUMBER),
    ("UBIGINT", NUMBER),
    ("UHUGEINT", NUMBER),
    ("DECIMAL", NUMBER),
    ("DOUBLE", NUMBER),
    ("FLOAT", NUMBER),
    ("REAL", NUMBER),
)
_DECLARED = {
    "number": NUMBER,
    "integer": NUMBER,
    "string": STRING,
    "boolean": BOOLEAN,
    "date": DATE,
    "timestamp": TIMESTAMP,
}


def language_type(duck_type: str) -> str:
    """Language type of a DuckDB column type; 'timestamptz' is kept apart because
    the compiler normalizes it to UTC."""
    t = duck_type.upper()
    for prefix, lang in _DUCK_TYPES:
        if t.startswith(prefix):
            return lang
    return ANY


@dataclass
class Catalog:
    """Columns (name -> type) of each table, or None when unknown."""

    tables: dict[str, dict[str, str] | None]

    def columns(self, table: Table) -> dict[str, str] | None:
        return self.tables.get(table.name)


def introspect(project: Project, con=None, diags: Diagnostics | None = None) -> Catalog:
    """Describe every table of the project, through `con` (a DuckDB connection)
    or the project's database file when it exists."""
    tables = [s.table for s in project.sources.values()]
    if project.profiles is not None:
        tables.insert(0, project.profiles)
    own = None
    if con is None and project.database and Path(project.database).is_file():
        import duckdb

        own = con = duckdb.connect(project.database, read_only=True)
    result: dict[str, dict[str, str] | None] = {}
    try:
        for table in tables:
            declared = {k: _DECLARED.get(v, ANY) for k, v in table.declared.items()}
            cols = None
            if con is not None or table.is_path:
                cols = _describe(con, table, project.root, diags)
            if cols is None and declared:
                cols = None  # declarations give types but are not the full list
            if cols is not None:
                cols = {**cols, **{k: v for k, v in declared.items() if k in cols}}
            result[table.name] = cols if cols is not None else _Partial(declared)
    finally:
        if own is not None:
            own.close()
    return Catalog(result)


class _Partial(dict):
    """Declared types only: other columns are accepted untyped."""


def is_complete(cols) -> bool:
    return cols is not None and not isinstance(cols, _Partial)


def _describe(con, table: Table, root: Path, diags: Diagnostics | None) -> dict[str, str] | None:
    import duckdb
    from sqlglot import exp

    from segql.sql.expressions import table_expr

    if table.is_path:
        path = Path(table.name)
        path = path if path.is_absolute() else root / path
        if not path.exists():
            if diags is not None:
                diags.error(f"table file '{table.name}' not found", table.span)
            return None
        relation = exp.Table(this=exp.to_identifier(str(path), quoted=True))
        if con is None:
            con = duckdb.connect()
    else:
        relation = table_expr(table)
    query = exp.select("*").from_(relation).limit(0).sql(dialect="duckdb")
    try:
        rel = con.sql(query)
    except duckdb.Error:
        if diags is not None:
            diags.error(f"table '{table.name}' not found in the database", table.span)
        return None
    return {name: language_type(str(t)) for name, t in zip(rel.columns, rel.types, strict=True)}
