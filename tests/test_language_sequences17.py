"""LANGUAGE.md §17, sequences: `A then B` without `within` (B any time strictly
later, up to as_of) and `A then directly B` (the first instant strictly later
than A among all rows of the sources the sequence names, filters not applied,
holds a B row), with `then not`, three steps and windows; hand-computed members
on DuckDB (and on BigQuery's ZetaSQL with SEGQL_ALSO_BIGQUERY=1), the same
members on PostgreSQL (tests/engines/test_behavioral_postgres.py)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import sqlglot
from engines.bigquery import load_from_duckdb as load_from_duckdb_bq
from engines.postgres import load_from_duckdb
from engines.spark import load_rows
from helpers import _project_text, check, compile_sql, database, table
from oracle.evaluate import evaluate
from sqlglot import exp

from segql import api
from segql.errors import SegqlError, SegqlErrors
from segql.sql.dialects import DIALECTS
from segql.syntax.fmt import format_text

AS_OF = "2025-07-01T00:00:00"


def ev(cid: int, t: str | None, name: str | None) -> dict:
    return {"customer_id": cid, "occurred_at": t, "name": name}


def order(cid: int, t: str) -> dict:
    return {"customer_id": cid, "ordered_at": t, "amount": 1.0}


D = "2025-06-{:02d} 00:00:00".format
# customer | events (day of June 2025 unless said)        | orders
#   1      | view 20, cart 21                             |
#   2      | view 20, search 21, cart 22, cart (no time)  |
#   3      | view and cart at the same instant (20 12:00) |
#   4      | view 20; search and cart both at 21          |
#   5      | cart 19, view 20                             |
#   6      | view 20, cart 22                             | 21
#   7      | view May 1, cart May 2                       |
#   8      | view 30, cart July 2 (after as_of)           |
#   9      | view May 20, cart 25                         |
#  10      | cart 1, view 2, cart 3                       | 4
#  11      | view 1 (00:00, the edge of `last 30 days`), cart 2 | 2 (with the cart)
#  12      | view 1, search 2, view 3, cart 4             | 5
#  13      | -                                            |
#  14      | two views at one instant (20)                |
#  15      | view 20, an event without a name 21, cart 22 |
SEQ = {
    "customers": table("customer_id INTEGER", *[(i,) for i in range(1, 16)]),
    "events": [
        ev(1, D(20), "view"),
        ev(1, D(21), "cart"),
        ev(2, D(20), "view"),
        ev(2, D(21), "search"),
        ev(2, D(22), "cart"),
        ev(2, None, "cart"),  # no time: no part in any sequence
        ev(3, "2025-06-20 12:00:00", "view"),
        ev(3, "2025-06-20 12:00:00", "cart"),
        ev(4, D(20), "view"),
        ev(4, D(21), "search"),
        ev(4, D(21), "cart"),
        ev(5, D(19), "cart"),
        ev(5, D(20), "view"),
        ev(6, D(20), "view"),
        ev(6, D(22), "cart"),
        ev(7, "2025-05-01 00:00:00", "view"),
        ev(7, "2025-05-02 00:00:00", "cart"),
        ev(8, D(30), "view"),
        ev(8, "2025-07-02 00:00:00", "cart"),
        ev(9, "2025-05-20 00:00:00", "view"),
        ev(9, D(25), "cart"),
        ev(10, D(1), "cart"),
        ev(10, D(2), "view"),
        ev(10, D(3), "cart"),
        ev(11, D(1), "view"),
        ev(11, D(2), "cart"),
        ev(12, D(1), "view"),
        ev(12, D(2), "search"),
        ev(12, D(3), "view"),
        ev(12, D(4), "cart"),
        ev(14, D(20), "view"),
        ev(14, D(20), "view"),
        ev(15, D(20), "view"),
        ev(15, D(21), None),
        ev(15, D(22), "cart"),
    ],
    "orders": [order(6, D(21)), order(10, D(4)), order(11, D(2)), order(12, D(5))],
}
VIEW = 'events where name = "view"'
CART = 'events where name = "cart"'

CASES = [
    # B any time strictly later: not at the same instant (3), not after as_of (8),
    # not before (5); the window bounds the first step only (9: cart after it)
    (f"did({VIEW} then {CART})", {1, 2, 4, 6, 7, 9, 10, 11, 12, 15}),
    # `last 30 days` is as_of - 30 days < t: 11's view at that instant is out
    (f"did({VIEW} then {CART}, last 30 days)", {1, 2, 4, 6, 10, 12, 15}),
    (f"did({VIEW} then {CART}, 30 to 60 days ago)", {9, 11, 12}),
    # directly: the next instant among all events (the search of 2 and the
    # nameless event of 15 come between; orders are not named: 6 is in); one cart
    # among the rows of that next instant is enough (4); 12's second view
    (f"did({VIEW} then directly {CART})", {1, 4, 6, 7, 9, 10, 11, 12}),
    # naming orders makes them rows of the sequence: 6's order follows the view,
    # 11's order shares the next instant with a cart
    (f"did({VIEW} then directly orders)", {6, 11}),
    (f"did({VIEW} then directly orders, last 30 days)", {6}),
    ("did(events then directly events)", {1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 15}),
    # then not: no order strictly later, up to as_of (11: the order is at the
    # cart's instant, not later; 6: the order is before the cart)
    (f"did({CART} then not orders)", {1, 2, 3, 4, 5, 6, 7, 9, 11, 15}),
    (f"did({CART} then not orders, last 30 days)", {1, 2, 3, 4, 5, 6, 9, 11, 15}),
    # three steps
    (f"did({VIEW} then {CART} then orders)", {10, 12}),
    # the earliest view of 12 is followed by a search: only its second view works
    (f"did({VIEW} then directly {CART} then orders)", {10, 12}),
    (f"did({VIEW} then {CART} then not orders)", {1, 2, 4, 6, 7, 9, 11, 15}),
    # orders are named: 6's order is the row after its view
    (f"did({VIEW} then directly {CART} then not orders)", {1, 4, 7, 9, 11}),
    # any later event, then the event right after it is a cart
    (f"did({VIEW} then events then directly {CART})", {2, 12, 15}),
]


@pytest.mark.parametrize(("cond", "expected"), CASES)
def test_sequences_without_within(cond, expected):
    check(cond, SEQ, expected, as_of=AS_OF)


def test_empty_sources():
    data = {"customers": SEQ["customers"], "events": SEQ["events"], "orders": []}
    check(f"did({CART} then orders)", data, set(), as_of=AS_OF)
    check(f"did({VIEW} then directly orders)", data, set(), as_of=AS_OF)
    check(f"did({CART} then not orders)", data, {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15},
          as_of=AS_OF)  # fmt: skip
    empty = {"customers": SEQ["customers"], "events": [], "orders": []}
    check(f"did({VIEW} then directly {CART} then not orders)", empty, set(), as_of=AS_OF)


def test_negation_flips_membership():
    """A sequence is false, never null, for an entity without rows (13)."""
    check(f"not did({VIEW} then {CART})", SEQ, {3, 5, 8, 13, 14}, as_of=AS_OF)
    check(f"not did({VIEW} then directly orders)", SEQ, set(range(1, 16)) - {6, 11}, as_of=AS_OF)


def test_forms_chosen():
    """Two steps without `directly`: one grouped read (no sort); otherwise the
    instants chain. Two sequences whose names clash keep distinct CTEs."""
    two, _, _ = compile_sql(f"did({VIEW} then {CART})", SEQ, as_of=AS_OF)
    assert "__times" not in two and "OVER" not in two
    chain, _, _ = compile_sql(f"did({VIEW} then directly {CART} then orders)", SEQ, as_of=AS_OF)
    assert "__times" in chain and "LAG(" in chain


def test_sequences_whose_names_are_cut_alike_get_distinct_ctes():
    """Names are cut at 40 characters: the second chain's gets `_2`; the first's
    step CTEs are `…__2`, `…__3`, never the second's `…_2`."""
    long = 'events where name = "view" then events where name = "cart"'
    source = (
        f"segment a = did({long} then orders)\n"
        f"segment b = did({long} then directly orders)\n"
        "segment tested = a and b\n"
    )
    sql = check(source, SEQ, {10, 12}, as_of=AS_OF)
    names = [c.alias for c in sqlglot.parse_one(sql, read="duckdb").find(exp.With).expressions]
    assert len(names) == len(set(names)), names
    reads = [n for n in names if n.startswith("windowed_") and "__" not in n]
    assert len(reads) == 2 and reads[1] == reads[0] + "_2", reads


