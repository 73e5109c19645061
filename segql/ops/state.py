"""The state of `segql run` (LANGUAGE.md §12, docs/run.md): four tables in the
project's `state_schema`, their DDL, and every query that reads or writes them,
as sqlglot trees. The flow of a run is segql/ops/run.py.

    membership  <key>, a boolean per segment, a label per segmentation, as_of, run_id
    runs        run_id, as_of, started_at, finished_at, status, segql_version,
                definitions_hash, sql_hash, engine, universe
    changes     run_id, as_of, name, <key>, event, label
    sizes       run_id, as_of, name, label, members, share, entered, exited

Readers (history, diff, export) take the committed runs from `committed_runs`
and the current membership from `last_run` + `membership_of`: on Spark the
tables also hold rows of runs that never committed, which these skip.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from segql.engines.base import Engine
from segql.sql.expressions import col, ident

OK = "ok"
NEW = "__segql_new"  # temporary: the membership this run computed
PAIR = "__segql_pair"  # temporary: new and previous membership side by side
# the columns a run adds to the membership, and those of changes: no output
# (nor the key) may be called so
RUN_COLUMNS = ("as_of", "run_id")
RESERVED = ("as_of", "run_id", "name", "event", "label")


def _text() -> exp.DataType:
    return exp.DataType.build("TEXT")


def _bigint() -> exp.DataType:
    return exp.DataType.build("BIGINT")


def lit(value) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


@dataclass(frozen=True)
class State:
    """Where a project's run state lives on one engine."""

    engine: Engine
    schema: str
    key: str

    def table(self, name: str) -> exp.Table:
        return exp.Table(this=ident(name), db=ident(self.schema))

    @property
    def runs(self) -> exp.Table:
        return self.table("runs")

    @property
    def membership(self) -> exp.Table:
        return self.table("membership")

    @property
    def changes(self) -> exp.Table:
        return self.table("changes")

    @property
    def sizes(self) -> exp.Table:
        return self.table("sizes")

    def instant(self, value: dt.datetime) -> exp.Expr:
        return self.engine.dialect.instant(value)

    # -- DDL

    def runs_columns(self) -> dict[str, exp.DataType]:
        ts = self.engine.dialect.instant_type()
        return {
            "run_id": _bigint(),
            "as_of": ts,
            "started_at": ts,
            "finished_at": ts,
            "status": _text(),
            "segql_version": _text(),
            "definitions_hash": _text(),
            "sql_hash": _text(),
            "engine": _text(),
            "universe": _bigint(),
        }

    def sizes_columns(self) -> dict[str, exp.DataType]:
        return {
            "run_id": _bigint(),
            "as_of": self.engine.dialect.instant_type(),
            "name": _text(),
            "label": _text(),
            "members": _bigint(),
            "share": self.engine.dialect.double(),
            "entered": _bigint(),
            "exited": _bigint(),
        }

    def changes_shape(self) -> exp.Query:
        """An empty query with the columns of `changes`: the key's type is the
        membership's (from the temporary table of this run's membership)."""
        ts = self.engine.dialect.instant_type()
        return (
            exp.select(
                exp.alias_(exp.cast(exp.Null(), _bigint()), "run_id", quoted=True),
                exp.alias_(exp.cast(exp.Null(), ts), "as_of", quoted=True),
                exp.alias_(exp.cast(exp.Null(), _text()), "name", quoted=True),
                col(self.key),
                exp.alias_(exp.cast(exp.Null(), _text()), "event", quoted=True),
                exp.alias_(exp.cast(exp.Null(), _text()), "label", quoted=True),
            )
            .from_(exp.Table(this=ident(NEW)))
            .where(exp.false())
        )

    def create_tables(self) -> None:
        """The state tables that do not exist yet, but the membership (run.py writes it)."""
        d, e = self.engine.dialect, self.engine
        e.execute(d.create_state_table(self.runs, self.runs_columns()))
        e.execute(d.create_state_table(self.sizes, self.sizes_columns()))
        e.execute(d.create_state_table(self.changes, self.changes_shape()))

    # -- reading

    def exists(self) -> bool:
        return self.engine.columns(self.runs) is not None

    def columns(self, table: exp.Table) -> list[str]:
        return list(self.engine.columns(table) or {})

    def insert(self, table: exp.Table, branches: list[exp.Query]) -> None:
        """INSERT INTO table SELECT … UNION ALL …; each branch gives the columns
        in the table's own order (`columns`: Spark keeps its partition column last)."""
        if not branches:
            return
        query = branches[0]
        for b in branches[1:]:
            query = exp.union(query, b, distinct=False)
        self.engine.execute(exp.insert(query, table.copy()))


