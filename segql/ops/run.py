"""`segql run` (LANGUAGE.md §12, docs/run.md): evaluate the definitions at
as_of on a target and write the state tables (membership, changes, sizes,
runs) in one atomic step. `segql backfill` (backfill.py) is a series of these.

    run(paths, project=None, target=None, db=None, as_of=None, force=False,
        traits=False) -> RunResult
    execute(engine, model, as_of, force=False, traits=False) -> RunResult   # on an open engine

With `traits` (`run --traits`) the membership also holds a column per trait of
the PATHs, its value: traits write no `changes` or `sizes` rows, and readers
tell them from outputs by that (state.membership_columns).

Everything happens on the engine through the engine interface: the compiled
membership query is wrapped (never edited) into a temporary table, compared
with the previous membership by SQL, and the state tables are written by
INSERT … SELECT; only counts come back, for the summary. The statements are
built in segql/ops/state.py (the tables, and reading them) and changes.py
(a run's rows).

Atomicity: DuckDB and PostgreSQL run the whole step in one transaction under
the engine's run lock (`Engine.exclusive`). Spark has no multi-table
transaction: a run's rows carry its run_id and count once its `runs` row,
written last, exists with status ok (`state.committed_runs`); rows of runs that
never got one are dropped by the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine
from segql.errors import SegqlError
from segql.ops import changes as ch
from segql.ops import run_steps as rs
from segql.ops import state as st
from segql.project import Project
from segql.semantic.model import Model
from segql.syntax import ast

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Size:
    name: str
    label: str | None
    members: int
    share: float | None
    entered: int
    exited: int
    warning: str | None  # "small" (< 1%), "large" (> 50%), as preview says it


@dataclass(frozen=True)
class RunResult:
    status: str  # "ok": a run was written; "noop": the same as_of and definitions
    run_id: int
    as_of: dt.datetime  # naive UTC
    previous: int | None  # the run its changes are against
    replaced: int | None  # the run it replaced (--force, or new definitions at its as_of)
    data: str  # the target, for people
    schema: str  # the state schema
    entity: str
    key: str
    universe: int
    segments: tuple[Size, ...]
    segmentations: tuple[tuple[str, tuple[Size, ...]], ...]


def run(
    paths: list[str],
    project: str | None = None,
    target: str | None = None,
    db: str | None = None,
    as_of: str | dt.datetime | None = None,
    force: bool = False,
    progress: Progress | None = None,
    traits: bool = False,
) -> RunResult:
    """One run; raises SegqlError(s). `traits`: the PATHs' traits as membership
    columns too."""
    from segql import api
    from segql.project import find_project_file, load_project

    step = progress or (lambda _msg: None)
    proj = load_project(find_project_file(project, paths))
    if isinstance(as_of, str):
        when = api.parse_as_of(as_of, proj.timezone)
    else:
        when = as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    proj, engine = open_target(proj, target, db, step)
    with engine:
        step("resolving definitions")
        model = api.load_with(proj, paths, engine)
        return execute(engine, model, when, force, step, traits=traits)


def open_target(
    proj: Project, target: str | None, db: str | None, step: Progress, read_only: bool = False
) -> tuple[Project, Engine]:
    """The project as the target names its tables, and an engine on it (writable
    for a run; `read_only` for the readers of its state: history, diff, export):
    --db FILE, --target NAME, else the project's `database:` file, else its
    default target (the first of `targets:`)."""
    from segql.engines import connect
    from segql.engines.targets import apply, choose, duckdb_path, file_target

    if target is not None and db is not None:
        raise SegqlError("--target and --db cannot be used together", usage=True)
    # as preview chooses: --db, else (no --target) `database:`, else the default target
    path = db if db is not None else proj.database if target is None else None
    if path is None and target is None and not proj.targets:
        raise SegqlError(
            "no target: runs and their state live on a target",
            None,
            ("pass --target NAME or --db FILE, or add 'targets:' to segql.yml",),
            usage=True,
        )
    if path is not None:
        if path == ":memory:":
            raise _in_memory()
        full = str(Path(path).resolve())
        if not Path(full).is_file():
            raise SegqlError(f"database file '{path}' not found", usage=db is not None)
        step(f"opening {path}")
        return proj, connect(file_target(full), proj.root, read_only=read_only)
    t = choose(proj, target)
    if t.engine == "duckdb" and duckdb_path(t, proj.root) == ":memory:":
        raise _in_memory()
    step(f"connecting to target '{t.name}'")
    return apply(proj, t), connect(t, proj.root, read_only=read_only)


def _in_memory() -> SegqlError:
    return SegqlError(
        "run keeps its state in the database, and an in-memory DuckDB keeps nothing",
        None,
        ("give the DuckDB target a 'path:' (or pass --db FILE)",),
    )


def definitions_hash(model: Model, dialect: str, traits: bool = False) -> str:
    """What the selected definitions mean: the SHA-256 of their query compiled
    for the engine's clock (no as_of), without comments and layout, so that
    whitespace, comments and moved lines change nothing and any change of
    meaning (a definition, the universe, a table, the time zone) does."""
    from segql import api
    from segql.sql.dialects import get_dialect

    tree = api.compile_model(model, dialect, None, traits=traits).tree
    text = tree.sql(dialect=get_dialect(dialect).sqlglot, comments=False, identify=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("segql")
    except PackageNotFoundError:
        return "unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class _Compiled:
    tree: exp.Query
    kinds: dict[str, str]  # output column -> "segment" | "label"
    traits: dict[str, str]  # trait column -> its type (number, string, boolean, date, timestamp)
    definitions_hash: str
    sql_hash: str


def execute(
    engine: Engine,
    model: Model,
    as_of: dt.datetime,
    force: bool = False,
    step: Progress | None = None,
    schema: str | None = None,
    traits: bool = False,
) -> RunResult:
    """A run of the model's selected definitions at as_of on an open engine;
    `traits`: the selected files' traits as membership columns too."""
    step = step or (lambda _msg: None)
    started = _now()
    compiled = _compile(model, engine, as_of, traits)
    state = st.State(
        engine,
        schema or model.project.state_schema,
        model.project.key,
        in_place=engine.transactional,
    )
    step("waiting for the state")
    with engine.exclusive(state.schema):
        # under the lock: PostgreSQL's IF NOT EXISTS is not safe against a race
        engine.execute(engine.dialect.create_schema(state.schema))
        last = st.last_run(state)
        if last is not None and as_of < last.as_of:
            raise SegqlError(
                f"as_of {as_of:%Y-%m-%d %H:%M:%S} is earlier than the last run's "
                f"({last.as_of:%Y-%m-%d %H:%M:%S}, run {last.run_id}): runs go forward",
                None,
                ("evaluate a past instant without state: segql preview --as-of …",),
            )
        same = last is not None and as_of == last.as_of
        if same and last.definitions_hash == compiled.definitions_hash and not force:
            return _summary(state, model, last, "noop", None, None)
        replacing = last if same else None
        if not engine.transactional:
            _tidy(state)  # rows of runs that never committed
        run_id = _next_run_id(state)
        previous = _previous(state, replacing, last)
        _write(state, model, compiled, as_of, run_id, last, replacing, started, step)
    if not engine.transactional:
        _tidy(state)  # the replaced run, old membership partitions
    done = st.last_run(state)
    assert done is not None and done.run_id == run_id
    return _summary(state, model, done, "ok", previous, replacing.run_id if replacing else None)


