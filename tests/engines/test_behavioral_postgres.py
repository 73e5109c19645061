"""The behavioral cases of tests/test_behavioral.py on a real PostgreSQL server:
the compiled postgres SQL must give the same members as DuckDB's (which are
checked against hand-computed members there)."""

from __future__ import annotations

import pytest
from helpers import compile_sql
from test_behavioral import AS_OF, BURSTS, SEQ, spend

from engines.postgres import load_from_duckdb

CASES = [
    (BURSTS, 'count(events where name = "pv", any 24 hours) > 2'),
    (BURSTS, "count(events, any 24 hours) >= 3"),
    (SEQ, 'did(events where name = "cart" then not orders within 1 day, last 7 days)'),
    (SEQ, 'did(events where name = "cart" then not orders within 1 day on sku)'),
    (SEQ, 'did(events where name = "view" then events where name = "cart" '
          "then orders within 2 days)"),
    (SEQ, "did(events then events within 2 hours)"),
    (spend(10, 20, 30, 40, 50), "trait m = sum(orders.amount)\nsegment tested = score(m, 5) = 3"),
    (spend(10, 20, 20, 40, None), "percentile(avg(orders.amount)) = 75%"),
    (spend(10, 20, 20, 40, None), "decayed_sum(orders.amount, 30 days) > 5"),
]


@pytest.mark.engines
@pytest.mark.parametrize("data, condition", CASES)
def test_postgres_equals_duckdb(postgres, data, condition):
    duck_sql, _, con = compile_sql(condition, data, as_of=AS_OF)
    pg_sql, _, _ = compile_sql(condition, data, as_of=AS_OF, dialect="postgres")
    expected = sorted(r[0] for r in con.execute(duck_sql).fetchall())
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, ["customers", "orders", "events"])
        got = sorted(r[0] for r in pg.execute(pg_sql).fetchall())
    assert got == expected
