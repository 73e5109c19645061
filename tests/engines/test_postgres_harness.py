"""The PostgreSQL test harness itself: server lifecycle and DuckDB -> PostgreSQL loading."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import duckdb
import pytest
from psycopg import sql

from .postgres import PostgresServer, load_from_duckdb

pytestmark = pytest.mark.engines

ODD_TABLE = "order"  # reserved word in both engines
ODD_COLUMNS = {
    "id": "BIGINT",
    "user": "VARCHAR",  # reserved in PostgreSQL
    "select": "INTEGER",  # reserved everywhere
    "Mixed Case": "DOUBLE",  # case and a space
    'say "hi"': "DECIMAL(12,3)",  # embedded double quotes
    "it's": "BOOLEAN",  # embedded single quote
    "day": "DATE",
    "at": "TIMESTAMP",
    "at_tz": "TIMESTAMPTZ",
}
UTC = dt.UTC
ROWS = [
    (
        1,
        "alice",
        7,
        1.5,
        Decimal("123456789.125"),
        True,
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
        dt.datetime(2024, 3, 1, 1, 2, 3, 456789, tzinfo=UTC),
    ),
    (2, None, None, None, None, None, None, None, None),
    (
        3,
        'O\'Brien "quoted", comma\ttab\nnewline \\ backslash, ünïcødé',
        -2147483648,
        -0.0,
        Decimal("-0.001"),
        False,
        dt.date(1900, 1, 1),
        dt.datetime(1969, 12, 31, 23, 59, 59),
        dt.datetime(1999, 12, 31, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ),
    (4, "", 0, float("inf"), Decimal("0.000"), None, None, None, None),
]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    cols = ", ".join(f"{_q(n)} {t}" for n, t in ODD_COLUMNS.items())
    con.execute(f"CREATE TABLE {_q(ODD_TABLE)} ({cols})")
    con.executemany(
        f"INSERT INTO {_q(ODD_TABLE)} VALUES ({', '.join('?' * len(ODD_COLUMNS))})", ROWS
    )
    con.execute('CREATE TABLE "my table" ("x" INTEGER)')
    con.execute('INSERT INTO "my table" SELECT range FROM range(1000)')
    return con


def test_server_is_configured(postgres: PostgresServer) -> None:
    assert postgres.running
    with postgres.connect() as conn:
        assert conn.autocommit
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                [["fsync", "synchronous_commit", "full_page_writes", "TimeZone",
                  "listen_addresses", "server_version_num"]],
            ).fetchall()
        )  # fmt: skip
        user = conn.execute(
            "SELECT current_user, usesuper FROM pg_user WHERE usename = current_user"
        )
        assert user.fetchone() == ("postgres", True)
    assert settings["fsync"] == "off"
    assert settings["synchronous_commit"] == "off"
    assert settings["full_page_writes"] == "off"
    assert settings["TimeZone"] == "UTC"
    assert settings["listen_addresses"] == ""
    assert int(settings["server_version_num"]) >= 150000


def test_round_trip(postgres: PostgresServer, duck: duckdb.DuckDBPyConnection) -> None:
    with postgres.connect() as conn:
        load_from_duckdb(duck, conn, [ODD_TABLE, "my table"])
        load_from_duckdb(duck, conn, [ODD_TABLE])  # DROP + CREATE again: idempotent

        types = conn.execute(
            """SELECT a.attname, format_type(a.atttypid, a.atttypmod)
               FROM pg_attribute a
               WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY a.attnum""",
            [sql.Identifier(ODD_TABLE).as_string(conn)],
        ).fetchall()
        assert types == [
            ("id", "bigint"),
            ("user", "text"),
            ("select", "integer"),
            ("Mixed Case", "double precision"),
            ('say "hi"', "numeric(12,3)"),
            ("it's", "boolean"),
            ("day", "date"),
            ("at", "timestamp without time zone"),
            ("at_tz", "timestamp with time zone"),
        ]

        got = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY {}").format(
                sql.Identifier(ODD_TABLE), sql.Identifier("id")
            )
        ).fetchall()
        assert got == ROWS
        # aware datetimes compare equal across zones; also check PostgreSQL shows UTC
        assert got[2][8] == dt.datetime(2000, 1, 1, 3, 0, tzinfo=UTC)
        assert got[2][8].utcoffset() == dt.timedelta(0)
        # Decimal scale survives (numeric(12,3))
        assert str(got[3][4]) == "0.000"

        # and the same through DuckDB itself (timestamptz as epoch: DuckDB needs pytz otherwise)
        duck_rows = duck.execute(
            f"SELECT * EXCLUDE (at_tz), epoch_us(at_tz) FROM {_q(ODD_TABLE)} ORDER BY id"
        ).fetchall()
        pg_rows = conn.execute(
            sql.SQL(
                "SELECT *, (extract(epoch FROM at_tz) * 1000000)::bigint FROM {} ORDER BY id"
            ).format(sql.Identifier(ODD_TABLE))
        ).fetchall()
        assert [r[:8] + r[9:] for r in pg_rows] == duck_rows

        n, total = conn.execute('SELECT count(*), sum(x) FROM "my table"').fetchone()
        assert (n, total) == (1000, sum(range(1000)))


def test_two_connections(postgres: PostgresServer) -> None:
    with postgres.connect() as a, postgres.connect() as b:
        pid_a = a.execute("SELECT pg_backend_pid()").fetchone()
        pid_b = b.execute("SELECT pg_backend_pid()").fetchone()
        assert pid_a != pid_b
        a.execute("DROP TABLE IF EXISTS two_conn")
        a.execute("CREATE TABLE two_conn (v int)")
        a.execute("INSERT INTO two_conn VALUES (1), (2)")
        # autocommit: b sees a's writes immediately
        assert b.execute("SELECT sum(v) FROM two_conn").fetchone() == (3,)
        b.execute("DROP TABLE two_conn")


def test_load_many_rows_is_fast(postgres: PostgresServer) -> None:
    duck = duckdb.connect()
    duck.execute(
        """CREATE TABLE events AS
           SELECT range AS id,
                  (range % 1000)::INTEGER AS customer,
                  'event ' || range AS name,
                  (range / 7.0)::DECIMAL(18,4) AS amount,
                  range % 3 = 0 AS flag,
                  TIMESTAMP '2024-01-01' + to_seconds(range) AS at,
                  TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(range) AS at_tz
           FROM range(100000)"""
    )
    with postgres.connect() as conn:
        t0 = time.monotonic()
        load_from_duckdb(duck, conn, ["events"])
        elapsed = time.monotonic() - t0
        row = conn.execute("SELECT count(*), sum(amount), max(at_tz) FROM events").fetchone()
    expected = duck.execute(
        "SELECT count(*), sum(amount), epoch_us(max(at_tz)) FROM events"
    ).fetchone()
    assert row is not None and expected is not None
    assert row[0] == expected[0] == 100000
    assert row[1] == expected[1]
    assert int(row[2].timestamp() * 1_000_000) == expected[2]
    assert elapsed < 30, f"loading 100k rows took {elapsed:.1f}s"


def test_start_stop_context_manager(postgres: PostgresServer) -> None:
    # `postgres` only for its skip/fail gating; a second private server runs alongside it
    with PostgresServer() as server:
        base = server.base_dir
        assert base is not None and base.exists()
        assert server.socket_dir != postgres.socket_dir
        assert server.startup_seconds is not None
        with server.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not server.running
    assert not base.exists()
    server.stop()  # idempotent
