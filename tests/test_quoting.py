"""Injection and quoting: hostile names and string literals stay inside their quotes.

A project whose tables and columns are reserved words (`select`, `group`,
`order`, `when`), names with spaces, quotes, mixed case and unicode, and whose
definitions compare against strings holding quotes, backslashes, semicolons,
comment markers and line breaks. For every dialect the compiled SQL must be
exactly one statement; on DuckDB and PostgreSQL it must run, leave every table
as it was, and find exactly the rows holding each literal.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from segql import api
from segql.sql.dialects import DIALECTS

# the nastiest strings, each stored in exactly one row and looked for by one segment
LITERALS = {
    "quotes": 'it\'s "x" \\ ; -- /*',
    "injection": 'x\'); DROP TABLE "select"; --',
    "comment": "*/ select 1; /*",
    "newline": "line\nbreak\ttab",
    "unicode": "é😀 ǅ \u200b",
    "backslashes": "\\\\ \\' \\\"",
    "dollar": "$$ $1 ${x} %s ? :name",
}


def seg_string(value: str) -> str:
    """A segql string literal for value (escapes of LANGUAGE.md §5)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


PROJECT = """\
entity: customer
key: Customer ID
profiles: select
sources:
  grp:
    table: group
    time: when
database: hostile.duckdb
"""

# one row per literal in `group`, one profile row per key; key 1 has no events
PROFILE_ROWS = [
    (1, "plain", 1, "a b", "x"),
    (2, LITERALS["unicode"], 2, "a b", LITERALS["injection"]),
    (3, "é", 3, "A B", "/* */"),
    (4, "plain", 0, "a b", "--"),
]
EVENT_KEYS = {name: key for key, name in zip([2, 3, 4, 2, 3, 4, 2], LITERALS, strict=True)}


def definitions() -> str:
    """Segments named like their literal (in backticks, with hostile characters)."""
    lines = ["# every literal finds exactly the row that holds it"]
    for name, value in LITERALS.items():
        lines.append(
            f'segment `has {name}; -- "{name}"` = '
            f"count(grp where `order` = {seg_string(value)}) >= 1"
        )
    lines += [
        'segment `Mixed Case` = `MixedCase` >= 2 and `Name With Space` = "a b"',
        f'segment `select` = `we"ird\'col` in ({seg_string(LITERALS["injection"])}, "--")',
        'segment `naïve?` = `naïve` = "é" or `naïve` like "é😀%"',
        "trait `group` = count(grp, last 3650 days)",
        "segment `when` = `group` >= 2",
        "segmentation `order by` by priority {",
        "  `case` = `when`",
        "  `end` = `select`",
        "  else `; drop`",
        "}",
    ]
    return "\n".join(lines) + "\n"


EXPECTED = {
    **{f'has {name}; -- "{name}"': {EVENT_KEYS[name]} for name in LITERALS},
    "Mixed Case": {2},
    "select": {2, 4},
    "naïve?": {2, 3},
    "when": {2, 3, 4},
}
TABLES = ("select", "group")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "segql.yml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "hostile.seg").write_text(definitions(), encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "hostile.duckdb"))
    con.execute(
        'CREATE TABLE "select" ("Customer ID" INTEGER, "naïve" VARCHAR, "MixedCase" INTEGER, '
        '"Name With Space" VARCHAR, "we""ird\'col" VARCHAR)'
    )
    con.executemany('INSERT INTO "select" VALUES (?, ?, ?, ?, ?)', PROFILE_ROWS)
    con.execute('CREATE TABLE "group" ("Customer ID" INTEGER, "when" TIMESTAMP, "order" VARCHAR)')
    rows = [(key, "2024-05-01 10:00:00", LITERALS[name]) for name, key in EVENT_KEYS.items()]
    rows.append((3, "2024-05-02 10:00:00", "decoy: " + LITERALS["quotes"]))
    rows.append((4, "2024-05-03 10:00:00", LITERALS["quotes"][:-1]))
    con.executemany('INSERT INTO "group" VALUES (?, ?, ?)', rows)
    con.close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compile_for(dialect: str) -> str:
    return api.compile(["hostile.seg"], dialect=dialect, as_of="2024-06-01").sql()


def members(rows: list[tuple], columns: list[str]) -> dict[str, set]:
    out: dict[str, set] = {}
    for i, column in enumerate(columns[1:], start=1):
        out[column] = {r[0] for r in rows if r[i] is True}
    return out


def counts(execute) -> dict[str, tuple]:
    """Row count and a checksum of every table, to prove nothing was changed."""
    return {t: tuple(execute(f'SELECT count(*), min("Customer ID") FROM "{t}"')) for t in TABLES}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_one_statement_per_dialect(project: Path, dialect: str) -> None:
    sql = compile_for(dialect)
    statements = [s for s in sqlglot.parse(sql, read=DIALECTS[dialect].sqlglot) if s is not None]
    assert len(statements) == 1
    tree = statements[0]
    assert isinstance(tree, exp.Query)
    # no literal leaked into code: each is exactly one string literal of the tree
    strings = {s.this for s in tree.find_all(exp.Literal) if s.is_string}
    for value in LITERALS.values():
        assert value in strings, (dialect, value)
    # mixed case, spaces, reserved words: always quoted (Snowflake upper-cases the rest)
    for ident in tree.find_all(exp.Identifier):
        if ident.name in ("MixedCase", "Customer ID", "select", "group", "order", "when"):
            assert ident.quoted, (dialect, ident.name)


