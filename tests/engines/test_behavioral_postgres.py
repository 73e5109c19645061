"""The behavioral cases of tests/test_behavioral.py on a real PostgreSQL server
and on BigQuery's SQL (the ZetaSQL reference implementation): the compiled SQL
must give the same members as DuckDB's (which are checked against hand-computed
members there)."""

from __future__ import annotations

import pytest
from helpers import compile_sql
from test_behavioral import AS_OF, BURSTS, EDGES, SEQ, spend
from test_language_aggregates import AS_OF as SHOP_AS_OF
from test_language_aggregates import D7, D9, EVER, GIFTS, SHOP, SINCE, TIES
from test_language_anchored import AS_OF as ANCHORED_AS_OF
from test_language_anchored import DATA as ANCHORED
from test_language_sequences17 import AS_OF as SEQ17_AS_OF
from test_language_sequences17 import CART, VIEW
from test_language_sequences17 import SEQ as SEQ17

from engines.bigquery import load_from_duckdb as load_from_duckdb_bq
from engines.postgres import load_from_duckdb

CASES = [
    (BURSTS, 'count(events where name = "pv", any 24 hours) > 2'),
    (BURSTS, "count(events, any 24 hours) >= 3"),
    (SEQ, 'did(events where name = "cart" then not orders within 1 day, last 7 days)'),
    (SEQ, 'did(events where name = "cart" then not orders within 1 day on sku)'),
    (
        SEQ,
        'did(events where name = "view" then events where name = "cart" then orders within 2 days)',
    ),
    (SEQ, "did(events then events within 2 hours)"),
    # the bucket edges of two-step sequences (integer division on PostgreSQL)
    (EDGES, 'did(events where name = "cart" then orders within 1 day)'),
    (EDGES, 'did(events where name = "cart" then not orders within 1 day on sku)'),
    (EDGES, 'did(events where name = "cart" then orders within 36 hours)'),
    (spend(10, 20, 30, 40, 50), "trait m = sum(orders.amount)\nsegment tested = score(m, 5) = 3"),
    (spend(10, 20, 20, 40, None), "percentile(avg(orders.amount)) = 75%"),
    (spend(10, 20, 20, 40, None), "decayed_sum(orders.amount, 30 days) > 5"),
    (spend(10, 20, None), "score(2.5, 3) = 3 and percentile(1) = 100%"),
]
CASES = [(data, condition, AS_OF) for data, condition in CASES] + [
    # count_distinct, first/last: own CTEs (sql/scans.py distinct_cte, value_cte);
    # first/last of a boolean: a window on PostgreSQL (no MIN/MAX of booleans)
    (
        SHOP,
        "count_distinct(orders.sku, last 7 days) = 2 or count_distinct(orders.sku) = 1",
        SHOP_AS_OF,
    ),
    # count_distinct by the pairs' latest time
    (SHOP, f"{D7} = 1 and {D9} = 1 and {SINCE} = 0 and {EVER} = 1", SHOP_AS_OF),
    (
        TIES,
        'last(orders.amount) = 8 and last(orders.sku) = "c" and first(orders.sku) = "a"',
        SHOP_AS_OF,
    ),
    (TIES, "first(orders.amount) = 6 or last(orders.amount) is null", SHOP_AS_OF),
    (GIFTS, "not first(orders.gift) or last(orders.gift) is null", SHOP_AS_OF),
    # sequences without `within` (§17): extremes (MIN/MAX), and the instants chain
    # (ROWS frames, LAG) with `directly`, three steps and `then not`
    (SEQ17, f"did({VIEW} then {CART}, last 30 days)", SEQ17_AS_OF),
    (SEQ17, f"did({CART} then not orders)", SEQ17_AS_OF),
    (SEQ17, f"did({VIEW} then directly {CART})", SEQ17_AS_OF),
    (SEQ17, f"did({VIEW} then directly orders)", SEQ17_AS_OF),
    (SEQ17, f"did({VIEW} then directly {CART} then not orders)", SEQ17_AS_OF),
    (SEQ17, f"did({VIEW} then events then directly {CART}, 30 to 60 days ago)", SEQ17_AS_OF),
]
# LANGUAGE.md §17 anchored windows: the engine's interval arithmetic at the edges
# (months clamped), a date anchor, first/last anchors, every read form, sequences
CASES += [
    (ANCHORED, condition, ANCHORED_AS_OF)
    for condition in (
        "count(orders, 7 to 14 days after signed_up_at) = 2",
        "not did(orders, first 30 days after signed_up_at)",
        "did(orders, 1 to 2 months after signed_up_at)",
        "count(orders, first 1 month after signed_up_at) = 1",
        "count(orders, 7 to 14 days after signup_date) = 2",
        "did(orders, first 30 days after first(orders.ordered_at))",
        "count_distinct(orders.sku, 7 to 14 days after signed_up_at) = 1",
        'first(orders.sku, 7 to 14 days after signed_up_at) = "b"',
        "median(orders.amount, 7 to 14 days after signed_up_at) = 20",
        "did(events then orders within 1 hour, first 7 days after signed_up_at)",
        "did(events then not orders within 1 day, first 7 days after signed_up_at)",
        'did(events where name = "view" then orders then orders within 2 days,'
        " first 7 days after signed_up_at)",
    )
]


@pytest.mark.engines
@pytest.mark.parametrize("data, condition, as_of", CASES)
def test_postgres_equals_duckdb(postgres, data, condition, as_of):
    duck_sql, _, con = compile_sql(condition, data, as_of=as_of)
    pg_sql, _, _ = compile_sql(condition, data, as_of=as_of, dialect="postgres")
    expected = sorted(r[0] for r in con.execute(duck_sql).fetchall())
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, [t for t in ("customers", "orders", "events") if t in data])
        got = sorted(r[0] for r in pg.execute(pg_sql).fetchall())
    assert got == expected


@pytest.mark.engines
@pytest.mark.parametrize("data, condition, as_of", CASES)
def test_bigquery_equals_duckdb(bigquery, data, condition, as_of):
    """The same cases on BigQuery's SQL (the ZetaSQL reference implementation)."""
    duck_sql, _, con = compile_sql(condition, data, as_of=as_of)
    bq_sql, _, _ = compile_sql(condition, data, as_of=as_of, dialect="bigquery")
    expected = sorted(r[0] for r in con.execute(duck_sql).fetchall())
    tables = [t for t in ("customers", "orders", "events") if t in data]
    load_from_duckdb_bq(con, bigquery, tables)
    got = sorted(r[0] for r in bigquery.run(bq_sql)[1])
    assert got == expected
