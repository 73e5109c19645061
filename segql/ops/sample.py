"""Deterministic sample data for ``segql preview --sample``, the examples, tests and benchmarks.

Everything is generated *inside DuckDB* with set-based SQL over ``range()``: at scale 10 there are
~50M events, far too many for Python loops.  Randomness comes from ``hash(key..., salt, seed)``
rather than ``random()``/``setseed()``, because ``random()`` is not reproducible once DuckDB
runs a query on several threads.  Every pseudo-random value is therefore a pure function of
(row key, salt, seed), so the same scale+seed gives identical tables on any thread count.
(DuckDB does not promise ``hash()`` is stable across its own versions: the data is reproducible
for a given DuckDB version, which is what tests and benchmarks need.)

Three tables are created (or replaced)::

    customers(customer_id, email, country, age, device, consent_marketing, is_test, signup_at)
    orders(order_id, customer_id, ordered_at, amount, quantity, sku)
    web_events(event_id, customer_id, occurred_at, name, kind, duration_s, sku)

The data has the shapes segment definitions care about: non-buyers, a heavy tail of frequent
buyers, lapsing customers, brand-new visitors, abandoned carts and pricing-page bursts.
"""

from __future__ import annotations

import datetime
import math
import operator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # duckdb is imported lazily: the CLI must start fast.
    import duckdb

__all__ = [
    "SAMPLE_START",
    "SAMPLE_END",
    "SAMPLE_AS_OF",
    "SAMPLE_TABLES",
    "generate",
    "sample_database",
    "write_sample",
]

SAMPLE_START = datetime.datetime(2023, 7, 1)
SAMPLE_END = datetime.datetime(2025, 7, 1)
SAMPLE_AS_OF = SAMPLE_END
SAMPLE_TABLES = ("customers", "orders", "web_events")

# Row counts at scale 1.
_CUSTOMERS, _ORDERS, _EVENTS = 100_000, 1_000_000, 5_000_000

_DAY = 86_400
_SPAN = int((SAMPLE_END - SAMPLE_START).total_seconds())  # 731 days (2024 is a leap year)
_EARLY = int((SAMPLE_START - datetime.datetime(2021, 1, 1)).total_seconds())
_START_SQL = f"TIMESTAMP '{SAMPLE_START:%Y-%m-%d %H:%M:%S}'"

# Expected events per order derived from it (view .5 + add_to_cart .3 + checkout .3*.9) and
# per customer from bursts/signups; used to size the background traffic so totals hit target.
_EVENTS_PER_ORDER = 0.5 + 0.3 + 0.27
_EVENTS_PER_CUSTOMER = 0.08 * 4.5 + 0.75


