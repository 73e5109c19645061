"""The state of `segql run` (LANGUAGE.md §12, docs/run.md): four tables in the
project's `state_schema`, their DDL, and every query that reads or writes them,
as sqlglot trees. The flow of a run is segql/ops/run.py.

    membership  <key>, a boolean per segment, a label per segmentation, (with
                --traits) a value per trait, as_of, run_id
    runs        run_id, as_of, started_at, finished_at, status, segql_version,
                definitions_hash, sql_hash, engine, universe
    changes     run_id, as_of, name, <key>, event, label
    sizes       run_id, as_of, name, label, members, share, entered, exited

Readers (history, diff, export) take the committed runs from `committed_runs`
and the current membership from `last_run` + `membership_of`: on Spark the
tables also hold rows of runs that never committed, which these skip. The
queries that write a run's rows are in segql/ops/changes.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from segql.engines.base import Engine
from segql.sql.dialects import Dialect
from segql.sql.expressions import col, ident

OK = "ok"
NEW = "__segql_new"  # temporary: the membership this run computed
PAIR = "__segql_pair"  # temporary: new and previous membership side by side
RUN = "__segql_run"  # temporary, scripts only: the run's run_id, as_of, started_at
BUILT = "membership__segql_new"  # NEW when built in place (State.in_place)
# the columns a run adds to the membership, and those of changes: no output
# (nor the key) may be called so
RUN_COLUMNS = ("as_of", "run_id")
RESERVED = ("as_of", "run_id", "name", "event", "label")


def text_type() -> exp.DataType:
    return exp.DataType.build("TEXT")


def bigint_type() -> exp.DataType:
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
    """Where a project's run state lives on one engine; `engine` None for a
    script (`compile --run-script`), which names its dialect instead."""

    engine: Engine | None
    schema: str
    key: str
    script_dialect: Dialect | None = None
    # the new membership (NEW) is built as a table of the state schema and
    # renamed to `membership` at the end, instead of copied into it (segql run
    # on DuckDB and PostgreSQL, whose DDL is transactional)
    in_place: bool = False

    @property
    def dialect(self) -> Dialect:
        if self.script_dialect is not None:
            return self.script_dialect
        assert self.engine is not None
        return self.engine.dialect

    def table(self, name: str) -> exp.Table:
        return exp.Table(this=ident(name), db=ident(self.schema))

    def scratch(self, name: str) -> exp.Table:
        """A run's temporary table (NEW, PAIR, RUN): a table of the state schema
        where the engine has no temporary tables (Trino), or NEW built in place."""
        if name == NEW and self.in_place:
            return self.table(BUILT)
        if self.dialect.temporary_tables:
            return exp.Table(this=ident(name))
        return self.table(name)

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
        return self.dialect.instant(value)

    # -- DDL

    def runs_columns(self) -> dict[str, exp.DataType]:
        ts = self.dialect.instant_type()
        return {
            "run_id": bigint_type(),
            "as_of": ts,
            "started_at": ts,
            "finished_at": ts,
            "status": text_type(),
            "segql_version": text_type(),
            "definitions_hash": text_type(),
            "sql_hash": text_type(),
            "engine": text_type(),
            "universe": bigint_type(),
        }

    def sizes_columns(self) -> dict[str, exp.DataType]:
        return {
            "run_id": bigint_type(),
            "as_of": self.dialect.instant_type(),
            "name": text_type(),
            "label": text_type(),
            "members": bigint_type(),
            "share": self.dialect.double(),
            "entered": bigint_type(),
            "exited": bigint_type(),
        }

    def changes_shape(self) -> exp.Query:
        """An empty query with the columns of `changes`: the key's type is the
        membership's (from the temporary table of this run's membership)."""
        ts = self.dialect.instant_type()
        return (
            exp.select(
                exp.alias_(exp.cast(exp.Null(), bigint_type()), "run_id", quoted=True),
                exp.alias_(exp.cast(exp.Null(), ts), "as_of", quoted=True),
                exp.alias_(exp.cast(exp.Null(), text_type()), "name", quoted=True),
                col(self.key),
                exp.alias_(exp.cast(exp.Null(), text_type()), "event", quoted=True),
                exp.alias_(exp.cast(exp.Null(), text_type()), "label", quoted=True),
            )
            .from_(self.scratch(NEW))
            .where(exp.false())
        )

    # -- reading

    def exists(self) -> bool:
        assert self.engine is not None
        return self.engine.columns(self.runs) is not None

    def columns(self, table: exp.Table) -> list[str]:
        """A state table's columns in the table's own order (Spark keeps its
        partition column last): the engine's, or for a script those it creates."""
        if self.engine is not None:
            return list(self.engine.columns(table) or {})
        return {
            "runs": lambda: list(self.runs_columns()),
            "sizes": lambda: list(self.sizes_columns()),
            "changes": lambda: ["run_id", "as_of", "name", self.key, "event", "label"],
        }[table.name]()

    def insert(self, table: exp.Table, branches: list[exp.Query]) -> exp.Insert | None:
        """INSERT INTO table SELECT … UNION ALL …; each branch gives the columns
        in the table's own order (`columns`); None without branches."""
        if not branches:
            return None
        return exp.insert(union_all(branches), table.copy(), copy=False)  # built here: no copy


