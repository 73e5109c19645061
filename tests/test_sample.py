"""Tests for the deterministic sample data generator (segql.ops.sample)."""

from __future__ import annotations

import datetime

import duckdb
import pytest

from segql.ops.sample import SAMPLE_AS_OF, SAMPLE_END, SAMPLE_START, generate, sample_database

SCALE = 0.01

EXPECTED_SCHEMA = {
    "customers": [
        ("customer_id", "BIGINT"),
        ("email", "VARCHAR"),
        ("country", "VARCHAR"),
        ("age", "INTEGER"),
        ("device", "VARCHAR"),
        ("consent_marketing", "BOOLEAN"),
        ("is_test", "BOOLEAN"),
        ("signup_at", "TIMESTAMP"),
    ],
    "orders": [
        ("order_id", "BIGINT"),
        ("customer_id", "BIGINT"),
        ("ordered_at", "TIMESTAMP"),
        ("amount", "DECIMAL(12,2)"),
        ("quantity", "INTEGER"),
        ("sku", "VARCHAR"),
    ],
    "web_events": [
        ("event_id", "BIGINT"),
        ("customer_id", "BIGINT"),
        ("occurred_at", "TIMESTAMP"),
        ("name", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("duration_s", "DOUBLE"),
        ("sku", "VARCHAR"),
    ],
}
ORDER_KEYS = {
    "customers": "customer_id",
    "orders": "order_id",
    "web_events": "event_id",
}


@pytest.fixture(scope="module")
def con():
    c = sample_database(scale=SCALE, seed=42)
    yield c
    c.close()


def one(con, sql, params=None):
    return con.execute(sql, params or []).fetchone()[0]


def contents(c) -> dict[str, list[tuple]]:
    return {
        t: c.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in ORDER_KEYS.items()
    }


def test_constants():
    assert SAMPLE_START == datetime.datetime(2023, 7, 1)
    assert SAMPLE_END == datetime.datetime(2025, 7, 1)
    assert SAMPLE_AS_OF == SAMPLE_END


def test_deterministic_across_runs_and_thread_counts(con):
    other = duckdb.connect()
    other.execute("SET threads = 1")  # random() would differ here; hash-based values must not
    generate(other, scale=SCALE, seed=42)
    assert contents(other) == contents(con)
    other.close()


def test_seed_changes_data(con):
    other = sample_database(scale=SCALE, seed=7)
    assert contents(other) != contents(con)
    other.close()


def test_generate_replaces_existing_tables():
    c = sample_database(scale=0.002)
    first = contents(c)
    generate(c, scale=0.002)
    assert contents(c) == first
    assert one(c, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%segql%'") == 0
    c.close()


def test_schema(con):
    for table, columns in EXPECTED_SCHEMA.items():
        got = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
        assert got == columns, table


def test_row_counts_proportional_to_scale(con):
    small = sample_database(scale=0.002)
    for table, per_unit in [("customers", 100_000), ("orders", 1_000_000), ("web_events", 5e6)]:
        for c, scale in [(con, SCALE), (small, 0.002)]:
            n = one(c, f"SELECT count(*) FROM {table}")
            assert abs(n - per_unit * scale) <= 0.1 * per_unit * scale, (table, scale, n)
    small.close()


def test_tiny_scale_has_one_customer():
    c = sample_database(scale=1e-9)
    assert one(c, "SELECT count(*) FROM customers") == 1
    c.close()


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf")])
def test_rejects_bad_scale(scale):
    with pytest.raises(ValueError):
        generate(None, scale=scale)


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True])
def test_rejects_bad_seed(seed):
    with pytest.raises(ValueError):
        generate(None, seed=seed)


def test_file_database(tmp_path):
    path = str(tmp_path / "sample.duckdb")
    sample_database(scale=0.001, path=path).close()
    c = duckdb.connect(path, read_only=True)
    assert one(c, "SELECT count(*) FROM customers") == 100
    c.close()


def test_times_in_window(con):
    for table, col in [("orders", "ordered_at"), ("web_events", "occurred_at")]:
        lo, hi = con.execute(f"SELECT min({col}), max({col}) FROM {table}").fetchone()
        assert SAMPLE_START <= lo and hi < SAMPLE_END, table
    lo, hi = con.execute("SELECT min(signup_at), max(signup_at) FROM customers").fetchone()
    assert datetime.datetime(2021, 1, 1) <= lo < SAMPLE_START <= hi < SAMPLE_END
    # Nothing happens before a customer signed up.
    assert 0 == one(
        con,
        """
        SELECT count(*) FROM customers c
        JOIN (SELECT customer_id, ordered_at AS t FROM orders
              UNION ALL SELECT customer_id, occurred_at FROM web_events) x USING (customer_id)
        WHERE x.t < c.signup_at""",
    )


def test_keys_unique_and_referential_integrity(con):
    for table, key in ORDER_KEYS.items():
        assert one(con, f"SELECT count(*) - count(DISTINCT {key}) FROM {table}") == 0
        assert one(con, f"SELECT count(*) FROM {table} WHERE {key} IS NULL") == 0
    for table in ["orders", "web_events"]:
        assert 0 == one(
            con,
            f"""SELECT count(*) FROM {table}
                                 WHERE customer_id NOT IN (SELECT customer_id FROM customers)""",
        )