@dataclass(frozen=True)
class Run:
    run_id: int
    as_of: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime
    status: str
    segql_version: str
    definitions_hash: str
    sql_hash: str
    engine: str
    universe: int


RUN_FIELDS = tuple(Run.__dataclass_fields__)


def committed_runs(state: State) -> exp.Select:
    """The runs that count, one row each (`runs`' columns): status ok, and not
    replaced by a later ok run at the same or an earlier as_of (a `--force`d
    run on Spark, whose replaced run's rows are only dropped after it commits)."""
    r, later = "r", "later"
    newer = (
        exp.select(exp.Literal.number(1))
        .from_(exp.alias_(state.runs, later, quoted=True))
        .where(col("status", later).eq(lit(OK)))
        .where(exp.GT(this=col("run_id", later), expression=col("run_id", r)))
        .where(exp.LTE(this=col("as_of", later), expression=col("as_of", r)))
    )
    return (
        exp.select(*(col(f, r) for f in RUN_FIELDS))
        .from_(exp.alias_(state.runs, r, quoted=True))
        .where(col("status", r).eq(lit(OK)))
        .where(exp.Not(this=exp.Exists(this=newer)))
    )


def runs(state: State) -> list[Run]:
    """The committed runs, oldest first; none when there is no state yet."""
    if not state.exists():
        return []
    # instants read as text: drivers turn timestamps into Python values in
    # their own ways (pyspark in the machine's time zone); the text is UTC
    fields = [
        exp.alias_(exp.cast(col(f), _text()), f, quoted=True) if f in _INSTANTS else col(f)
        for f in RUN_FIELDS
    ]
    q = (
        exp.select(*fields)
        .from_(exp.alias_(exp.Subquery(this=committed_runs(state)), "c", quoted=True))
        .order_by(exp.Ordered(this=col("run_id")))
    )
    return [
        Run(*(_instant(v) if f in _INSTANTS else v for f, v in zip(RUN_FIELDS, row, strict=True)))
        for row in state.engine.fetch(q)
    ]


_INSTANTS = ("as_of", "started_at", "finished_at")


def _instant(text: str) -> dt.datetime:
    """A timestamp's text as the engines write it: `2025-02-01 00:00:00[.fff]`."""
    whole, _, frac = str(text).partition(".")
    value = dt.datetime.fromisoformat(whole.replace("T", " "))
    return value.replace(microsecond=int((frac + "000000")[:6])) if frac else value


def last_run(state: State) -> Run | None:
    """The last committed run: the state readers see."""
    done = runs(state)
    return done[-1] if done else None


def membership_of(state: State, run_id: int) -> exp.Select:
    """The membership rows of a run: on DuckDB and PostgreSQL the table holds only
    the last run's; on Spark a partition per run until the next run drops it."""
    return exp.select("*").from_(state.membership).where(col("run_id").eq(lit(run_id)))


def all_run_ids(state: State) -> dict[str, set[int]]:
    """Every run_id present in each state table (committed or not)."""
    out: dict[str, set[int]] = {}
    for name in ("runs", "membership", "changes", "sizes"):
        t = state.table(name)
        if state.engine.columns(t) is None:
            out[name] = set()
            continue
        q = exp.select(col("run_id")).distinct().from_(t)
        out[name] = {int(r[0]) for r in state.engine.fetch(q) if r[0] is not None}
    return out


# -- building a run

Kind = str  # "segment" (a boolean column) | "label" (a text column)


def kinds_of(columns: dict[str, str], key: str) -> dict[str, Kind]:
    """The output columns of a membership table and their kind, from the
    engine's type names."""
    return {
        c: ("segment" if t.lower() in ("boolean", "bool") else "label")
        for c, t in columns.items()
        if c != key and c not in RUN_COLUMNS
    }


