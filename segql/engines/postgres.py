"""PostgreSQL through psycopg 3 (`pip install 'segql[postgres]'`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sqlglot import exp

from segql.engines.base import Engine, missing_driver
from segql.engines.targets import Target

_CONNINFO = ("host", "port", "user", "password", "dbname")


class PostgresEngine(Engine):
    def __init__(self, target: Target):
        super().__init__(target)
        try:
            import psycopg
        except ImportError:
            raise missing_driver("postgres", "psycopg") from None
        parts = {k: v for k in _CONNINFO if (v := target.setting(k)) is not None}
        dsn = target.setting("dsn", "") or ""
        try:
            conninfo = psycopg.conninfo.make_conninfo(dsn, **parts)
            where = psycopg.conninfo.conninfo_to_dict(conninfo)
        except psycopg.Error as e:
            raise self.error("connection settings are invalid", e) from None
        host, port = where.get("host") or "localhost", where.get("port") or "5432"
        try:
            self.con = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            # never the DSN itself: it may hold a password (redacted below anyway)
            raise self.error(f"at {host}:{port}", e) from None
        # compiled queries hold naive UTC instants; `now()` and casts of
        # timestamptz must read them in UTC too
        self.execute("SET TIME ZONE 'UTC'")

    def _driver_errors(self):
        import psycopg

        return (psycopg.Error,)

    def _run(self, sql: str, fetch: bool) -> list[tuple] | None:
        with self.con.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if fetch else None

    @contextlib.contextmanager
    def transaction(self):
        with self.con.transaction():
            yield

    def columns(self, table: exp.Table) -> dict[str, str] | None:
        info = exp.Table(
            this=exp.to_identifier("columns"), db=exp.to_identifier("information_schema")
        )
        schema = exp.Literal.string(table.db) if table.db else exp.func("CURRENT_SCHEMA")
        query = (
            exp.select("column_name", "data_type")
            .from_(info)
            .where(exp.column("table_schema").eq(schema))
            .where(exp.column("table_name").eq(exp.Literal.string(table.name)))
            .order_by("ordinal_position")
        )
        rows = self.fetch(query)
        return {name: typ for name, typ in rows} or None

    def load_rows(self, table: exp.Table, batches: Iterable[list[tuple]]) -> None:
        import psycopg

        try:
            with self.con.cursor() as cur, cur.copy(f"COPY {self.sql(table)} FROM STDIN") as copy:
                for rows in batches:
                    for row in rows:
                        copy.write_row(row)
        except psycopg.Error as e:
            raise self.error("could not load rows", e) from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
