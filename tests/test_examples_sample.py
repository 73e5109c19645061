"""The examples on the built-in sample data (DuckDB, scale 0.01, as_of 2025-07-01).

- Not degenerate: every example segment has some members and some non-members,
  every segmentation with a catch-all labels everyone and uses several labels, so
  the examples (and `segql preview --sample`) show something meaningful.
- Right: a dozen example segments are recomputed by hand-written SQL straight
  from the contract's wording (LANGUAGE.md §6), independent of the compiler, and
  must have exactly the members the compiled query finds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator

import duckdb
import pytest
from test_golden import STEMS, compile_example, load_example

from segql.ops.sample import sample_database
from segql.syntax import ast

AS_OF = "TIMESTAMP '2025-07-01 00:00:00'"


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = sample_database(0.01, 42)
    yield c
    c.close()


@pytest.fixture(scope="module")
def membership(con: duckdb.DuckDBPyConnection) -> dict[str, dict[int, object]]:
    """Every output column of every example file: name → {customer_id: value}."""
    out: dict[str, dict[int, object]] = {}
    for stem in STEMS:
        cur = con.execute(compile_example(stem, "duckdb"))
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
        for i, name in enumerate(cols[1:], start=1):
            out[name] = {r[0]: r[i] for r in rows}
    return out


def _universe(con: duckdb.DuckDBPyConnection) -> set[int]:
    return {
        r[0]
        for r in con.execute("SELECT customer_id FROM customers WHERE consent_marketing").fetchall()
    }


def test_every_output_is_computed_for_the_universe(con, membership) -> None:
    universe = _universe(con)
    assert len(universe) > 100
    for name, values in membership.items():
        assert set(values) == universe, name


def test_segments_are_not_degenerate_on_the_sample(con, membership) -> None:
    empty_or_full = []
    for stem in STEMS:
        model = load_example(stem)
        for name in model.selected:
            d = model.definitions[name]
            values = membership[name]
            if isinstance(d, ast.Segment):
                assert all(isinstance(v, bool) for v in values.values()), name  # never null
                members = sum(values.values())
                if not 0 < members < len(values):
                    empty_or_full.append(f"{stem}.{name}: {members} of {len(values)}")
            elif isinstance(d, ast.Split):
                labels = set(values.values())
                assert labels - {None} <= {g.name for g in d.groups}, name
                if len(labels - {None}) < len(d.groups):
                    empty_or_full.append(f"{stem}.{name}: groups {labels}")
            else:
                labels = set(values.values())
                labels_defined = set(ast.segmentation_labels(d))
                assert labels - {None} <= labels_defined
                if d.catch_all is not None:
                    assert None not in labels, f"{name}: a catch-all leaves no one unlabelled"
                if len(labels - {None}) < 2:
                    empty_or_full.append(f"{stem}.{name}: labels {labels}")
    assert not empty_or_full, "degenerate on the sample:\n" + "\n".join(empty_or_full)


# ------------------------------------------------------------------ hand-written oracles

# customer ids of each segment's members, written directly from LANGUAGE.md's wording
ORACLES: dict[str, str] = {
    "recent_buyers": f"""
        SELECT DISTINCT customer_id FROM orders
        WHERE ordered_at > {AS_OF} - INTERVAL 30 DAY AND ordered_at <= {AS_OF}""",
    "april_double_buyers": """
        SELECT customer_id FROM orders
        WHERE CAST(ordered_at AS DATE) BETWEEN DATE '2024-04-01' AND DATE '2024-04-30'
        GROUP BY customer_id HAVING count(*) = 2""",
    "high_value": f"""
        SELECT o.customer_id FROM orders o JOIN customers c USING (customer_id)
        WHERE ordered_at > {AS_OF} - INTERVAL 90 DAY AND ordered_at <= {AS_OF}
          AND c.country IN ('US', 'CA')
        GROUP BY o.customer_id HAVING sum(amount) > 1000""",
    "lapsing_customers": f"""
        SELECT customer_id FROM orders
        WHERE ordered_at > {AS_OF} - INTERVAL 90 DAY AND ordered_at <= {AS_OF} - INTERVAL 30 DAY
        EXCEPT
        SELECT customer_id FROM orders
        WHERE ordered_at > {AS_OF} - INTERVAL 30 DAY AND ordered_at <= {AS_OF}""",
    "regulars": f"""
        SELECT customer_id FROM web_events
        WHERE occurred_at > {AS_OF} - INTERVAL 28 DAY AND occurred_at <= {AS_OF}
        GROUP BY customer_id HAVING count(DISTINCT CAST(occurred_at AS DATE)) >= 10""",
    "first_time_visitors": f"""
        SELECT customer_id FROM web_events
        WHERE occurred_at > {AS_OF} - INTERVAL 7 DAY AND occurred_at <= {AS_OF}
        EXCEPT SELECT customer_id FROM web_events WHERE occurred_at <= {AS_OF} - INTERVAL 7 DAY
        EXCEPT SELECT customer_id FROM orders WHERE ordered_at <= {AS_OF}""",
    "mobile_weekend_shoppers": f"""
        SELECT o.customer_id FROM orders o JOIN customers c USING (customer_id)
        WHERE c.device = 'mobile' AND isodow(ordered_at) IN (6, 7)
          AND ordered_at > {AS_OF} - INTERVAL 90 DAY AND ordered_at <= {AS_OF}
        GROUP BY o.customer_id HAVING count(*) >= 2""",
    # more than two pricing views with first and last at most 24 hours apart
    "pricing_hunters": f"""
        SELECT a.customer_id FROM web_events a JOIN web_events b
          ON a.customer_id = b.customer_id AND b.occurred_at >= a.occurred_at
         AND b.occurred_at <= a.occurred_at + INTERVAL 24 HOUR
        WHERE a.name = 'pricing_view' AND b.name = 'pricing_view'
          AND a.occurred_at <= {AS_OF} AND b.occurred_at <= {AS_OF}
        GROUP BY a.customer_id, a.event_id HAVING count(*) > 2""",
    # an add_to_cart in the last 7 days whose day of follow-up has ended with no order
    "cart_abandoners": f"""
        SELECT e.customer_id FROM web_events e
        WHERE e.name = 'add_to_cart'
          AND e.occurred_at > {AS_OF} - INTERVAL 7 DAY AND e.occurred_at <= {AS_OF}
          AND e.occurred_at + INTERVAL 1 DAY <= {AS_OF}
          AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id
                          AND o.ordered_at > e.occurred_at
                          AND o.ordered_at <= e.occurred_at + INTERVAL 1 DAY)""",
    # a view of product X, followed up for two days, without an order of product X
    "viewed_not_bought": f"""
        SELECT e.customer_id FROM web_events e
        WHERE e.name = 'view' AND e.sku IS NOT NULL
          AND e.occurred_at + INTERVAL 2 DAY <= {AS_OF}
          AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id
                          AND o.sku = e.sku AND o.ordered_at > e.occurred_at
                          AND o.ordered_at <= e.occurred_at + INTERVAL 2 DAY)""",
    # a view in the last 30 days, then a cart strictly later, then an order strictly
    # later than the cart, the order at most 7 days after the view
    "funnel_completers": f"""
        SELECT DISTINCT a.customer_id FROM web_events a
        JOIN web_events b ON b.customer_id = a.customer_id AND b.name = 'add_to_cart'
         AND b.occurred_at > a.occurred_at
        JOIN orders c ON c.customer_id = a.customer_id AND c.ordered_at > b.occurred_at
         AND c.ordered_at <= a.occurred_at + INTERVAL 7 DAY AND c.ordered_at <= {AS_OF}
        WHERE a.name = 'view'
          AND a.occurred_at > {AS_OF} - INTERVAL 30 DAY AND a.occurred_at <= {AS_OF}""",
    # two-valued logic: no orders at all is a member
    "not_recent_buyers": f"""
        SELECT customer_id FROM customers
        EXCEPT
        SELECT customer_id FROM orders
        WHERE ordered_at <= {AS_OF} AND ordered_at > {AS_OF} - INTERVAL 30 DAY""",
}


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_example_segment_matches_hand_written_sql(name: str, con, membership) -> None:
    universe = _universe(con)
    expected = {r[0] for r in con.execute(ORACLES[name]).fetchall()} & universe
    got = {k for k, v in membership[name].items() if v}
    assert got == expected, (
        f"{name}: {len(got - expected)} extra, {len(expected - got)} missing "
        f"(e.g. {sorted(got ^ expected)[:5]})"
    )
    assert 0 < len(expected) < len(universe)  # the comparison is not vacuous


def _percentile(values: dict[int, float | None]) -> dict[int, float | None]:
    """LANGUAGE.md §7: share of entities (x not null) whose x is <= this one's."""
    xs = sorted(v for v in values.values() if v is not None)
    n = len(xs)
    return {k: None if v is None else bisect.bisect_right(xs, v) / n for k, v in values.items()}


