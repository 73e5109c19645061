"""Column types from the database (an engine: segql/engines) or from
declarations in segql.yml, or from schema.yml (semantic/schema_file.py) when no
database is reachable.

A table that cannot be found is a user error pointing at segql.yml; when no
database is reachable, columns are accepted untyped (type 'any') unless the
project declares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp
from sqlglot.errors import ParseError

from segql.errors import Diagnostics, did_you_mean
from segql.project import Project, Table
from segql.semantic import schema_file
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
# a declared type as a table column (unit tests create tables with them)
_DECLARED_SQL = {
    "number": "DOUBLE",
    "integer": "BIGINT",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
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


def engine_language_type(type_name: str, dialect: str) -> str:
    """Language type of a column type as another engine names it, read by
    sqlglot in that dialect and then mapped like DuckDB's."""
    if dialect == "duckdb":
        return language_type(type_name)
    try:
        t = exp.DataType.build(type_name, dialect=dialect)
    except (ParseError, ValueError):
        return ANY
    if dialect in ("spark", "databricks") and t.this == exp.DataType.Type.TIMESTAMPTZ:
        # Spark's TIMESTAMP is an instant shown in the session time zone, which
        # segql sets to UTC: a naive UTC timestamp, as on DuckDB
        return TIMESTAMP
    return language_type(t.sql(dialect="duckdb"))


@dataclass
class Catalog:
    """Columns (name -> type) of each table, or None when unknown."""

    tables: dict[str, dict[str, str] | None]
    # file -> text of the files types were read from besides segql.yml (schema.yml)
    texts: dict[str, str] = field(default_factory=dict)
    # the column types themselves (a test's given rows are written with them)
    raw: dict[str, dict[str, exp.DataType]] = field(default_factory=dict)

    def columns(self, table: Table) -> dict[str, str] | None:
        return self.tables.get(table.name)

    def renamed(self, names: dict[str, str]) -> Catalog:
        """The same types under other table names (a target's, a test's scratch)."""
        return Catalog(
            {names.get(n, n): c for n, c in self.tables.items()},
            self.texts,
            {names.get(n, n): c for n, c in self.raw.items()},
        )


def _same_text_everywhere(t: exp.DataType) -> bool:
    """Strings, integers and decimals of scale 0: what every engine casts to the
    same text (no '.0', no exponent), so a split's hash is the same everywhere."""
    if t.is_type(*exp.DataType.TEXT_TYPES, *exp.DataType.INTEGER_TYPES, "uuid"):
        return True
    params = t.expressions
    scale = params[1].this if len(params) == 2 else None
    return t.is_type(exp.DataType.Type.DECIMAL) and scale is not None and str(scale.this) == "0"


def key_text_problem(project: Project, catalog: Catalog) -> str | None:
    """Why the key cannot be hashed by a split, or None: 'column customer_id of
    table customers is DOUBLE'. Unknown types are taken as they come."""
    tables = [project.profiles] if project.profiles is not None else []
    tables += [] if tables else [s.table for s in project.sources.values()]
    for table in tables:
        t = catalog.raw.get(table.name, {}).get(project.key)
        if t is not None and not _same_text_everywhere(t):
            return f"column '{project.key}' of table '{table.name}' is {t.sql('duckdb')}"
    return None


