"""The engine interface: everything preview, schema and sample (later run, test,
export) do with a database goes through it.

    with connect(target, root) as engine:        # segql.engines.connect
        engine.execute(tree)                      # a sqlglot tree (or SQL text)
        rows = engine.fetch(query)                # list of tuples
        engine.columns(table)                     # {column: type as the engine names it} | None
        engine.tables(schema)                     # table names, to suggest one
        with engine.transaction(): ...
        engine.replace_table(table, query)        # atomically where the engine can
        with engine.temp_table(table, query): ... # dropped on leaving
        with engine.exclusive(schema): ...        # the one writer of run state (segql run)

Trees are rendered through the target's dialect (segql/sql/dialects.py), which
also builds every statement that differs by engine (temporary tables, swaps,
DDL): an engine class only connects, sends text and reads rows back.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from segql.engines.targets import Target
from segql.errors import SegqlError
from segql.sql.dialects import Dialect, get_dialect


class Engine(ABC):
    """One open connection (or Spark session) to a target; close it, or use it
    as a context manager, so that none outlives a command."""

    def __init__(self, target: Target):
        self.target = target
        self.dialect: Dialect = get_dialect(target.dialect)

    # -- what each engine implements

    @abstractmethod
    def _run(self, sql: str, fetch: bool) -> list[tuple] | None:
        """Send one statement; its rows when `fetch`. Driver errors propagate."""

    @abstractmethod
    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exception classes, turned into SegqlErrors by `execute`."""

    @abstractmethod
    def columns(self, table: exp.Table) -> dict[str, str] | None:
        """Columns of a table and their types as the engine names them, None if
        there is no such table."""

    def tables(self, schema: str | None = None) -> list[str]:
        """Names of the tables (and views) in a schema (default: the current one),
        to suggest one when a table is missing."""
        info = exp.Table(
            this=exp.to_identifier("tables"), db=exp.to_identifier("information_schema")
        )
        where = exp.Literal.string(schema) if schema else exp.func("CURRENT_SCHEMA")
        query = (
            exp.select("table_name")
            .from_(info)
            .where(exp.column("table_schema").eq(where))
            .order_by("table_name")
        )
        return [name for (name,) in self.fetch(query)]

    @abstractmethod
    def load_rows(self, table: exp.Table, batches: Iterable[list[tuple]]) -> None:
        """Append rows to an existing table, the fastest way the driver knows."""

    @abstractmethod
    def close(self) -> None: ...

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together or not at all (where the engine can)."""
        yield

    # whether `transaction()` commits several tables at once (DuckDB, PostgreSQL);
    # without (Spark) a run commits by its `runs` row (docs/run.md)
    transactional = True

    @contextlib.contextmanager
    def exclusive(self, schema: str) -> Iterator[None]:
        """A transaction in which this connection is the only writer of the run
        state in `schema`: another one stops with a SegqlError, never waits.
        DuckDB needs nothing more: a file has one writing process at a time."""
        with self.transaction():
            yield

    # -- shared by every engine

    @property
    def description(self) -> str:
        """What the data is, for people (preview's `data`)."""
        return f"target '{self.target.name}' ({self.target.engine})"

    def sql(self, stmt: exp.Expression) -> str:
        """The engine's text of a tree; a construct it lacks is an error, never dropped."""
        try:
            return stmt.sql(dialect=self.dialect.sqlglot, unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError as e:
            raise SegqlError(f"cannot express this on {self.dialect.name}: {e}") from None

    def execute(self, stmt: exp.Expression | str) -> None:
        self._checked(stmt, fetch=False)

    def fetch(self, query: exp.Expression | str) -> list[tuple]:
        return self._checked(query, fetch=True) or []

    def _checked(self, stmt: exp.Expression | str, fetch: bool) -> list[tuple] | None:
        text = stmt if isinstance(stmt, str) else self.sql(stmt)
        try:
            return self._run(text, fetch)
        except self._driver_errors() as e:
            raise self.error("could not run the query", e) from None

    def error(self, what: str, e: BaseException) -> SegqlError:
        """A driver error as one line, secrets of the target masked."""
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        name = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark"}.get(
            self.target.engine, self.target.engine
        )
        return SegqlError(self.target.redact(f"{name} {what}: {detail}"))

    def replace_table(self, table: exp.Table, query: exp.Query) -> None:
        with self.transaction():
            for stmt in self.dialect.replace_table(table, query):
                self.execute(stmt)

    @contextlib.contextmanager
    def temp_table(self, table: exp.Table, query: exp.Query) -> Iterator[exp.Table]:
        for stmt in self.dialect.temp_table(table.copy(), query):
            self.execute(stmt)
        try:
            yield table
        except BaseException:
            # the error inside matters, not the drop's (an aborted transaction)
            with contextlib.suppress(SegqlError):
                self.execute(self.dialect.drop_temp_table(table.copy()))
            raise
        self.execute(self.dialect.drop_temp_table(table.copy()))

    def write_table(
        self, table: exp.Table, columns: dict[str, exp.DataType], batches: Iterable[list[tuple]]
    ) -> None:
        """(Re)create `table` with these columns and fill it (sample data)."""
        if table.db:
            self.execute(self.dialect.create_schema(table.db))
        with self.transaction():
            for stmt in self.dialect.create_table(table, columns):
                self.execute(stmt)
            self.load_rows(table, batches)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def missing_driver(engine: str, module: str) -> SegqlError:
    return SegqlError(
        f"the {engine} engine needs the Python package '{module}': pip install 'segql[{engine}]'"
    )
