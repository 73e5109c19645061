"""PostgreSQL through psycopg 3 (`pip install 'segql[postgres]'`)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable

from sqlglot import exp

from segql.engines.base import Engine, missing_driver
from segql.engines.targets import Target
from segql.errors import SegqlError

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
        import psycopg

        try:
            with self.con.transaction():
                yield
        except psycopg.Error as e:  # the commit or rollback failed (a lost connection)
            if isinstance(e.__context__, SegqlError):  # the error inside says more
                raise e.__context__ from None
            raise self.error("could not commit", e) from None

    @contextlib.contextmanager
    def exclusive(self, schema: str):
        # a transaction-scoped advisory lock keyed by the state schema: released
        # by the commit, the rollback, or the server when the connection dies
        key = int.from_bytes(hashlib.sha256(f"segql run {schema}".encode()).digest()[:8], "big")
        key -= 1 << 63 if key >= 1 << 63 else 0  # a signed bigint
        lock = exp.select(
            exp.Anonymous(this="pg_try_advisory_xact_lock", expressions=[exp.Literal.number(key)])
        )
        with self.transaction():
            if not self.fetch(lock)[0][0]:
                raise SegqlError(
                    f"another segql run is writing the state in schema '{schema}'",
                    None,
                    ("runs on one state go one at a time: retry once it ends",),
                )
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