def _sql(seed: int) -> dict[str, str]:
    """Build the generator SQL.  Only validated integers are interpolated (seed, constants)."""

    def u(*key: object) -> str:
        # Uniform in [0, 1): keep the top 53 bits of the hash so the double is exact and < 1.
        return f"((hash({', '.join(map(str, key))}, {seed}) >> 11) / 9007199254740992.0)"

    def z(*key: object) -> str:
        # Standard normal via Box-Muller; 1 - u is in (0, 1] so ln() never sees 0.
        return f"(sqrt(-2 * ln(1 - {u(*key, 1)})) * cos(2 * pi() * {u(*key, 2)}))"

    def zipf_sku(*key: object) -> str:
        # Inverse CDF of P(rank >= r) ~ log-uniform => P(r) ~ 1/r over 200 SKUs.
        return f"'SKU-' || lpad(floor(exp({u(*key)} * ln(201)))::BIGINT::VARCHAR, 4, '0')"

    def ts(secs: str) -> str:
        return f"({_START_SQL} + to_seconds(({secs})::BIGINT))"

    # Hidden per-customer profile.  Times are integer seconds since SAMPLE_START; a customer is
    # active on [a_start, o_end) for orders and [a_start, e_end) for web events.
    profile = f"""
    CREATE OR REPLACE TEMP TABLE __segql_sample_profile AS
    WITH c AS (
      SELECT range + 1 AS customer_id, {u("range", 1)} AS r_signup,
             {u("range", 2)} AS r_buyer, {u("range", 3)} AS r_lapse
      FROM range(?)
    ), s AS (
      SELECT *,
        CASE WHEN r_signup < 0.25 THEN -1 - floor({u("customer_id", 4)} * {_EARLY})  -- 2021-23
             WHEN r_signup < 0.98 THEN floor({u("customer_id", 4)} * {_SPAN})
             ELSE {_SPAN - 7 * _DAY} + floor({u("customer_id", 4)} * {7 * _DAY})  -- new visitors
        END::BIGINT AS signup_s,
        r_signup >= 0.98 AS is_new,
        r_buyer >= 0.35 AS buyer  -- ~35% never order
      FROM c
    ), w AS (
      SELECT *, greatest(signup_s, 0) AS a_start,
        CASE WHEN buyer AND r_lapse < 0.12  -- lapsing: stop ordering 2..8 months before the end
                  AND {_SPAN} - greatest(signup_s, 0) > 300 * {_DAY}
             THEN {_SPAN} - (60 * {_DAY} + floor({u("customer_id", 5)} * 180 * {_DAY}))::BIGINT
             ELSE {_SPAN} END AS o_end
      FROM s
    )
    SELECT customer_id, signup_s, is_new, buyer, a_start, o_end,
      least(o_end + 30 * {_DAY}, {_SPAN}) AS e_end,  -- lapsers fade out online a month later
      -- Order rate: Pareto(alpha 1.1, capped) times active time => a few orders for most, a
      -- heavy tail for some.  Integer weights keep sum() exact, hence order-independent.
      CASE WHEN buyer THEN round(1000 * least(pow(1 - {u("customer_id", 6)}, -1 / 1.1), 500)
                                * (o_end - a_start) / {_SPAN})::BIGINT ELSE 0 END AS ow,
      -- Browsing rate: log-normal, buyers a bit more active, new visitors very active; ~5% of
      -- older customers never browse at all.
      CASE WHEN NOT is_new AND {u("customer_id", 7)} < 0.05 THEN 0
           ELSE round(1000 * exp(0.8 * {z("customer_id", 8)})
                      * (CASE WHEN buyer THEN 1.3 ELSE 1 END)
                      * (CASE WHEN is_new THEN 20 ELSE 1 END)
                      * (least(o_end + 30 * {_DAY}, {_SPAN}) - a_start) / {_SPAN})::BIGINT
      END AS ew,
      3.4 + 0.4 * {z("customer_id", 9)} AS mu  -- log-amount level of this customer
    FROM w
    """

    customers = f"""
    CREATE OR REPLACE TABLE customers AS
    SELECT customer_id::BIGINT AS customer_id,
      'c' || customer_id || '@example.com' AS email,
      CASE WHEN r < 0.35 THEN 'US' WHEN r < 0.45 THEN 'CA' WHEN r < 0.57 THEN 'GB'
           WHEN r < 0.67 THEN 'DE' WHEN r < 0.75 THEN 'FR' WHEN r < 0.80 THEN 'NL'
           WHEN r < 0.86 THEN 'ES' WHEN r < 0.91 THEN 'IT' WHEN r < 0.96 THEN 'AU'
           ELSE 'BR' END AS country,
      CASE WHEN {u("customer_id", 11)} < 0.03 THEN NULL  -- younger customers are more common
           ELSE 18 + floor(63 * pow({u("customer_id", 12)}, 1.3)) END::INTEGER AS age,
      CASE WHEN {u("customer_id", 13)} < 0.55 THEN 'mobile'
           WHEN {u("customer_id", 13)} < 0.90 THEN 'desktop' ELSE 'tablet' END AS device,
      CASE WHEN {u("customer_id", 14)} < 0.03 THEN NULL
           ELSE {u("customer_id", 15)} < 0.70 END AS consent_marketing,
      {u("customer_id", 16)} < 0.01 AS is_test,
      {ts("signup_s")} AS signup_at
    FROM (SELECT *, {u("customer_id", 10)} AS r FROM __segql_sample_profile)
    ORDER BY customer_id
    """

    # k orders per buyer: 1 + stochastic rounding of its share of the remaining target.
    # ~1% of orders reuse the previous order's time key (jj = j - 1): exact duplicate timestamps.
    orders = f"""
    CREATE OR REPLACE TABLE orders AS
    WITH p AS (
      SELECT *, greatest(sum(ow) OVER (), 1) AS s, count(*) OVER () AS b
      FROM __segql_sample_profile WHERE buyer
    ), k AS (
      SELECT *, unnest(range((1 + floor(ow * greatest(? - b, 0) / s
                                        + {u("customer_id", 20)}))::BIGINT)) AS j
      FROM p
    ), t0 AS (
      SELECT *, {ts(f"a_start + floor({u('customer_id', 'jj', 22)} * (o_end - a_start))")} AS t,
             {ts("a_start")} AS lo, {ts("o_end")} AS hi
      FROM (SELECT *, CASE WHEN j > 0 AND {u("customer_id", "j", 21)} < 0.01
                           THEN j - 1 ELSE j END AS jj FROM k)
    ), t1 AS (  -- seasonality: ~10% of orders move into Nov/Dec of the same year
      SELECT * REPLACE (CASE WHEN {u("customer_id", "jj", 23)} < 0.10 AND c >= lo AND c < hi
                             THEN c ELSE t END AS t)
      FROM (SELECT *, make_timestamp(year(t), 11, 1, 0, 0, 0)
                      + to_seconds(floor({u("customer_id", "jj", 24)} * 61 * {_DAY})::BIGINT) AS c
            FROM t0)
    ), t2 AS (  -- weekends: ~20% of weekday orders slip to the following Saturday
      SELECT * REPLACE (CASE WHEN {u("customer_id", "jj", 25)} < 0.20 AND isodow(t) <= 5
                              AND t + to_days(6 - isodow(t)) < hi
                             THEN t + to_days(6 - isodow(t)) ELSE t END AS t)
      FROM t1
    )
    SELECT row_number() OVER (ORDER BY customer_id, t, j)::BIGINT AS order_id,
      customer_id::BIGINT AS customer_id, t AS ordered_at,
      CASE WHEN {u("customer_id", "j", 26)} < 0.005 THEN NULL  -- missing amounts
           WHEN {u("customer_id", "j", 27)} < 0.002 THEN 1000 + 2000 * {u("customer_id", "j", 28)}
           ELSE least(greatest(exp(mu + 0.9 * {z("customer_id", "j", 29)}), 5), 3000)
      END::DECIMAL(12, 2) AS amount,
      CASE WHEN {u("customer_id", "j", 30)} < 0.60 THEN 1 WHEN {u("customer_id", "j", 30)} < 0.80
           THEN 2 WHEN {u("customer_id", "j", 30)} < 0.90 THEN 3
           WHEN {u("customer_id", "j", 30)} < 0.96 THEN 4 ELSE 5 END::INTEGER AS quantity,
      {zipf_sku("customer_id", "j", 31)} AS sku
    FROM t2
    ORDER BY customer_id, ordered_at, order_id
    """

    # Events come from four sources (src), each keyed by (customer_id, src, j):
    # 0 background browsing, 1 the funnel before an order, 2 pricing bursts, 3 signups.
    events = f"""
    CREATE OR REPLACE TABLE web_events AS
    WITH p AS (SELECT *, greatest(sum(ew) OVER (), 1) AS s FROM __segql_sample_profile),
    bg AS (
      SELECT customer_id, a_start, e_end,
             unnest(range(floor(ew * ? / s + {u("customer_id", 40)})::BIGINT)) AS j
      FROM p WHERE ew > 0
    ), bg_named AS (
      SELECT *, {u("customer_id", "j", 42)} AS r FROM bg
    ), funnel AS (  -- view (50%), add_to_cart (30%) and checkout (90% of carts) before an order
      SELECT *, ordered_at - to_seconds(floor(CASE e WHEN 0 THEN 600 + 85000 * {u("j", 51)}
                                                   WHEN 1 THEN 120 + 10000 * {u("j", 51)}
                                                   ELSE 120 * {u("j", 51)} END)::BIGINT) AS t
      FROM (SELECT o.customer_id, o.ordered_at, o.sku, o.order_id, o.order_id * 4 + e AS j, e,
                   {u("o.order_id", "e", 50)} AS r, {ts("p.a_start")} AS lo
            FROM orders o JOIN p USING (customer_id), unnest([0, 1, 2]) AS x(e))
    ), bursts AS (  -- 3..6 pricing_view within 20 hours for ~8% of customers
      SELECT customer_id, a_start + floor({u("customer_id", 61)} * (e_end - a_start - {_DAY}))
                          AS b0, unnest(range(3 + floor(4 * {u("customer_id", 62)})::BIGINT)) AS j
      FROM p WHERE {u("customer_id", 60)} < 0.08 AND e_end - a_start > {_DAY}
    ), ev AS (
      SELECT customer_id, 0 AS src, j,
        {ts(f"a_start + floor({u('customer_id', 'j', 41)} * (e_end - a_start))")} AS occurred_at,
        -- Background carts are never followed by a matching order on purpose: together with
        -- the funnel carts, roughly 60% of carts are abandoned.
        CASE WHEN r < 0.58 THEN 'page_view' WHEN r < 0.72 THEN 'view' WHEN r < 0.81 THEN 'search'
             WHEN r < 0.84 THEN 'pricing_view' WHEN r < 0.96 THEN 'add_to_cart'
             ELSE 'checkout' END AS name,
        CASE WHEN r >= 0.58 AND r < 0.72 OR r >= 0.84 AND r < 0.96
             THEN {zipf_sku("customer_id", "j", 43)} END AS sku
      FROM bg_named
      UNION ALL
      SELECT customer_id, 1, j, t, ['view', 'add_to_cart', 'checkout'][e + 1],
             CASE WHEN e < 2 THEN sku END
      FROM funnel  -- cart and checkout share one draw: no checkout without a cart
      WHERE (CASE e WHEN 0 THEN r < 0.5 ELSE {u("order_id", 52)} < 0.3 END)
        AND (e < 2 OR r < 0.9) AND t >= lo
      UNION ALL
      SELECT customer_id, 2, j, {ts(f"b0 + floor({u('customer_id', 'j', 63)} * 72000)")},
             'pricing_view', NULL FROM bursts
      UNION ALL
      SELECT customer_id, 3, 0, {ts("signup_s")}, 'signup', NULL FROM p WHERE signup_s >= 0
    ), full_ev AS (
      SELECT *, {u("customer_id", "src", "j", 70)} AS rk,
             {z("customer_id", "src", "j", 71)} AS zd FROM ev
    )
    SELECT row_number() OVER (ORDER BY customer_id, occurred_at, src, j)::BIGINT AS event_id,
      customer_id::BIGINT AS customer_id, occurred_at, name,
      CASE WHEN name <> 'page_view' OR rk >= 0.40 THEN NULL  -- media category of page views
           WHEN rk < 0.15 THEN 'movie' WHEN rk < 0.35 THEN 'episode' ELSE 'documentary'
      END AS kind,
      CASE WHEN {u("customer_id", "src", "j", 72)} < 0.02 THEN NULL  -- media views run longer
           ELSE round(least(greatest(exp(CASE WHEN name = 'page_view' AND rk < 0.40
                                               THEN 6.0 ELSE 3.0 END + 1.2 * zd), 1), 3600), 1)
      END::DOUBLE AS duration_s,
      sku
    FROM full_ev
    ORDER BY customer_id, occurred_at, event_id
    """
    return {"profile": profile, "customers": customers, "orders": orders, "events": events}


