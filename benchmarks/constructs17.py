"""LANGUAGE.md §17's constructs against the SQL an expert would write for each
(docs/performance.md, "§17 constructs"), on DuckDB and optionally PostgreSQL.

Each construct is one segment over the benchmark data; segql's side is its
compiled membership query (universe `is_test = false`, as_of filters, the
construct's reads); the hand-written side computes the same members the way
one would by hand: PERCENTILE_DISC for a median, a ROW_NUMBER over counts for
the mode, a correlated EXISTS for an anchored window, MIN/MAX for "then"
without a window, LEAD over instants for "then directly", LAG and a running
sum for sessions. Members are checked equal before timing; median wall
seconds of --repeat runs, interleaved, DuckDB with one thread, each result
stored as a table; the ratio is segql / hand.

    python -m benchmarks.constructs17 --scale 0.1 --repeat 5 [--postgres] [--only NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from benchmarks.data import ensure_database
from benchmarks.harness import AS_OF, PROJECT_DIR, median
from segql import api

SESSIONS = "  sessions: {sessions_of: events, gap: 30 minutes}\n"


@dataclass(frozen=True)
class Construct:
    name: str
    condition: str  # the segment's condition in segql
    hand: str  # the hand-written query: {as_of} and {since(days)} are filled in
    tables: tuple[str, ...] = ("customers", "orders")


# every hand-written query keeps the universe (is_test = false) and rows with a
# key not after as_of, as segql's does, and returns the members' keys sorted
UNIVERSE = "SELECT customer_id FROM customers WHERE customer_id IS NOT NULL AND is_test = false"

CONSTRUCTS = [
    Construct(
        "median",
        "median(orders.amount, last 365 days) > 40",
        """
WITH m AS (
  SELECT customer_id, PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY amount) AS m
  FROM orders
  WHERE customer_id IS NOT NULL AND ordered_at <= {as_of} AND ordered_at > {since(365)}
  GROUP BY customer_id)
SELECT u.customer_id FROM ({universe}) u JOIN m USING (customer_id) WHERE m.m > 40
ORDER BY 1""",
    ),
    Construct(
        "mode",
        'mode(orders.sku, last 365 days) = "SKU-0001"',
        """
WITH n AS (
  SELECT customer_id, sku, COUNT(*) AS n FROM orders
  WHERE customer_id IS NOT NULL AND sku IS NOT NULL
    AND ordered_at <= {as_of} AND ordered_at > {since(365)}
  GROUP BY customer_id, sku),
top AS (
  SELECT customer_id, sku,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY n DESC, sku) AS r
  FROM n)
SELECT u.customer_id FROM ({universe}) u JOIN top USING (customer_id)
WHERE top.r = 1 AND top.sku = 'SKU-0001'
ORDER BY 1""",
    ),
    Construct(
        "anchored (profile column)",
        "did(orders, first 7 days after signup_at)",
        """
SELECT u.customer_id FROM customers u
WHERE u.customer_id IS NOT NULL AND u.is_test = false AND EXISTS (
  SELECT 1 FROM orders o
  WHERE o.customer_id = u.customer_id AND o.ordered_at <= {as_of}
    AND o.ordered_at > u.signup_at AND o.ordered_at <= u.signup_at + INTERVAL '7 days')
ORDER BY 1""",
    ),
    Construct(
        "anchored (first of a source)",
        "did(orders, first 30 days after first(orders.ordered_at))",
        """
WITH f AS (
  SELECT customer_id, MIN(ordered_at) AS f FROM orders
  WHERE customer_id IS NOT NULL AND ordered_at <= {as_of} GROUP BY customer_id)
SELECT u.customer_id FROM ({universe}) u JOIN f USING (customer_id)
WHERE EXISTS (
  SELECT 1 FROM orders o
  WHERE o.customer_id = f.customer_id AND o.ordered_at <= {as_of}
    AND o.ordered_at > f.f AND o.ordered_at <= f.f + INTERVAL '30 days')
ORDER BY 1""",
    ),
    Construct(
        "then (no within)",
        'did(events where name = "search" then orders, last 90 days)',
        """
WITH a AS (
  SELECT customer_id, MIN(occurred_at) AS a FROM web_events
  WHERE customer_id IS NOT NULL AND name = 'search'
    AND occurred_at <= {as_of} AND occurred_at > {since(90)}
  GROUP BY customer_id),
b AS (
  SELECT customer_id, MAX(ordered_at) AS b FROM orders
  WHERE customer_id IS NOT NULL AND ordered_at <= {as_of} GROUP BY customer_id)
SELECT u.customer_id FROM ({universe}) u JOIN a USING (customer_id) JOIN b USING (customer_id)
WHERE b.b > a.a
ORDER BY 1""",
        ("customers", "orders", "web_events"),
    ),
    Construct(
        "then directly",
        'did(events where name = "view" then directly events where name = "add_to_cart",'
        " last 30 days)",
        """
WITH instants AS (
  SELECT customer_id, occurred_at,
         BOOL_OR(name = 'view') AS has_view,
         BOOL_OR(name = 'add_to_cart') AS has_cart
  FROM web_events
  -- the row after a view of the last 30 days is in them too: no older row matters
  WHERE customer_id IS NOT NULL AND occurred_at <= {as_of} AND occurred_at > {since(30)}
  GROUP BY customer_id, occurred_at),
nxt AS (
  SELECT customer_id, has_view,
         LEAD(has_cart) OVER (PARTITION BY customer_id ORDER BY occurred_at) AS next_cart
  FROM instants)
SELECT u.customer_id FROM ({universe}) u
WHERE u.customer_id IN (SELECT customer_id FROM nxt WHERE has_view AND next_cart)
ORDER BY 1""",
        ("customers", "web_events"),
    ),
    Construct(
        # most sample sessions are one event (duration 0): a median would be 0
        "sessions (longest visit)",
        "max(sessions.duration_s, last 90 days) > 60",
        """
