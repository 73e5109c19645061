"""Shared by the `segql run` tests (tests/test_run.py, tests/engines/test_run_engines.py):
a small project whose memberships move between as_ofs, its data, the state
tables read back, and the expected changes and sizes computed independently:
the membership at each as_of by compiling the definitions for DuckDB and
running them on a DuckDB copy of the same data, then enters, exits and sizes
worked out here in plain Python from two such memberships.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
from sqlglot import exp

PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
"""
A_SEG = """\
segment buyers = count(orders, last 30 days) >= 1
segmentation tier by priority {
  gold   = sum(orders.amount, last 30 days) > 200
  silver = count(orders, last 30 days) >= 1
  else bronze
}
"""
B_SEG = """\
segment big = sum(orders.amount, last 60 days) > 150
segmentation band by priority {
  high = max(orders.amount, last 30 days) >= 90
  low  = count(orders, last 14 days) >= 1
}
"""
# declared labels per segmentation: sizes has a row for each, even empty
LABELS = {"tier": ["gold", "silver", "bronze"], "band": ["high", "low"]}
SEGMENTS = ("buyers", "big")

COLUMNS = {
    "customers": [("customer_id", "VARCHAR")],
    "orders": [("customer_id", "VARCHAR"), ("ordered_at", "TIMESTAMP"), ("amount", "DOUBLE")],
}


KEY = "customer_id"


def write_project(root: Path, extra: str = "", key: str = KEY) -> None:
    (root / "segql.yml").write_text(PROJECT.replace(KEY, key) + extra)
    (root / "a.seg").write_text(A_SEG)
    (root / "b.seg").write_text(B_SEG)


def rows(seed: int = 7, customers: int = 40) -> dict[str, list[tuple]]:
    rnd = random.Random(seed)
    keys = [f"c{i:02d}" for i in range(1, customers + 1)]
    start = dt.datetime(2025, 1, 1)
    orders = []
    for k in keys:
        for _ in range(rnd.randint(0, 8)):
            t = start + dt.timedelta(minutes=rnd.randint(0, 120 * 24 * 60))
            orders.append((k, t, float(rnd.randint(5, 120))))
    return {"customers": [(k,) for k in keys], "orders": orders}


def write_duckdb(path: Path, data: dict[str, list[tuple]], key: str = KEY) -> None:
    con = duckdb.connect(str(path))
    for table, cols in COLUMNS.items():
        defs = ", ".join(f'"{key if c == KEY else c}" {t}' for c, t in cols)
        con.execute(f"CREATE OR REPLACE TABLE {table} ({defs})")
        if data[table]:
            marks = ", ".join("?" for _ in cols)
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", data[table])
    con.close()


Membership = dict[str, dict[str, object]]  # name -> {key: True | label}


def expected_membership(
    root: Path, data: Path, paths: list[str], as_of: dt.datetime
) -> tuple[set, Membership]:
    """The universe and the membership at as_of, by compile + DuckDB."""
    from segql import api

    result = api.compile([str(root / p) for p in paths], project=str(root), as_of=as_of)
    con = duckdb.connect(str(data), read_only=True)
    try:
        got = con.execute(result.sql()).fetchall()
    finally:
        con.close()
    outputs = [o for o in result.outputs if o.role != "key"]
    universe = {r[0] for r in got}
    members: Membership = {}
    for i, o in enumerate(outputs, start=1):
        if o.role == "segment":
            members[o.name] = {r[0]: True for r in got if r[i]}
        else:
            members[o.name] = {r[0]: r[i] for r in got if r[i] is not None}
    return universe, members


def expected_changes(old: Membership, new: Membership) -> set[tuple]:
    """(name, key, event, label): enter = member now and not before (or with
    another label), exit the other way round; a segment's label is None."""
    out = set()
    for name in {*old, *new}:
        before, after = old.get(name, {}), new.get(name, {})
        for key, label in after.items():
            if before.get(key) != label:
                out.add((name, key, "enter", None if label is True else label))
        for key, label in before.items():
            if after.get(key) != label:
                out.add((name, key, "exit", None if label is True else label))
    return out