def test_stored_in_customer_time_order(con):
    for table, col in [("orders", "ordered_at"), ("web_events", "occurred_at")]:
        rows = con.execute(f"SELECT customer_id, {col} FROM {table}").fetchall()
        assert rows == sorted(rows), table


def test_customer_attributes(con):
    assert set(r[0] for r in con.execute("SELECT DISTINCT country FROM customers").fetchall()) <= {
        "US",
        "CA",
        "GB",
        "DE",
        "FR",
        "NL",
        "ES",
        "IT",
        "AU",
        "BR",
    }
    top = con.execute("SELECT country FROM customers GROUP BY 1 ORDER BY count(*) DESC").fetchone()
    assert top[0] == "US"
    assert one(con, "SELECT count(*) FROM customers WHERE age NOT BETWEEN 18 AND 80") == 0
    assert one(con, "SELECT count(*) FROM customers WHERE age IS NULL") > 0
    assert one(con, "SELECT count(*) FROM customers WHERE consent_marketing IS NULL") > 0
    assert one(con, "SELECT count(*) FROM customers WHERE is_test") > 0
    assert (
        one(
            con,
            "SELECT count(*) FROM customers WHERE email <> 'c' || customer_id || '@example.com'",
        )
        == 0
    )
    assert {r[0] for r in con.execute("SELECT DISTINCT device FROM customers").fetchall()} == {
        "mobile",
        "desktop",
        "tablet",
    }


def test_order_shape(con):
    no_orders = one(
        con,
        """SELECT avg((customer_id NOT IN (SELECT customer_id FROM orders))::INT)
                            FROM customers""",
    )
    assert 0.25 < no_orders < 0.45
    assert one(con, "SELECT count(*) FROM orders WHERE amount IS NULL") > 0
    assert one(con, "SELECT count(*) FROM orders WHERE amount < 5 OR amount > 3000") == 0
    assert one(con, "SELECT count(*) FROM orders WHERE quantity NOT BETWEEN 1 AND 5") == 0
    bad_sku = "SELECT count(*) FROM orders WHERE NOT regexp_full_match(sku, 'SKU-\\d{4}')"
    assert one(con, bad_sku) == 0
    # Heavy tail: the busiest customer orders far more than the median buyer.
    median, top = con.execute("""SELECT median(n), max(n) FROM
        (SELECT count(*) AS n FROM orders GROUP BY customer_id)""").fetchone()
    assert median <= 10 and top > 10 * median


def test_event_shape(con):
    names = {r[0] for r in con.execute("SELECT DISTINCT name FROM web_events").fetchall()}
    assert names == {
        "page_view",
        "view",
        "search",
        "pricing_view",
        "add_to_cart",
        "checkout",
        "signup",
    }
    top = con.execute("SELECT name FROM web_events GROUP BY 1 ORDER BY count(*) DESC").fetchone()
    assert top[0] == "page_view"
    assert (
        one(
            con,
            """SELECT count(*) FROM web_events
                       WHERE (name IN ('view', 'add_to_cart')) <> (sku IS NOT NULL)""",
        )
        == 0
    )
    assert {r[0] for r in con.execute("SELECT DISTINCT kind FROM web_events").fetchall()} == {
        None,
        "movie",
        "episode",
        "documentary",
    }
    assert (
        one(con, "SELECT count(*) FROM web_events WHERE kind IS NOT NULL AND name <> 'page_view'")
        == 0
    )
    assert one(con, "SELECT count(*) FROM web_events WHERE duration_s IS NULL") > 0
    assert one(con, "SELECT count(*) FROM web_events WHERE duration_s NOT BETWEEN 1 AND 3600") == 0


CART_FOLLOWED = """
    SELECT e.event_id, EXISTS (
      SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id AND o.sku = e.sku
        AND o.ordered_at BETWEEN e.occurred_at AND e.occurred_at + INTERVAL 1 DAY) AS followed
    FROM web_events e WHERE e.name = 'add_to_cart'
"""


def test_cart_abandonment_visible(con):
    followed, abandoned = con.execute(
        f"SELECT count(*) FILTER (followed), count(*) FILTER (NOT followed) FROM ({CART_FOLLOWED})"
    ).fetchone()
    assert followed > 0 and abandoned > 0
    assert 0.3 < abandoned / (followed + abandoned) < 0.9


def test_pricing_view_bursts(con):
    bursty = one(
        con,
        """
        SELECT count(DISTINCT customer_id) FROM (
          SELECT customer_id, count(*) OVER (PARTITION BY customer_id ORDER BY occurred_at
                 RANGE BETWEEN INTERVAL 24 HOURS PRECEDING AND CURRENT ROW) AS n
          FROM web_events WHERE name = 'pricing_view')
        WHERE n >= 3""",
    )
    assert bursty >= 0.03 * one(con, "SELECT count(*) FROM customers")


def test_new_visitors_and_lapsing_customers(con):
    week_ago = SAMPLE_END - datetime.timedelta(days=7)
    new_only = one(
        con,
        """SELECT count(*) FROM (SELECT min(occurred_at) AS m FROM web_events
                           GROUP BY customer_id) WHERE m >= ?""",
        [week_ago],
    )
    assert new_only > 0
    lapsed = one(
        con,
        """SELECT count(*) FROM (SELECT count(*) AS n, max(ordered_at) AS m
                         FROM orders GROUP BY customer_id) WHERE n >= 5 AND m < ?""",
        [SAMPLE_END - datetime.timedelta(days=90)],
    )
    assert lapsed > 0
