"""Column types from the database (an engine: segql/engines) or from
declarations in segql.yml.

A table that cannot be found is a user error pointing at segql.yml; when no
database is reachable, columns are accepted untyped (type 'any') unless the
project declares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


def engine_language_type(type_name: str, dialect: str) -> str:
    """Language type of a column type as another engine names it, read by
    sqlglot in that dialect and then mapped like DuckDB's."""
    from sqlglot import exp
    from sqlglot.errors import ParseError

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
    # table -> column -> the type as the engine (or segql.yml) names it: a
    # language type is "number" for an integer and a double alike, and a split
    # hashes only keys whose text is the same on every engine (key_text_problem)
    engine_types: dict[str, dict[str, str]] = field(default_factory=dict)
    dialect: str = "duckdb"

    def columns(self, table: Table) -> dict[str, str] | None:
        return self.tables.get(table.name)


def _same_text_everywhere(type_name: str, dialect: str) -> bool:
    """Strings, integers and decimals of scale 0: what every engine casts to the
    same text (no '.0', no exponent), so a split's hash is the same everywhere."""
    from sqlglot import exp
    from sqlglot.errors import ParseError

    if type_name in _DECLARED:  # declared in segql.yml
        return type_name in ("integer", "string")
    try:
        t = exp.DataType.build(type_name, dialect=dialect)
    except (ParseError, ValueError):
        return False
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
        name = catalog.engine_types.get(table.name, {}).get(project.key)
        if name is not None and not _same_text_everywhere(name, catalog.dialect):
            return f"column '{project.key}' of table '{table.name}' is {name}"
    return None


def introspect(project: Project, engine=None, diags: Diagnostics | None = None) -> Catalog:
    """Describe every table of the project through `engine` (segql/engines), or
    the project's database file when it exists (CSV/Parquet paths through an
    in-memory DuckDB)."""
    from segql.engines.duckdb import DuckDBEngine
    from segql.engines.targets import file_target

    tables = [s.table for s in project.sources.values()]
    if project.profiles is not None:
        tables.insert(0, project.profiles)
    own = None
    files_only = False  # no database: only CSV/Parquet paths can be described
    if engine is None and project.database and Path(project.database).is_file():
        own = engine = DuckDBEngine(file_target(project.database), project.root)
    elif engine is None and any(t.is_path for t in tables):
        own = engine = DuckDBEngine(file_target(":memory:"), project.root)
        files_only = True
    result: dict[str, dict[str, str] | None] = {}
    engine_types: dict[str, dict[str, str]] = {}
    try:
        for table in tables:
            declared = {k: _DECLARED.get(v, ANY) for k, v in table.declared.items()}
            engine_types[table.name] = dict(table.declared)
            cols = None
            if engine is not None and (table.is_path or not files_only):
                cols = _describe(engine, table, project.root, diags, engine_types)
            if cols is not None:
                cols = {**cols, **{k: v for k, v in declared.items() if k in cols}}
            result[table.name] = cols if cols is not None else _Partial(declared)
    finally:
        if own is not None:
            own.close()
    dialect = engine.dialect.sqlglot if engine is not None else "duckdb"
    return Catalog(result, engine_types, dialect)


class _Partial(dict):
    """Declared types only: other columns are accepted untyped."""


def is_complete(cols) -> bool:
    return cols is not None and not isinstance(cols, _Partial)


def _describe(
    engine, table: Table, root: Path, diags: Diagnostics | None, engine_types: dict
) -> dict[str, str] | None:
    from segql.sql.expressions import table_expr

    if table.is_path:
        path = Path(table.name)
        if not (path if path.is_absolute() else root / path).exists():
            if diags is not None:
                diags.error(f"table file '{table.name}' not found", table.span)
            return None
    cols = engine.columns(table_expr(table))
    if cols is None:
        if diags is not None:
            diags.error(f"table '{table.name}' not found in the database", table.span)
        return None
    dialect = engine.dialect.name
    engine_types[table.name] = {**cols, **table.declared}
    return {name: engine_language_type(t, dialect) for name, t in cols.items()}