def introspect(project: Project, engine=None, diags: Diagnostics | None = None) -> Catalog:
    """Describe every table of the project through `engine` (segql/engines), or
    the project's database file when it exists (CSV/Parquet paths through an
    in-memory DuckDB); with no database, from schema.yml (`segql schema pull`).
    Declared `columns:` types win over both."""
    from segql.engines.duckdb import DuckDBEngine
    from segql.engines.targets import file_target

    diags = diags if diags is not None else Diagnostics()
    tables = project.tables
    pulled = schema_file.read(project.root, diags)
    own = None
    files_only = False  # no database: only CSV/Parquet paths can be described
    if engine is None and project.database and Path(project.database).is_file():
        own = engine = DuckDBEngine(file_target(project.database), project.root)
    elif engine is None and any(t.is_path for t in tables):
        own = engine = DuckDBEngine(file_target(":memory:"), project.root)
        files_only = True
    result: dict[str, dict[str, str] | None] = {}
    raw: dict[str, dict[str, exp.DataType]] = {}
    try:
        for table in tables:
            declared = {k: _DECLARED.get(v, ANY) for k, v in table.declared.items()}
            found: dict[str, str] | None = None  # types as an engine names them
            dialect = "duckdb"
            if engine is not None and (table.is_path or not files_only):
                found, dialect = (
                    engine_columns(engine, table, project.root, diags),
                    engine.dialect.name,
                )
            elif pulled is not None and table.name in pulled.tables:
                found = {n: c.type for n, c in pulled.tables[table.name].items()}
                dialect = pulled.dialect
            cols = None
            if found is not None:
                cols = {n: engine_language_type(t, dialect) for n, t in found.items()}
                if engine is not None and pulled is not None:
                    _compare(table.name, cols, pulled, diags)
                raw[table.name] = {n: _data_type(t, dialect) for n, t in found.items()}
                cols = {**cols, **{k: v for k, v in declared.items() if k in cols}}
            result[table.name] = cols if cols is not None else _Partial(declared)
            raw.setdefault(table.name, {})
            for name, t in table.declared.items():
                raw[table.name][name] = exp.DataType.build(_DECLARED_SQL.get(t, "VARCHAR"))
    finally:
        if own is not None:
            own.close()
    texts = {pulled.file: pulled.text} if pulled is not None else {}
    return Catalog(result, texts, raw)


def _data_type(type_name: str, dialect: str) -> exp.DataType:
    """An engine's type name as a sqlglot type (unknown names kept as written)."""
    try:
        return exp.DataType.build(type_name, dialect=dialect)
    except (ParseError, ValueError):
        return exp.DataType.build(type_name, dialect=dialect, udt=True)


def _compare(
    table: str, cols: dict[str, str], pulled: schema_file.SchemaFile, diags: Diagnostics
) -> None:
    """schema.yml saying other types than the database: compile elsewhere would
    give other SQL, so say so (a stale file, to pull again)."""
    for name, c in pulled.tables.get(table, {}).items():
        there = cols.get(name)
        here = engine_language_type(c.type, pulled.dialect)
        if there is not None and there != here:
            diags.warn(
                f"schema.yml gives '{table}.{name}' the type {here}, "
                f"the database {there}: compiled without the database, the SQL would differ",
                c.span,
                "update schema.yml with 'segql schema pull'",
            )


class _Partial(dict):
    """Declared types only: other columns are accepted untyped."""


def session_columns(parent: dict[str, str] | None, key: str) -> dict[str, str] | None:
    """The columns of a sessions source (LANGUAGE.md §17) from its parent's: the key,
    time, ended_at, duration_s, rows, and first_<c> / last_<c> of every other
    column. Instants are read as naive UTC instants in the sessions' rows, so a
    timestamptz column's first/last is a timestamp. Partial when the parent is."""
    from segql.project import SESSION_COLUMNS, SESSION_FIRST, SESSION_LAST

    own = dict(zip(SESSION_COLUMNS, (TIMESTAMP, TIMESTAMP, NUMBER, NUMBER), strict=True))
    cols: dict[str, str] = {key: (parent or {}).get(key, ANY), **own}
    for name, t in (parent or {}).items():
        if name != key:
            t = TIMESTAMP if t == "timestamptz" else t
            cols.setdefault(SESSION_FIRST + name, t)
            cols.setdefault(SESSION_LAST + name, t)
    return cols if is_complete(parent) else _Partial(cols)


def is_complete(cols) -> bool:
    return cols is not None and not isinstance(cols, _Partial)


def engine_columns(engine, table: Table, root: Path, diags: Diagnostics) -> dict[str, str] | None:
    """A table's columns and their types as the engine names them; a missing
    table is an error at its name in segql.yml, with the nearest table there is."""
    from segql.sql.expressions import table_expr

    if table.is_path:
        path = Path(table.name)
        if not (path if path.is_absolute() else root / path).exists():
            diags.error(f"table file '{table.name}' not found", table.span)
            return None
    tree = table_expr(table)
    cols = engine.columns(tree)
    if cols is None:
        hint = "" if table.is_path else did_you_mean(tree.name, engine.tables(tree.db or None))
        diags.error(
            f"table '{table.name}' not found in the database" + (f" ({hint})" if hint else ""),
            table.span,
        )
    return cols