def generate(con: duckdb.DuckDBPyConnection, scale: float = 0.01, seed: int = 42) -> None:
    """Create (or replace) tables customers, orders, web_events in the DuckDB connection `con`."""
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    try:  # operator.index accepts ints (and numpy ints) but not floats or strings
        ok = not isinstance(seed, bool) and 0 <= operator.index(seed) < 2**63
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    seed = operator.index(seed)
    n_customers = max(1, round(_CUSTOMERS * scale))
    n_orders = round(_ORDERS * scale)
    sql = _sql(seed)
    con.execute(sql["profile"], [n_customers])
    try:
        con.execute(sql["customers"])
        con.execute(sql["orders"], [n_orders])
        # Size background browsing from the orders actually generated so the total is on target.
        (got_orders,) = con.execute("SELECT count(*) FROM orders").fetchone() or (0,)
        background = max(
            0.0,
            _EVENTS * scale - _EVENTS_PER_ORDER * got_orders - _EVENTS_PER_CUSTOMER * n_customers,
        )
        con.execute(sql["events"], [background])
    finally:
        con.execute("DROP TABLE IF EXISTS __segql_sample_profile")


def sample_database(
    scale: float = 0.01, seed: int = 42, path: str = ":memory:"
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection (file or memory), generate into it, return it."""
    import duckdb

    # DuckDB's progress bar writes to stdout even when it is redirected, which would corrupt
    # `segql preview --sample > out.csv` at larger scales.
    con = duckdb.connect(path)
    try:
        con.execute("SET enable_progress_bar = false")
        generate(con, scale=scale, seed=seed)
    except BaseException:
        con.close()
        raise
    return con


def write_sample(engine, scale: float = 0.01, seed: int = 42, batch: int = 50_000) -> list[str]:
    """Write the sample tables into an engine (segql/engines): generated in an
    in-memory DuckDB, then copied with the same column types, each table under
    its name on the engine's target (its schema, its `tables:`). Returns those names."""
    from sqlglot import exp

    from segql.engines.targets import table_name
    from segql.project import Table
    from segql.sql.expressions import table_expr

    duck = sample_database(scale=scale, seed=seed)
    written = []
    try:
        for name in SAMPLE_TABLES:
            described = duck.execute(f'DESCRIBE "{name}"').fetchall()
            columns = {
                str(r[0]): exp.DataType.build(str(r[1]), dialect="duckdb") for r in described
            }
            cursor = duck.execute(f'SELECT * FROM "{name}"')
            batches = iter(lambda cur=cursor: cur.fetchmany(batch), [])
            target_name = table_name(engine.target, name)
            engine.write_table(table_expr(Table(target_name)), columns, batches)
            written.append(target_name)
    finally:
        duck.close()
    return written
