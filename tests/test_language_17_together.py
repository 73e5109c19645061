"""LANGUAGE.md §17 constructs together: anchored windows over a sessions source,
anchors computed from sessions, anchored sequences without `within` and with
`then directly`, sequences whose steps are sessions, order statistics over
sessions in anchored windows, traits using these. Hand-computed members on
DuckDB at the edges (an anchor exactly at a row, a gap of exactly `gap`, equal
timestamps); the same cases on PostgreSQL and BigQuery's ZetaSQL in
tests/engines/test_together17_engines.py; random timelines against the oracle
at the end."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from helpers import _project_text, check, compile_sql, database, table
from oracle.evaluate import evaluate

from segql import api

AS_OF = "2024-05-10T12:00:00"
VISITS = {"sessions_of": "events", "gap": "30 minutes"}
EXTRA = {
    "sources": {
        "orders": {"table": "orders", "time": "ordered_at"},
        "events": {"table": "events", "time": "occurred_at"},
        "visits": VISITS,
    }
}

# customer | sign-up | events (2024, UTC)          | visits (gap 30 minutes)
#   1      | Jan 1   | Jan 1 00:00 a, 00:30 b         | V1 00:00-00:30 (at the anchor: outside)
#          |         | Jan 5 10:00 a, 10:20 c         | V2 Jan 5 10:00-10:20, 2 rows, 1200 s
#   2      | Jan 1   | Dec 31 23:45 a, Jan 1 00:10 b, | V1 begun before the anchor: outside;
#          |         | Jan 1 00:41 c (31 min later)   | V2 00:41, 1 row, 0 s
#   3      | null    | Jan 2 10:00 a                  | V1 (no anchor: in no anchored window)
#   4      | Jan 1   | Jan 31 00:00 a, 00:30 b (gap = | V1 exactly at anchor + 30 days: inside
#          |         | 30 min), 00:30:01 c            | `first 30 days`; 3 rows, 1801 s
#   5      | Jan 1   | Jan 1 00:00:01 a and b (a tie) | V1 of two rows at one instant, 0 s
#   6      | Jan 1   | (none)                         |
# orders: 1 Jan 5 10:10 (inside V2), Jan 5 10:40 (after V2);
#         2 Jan 1 00:20 (inside V1); 4 Jan 31 00:30 (tie with b);
#         5 Jan 1 00:00:01 (tie with the session's start), Jan 2 00:00
PEOPLE = table(
    "customer_id INTEGER, signed_up_at TIMESTAMP",
    (1, "2024-01-01 00:00:00"),
    (2, "2024-01-01 00:00:00"),
    (3, None),
    (4, "2024-01-01 00:00:00"),
    (5, "2024-01-01 00:00:00"),
    (6, "2024-01-01 00:00:00"),
)


def ev(cid: int, t: str, name: str) -> dict:
    return {"customer_id": cid, "occurred_at": t, "name": name}


def order(cid: int, t: str, amount: float = 1.0) -> dict:
    return {"customer_id": cid, "ordered_at": t, "amount": amount}


EVENTS = [
    ev(1, "2024-01-01 00:00:00", "a"),
    ev(1, "2024-01-01 00:30:00", "b"),
    ev(1, "2024-01-05 10:00:00", "a"),
    ev(1, "2024-01-05 10:20:00", "c"),
    ev(2, "2023-12-31 23:45:00", "a"),
    ev(2, "2024-01-01 00:10:00", "b"),
    ev(2, "2024-01-01 00:41:00", "c"),
    ev(3, "2024-01-02 10:00:00", "a"),
    ev(4, "2024-01-31 00:00:00", "a"),
    ev(4, "2024-01-31 00:30:00", "b"),
    ev(4, "2024-01-31 00:30:01", "c"),
    ev(5, "2024-01-01 00:00:01", "a"),
    ev(5, "2024-01-01 00:00:01", "b"),
]
ORDERS = [
    order(1, "2024-01-05 10:10:00", 10.0),
    order(1, "2024-01-05 10:40:00", 20.0),
    order(2, "2024-01-01 00:20:00"),
    order(4, "2024-01-31 00:30:00"),
    order(5, "2024-01-01 00:00:01"),
    order(5, "2024-01-02 00:00:00"),
]
DATA = {"customers": PEOPLE, "events": EVENTS, "orders": ORDERS}
FIRST30 = "first 30 days after signed_up_at"

CASES = [
    # -- anchored windows over sessions: a session is at its first row's instant
    (f"count(visits, {FIRST30}) = 1", {1, 2, 4, 5}),
    # 1's session at the anchor is outside (anchor < time), 2's begun before it too
    (f"did(visits where rows = 1, {FIRST30})", {2}),
    (f"count(events, {FIRST30}) >= 2", {1, 2, 5}),  # 4's 00:30 is past anchor + 30 d
    (f"not did(visits, {FIRST30})", {3, 6}),
    # 4's session begins at exactly anchor + 30 days (inside), 3 rows: the gap is
    # to the previous row, so 00:30:01 continues it
    (f"sum(visits.rows, {FIRST30}) = 3", {4}),
    (f"max(visits.duration_s, {FIRST30}) = 1801", {4}),
    ("count(visits, 30 to 31 days after signed_up_at) = 0", {1, 2, 3, 4, 5, 6}),
    ("did(visits, 29 to 30 days after signed_up_at)", {4}),
    ('first(visits.first_name, first 1 day after signed_up_at) = "c"', {2}),
    # equal timestamps: 5's session holds both rows of its first instant
    (
        'count(visits where first_name = "a" and last_name = "b",'
        " first 1 day after signed_up_at) = 1",
        {5},
    ),
    # -- order statistics over sessions in anchored windows
    (f"median(visits.duration_s, {FIRST30}) = 1200", {1}),
    (f"median(visits.duration_s, {FIRST30}) = 0", {2, 5}),
    (f'mode(visits.first_name, {FIRST30}) = "a"', {1, 4, 5}),
    (f"quantile(visits.rows, 100%, {FIRST30}) = 2", {1, 5}),
    (f"count_distinct(visits.last_name, {FIRST30}) = 1", {1, 2, 4, 5}),
    # -- anchors computed from sessions
    ("did(orders, first 1 day after first(visits.time))", {2, 4, 5}),
    (
        "count(orders, first 1 day after first(visits.time)) = 1",
        {2, 4, 5},
    ),  # 5: the tie is not after
    ("did(orders, first 1 hour after last(visits.time))", {1, 4}),
    ("did(orders, first 1 second after min(visits.ended_at))", set()),
    ("did(events, first 1 second after max(visits.ended_at))", set()),
    ("did(orders, first 1 day after first(visits.ended_at))", {2, 5}),
    ("did(visits, first 5 days after first(visits.time))", {1, 2}),
    # an anchor from sessions in an anchored window of sessions
    (
        f"did(orders, first 1 hour after min(visits.time, {FIRST30}))",
        {1, 4},
    ),
    # -- sequences whose steps are sessions
    ("did(visits where rows >= 2 then orders)", {1, 2, 4, 5}),
    ("did(visits where rows >= 2 then orders within 10 minutes)", {1}),
    ("did(visits then not orders)", {2, 3}),
    # `then directly` among the sessions (one row per session) and the orders: the
    # events of a session between its start and the order do not stand in the way
    ("did(visits then directly orders)", {1, 2, 4, 5}),
    # 1: V2 10:00 -> order 10:10 -> order 10:40; 2: V1 -> order -> V2
    ("did(visits then directly orders then directly orders)", {1}),
    ("did(visits then directly orders then directly visits)", {2}),
    ("did(orders then directly visits)", {2}),
    # naming events too makes their rows rows of the sequence
    ("did(visits then directly events)", {1, 2, 4}),
    ("did(visits then directly orders then events)", {1, 4}),
    ("did(visits then visits where rows = 1)", {2}),
    # -- anchored sequences without `within`: the first step anchored, later any time
    (f"did(visits then orders, {FIRST30})", {1, 4, 5}),
    (f"did(visits then directly orders, {FIRST30})", {1, 4, 5}),
    (f"did(events then directly orders, {FIRST30})", {1, 2, 4, 5}),
    ("did(events then orders, first 1 day after signed_up_at)", {1, 2, 5}),
    ("did(events then directly events, first 1 day after signed_up_at)", {1, 2}),
    (f"did(visits then not orders, {FIRST30})", {2}),
    (f"did(orders then directly visits, {FIRST30})", {2}),
    # with `within`, beside them
    (f"did(visits then not orders within 1 hour, {FIRST30})", {2, 5}),
    ("did(orders then visits within 30 minutes, first 1 hour after first(visits.time))", {2}),
    # the first step's window ends; a later step may fall after it
    ("did(visits then orders, 4 to 5 days after signed_up_at)", {1}),
    ('did(events where name = "c" then directly orders, 4 to 5 days after signed_up_at)', {1}),
]


@pytest.mark.parametrize(("cond", "expected"), CASES)
def test_together(cond, expected):
    check(cond, DATA, expected, as_of=AS_OF, project_extra=EXTRA)


def test_directly_over_sessions_reads_the_sessions_not_their_rows():
    """ "All rows of the sources the sequence names": a sessions step names the
    sessions source, one row per session. 2's first session starts at 23:45
    and has an event at 00:10; the order at 00:20 is the next row after the
    session (the event is no row of `visits`), so `then directly` holds; naming
    `events` as well makes that event the next row."""
    extra = EXTRA
    check("did(visits where rows = 2 then directly orders)", DATA, {1, 2, 5},
          as_of=AS_OF, project_extra=extra)  # fmt: skip
    # 1 and 2 have an event after the order; 5's order on Jan 2 is the last row
    check("did(visits where rows = 2 then directly orders then not events)", DATA, {5},
          as_of=AS_OF, project_extra=extra)  # fmt: skip
    sql, _, _ = compile_sql("did(visits then directly orders)", DATA, as_of=AS_OF,
                            project_extra=extra)  # fmt: skip
    rows = sql[sql.index("__rows") :]
    rows = rows[: rows.index("__times")]
    assert '"sessions_visits"' in rows and '"events"' not in rows
    assert sql.count('"sessions_visits" AS (') == 1


def test_one_sessions_cte_and_one_anchors_cte_for_all_the_reads():
    sql = check(
        f"did(visits then directly orders, {FIRST30}) and median(visits.duration_s, {FIRST30})"
        " >= 0 and did(orders, first 1 day after first(visits.time))",
        DATA,
        {4, 5},
        as_of=AS_OF,
        project_extra=EXTRA,
    )
    # the anchors' own plan reads the sessions too (first(visits.time)): a CTE each
    assert sql.count('"sessions_visits" AS (') == 1
    assert sql.count('"anchor_sessions_visits" AS (') == 1
    assert sql.count('"anchors" AS (') == 1


TRAITS = (
    "trait first_visit = first(visits.time)\n"
    f"trait visits_30 = count(visits, {FIRST30})\n"
    f"trait median_30 = median(visits.duration_s, {FIRST30})\n"
    "trait quick = did(orders, first 1 day after first_visit)\n"
    f"trait then_order = did(visits then directly orders, {FIRST30})\n"
    "segment quick_buyers = quick\n"
)
# key: first_visit, visits_30, median_30, quick, then_order
TRAIT_VALUES = {
    1: (dt.datetime(2024, 1, 1), 1, 1200.0, False, True),
    2: (dt.datetime(2023, 12, 31, 23, 45), 1, 0.0, True, False),
    3: (dt.datetime(2024, 1, 2, 10), 0, None, False, False),
    4: (dt.datetime(2024, 1, 31), 1, 1801.0, True, True),
    5: (dt.datetime(2024, 1, 1, 0, 0, 1), 1, 0.0, True, True),
    6: (None, 0, None, False, False),
}


def _project_dir(tmp_path):
    import yaml
    from helpers import project_settings

    con = database(DATA)
    con.execute(f"ATTACH '{tmp_path / 'data.duckdb'}' AS out")
    con.execute("COPY FROM DATABASE memory TO out")
    con.execute("DETACH out")
    settings = {**project_settings("UTC", EXTRA), "database": "data.duckdb"}
    (tmp_path / "segql.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
    (tmp_path / "t.seg").write_text(TRAITS)
    return tmp_path


def test_traits_of_the_constructs_together(tmp_path):
    import duckdb

    root = _project_dir(tmp_path)
    when = dt.datetime(2024, 5, 10, 12)
    result = api.compile([str(root / "t.seg")], project=str(root / "segql.yml"), as_of=when,
                         traits=True)  # fmt: skip
    con = duckdb.connect(str(root / "data.duckdb"), read_only=True)
    rows = con.execute(result.sql()).fetchall()
    names = [o.name for o in result.outputs]
    assert names == ["customer_id", "quick_buyers", "first_visit", "visits_30", "median_30",
                     "quick", "then_order"]  # fmt: skip
    got = {r[0]: tuple(r[2:]) for r in rows}
    assert got == TRAIT_VALUES
    assert {r[0] for r in rows if r[1]} == {2, 4, 5}


def test_preview_traits_of_the_constructs_together(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from segql.cli import app

    root = _project_dir(tmp_path)
    monkeypatch.chdir(root)
    r = CliRunner().invoke(
        app, ["preview", "t.seg", "--as-of", "2024-05-10T12:00:00", "--traits", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    (seg,) = doc["segments"]
    assert seg["members"] == 3
    traits = {t["name"]: t for t in doc["traits"]}
    assert (traits["visits_30"]["min"], traits["visits_30"]["max"]) == (0, 1)
    assert (traits["median_30"]["values"], traits["median_30"]["nulls"]) == (4, 2)
    assert traits["median_30"]["max"] == pytest.approx(1801)
    assert (traits["first_visit"]["min"], traits["first_visit"]["max"]) == (
        "2023-12-31T23:45:00",
        "2024-01-31T00:00:00",
    )
    assert traits["quick"]["top"] == [{"value": False, "count": 3}, {"value": True, "count": 3}]


# ------------------------------------------------------------------ against the oracle
# Random timelines on a grid of half hours (gaps of exactly 30 minutes, ties,
# rows after as_of, sign-ups at a row's instant or null) and random conditions
# mixing the three constructs, compiled for DuckDB and checked against the
# oracle's brute force (tests/oracle/evaluate.py).
GRID = [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=30 * i) for i in (0, 1, 2, 3, 5, 48, 49)]
GRID += [dt.datetime(2024, 1, 1, 0, 30, 1), dt.datetime(2024, 5, 10, 12), dt.datetime(2024, 6, 1)]
NAMES = ["a", "b", None]
RANDOM_SOURCES = ["visits", "visits where rows >= 2", "visits where first_name = \"a\"",
                  "orders", "events", "events where name = \"b\""]  # fmt: skip
ANCHORS = ["signed_up_at", "first(visits.time)", "last(visits.time)", "min(visits.ended_at)",
           "first(orders.ordered_at)"]  # fmt: skip
WINDOWS = ["first 1 hour", "first 1 day", "0 to 1 hour", "1 to 2 hours", "30 to 90 minutes",
           "first 30 minutes"]  # fmt: skip


def _random_data(rng: random.Random) -> dict:
    keys = range(1, 9)
    people = table(
        "customer_id INTEGER, signed_up_at TIMESTAMP",
        *[(c, rng.choice([None, *GRID[:6]])) for c in keys],
    )
    events = [ev(c, str(rng.choice(GRID)), rng.choice(NAMES)) for c in keys
              for _ in range(rng.randint(0, 5))]  # fmt: skip
    orders = [order(c, str(rng.choice(GRID)), float(rng.randint(1, 3))) for c in keys
              for _ in range(rng.randint(0, 2))]  # fmt: skip
    return {"customers": people, "events": events, "orders": orders}


def _random_condition(rng: random.Random) -> str:
    window = f"{rng.choice(WINDOWS)} after {rng.choice(ANCHORS)}"
    kind = rng.choice(["seq", "seq", "agg", "stat"])
    if kind == "agg":
        src = rng.choice(RANDOM_SOURCES[:3])
        return f"count({src}, {window}) >= {rng.randint(1, 2)}"
    if kind == "stat":
        f = rng.choice(["median", "mode", "max"])
        col = rng.choice(["duration_s", "rows"])
        return f"{f}(visits.{col}, {window}) >= {rng.choice([0, 1, 2, 1800])}"
    n = rng.choice([2, 2, 3])
    text = rng.choice(RANDOM_SOURCES)
    for i in range(1, n):
        word = rng.choice(["then", "then directly"])
        if i == n - 1 and rng.random() < 0.25:
            word = "then not"
        text += f" {word} {rng.choice(RANDOM_SOURCES)}"
    tail = rng.choice(["", f", {window}", f", {window}"])
    return f"did({text}{tail})"


def _random_cases(seed: int, tmp_path):
    rng = random.Random(seed)
    data = _random_data(rng)
    conds = [_random_condition(rng) for _ in range(10)]
    source = "".join(f"segment s{i} = {c}\n" for i, c in enumerate(conds))
    (tmp_path / "segql.yml").write_text(_project_text("UTC", repr(EXTRA)), encoding="utf-8")
    (tmp_path / "defs.seg").write_text(source, encoding="utf-8")
    con = database(data)
    model = api.load([str(tmp_path / "defs.seg")], project=str(tmp_path / "segql.yml"), con=con)
    return conds, con, model


WHEN = dt.datetime(2024, 5, 10, 12)


@pytest.mark.parametrize("seed", range(16))
def test_random_combinations_match_the_oracle(seed, tmp_path):
    conds, con, model = _random_cases(seed, tmp_path)
    tables = {}
    for t in ("customers", "events", "orders"):
        cur = con.execute(f"SELECT * FROM {t}")
        cols = [d[0] for d in cur.description]
        tables[t] = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    oracle = evaluate(model, tables, WHEN)
    for i, cond in enumerate(conds):
        sql = api.compile_model(model, "duckdb", WHEN, segment=f"s{i}").sql()
        got = {r[0] for r in con.execute(sql).fetchall()}
        assert got == oracle.members(f"s{i}"), cond


def test_a_long_sessions_source_name_is_cut_to_the_plan_names_length():
    """`anchor_sessions_<name>` of a 50-character name is 66 characters, which
    PostgreSQL cuts at 63 (tests/engines/test_together17_engines.py runs it)."""
    from segql.plan.names import MAX_LENGTH
    from segql.sql.scans import sessions_name

    long = "v" * 50
    assert sessions_name("visits") == "sessions_visits"
    assert len(sessions_name(long)) == MAX_LENGTH
    assert sessions_name(long) != sessions_name(long[:-1] + "w")
    extra = {"sources": {**EXTRA["sources"], long: VISITS}}
    sql = check(f"did(orders, first 1 day after first({long}.time))", DATA, {2, 4, 5},
                as_of=AS_OF, project_extra=extra)  # fmt: skip
    assert f'"anchor_{sessions_name(long)}" AS (' in sql