def union_all(branches: list[exp.Query]) -> exp.Query:
    """SELECT … UNION ALL SELECT …, built without copies (`exp.union` copies its
    operands: in a loop that is quadratic, seconds for a hundred branches) and
    balanced (thousands of branches nest only log2 deep; it renders flat)."""
    if len(branches) == 1:
        return branches[0]
    half = len(branches) // 2
    left, right = union_all(branches[:half]), union_all(branches[half:])
    return exp.Union(this=left, expression=right, distinct=False)


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
        exp.alias_(exp.cast(col(f), text_type()), f, quoted=True) if f in _INSTANTS else col(f)
        for f in RUN_FIELDS
    ]
    q = (
        exp.select(*fields)
        .from_(exp.alias_(exp.Subquery(this=committed_runs(state)), "c", quoted=True))
        .order_by(exp.Ordered(this=col("run_id")))
    )
    return [
        Run(
            *(
                parse_instant(v) if f in _INSTANTS else v
                for f, v in zip(RUN_FIELDS, row, strict=True)
            )
        )
        for row in state.engine.fetch(q)
    ]


_INSTANTS = ("as_of", "started_at", "finished_at")


def parse_instant(text: str) -> dt.datetime:
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


def outputs_in(state: State, run_id: int) -> set[str]:
    """The names a run wrote `sizes` or `changes` rows for: its segments,
    segmentations and splits. A trait column of its membership (`run --traits`)
    has neither, which tells it apart from an output of the same type."""
    names = exp.union(
        exp.select(col("name")).from_(state.sizes).where(col("run_id").eq(lit(run_id))),
        exp.select(col("name")).from_(state.changes).where(col("run_id").eq(lit(run_id))),
        distinct=True,
    )
    return {str(r[0]) for r in state.engine.fetch(names)}


def membership_columns(state: State, run_id: int) -> tuple[dict[str, Kind], dict[str, str]]:
    """A run's membership: its outputs and their kind (segment / label), and
    its trait columns and their engine type (every other column: a trait
    written by `run --traits`; on Spark also a column of an earlier run,
    null now, which no reader takes for an output)."""
    columns = state.engine.columns(state.membership) or {}
    kinds = kinds_of(columns, state.key)
    written = outputs_in(state, run_id)
    outputs = {c: k for c, k in kinds.items() if c in written}
    traits = {c: columns[c] for c in kinds if c not in written}
    return outputs, traits


def read_sizes(state: State, run_id: int) -> list[tuple]:
    """(name, label, members, share, entered, exited) of a run."""
    q = (
        exp.select(*(col(c) for c in ("name", "label", "members", "share", "entered", "exited")))
        .from_(state.sizes)
        .where(col("run_id").eq(lit(run_id)))
    )
    return state.engine.fetch(q)