def new_membership(query: exp.Query, as_of: exp.Expr, run_id: int) -> exp.Select:
    """The compiled membership query wrapped: its columns, then as_of and run_id."""
    return exp.select(
        exp.Star(),
        exp.alias_(as_of, "as_of", quoted=True),
        exp.alias_(exp.cast(lit(run_id), _bigint()), "run_id", quoted=True),
    ).from_(exp.alias_(exp.Subquery(this=query), "q", quoted=True))


def reversed_membership(
    state: State, last: int, current: dict[str, Kind], in_changes: dict[str, Kind]
) -> tuple[exp.Select, dict[str, Kind]]:
    """The membership before run `last`, rebuilt from its membership and its
    changes (for `--force`, which compares against the run before the one it
    replaces): a key that exited a name in `last` was in it (with the exit's
    label), one that entered was not, any other is as after `last`."""
    key = state.key
    names = {**current, **{n: k for n, k in in_changes.items() if n not in current}}
    m = exp.alias_(exp.Subquery(this=membership_of(state, last)), "m", quoted=True)
    changed = exp.select("*").from_(state.changes).where(col("run_id").eq(lit(last)))
    keys = exp.union(
        exp.select(col(key)).from_(
            exp.alias_(exp.Subquery(this=membership_of(state, last)), "m", quoted=True)
        ),
        exp.select(col(key)).from_(exp.alias_(exp.Subquery(this=changed.copy()), "c", quoted=True)),
        distinct=True,
    )
    flags: list[exp.Expr] = [col(key)]
    for i, (name, kind) in enumerate(names.items()):
        is_name = col("name").eq(lit(name))
        for flag, event in ((f"x{i}", "exit"), (f"e{i}", "enter")):
            hit = exp.and_(is_name, col("event").eq(lit(event)))
            # a label's exit keeps the label it left; otherwise a mark
            then = col("label") if flag[0] == "x" and kind == "label" else lit("1")
            flags.append(
                exp.alias_(
                    exp.Max(this=exp.Case(ifs=[exp.If(this=hit, true=then)])), flag, quoted=True
                )
            )
    c = exp.alias_(
        exp.Subquery(
            this=exp.select(*flags)
            .from_(exp.alias_(exp.Subquery(this=changed), "c", quoted=True))
            .group_by(col(key))
        ),
        "c",
        quoted=True,
    )
    out: list[exp.Expr] = [exp.alias_(col(key, "k"), key, quoted=True)]
    for i, (name, kind) in enumerate(names.items()):
        now = col(name, "m") if name in current else exp.Null()
        exited = exp.Not(this=exp.Is(this=col(f"x{i}", "c"), expression=exp.Null()))
        entered = exp.Not(this=exp.Is(this=col(f"e{i}", "c"), expression=exp.Null()))
        if kind == "segment":
            was_exit, was_enter = exp.true(), exp.false()
            other = exp.Coalesce(this=now, expressions=[exp.false()])
        else:
            was_exit, was_enter = col(f"x{i}", "c"), exp.cast(exp.Null(), _text())
            other = now if name in current else exp.cast(exp.Null(), _text())
        before = exp.Case(
            ifs=[exp.If(this=exited, true=was_exit), exp.If(this=entered, true=was_enter)],
            default=other,
        )
        out.append(exp.alias_(before, name, quoted=True))
    query = (
        exp.select(*out)
        .from_(exp.alias_(exp.Subquery(this=keys), "k", quoted=True))
        .join(m, on=col(key, "k").eq(col(key, "m")), join_type="left")
        .join(c, on=col(key, "k").eq(col(key, "c")), join_type="left")
    )
    return query, names


def changes_in_run(state: State, run_id: int) -> dict[str, Kind]:
    """The names with changes in a run and their kind (a label: a segmentation)."""
    q = (
        exp.select(col("name"), exp.Max(this=col("label")))
        .from_(state.changes)
        .where(col("run_id").eq(lit(run_id)))
        .group_by(col("name"))
    )
    return {n: ("segment" if lab is None else "label") for n, lab in state.engine.fetch(q)}