def _compile(model: Model, engine: Engine, as_of: dt.datetime, traits: bool) -> _Compiled:
    from segql import api

    result = api.compile_model(model, engine.dialect.name, as_of, traits=traits)
    kinds = {
        o.name: ("segment" if o.role == "segment" else "label")
        for o in result.outputs
        if o.role not in ("key", "trait")
    }
    trait_types = {o.name: model.types[o.name] for o in result.outputs if o.role == "trait"}
    _check_names(model.project.key, {**kinds, **trait_types})
    return _Compiled(
        result.tree,
        kinds,
        trait_types,
        definitions_hash(model, engine.dialect.name, traits),
        hashlib.sha256(result.sql().encode()).hexdigest(),
    )


def _write(
    state: st.State,
    model: Model,
    compiled: _Compiled,
    as_of: dt.datetime,
    run_id: int,
    last: st.Run | None,
    replacing: st.Run | None,
    started: dt.datetime,
    step: Progress,
) -> None:
    """The run's rows: changes, sizes, membership, and last its `runs` row, by
    the statements of run_steps.py (shared with `compile --run-script`)."""
    engine = state.engine
    when = state.instant(as_of)
    old_query, old_kinds = _old_membership(state, replacing, last)

    def run_values() -> dict[str, exp.Expr]:
        return {
            "run_id": exp.cast(st.lit(run_id), exp.DataType.build("BIGINT")),
            "as_of": when.copy(),
            "started_at": state.instant(started),
            "finished_at": state.instant(_now()),
            "status": st.lit(st.OK),
            "segql_version": st.lit(_version()),
            "definitions_hash": st.lit(compiled.definitions_hash),
            "sql_hash": st.lit(compiled.sql_hash),
            "engine": st.lit(engine.target.engine),
        }

    plan = rs.Plan(
        state,
        compiled.tree,
        compiled.kinds,
        run_id,
        when,
        _size_rows(model, compiled.kinds),
        run_values,
        old_query,
        old_kinds,
        replacing.run_id if replacing is not None else None,
        traits=tuple(compiled.traits),
    )
    step(f"running the membership query (run {run_id})")
    try:
        for stmt in rs.statements(plan, engine.columns):
            _say(stmt, step)
            engine.execute(stmt)
    except BaseException:
        # the error inside matters, not the drops' (an aborted transaction)
        for name in (st.PAIR, st.NEW):
            with contextlib.suppress(SegqlError):
                engine.execute(engine.dialect.drop_temp_table(state.scratch(name)))
        raise