def expected_sizes(universe: set, new: Membership, changes: set[tuple]) -> set[tuple]:
    """(name, label, members, share rounded, entered, exited)."""
    out = set()
    n = len(universe)

    def row(name, label, members):
        entered = sum(1 for c in changes if c[0] == name and c[3] == label and c[2] == "enter")
        exited = sum(1 for c in changes if c[0] == name and c[3] == label and c[2] == "exit")
        share = round(members / n, 9) if n else None
        out.add((name, label, members, share, entered, exited))

    for name, m in new.items():
        if name in LABELS:
            for label in LABELS[name]:
                row(name, label, sum(1 for v in m.values() if v == label))
        else:
            row(name, None, len(m))
    return out


# ------------------------------------------------------------------ state read back


def table(schema: str, name: str) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
    )


def fetch(engine, query) -> list[tuple]:
    return [tuple(r) for r in engine.fetch(query)]


def state_changes(engine, schema: str, run_id: int, key: str = KEY) -> set[tuple]:
    q = (
        exp.select("name", exp.column(key, quoted=True), "event", "label")
        .from_(table(schema, "changes"))
        .where(exp.column("run_id").eq(run_id))
    )
    got = fetch(engine, q)
    assert len(got) == len(set(got)), "duplicate change rows"
    return set(got)


def state_sizes(engine, schema: str, run_id: int) -> set[tuple]:
    q = (
        exp.select("name", "label", "members", "share", "entered", "exited")
        .from_(table(schema, "sizes"))
        .where(exp.column("run_id").eq(run_id))
    )
    return {
        (n, lab, int(m), None if s is None else round(float(s), 9), int(e), int(x))
        for n, lab, m, s, e, x in fetch(engine, q)
    }


def state_membership(
    engine, schema: str, run_id: int, names: list[str], key: str = KEY
) -> tuple[set, Membership]:
    q = exp.select("*").from_(table(schema, "membership")).where(exp.column("run_id").eq(run_id))
    cols = list(engine.columns(table(schema, "membership")))
    got = [dict(zip(cols, r, strict=True)) for r in fetch(engine, q)]
    members: Membership = {}
    for name in names:
        if name in LABELS:
            members[name] = {r[key]: r[name] for r in got if r[name] is not None}
        else:
            members[name] = {r[key]: True for r in got if r[name]}
    return {r[key] for r in got}, members


def committed(engine, schema: str, key: str = KEY):
    from segql.ops import state as st

    return st.runs(st.State(engine, schema, key))


def snapshot(engine, schema: str) -> dict[str, list[tuple]] | None:
    """Every row of the four tables, sorted (runs without its clock columns),
    None for a table that does not exist."""
    out = {}
    for name in ("runs", "membership", "changes", "sizes"):
        cols = engine.columns(table(schema, name))
        if cols is None:
            out[name] = None
            continue
        keep = [c for c in cols if c not in ("started_at", "finished_at")]
        q = exp.select(*(exp.column(c, quoted=True) for c in keep)).from_(table(schema, name))
        out[name] = sorted(fetch(engine, q), key=repr)
    return out


def check_run(
    engine,
    schema: str,
    run_id: int,
    old: Membership,
    universe: set,
    new: Membership,
    key: str = KEY,
) -> None:
    """The state of run `run_id` equals the independent computation."""
    changes = expected_changes(old, new)
    assert state_changes(engine, schema, run_id, key) == changes
    assert state_sizes(engine, schema, run_id) == expected_sizes(universe, new, changes)
    keys, members = state_membership(engine, schema, run_id, list(new), key)
    assert keys == universe and members == new
    last = committed(engine, schema, key)[-1]
    assert last.run_id == run_id and last.status == "ok" and last.universe == len(universe)