def test_duckdb_members_and_data_untouched(project: Path) -> None:
    sql = compile_for("duckdb")
    con = duckdb.connect("hostile.duckdb")
    try:
        before = counts(lambda q: con.execute(q).fetchone())
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description]
        got = members(cur.fetchall(), columns)
        after = counts(lambda q: con.execute(q).fetchone())
        con.execute(sql).fetchall()  # a second run: still nothing changed
        assert counts(lambda q: con.execute(q).fetchone()) == before
    finally:
        con.close()
    assert before == after
    assert columns[0] == "Customer ID"
    for name, keys in EXPECTED.items():
        assert got[name] == keys, name
    assert "order by" in columns  # the segmentation's label column, named as defined


def test_duckdb_segmentation_labels(project: Path) -> None:
    sql = api.compile(
        ["hostile.seg"], dialect="duckdb", as_of="2024-06-01", segmentation="order by"
    ).sql()
    con = duckdb.connect("hostile.duckdb", read_only=True)
    try:
        labels = dict(con.execute(sql).fetchall())
    finally:
        con.close()
    assert labels == {1: "; drop", 2: "case", 3: "case", 4: "case"}


@pytest.mark.engines
def test_postgres_members_and_data_untouched(project: Path, postgres) -> None:
    from engines.postgres import load_from_duckdb

    sql = compile_for("postgres")
    duck = duckdb.connect("hostile.duckdb", read_only=True)
    with postgres.connect(autocommit=True) as pg:
        pg.execute("DROP SCHEMA IF EXISTS segql_quoting CASCADE")
        pg.execute("CREATE SCHEMA segql_quoting")
        pg.execute("SET search_path TO segql_quoting")
        load_from_duckdb(duck, pg, TABLES)
        duck.close()
        before = counts(lambda q: pg.execute(q).fetchone())
        cur = pg.execute(sql)
        columns = [d.name for d in cur.description]
        got = members(cur.fetchall(), columns)
        assert counts(lambda q: pg.execute(q).fetchone()) == before
        pg.execute("DROP SCHEMA segql_quoting CASCADE")
    for name, keys in EXPECTED.items():
        assert got[name] == keys, name


def test_literal_in_yaml_definitions(project: Path) -> None:
    """The same literal through the YAML front end (YAML escapes, then segql's)."""
    value = LITERALS["quotes"]
    condition = f"count(grp where `order` = {seg_string(value)}) >= 1"
    yaml_text = "segments:\n  found: '" + condition.replace("'", "''") + "'\n"
    Path("hostile.seg").unlink()
    Path("hostile.yml").write_text(yaml_text, encoding="utf-8")
    sql = api.compile(["hostile.yml"], dialect="duckdb", as_of="2024-06-01").sql()
    con = duckdb.connect("hostile.duckdb", read_only=True)
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    assert {r[0] for r in rows if r[1]} == {EVENT_KEYS["quotes"]}


@pytest.mark.parametrize(
    ("profiles", "orders", "events"),
    [
        ("customers", "universe", "events"),  # the names of segql's own CTEs
        ("customers", "src_orders", "windowed_a2"),
        ("base", "universe", "segql1_universe"),  # the first prefix is taken too
    ],
)
def test_tables_named_like_internal_ctes(tmp_path, profiles, orders, events) -> None:
    # an unqualified table reference inside the query would mean a CTE of the
    # same name: every CTE is renamed (segql1_…, segql2_…) until none collides
    from helpers import members as run
    from helpers import table

    columns = "customer_id INTEGER, at TIMESTAMP, amount DOUBLE, sku VARCHAR"
    data = {
        profiles: [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}],
        orders: table(
            columns,
            (1, "2024-05-01 10:00:00", 10, "a"),
            (1, "2024-05-02", 5, "b"),
            (2, "2024-05-03 10:00:00", 7, "a"),
        ),
        events: table(
            columns, (3, "2024-05-01 10:00:00", 1, "x"), (3, "2024-05-01 11:00:00", 2, "x")
        ),
    }
    extra = {
        "profiles": profiles,
        "sources": {
            "orders": {"table": orders, "time": "at"},
            "events": {"table": events, "time": "at"},
        },
    }
    seg = (
        'segment tested = (count(orders) = 2 and last(orders.sku) = "b"'
        " and count_distinct(orders.sku) = 2 and percentile(sum(orders.amount)) = 100%)"
        " or count(events, any 2 hours) = 2\n"
    )
    got, sql = run(seg, data, as_of="2024-06-01T00:00:00", project_extra=extra)
    assert got == {1, 3}, sql
