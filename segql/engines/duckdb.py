"""DuckDB: a file (read-only unless written to), memory, or the built-in sample."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine
from segql.engines.targets import Target, duckdb_path
from segql.errors import SegqlError


class DuckDBEngine(Engine):
    def __init__(self, target: Target, root: Path, read_only: bool = True, con=None):
        import duckdb

        super().__init__(target)
        self.path = duckdb_path(target, root)
        if con is None:
            if read_only and self.path != ":memory:" and not Path(self.path).is_file():
                raise SegqlError(f"database file '{self.path}' not found")
            try:
                # an in-memory database cannot be opened read-only (and holds nothing to protect)
                con = duckdb.connect(self.path, read_only=read_only and self.path != ":memory:")
            except duckdb.Error as e:
                if "lock" in str(e).lower():  # another process has the file open to write
                    raise SegqlError(
                        f"'{self.path}' is in use by another process (another segql run?)",
                        None,
                        ("DuckDB lets one process write a file at a time: retry once it ends",),
                    ) from None
                raise self.error(f"cannot open '{self.path}'", e) from None
        self.con = con
        self.in_transaction = False
        # DuckDB's progress bar writes to stdout, which holds our json/csv output
        con.execute("SET enable_progress_bar = false")
        # tables given as CSV/Parquet paths are relative to the project folder
        con.execute("SET file_search_path = ?", [str(root)])

    @property
    def description(self) -> str:
        return self.path if self.target.name == "--db" else super().description

    def _driver_errors(self):
        import duckdb

        return (duckdb.Error,)

    def _run(self, sql: str, fetch: bool) -> list[tuple] | None:
        cur = self.con.execute(sql)
        return cur.fetchall() if fetch else None

    def columns(self, table: exp.Table) -> dict[str, str] | None:
        import duckdb

        query = exp.select("*").from_(table.copy()).limit(0)
        try:
            rel = self.con.sql(self.sql(query))
        except duckdb.Error:
            return None
        return {name: str(t) for name, t in zip(rel.columns, rel.types, strict=True)}

    def transaction(self):
        return _Transaction(self)

    def load_rows(self, table: exp.Table, batches: Iterable[list[tuple]]) -> None:
        # one INSERT of many rows: executemany runs one statement per row (1 ms each)
        chunk = 1000
        for rows in batches:
            for i in range(0, len(rows), chunk):
                part = rows[i : i + chunk]
                marks = [exp.Tuple(expressions=[exp.Placeholder() for _ in part[0]]) for _ in part]
                insert = exp.insert(exp.Values(expressions=marks), table.copy(), copy=False)
                params = [v for r in part for v in r]
                self.con.execute(self.sql(insert), params)

    def close(self) -> None:
        self.con.close()


def wrap(con, root: Path) -> DuckDBEngine:
    """An engine over a DuckDB connection someone else opened (tests, scripts);
    closing the engine closes it."""
    from segql.engines.targets import file_target

    return DuckDBEngine(file_target(":memory:"), root, con=con)


class _Transaction:
    """BEGIN … COMMIT (ROLLBACK on an exception); inside another transaction of
    the same engine it is part of that one (DuckDB has no savepoints)."""

    def __init__(self, engine: DuckDBEngine):
        self.engine = engine
        self.outer = False

    def __enter__(self):
        self.outer = not self.engine.in_transaction
        if self.outer:
            self.engine.con.execute("BEGIN TRANSACTION")
            self.engine.in_transaction = True

    def __exit__(self, kind, *rest):
        if self.outer:
            self.engine.in_transaction = False
            self.engine.con.execute("COMMIT" if kind is None else "ROLLBACK")
