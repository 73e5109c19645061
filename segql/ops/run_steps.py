"""The statements of one run, in order: built here once for `segql run` (which
executes them one by one on an open engine, run.py) and for `segql compile
--run-script` (which renders them as one script, run_script.py).

    statements(plan, columns_of) -> Iterator[exp.Expr]

The queries themselves are in changes.py (a run's rows) and state.py (the
tables); what differs by engine (temporary tables, the swap, DDL, partitions)
in the dialect classes. A `Plan` says what a run knows before it starts:
`segql run` reads the last run on the engine (its run_id is a number, the
previous membership a query); a script knows nothing of the state, so its
`Script` part reads it in SQL: the run_id, as_of and start time are one row of
a temporary table (state.RUN), the checks a statement that fails, the previous
membership the rows of the last committed run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from segql.ops import changes as ch
from segql.ops import state as st

Columns = Callable[[exp.Table], "dict[str, str] | None"]


@dataclass(frozen=True)
class Script:
    """What a script adds to a run: `gate` (false when the run is a no-op: the
    same as_of and definitions as the last run), the statement that checks the
    as_of against the last run's, and the previous membership's query."""

    run_row: exp.Query  # the one row of state.RUN: run_id, as_of, started_at
    check: exp.Select
    gate: exp.Expr
    previous: exp.Query


@dataclass(frozen=True)
class Plan:
    state: st.State
    query: exp.Query  # the compiled membership query
    outputs: dict[str, st.Kind]  # its columns but the key, in order, and their kind
    run_id: ch.RunId
    as_of: exp.Expr
    size_rows: list[tuple[str, str | None, str]]
    # the `runs` row but `universe` (counted on the engine), asked for when it is written
    run_values: Callable[[], dict[str, exp.Expr]]
    old_query: exp.Query | None = None  # the membership before this run (None: the first)
    old_kinds: dict[str, st.Kind] = field(default_factory=dict)
    replacing: int | None = None  # the run this one replaces (same as_of)
    script: Script | None = None
    # `run --traits`: the trait columns of the query (membership only: no changes, sizes)
    traits: tuple[str, ...] = ()


def statements(plan: Plan, columns_of: Columns | None = None) -> Iterator[exp.Expr]:
    """Every statement of the run, lazily: `columns_of` (the engine's, for
    `segql run`) is asked for a table's columns when a statement needs them,
    i.e. after the statements before it ran; a script has none."""
    s, d, sc = plan.state, plan.state.dialect, plan.script
    new = s.scratch(st.NEW)
    if sc is not None:
        yield d.create_schema(s.schema)
    yield d.create_state_table(s.runs, s.runs_columns())
    yield d.create_state_table(s.sizes, s.sizes_columns())
    if sc is not None:
        yield from d.temp_table(s.scratch(st.RUN), sc.run_row)
        yield sc.check.copy()  # refused before any work; again in the transaction
    rows = ch.new_membership(plan.query, plan.as_of, plan.run_id)
    if s.in_place:
        yield from d.build_table(new.copy(), rows)
    else:
        yield from d.temp_table(new.copy(), rows)
    yield d.create_state_table(s.changes, s.changes_shape())
    yield from d.run_index(s.changes)
    if isinstance(plan.run_id, int):  # Spark: no rows of this run_id before it writes them
        for name in ("runs", "changes", "sizes"):
            yield from d.clear_run(s.table(name), plan.run_id)
    old_kinds = plan.outputs if sc is not None else plan.old_kinds
    old_query = sc.previous if sc is not None else plan.old_query
    # a first run has no pair: its changes read the new membership
    pair = ch.pair_query(s, plan.outputs, old_kinds, old_query) if old_query is not None else None
    paired = pair is not None
    if sc is not None:  # a script's transaction holds DML only: every table is made before
        yield from _script_setup(plan)
        assert pair is not None
        yield from d.temp_table(s.scratch(st.PAIR), pair)
        begin = d.begin()
        if begin is not None:
            yield begin
        yield sc.check
    elif pair is not None:
        yield from d.temp_table(s.scratch(st.PAIR), pair)
    # the replaced run's rows go once the pair (built from them) is
    if plan.replacing is not None and s.engine is not None and s.engine.transactional:
        for name in ("runs", "changes", "sizes"):
            yield from d.delete_runs(s.table(name), [plan.replacing])
    branches = ch.change_branches(s, plan.run_id, plan.as_of, plan.outputs, old_kinds, paired)
    yield from _gated(plan, s.insert(s.changes, branches))
    if sc is None and paired:
        yield d.drop_temp_table(s.scratch(st.PAIR))
    if plan.size_rows:
        sizes = ch.sizes_query(s, plan.run_id, plan.as_of, plan.size_rows, first=not paired)
        yield from _gated(plan, s.insert(s.sizes, [sizes]))

    def runs_row() -> exp.Insert | None:  # finished_at: when it is written
        return s.insert(s.runs, [ch.run_row(s, plan.run_values())])

    if sc is not None:
        yield from _gated(plan, _insert_membership(plan))
    elif s.in_place:  # no copy: the table built is renamed (after the runs row reads it)
        yield from _gated(plan, runs_row())
        yield from d.rename_over(new.copy(), s.membership)
        return
    else:  # Spark
        assert columns_of is not None and isinstance(plan.run_id, int)
        yield from _grow_membership(plan, columns_of)
    # the commit point on Spark and Trino; elsewhere the transaction's end
    yield from _gated(plan, runs_row())
    if sc is not None:
        # the last run's membership only: the rows of the one before go
        this = ch.run_id_expr(plan.run_id)
        old = exp.NEQ(this=st.col("run_id"), expression=this)
        yield from _gated(plan, exp.Delete(this=s.membership, where=exp.Where(this=old)))
        commit = d.commit()
        if commit is not None:
            yield commit
        yield d.drop_temp_table(s.scratch(st.PAIR))
    yield d.drop_temp_table(new)
    if sc is not None:
        yield d.drop_temp_table(s.scratch(st.RUN))


def _gated(plan: Plan, stmt: exp.Expr | None) -> Iterator[exp.Expr]:
    """A script's write, done only when its gate holds (not a no-op)."""
    if stmt is None:
        return
    if plan.script is None:
        yield stmt
        return
    gate = plan.script.gate
    if isinstance(stmt, exp.Insert):
        rows = exp.alias_(exp.Subquery(this=stmt.expression), "g", quoted=True)
        stmt.set("expression", exp.select("*").from_(rows).where(gate.copy()))
    else:
        assert isinstance(stmt, exp.Delete)
        where = stmt.args["where"].this
        stmt.set("where", exp.Where(this=exp.and_(where, gate.copy())))
    yield stmt