def pair_query(
    key: str, new: dict[str, Kind], old: dict[str, Kind], old_table: exp.Expr | None
) -> exp.Select:
    """New and previous membership side by side, a row per key in either: `k`,
    `n<i>` and `o<i>` per name (i: its position in the union of the names)."""
    names = list(dict.fromkeys([*new, *old]))
    n_t = exp.alias_(exp.Table(this=ident(NEW)), "n", quoted=True)
    cols: list[exp.Expr] = []
    if old_table is None:
        cols.append(exp.alias_(col(key, "n"), "k", quoted=True))
    else:
        both = exp.Coalesce(this=col(key, "n"), expressions=[col(key, "o")])
        cols.append(exp.alias_(both, "k", quoted=True))
    for i, name in enumerate(names):
        if name in new:
            cols.append(exp.alias_(col(name, "n"), f"n{i}", quoted=True))
        if name in old and old_table is not None:
            cols.append(exp.alias_(col(name, "o"), f"o{i}", quoted=True))
    q = exp.select(*cols).from_(n_t)
    if old_table is not None:
        o_t = exp.alias_(exp.Subquery(this=old_table), "o", quoted=True)
        q = q.join(o_t, on=col(key, "n").eq(col(key, "o")), join_type="full outer")
    return q


def change_branches(
    state: State,
    run_id: int,
    as_of: exp.Expr,
    new: dict[str, Kind],
    old: dict[str, Kind],
    has_old: bool,
) -> list[exp.Select]:
    """SELECTs over the pair table, one per (name, event), giving `changes` rows:
    for a segment enter = true now and not before, exit = true before and not
    now; for a label a move is an exit of the old label and an enter of the new.
    A name only on one side enters (added) or exits (removed) all its members;
    a name whose kind changed exits as the old kind and enters as the new."""
    names = list(dict.fromkeys([*new, *old]))
    order = state.columns(state.changes)
    pair = exp.Table(this=ident(PAIR))
    out = []
    for i, name in enumerate(names):
        n_kind, o_kind = new.get(name), old.get(name) if has_old else None
        sides = (
            ("enter", f"n{i}", n_kind, f"o{i}", o_kind),
            ("exit", f"o{i}", o_kind, f"n{i}", n_kind),
        )
        for event, this, kind, other, other_kind in sides:
            if kind is None:
                continue
            if kind == "segment":
                member = exp.Coalesce(this=col(this), expressions=[exp.false()])
                label: exp.Expr = exp.cast(exp.Null(), _text())
            else:
                member = exp.Not(this=exp.Is(this=col(this), expression=exp.Null()))
                label = col(this)
            if other_kind != kind:
                cond = member
            elif kind == "segment":
                still = exp.Coalesce(this=col(other), expressions=[exp.false()])
                cond = exp.and_(member, exp.Not(this=exp.paren(still)))
            else:
                same = exp.Coalesce(this=col(this).eq(col(other)), expressions=[exp.false()])
                cond = exp.and_(member, exp.Not(this=exp.paren(same)))
            values = {
                "run_id": exp.cast(lit(run_id), _bigint()),
                "as_of": as_of.copy(),
                "name": lit(name),
                state.key: col("k"),
                "event": lit(event),
                "label": label,
            }
            out.append(
                exp.select(*(exp.alias_(values[c], c, quoted=True) for c in order))
                .from_(pair.copy())
                .where(cond)
            )
    return out


OBSERVED = "\0observed"  # sizes_query: the labels found in the membership