ERRORS = [
    ("did(events then not directly orders)", "'then not directly' is not supported"),
    ("did(events then directly orders within 1 day)", "'then directly' cannot be used with"),
    ("did(events then not orders then orders)", "'then not' is only allowed on the last step"),
]


@pytest.mark.parametrize(("cond", "message"), ERRORS)
def test_errors(cond, message):
    with pytest.raises((SegqlError, SegqlErrors)) as e:
        compile_sql(cond, SEQ, as_of=AS_OF)
    assert message in str(e.value)


# ------------------------------------------------------------------ against the oracle
# Random timelines on a coarse grid (ties, rows after as_of, rows without a
# time, nameless events) and random sequences of every shape, compiled for
# DuckDB and checked against the oracle's brute force (tests/oracle/evaluate.py).
GRID = [f"2025-06-{d:02d} {h:02d}:00:00" for d in (20, 21, 22) for h in (0, 12)]
GRID += ["2025-05-15 00:00:00", "2025-07-01 00:00:00", "2025-07-02 00:00:00", None]
NAMES = ["view", "cart", "search", None]


def _timeline(rng: random.Random) -> dict:
    events = [
        ev(c, rng.choice(GRID), rng.choice(NAMES))
        for c in range(1, 9)
        for _ in range(rng.randint(0, 6))
    ]
    orders = [
        order(c, t)
        for c in range(1, 9)
        for _ in range(rng.randint(0, 2))
        if (t := rng.choice(GRID))
    ]
    return {"customers": table("customer_id INTEGER", *[(i,) for i in range(1, 9)]),
            "events": events, "orders": orders}  # fmt: skip