def _say(stmt: exp.Expr, step: Progress) -> None:
    """Progress: what the statement about to run computes."""
    if isinstance(stmt, exp.Insert):
        what = {"changes": "computing changes", "sizes": "computing sizes"}
        table = stmt.this.this if isinstance(stmt.this, exp.Schema) else stmt.this
        if isinstance(table, exp.Table) and table.name in what:
            step(what[table.name])


def _next_run_id(state: st.State) -> int:
    """One above every run_id in use: on Spark also those of rows of runs that
    never committed (`_tidy` dropped them, unless it could not)."""
    if state.engine.transactional:
        if not state.exists():
            return 1
        q = exp.select(exp.Max(this=st.col("run_id"))).from_(state.runs)
        top = state.engine.fetch(q)[0][0]
        return (int(top) if top is not None else 0) + 1
    taken = st.all_run_ids(state)
    return max((i for ids in taken.values() for i in ids), default=0) + 1


def _check_names(key: str, outputs: dict[str, str]) -> None:
    if key in st.RESERVED:
        raise SegqlError(
            f"the key column '{key}' has the name of a column of the state tables",
            None,
            (f"segql run's tables have the columns {', '.join(st.RESERVED)} (docs/run.md)",),
        )
    for name in outputs:
        if name in st.RUN_COLUMNS:
            raise SegqlError(
                f"'{name}' is a column that segql run adds to the membership: rename the definition"
            )


def _previous(state: st.State, replacing: st.Run | None, last: st.Run | None) -> int | None:
    if replacing is None:
        return last.run_id if last else None
    before = [r for r in st.runs(state) if r.run_id < replacing.run_id]
    return before[-1].run_id if before else None


def _old_membership(
    state: st.State, replacing: st.Run | None, last: st.Run | None
) -> tuple[exp.Query | None, dict[str, str]]:
    """The membership this run's changes are against, and its columns' kinds:
    the last run's, or when this run replaces it, the one before it."""
    if last is None:
        return None, {}
    kinds = st.membership_columns(state, last.run_id)[0]  # its traits have no changes
    if replacing is None:
        return st.membership_of(state, last.run_id), kinds
    in_changes = ch.changes_in_run(state, replacing.run_id)
    return ch.reversed_membership(state, replacing.run_id, kinds, in_changes)


def _size_rows(model: Model, kinds: dict[str, str]) -> list[tuple[str, str | None, str]]:
    """(name, label, column) per segment and per declared label of each
    segmentation: a label with no members gets a row with 0."""
    rows: list[tuple[str, str | None, str]] = []
    for name, kind in kinds.items():
        if kind == "segment":
            rows.append((name, None, name))
            continue
        d = model.definitions[name]
        if not isinstance(d, ast.Segmentation):
            rows.append((name, ch.OBSERVED, name))  # labels not declared as rules
            continue
        labels = ast.segmentation_labels(d)
        rows += [(name, label, name) for label in dict.fromkeys(labels)]
    return rows


def _tidy(state: st.State) -> None:
    """Spark: drop the partitions of runs that do not count (never committed,
    or replaced), and of every membership but the last run's."""
    committed = {r.run_id for r in st.runs(state)}
    last = max(committed, default=None)
    for name, ids in st.all_run_ids(state).items():
        keep = ({last} if last is not None else set()) if name == "membership" else committed
        for stmt in state.engine.dialect.delete_runs(state.table(name), sorted(ids - keep)):
            state.engine.execute(stmt)


def _summary(
    state: st.State,
    model: Model,
    run: st.Run,
    status: str,
    previous: int | None,
    replaced: int | None,
) -> RunResult:
    from segql.ops.preview import share_warning

    segments: list[Size] = []
    labelled: dict[str, list[Size]] = {}
    for name, label, members, share, entered, exited in st.read_sizes(state, run.run_id):
        size = Size(
            name,
            label,
            int(members),
            None if share is None else float(share),
            int(entered),
            int(exited),
            share_warning(int(members), int(run.universe)),
        )
        if label is None:
            segments.append(size)
        else:
            labelled.setdefault(name, []).append(size)
    order = {n: i for i, n in enumerate(model.definitions)}
    segments.sort(key=lambda s: order.get(s.name, len(order)))
    label_order = {}
    for name in labelled:
        d = model.definitions.get(name)
        if isinstance(d, ast.Segmentation):
            names = ast.segmentation_labels(d)
            label_order[name] = {lab: i for i, lab in enumerate(names)}
    segmentations = tuple(
        (
            name,
            tuple(sorted(sizes, key=lambda s, n=name: label_order.get(n, {}).get(s.label, 0))),
        )
        for name, sizes in sorted(labelled.items(), key=lambda kv: order.get(kv[0], 0))
    )
    return RunResult(
        status,
        run.run_id,
        run.as_of,
        previous,
        replaced,
        state.engine.description,
        state.schema,
        model.project.entity,
        model.project.key,
        int(run.universe),
        tuple(segments),
        segmentations,
    )


__all__ = ["run", "execute", "open_target", "definitions_hash", "RunResult", "Size"]