def _script_setup(plan: Plan) -> Iterator[exp.Expr]:
    """Before a script's transaction (DDL ends a transaction on Snowflake, and
    BigQuery allows none on permanent tables in one): the membership table,
    with a column for every output (added when missing: earlier runs' rows are
    null there, i.e. not members, so an added definition enters all its
    members); without a transaction (Trino), the rows of runs that never
    wrote their `runs` row are removed first."""
    s, d = plan.state, plan.state.dialect
    shape = exp.select("*").from_(s.scratch(st.NEW)).where(exp.false())
    yield d.create_state_table(s.membership, shape)
    types = {"segment": exp.DataType.build("BOOLEAN"), "label": exp.DataType.build("TEXT")}
    yield from d.add_columns(
        s.membership, {n: types[k] for n, k in plan.outputs.items()}, if_missing=True
    )
    if d.begin() is None:
        done = exp.select(st.col("run_id")).from_(s.runs)
        for name in ("changes", "sizes", "membership"):
            orphan = exp.Not(
                this=exp.In(this=st.col("run_id"), query=exp.Subquery(this=done.copy()))
            )
            yield exp.Delete(this=s.table(name), where=exp.Where(this=orphan))


def _insert_membership(plan: Plan) -> exp.Insert:
    """A script's new membership rows, by name (the table may have more columns)."""
    s = plan.state
    names = [s.key, *plan.outputs, *st.RUN_COLUMNS]
    rows = exp.select(*(st.col(n) for n in names)).from_(s.scratch(st.NEW))
    target = exp.Schema(this=s.membership, expressions=[st.ident(n) for n in names])
    return exp.insert(rows, target, copy=False)


def _grow_membership(plan: Plan, columns_of: Columns) -> Iterator[exp.Expr]:
    """Spark: a partition per run in one table, whose columns only grow."""
    s, d = plan.state, plan.state.dialect
    assert isinstance(plan.run_id, int)
    new = s.scratch(st.NEW)
    yield d.create_state_table(s.membership, exp.select("*").from_(new).where(exp.false()))
    yield from d.clear_run(s.membership, plan.run_id)
    have = columns_of(s.membership) or {}
    types = {"segment": exp.DataType.build("BOOLEAN"), "label": exp.DataType.build("TEXT")}
    missing = {n: types[k] for n, k in plan.outputs.items() if n not in have}
    # a trait column takes the type its values have in this run's membership
    computed = columns_of(new) or {}
    d_name = d.sqlglot
    missing |= {n: _engine_type(computed[n], d_name) for n in plan.traits if n not in have}
    yield from d.add_columns(s.membership, missing)
    now = columns_of(s.membership) or {}
    values = []
    for c in now:
        if c in plan.outputs or c in plan.traits or c == s.key or c in st.RUN_COLUMNS:
            values.append(st.col(c))
        else:  # a definition (or trait) of an earlier run, gone now
            null = exp.cast(exp.Null(), _engine_type(now[c], d_name))
            values.append(exp.alias_(null, c, quoted=True))
    yield exp.insert(exp.select(*values).from_(new.copy()), s.membership.copy(), copy=False)


def _engine_type(name: str, dialect: str) -> exp.DataType:
    """A column type as the engine reports it (`decimal(38,2)`), as a tree."""
    try:
        return exp.DataType.build(name, dialect=dialect)
    except Exception:  # a type sqlglot cannot read: kept as written
        return exp.DataType.build(name, dialect=dialect, udt=True)