def _step(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return "orders"
    name = rng.choice(["view", "cart", "search"])
    return rng.choice(["events", f'events where name = "{name}"', f'events where name != "{name}"'])


def _sequence(rng: random.Random) -> str:
    n = rng.choice([2, 2, 3, 3, 4])
    text = _step(rng)
    for i in range(1, n):
        word = rng.choice(["then", "then directly"])
        if i == n - 1 and rng.random() < 0.3:
            word = "then not"
        text += f" {word} {_step(rng)}"
    window = rng.choice(["", ", last 10 days", ", 10 to 40 days ago", ", since 2025-06-21"])
    return f"did({text}{window})"


def _random_cases(seed: int, tmp_path):
    rng = random.Random(seed)
    data = _timeline(rng)
    conds = [_sequence(rng) for _ in range(8)]
    source = "".join(f"segment s{i} = {c}\n" for i, c in enumerate(conds))
    (tmp_path / "segql.yml").write_text(_project_text("UTC", "None"), encoding="utf-8")
    (tmp_path / "defs.seg").write_text(source, encoding="utf-8")
    con = database(data)
    model = api.load([str(tmp_path / "defs.seg")], project=str(tmp_path / "segql.yml"), con=con)
    return conds, con, model


@pytest.mark.parametrize("seed", range(12))
def test_random_sequences_match_the_oracle(seed, tmp_path):
    conds, con, model = _random_cases(seed, tmp_path)
    when = dt.datetime(2025, 7, 1)
    tables = {}
    for t in ("customers", "events", "orders"):
        cur = con.execute(f"SELECT * FROM {t}")
        cols = [d[0] for d in cur.description]
        tables[t] = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    oracle = evaluate(model, tables, when)
    for i, cond in enumerate(conds):
        sql = api.compile_model(model, "duckdb", when, segment=f"s{i}").sql()
        got = {r[0] for r in con.execute(sql).fetchall()}
        assert got == oracle.members(f"s{i}"), cond


# ------------------------------------------------------------------ fmt and YAML


FORMS = [
    f"did({VIEW} then {CART})",
    f"did({VIEW} then directly {CART}, last 30 days)",
    f"did({VIEW} then directly {CART} then not orders, 10 to 40 days ago)",
    f"did({VIEW} then events then directly {CART} then orders)",
    "did(events then orders within 2 days on sku, last 7 days)",
    # a source named like the keyword stays a name in backticks
    "did(events then directly `directly`)",
]


@pytest.mark.parametrize("cond", FORMS)
def test_fmt_round_trip(cond):
    text = f"segment s = {cond}\n"
    out = format_text(text, "t.seg")
    assert format_text(out, "t.seg") == out
    # format_text itself checks the definitions parse back the same
    assert " ".join(out.split()) == " ".join(text.split())


def test_yaml_definitions_take_the_new_forms():
    source = {
        "defs.yml": (
            "segments:\n"
            f"  tested: 'did({VIEW} then directly {CART} then orders)'\n"
            f"  other: 'did({CART} then not orders, last 30 days)'\n"
        )
    }
    check(source, SEQ, {10, 12}, as_of=AS_OF, segment="tested")
    check(source, SEQ, {1, 2, 3, 4, 5, 6, 9, 11, 15}, as_of=AS_OF, segment="other")


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_dialect_parses_back(dialect):
    """Both forms in every dialect: one statement that sqlglot reads back, none
    of what the dialect lacks (test_golden's checks, for engines not run here)."""
    source = (
        f"segment a = did({VIEW} then not orders, last 30 days)\n"
        f"segment b = did({VIEW} then directly {CART} then events then not orders)\n"
        "segment tested = a or b\n"
    )
    sql, _, _ = compile_sql(source, SEQ, as_of=AS_OF, dialect=dialect)
    d = DIALECTS[dialect]
    statements = [s for s in sqlglot.parse(sql, read=d.sqlglot) if s is not None]
    assert len(statements) == 1
    flat = " ".join(sql.upper().split())
    assert not [c for c in d.lacks if " ".join(c.upper().split()) in flat]
    assert "LAG(" in flat and "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING" in flat


@pytest.mark.engines
def test_spark_equals_duckdb(spark):
    """Both forms on Spark (local mode) give DuckDB's members."""
    source = "".join(f"segment s{i} = {c}\n" for i, (c, _) in enumerate(CASES))
    _, _, con = compile_sql(source + "segment tested = s0\n", SEQ, as_of=AS_OF)
    for t in ("customers", "events", "orders"):
        described = con.execute(f"DESCRIBE {t}").fetchall()
        cur = con.execute(f"SELECT * FROM {t}")
        rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
        load_rows(spark, t, [(c[0], c[1]) for c in described], rows)
    for i, (cond, expected) in enumerate(CASES):
        sql, _, _ = compile_sql(source, SEQ, as_of=AS_OF, dialect="spark", segment=f"s{i}")
        got = {r[0] for r in spark.sql(sql).collect()}
        assert got == set(expected), cond


def test_three_step_sequences_with_within_whose_names_clash():
    """The same for the sorted windows of `within` (their steps were `…_1`,
    `…_2`: the second sequence's own name; DuckDB refused the duplicate CTE)."""
    long = 'events where name = "view" then events where name = "cart"'
    source = (
        f"segment a = did({long} then orders within 30 days)\n"
        f"segment b = did({long} then events within 30 days)\n"
        "segment tested = a or b\n"
    )
    check(source, SEQ, {10, 12}, as_of=AS_OF)


def test_explain_tells_the_forms(tmp_path):
    (tmp_path / "segql.yml").write_text(_project_text("UTC", "None"), encoding="utf-8")
    (tmp_path / "f.seg").write_text(
        f"segment a = did({VIEW} then {CART})\n"
        f"segment b = did({VIEW} then directly {CART})\n"
        f"segment c = did({VIEW} then {CART} then not orders)\n",
        encoding="utf-8",
    )
    model = api.load([str(tmp_path / "f.seg")], project=str(tmp_path / "segql.yml"))
    text = api.explain_model(model, "postgres")
    assert ": extremes (two steps without 'within'" in text
    assert ": instant_chain ('directly' without 'within')" in text
    assert ": instant_chain (more than two steps without 'within')" in text


@pytest.mark.engines
@pytest.mark.parametrize("seed", range(4))
def test_random_sequences_on_postgres_and_bigquery(seed, tmp_path, postgres, bigquery):
    """The random sequences on PostgreSQL and BigQuery's SQL give DuckDB's
    members (which the test above checks against the oracle)."""
    conds, con, model = _random_cases(100 + seed, tmp_path)
    when = dt.datetime(2025, 7, 1)
    tables = ["customers", "events", "orders"]
    load_from_duckdb_bq(con, bigquery, tables)
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, tables)
        for i, cond in enumerate(conds):
            sql = api.compile_model(model, "duckdb", when, segment=f"s{i}").sql()
            want = sorted(r[0] for r in con.execute(sql).fetchall())
            pg_sql = api.compile_model(model, "postgres", when, segment=f"s{i}").sql()
            assert sorted(r[0] for r in pg.execute(pg_sql).fetchall()) == want, cond
            bq_sql = api.compile_model(model, "bigquery", when, segment=f"s{i}").sql()
            assert sorted(r[0] for r in bigquery.run(bq_sql)[1]) == want, cond