def test_engaged_and_rfm_scores_follow_the_rank_rules(con, membership) -> None:
    universe = _universe(con)
    duration = dict.fromkeys(universe, 0.0)
    for k, s in con.execute(f"""
            SELECT customer_id, coalesce(sum(duration_s), 0) FROM web_events
            WHERE occurred_at > {AS_OF} - INTERVAL 30 DAY AND occurred_at <= {AS_OF}
            GROUP BY customer_id""").fetchall():
        if k in duration:
            duration[k] = s
    pct = _percentile(duration)
    engaged = {k for k, p in pct.items() if p is not None and p > 0.8}
    assert engaged == {k for k, v in membership["engaged"].items() if v}
    assert 0 < len(engaged) < len(universe)

    # f_score = ceil(5 * percentile(frequency)); champions need r, f, m >= 4
    freq = dict.fromkeys(universe, 0)
    for k, n in con.execute(f"""
            SELECT customer_id, count(*) FROM orders
            WHERE ordered_at > {AS_OF} - INTERVAL 365 DAY AND ordered_at <= {AS_OF}
            GROUP BY customer_id""").fetchall():
        if k in freq:
            freq[k] = n
    f_score = {k: math.ceil(round(5 * p, 9)) for k, p in _percentile(freq).items()}
    champions = {k for k, v in membership["rfm_champions"].items() if v}
    assert champions and all(f_score[k] >= 4 for k in champions)
    assert {k for k, s in f_score.items() if s < 4}.isdisjoint(champions)


@pytest.mark.parametrize("stem", STEMS)
def test_types_from_the_sample_do_not_change_the_sql(stem: str, con) -> None:
    """The goldens are compiled without a database (untyped columns); with the
    sample's column types known, every dialect's SQL is the same bytes."""
    from segql.sql.dialects import DIALECTS

    for dialect in DIALECTS:
        assert compile_example(stem, dialect, con=con) == compile_example(stem, dialect), dialect