def sizes_query(
    state: State, run_id: int, as_of: exp.Expr, rows: list[tuple[str, str | None, str]]
) -> exp.Select:
    """`sizes` rows of this run: `rows` holds (name, label, column) per segment
    (label None) and per declared label of each segmentation (OBSERVED: per
    label present, for label columns without declared labels); members counted in
    the new membership, entered/exited in this run's changes, share of the
    universe (the new membership's rows; null when it is empty)."""
    new = exp.Table(this=ident(NEW))
    branches = []
    for name, label, column in rows:
        if label == OBSERVED:  # labels not declared (not a segmentation): those present
            branches.append(
                exp.select(
                    exp.alias_(lit(name), "name", quoted=True),
                    exp.alias_(exp.cast(col(column), _text()), "label", quoted=True),
                    exp.alias_(
                        exp.cast(exp.Count(this=exp.Star()), _bigint()), "members", quoted=True
                    ),
                )
                .from_(new.copy())
                .where(exp.Not(this=exp.Is(this=col(column), expression=exp.Null())))
                .group_by(col(column))
            )
            continue
        if label is None:
            cond: exp.Expr = exp.Coalesce(this=col(column), expressions=[exp.false()])
        else:
            cond = col(column).eq(lit(label))
        members = exp.Subquery(
            this=exp.select(exp.Count(this=exp.Star())).from_(new.copy()).where(cond)
        )
        branches.append(
            exp.select(
                exp.alias_(lit(name), "name", quoted=True),
                exp.alias_(exp.cast(lit(label), _text()), "label", quoted=True),
                exp.alias_(exp.cast(members, _bigint()), "members", quoted=True),
            )
        )
    b = branches[0]
    for x in branches[1:]:
        b = exp.union(b, x, distinct=False)
    universe = exp.select(exp.alias_(exp.Count(this=exp.Star()), "universe", quoted=True)).from_(
        new.copy()
    )

    def count(event: str) -> exp.Expr:
        hit = exp.If(this=col("event").eq(lit(event)), true=exp.Literal.number(1))
        return exp.Sum(this=exp.Case(ifs=[hit], default=exp.Literal.number(0)))

    counted = (
        exp.select(
            col("name"),
            col("label"),
            exp.alias_(count("enter"), "entered", quoted=True),
            exp.alias_(count("exit"), "exited", quoted=True),
        )
        .from_(state.changes)
        .where(col("run_id").eq(lit(run_id)))
        .group_by(col("name"), col("label"))
    )
    share = exp.Case(
        ifs=[exp.If(this=col("universe", "u").eq(exp.Literal.number(0)), true=exp.Null())],
        default=exp.Div(
            this=exp.cast(col("members", "b"), state.engine.dialect.double()),
            expression=col("universe", "u"),
        ),
    )
    values = {
        "run_id": exp.cast(lit(run_id), _bigint()),
        "as_of": as_of.copy(),
        "name": col("name", "b"),
        "label": col("label", "b"),
        "members": col("members", "b"),
        "share": share,
        "entered": exp.cast(
            exp.Coalesce(this=col("entered", "c"), expressions=[exp.Literal.number(0)]), _bigint()
        ),
        "exited": exp.cast(
            exp.Coalesce(this=col("exited", "c"), expressions=[exp.Literal.number(0)]), _bigint()
        ),
    }
    same_label = exp.NullSafeEQ(this=col("label", "c"), expression=col("label", "b"))
    return (
        exp.select(*(exp.alias_(values[c], c, quoted=True) for c in state.columns(state.sizes)))
        .from_(exp.alias_(exp.Subquery(this=b), "b", quoted=True))
        .join(exp.alias_(exp.Subquery(this=universe), "u", quoted=True), join_type="cross")
        .join(
            exp.alias_(exp.Subquery(this=counted), "c", quoted=True),
            on=exp.and_(col("name", "c").eq(col("name", "b")), same_label),
            join_type="left",
        )
    )


def run_row(state: State, run: dict[str, exp.Expr]) -> exp.Select:
    """The `runs` row of a run, `universe` counted in its new membership."""
    universe = exp.Subquery(
        this=exp.select(exp.Count(this=exp.Star())).from_(exp.Table(this=ident(NEW)))
    )
    values = {**run, "universe": exp.cast(universe, _bigint())}
    return exp.select(*(exp.alias_(values[c], c, quoted=True) for c in state.columns(state.runs)))


def read_sizes(state: State, run_id: int) -> list[tuple]:
    """(name, label, members, share, entered, exited) of a run."""
    q = (
        exp.select(*(col(c) for c in ("name", "label", "members", "share", "entered", "exited")))
        .from_(state.sizes)
        .where(col("run_id").eq(lit(run_id)))
    )
    return state.engine.fetch(q)