WITH r AS (
  SELECT customer_id, occurred_at,
         CASE WHEN occurred_at - LAG(occurred_at) OVER w > INTERVAL '30 minutes'
              THEN 1 ELSE 0 END AS new_session
  FROM web_events
  -- a session starting in the last 90 days is told apart by the rows from
  -- 30 minutes before them on: older rows cannot change it
  WHERE customer_id IS NOT NULL AND occurred_at <= {as_of}
    AND occurred_at >= {since(90)} - INTERVAL '30 minutes'
  WINDOW w AS (PARTITION BY customer_id ORDER BY occurred_at)),
numbered AS (
  SELECT customer_id, occurred_at,
         SUM(new_session) OVER (PARTITION BY customer_id ORDER BY occurred_at
                                ROWS UNBOUNDED PRECEDING) AS s
  FROM r),
sessions AS (
  SELECT customer_id, MIN(occurred_at) AS started,
         EXTRACT(EPOCH FROM MAX(occurred_at)) - EXTRACT(EPOCH FROM MIN(occurred_at)) AS d
  FROM numbered GROUP BY customer_id, s),
m AS (
  SELECT customer_id, MAX(d) AS m FROM sessions WHERE started > {since(90)}
  GROUP BY customer_id)
SELECT u.customer_id FROM ({universe}) u JOIN m USING (customer_id) WHERE m.m > 60
ORDER BY 1""",
        ("customers", "web_events"),
    ),
]


def instant(t: dt.datetime) -> str:
    return f"TIMESTAMP '{t:%Y-%m-%d %H:%M:%S}'"


def hand_sql(c: Construct, as_of: dt.datetime) -> str:
    text = c.hand.replace("{universe}", UNIVERSE).replace("{as_of}", instant(as_of))
    while "{since(" in text:
        start = text.index("{since(")
        end = text.index(")}", start)
        days = int(text[start + 7 : end])
        text = text[:start] + instant(as_of - dt.timedelta(days=days)) + text[end + 2 :]
    return text


def segql_sql(c: Construct, con, dialect: str) -> str:
    with tempfile.TemporaryDirectory() as d:
        project = (PROJECT_DIR / "segql.yml").read_text()
        # the sessions source, declared beside the others
        project = project.replace("sources:\n", "sources:\n" + SESSIONS)
        (Path(d) / "segql.yml").write_text(project)
        (Path(d) / "c.seg").write_text(f"segment c = {c.condition}\n")
        model = api.load([str(Path(d) / "c.seg")], str(Path(d) / "segql.yml"), con=con)
        return api.compile_model(model, dialect, AS_OF, segment="c").sql()


def timed_pair(run_a, run_b, repeat: int) -> tuple[float, float]:
    """Both warmed up, then timed alternately (a shared machine drifts)."""
    run_a(), run_b()
    ta, tb = [], []
    for _ in range(repeat):
        for run, out in ((run_a, ta), (run_b, tb)):
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
    return median(ta), median(tb)


def bench(execute, fetch, chosen: list[Construct], dialect_sql, repeat: int) -> list[tuple]:
    rows = []
    for c in chosen:
        ours, theirs = dialect_sql(c), hand_sql(c, AS_OF)
        a, b = fetch(ours), fetch(theirs)
        assert a == b, f"{c.name}: different members: {len(a)} vs {len(b)}"

        def store(sql):
            return lambda: execute(sql)

        t_ours, t_hand = timed_pair(store(ours), store(theirs), repeat)
        rows.append((c.name, len(a), t_ours, t_hand))
    return rows


def bench_duckdb(path: Path, chosen: list[Construct], repeat: int) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET threads = 1")  # a shared machine: one core, steadier numbers

    def execute(sql: str) -> None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE out AS {sql}")

    def fetch(sql: str) -> list:
        return con.execute(sql).fetchall()

    return bench(execute, fetch, chosen, lambda c: segql_sql(c, con, "duckdb"), repeat)


def bench_postgres(path: Path, chosen: list[Construct], repeat: int) -> list[tuple]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from engines.postgres import PostgresServer, load_from_duckdb

    duck = duckdb.connect(str(path), read_only=True)
    with PostgresServer() as server, server.connect() as pg:
        load_from_duckdb(duck, pg, ["customers", "orders", "web_events"])
        pg.execute("ANALYZE")

        def execute(sql: str) -> None:
            pg.execute("DROP TABLE IF EXISTS out")
            pg.execute(f"CREATE TEMP TABLE out AS {sql}")

        def fetch(sql: str) -> list:
            return pg.execute(sql).fetchall()

        return bench(execute, fetch, chosen, lambda c: segql_sql(c, duck, "postgres"), repeat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--only", action="append", help="a construct's name (repeatable)")
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    chosen = [c for c in CONSTRUCTS if not args.only or c.name in args.only]
    kw = {"data_dir": args.data_dir} if args.data_dir else {}
    path = ensure_database(args.scale, **kw)
    results = {"duckdb": bench_duckdb(path, chosen, args.repeat)}
    if args.postgres:
        results["postgres"] = bench_postgres(path, chosen, args.repeat)
    print(f"scale {args.scale:g}, median of {args.repeat} runs (wall s)")
    print(f"{'engine':<9} {'construct':<30} {'members':>8} {'segql':>8} {'hand':>8} {'ratio':>6}")
    for engine, rows in results.items():
        for name, members, ours, hand in rows:
            ratio = ours / hand
            print(f"{engine:<9} {name:<30} {members:>8} {ours:>8.3f} {hand:>8.3f} {ratio:>5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
