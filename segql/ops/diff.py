"""`segql diff` (LANGUAGE.md §12): how segments moved between two instants.

Per segment: size before and after, entered, exited, Jaccard, and PSI/JS of
its share of the universe (a two-bucket distribution: in, out). Per
segmentation: label shares before and after (unlabeled entities as a label of
their own, so that shares add up to 1), the transition matrix, PSI and JS.
With `--by COLUMN`, each segment's members' distribution over a profile column
(composition drift), PSI and JS the same way. Math in ops/drift.py.

Two membership tables (key, a boolean per segment, a label per segmentation)
are compared on the engine by a full outer join on the key: an entity in one
universe and not the other (point-in-time profiles) counts on its side only.
Statelessly (`--db`/`--sample`/`--target` with two `--as-of`), the tables are
the compiled query run at each instant into a temporary table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from segql.engines.base import Engine
from segql.errors import SegqlError
from segql.ops import drift
from segql.semantic.model import Model
from segql.sql.expressions import ident
from segql.syntax import ast

BEFORE, AFTER = "__segql_before", "__segql_after"


@dataclass(frozen=True)
class Distribution:
    """One population before and after, over the same values."""

    values: tuple  # the buckets (labels, column values; None = none)
    before: tuple[int, ...]
    after: tuple[int, ...]

    @property
    def psi(self) -> float:
        return drift.psi(drift.shares(self.before), drift.shares(self.after))

    @property
    def js(self) -> float:
        return drift.js_distance(drift.shares(self.before), drift.shares(self.after))


@dataclass(frozen=True)
class SegmentDiff:
    name: str
    before: int
    after: int
    entered: int
    exited: int
    jaccard: float | None
    share: Distribution  # (in, out) of the universe


@dataclass(frozen=True)
class SegmentationDiff:
    name: str
    labels: Distribution  # None: unlabeled
    transitions: tuple[tuple[object, object, int], ...]  # (before, after, entities)


@dataclass(frozen=True)
class CompositionDiff:
    segment: str
    column: str
    values: Distribution


@dataclass(frozen=True)
class DiffResult:
    before: str  # what is compared: an as_of or a run
    after: str
    key: str
    universe: tuple[int, int]
    segments: tuple[SegmentDiff, ...]
    segmentations: tuple[SegmentationDiff, ...]
    composition: tuple[CompositionDiff, ...]

    def worst_psi(self) -> float:
        """The largest PSI of any segmentation or composition (segment shares
        included), for --fail-on-drift."""
        found = [s.share.psi for s in self.segments]
        found += [m.labels.psi for m in self.segmentations]
        found += [c.values.psi for c in self.composition]
        return max(found, default=0.0)


def check_by(model: Model, by: str | None) -> None:
    """--by names a profile column."""
    from segql.ops.export import check_columns

    check_columns(model.project, list(model.profile_columns), [by] if by else [], "--by")


def stateless(
    paths: list[str],
    as_ofs: list[str],
    project: str | None = None,
    db: str | None = None,
    sample: bool = False,
    scale: float = 0.01,
    target: str | None = None,
    by: str | None = None,
) -> DiffResult:
    """`segql diff --as-of A --as-of B` on data (--db/--sample/--target, else as
    preview finds it): no state needed."""
    from segql import api
    from segql.ops.preview import one_source, open_data
    from segql.project import find_project_file, load_project

    one_source(target, db, sample)
    if len(as_ofs) != 2:
        raise SegqlError("give two --as-of to compare (or compare runs of a target)", usage=True)
    proj = load_project(find_project_file(project, paths))
    paths = paths or [str(proj.root)]  # no PATH: every definition of the project
    before, after = (api.parse_as_of(a, proj.timezone) for a in as_ofs)
    proj, engine, _ = open_data(proj, target, db, sample, scale, lambda _msg: None)
    with engine:
        model = api.load_with(proj, paths, engine)
        return at_two_instants(model, engine, before, after, by)


def at_two_instants(
    model: Model, engine: Engine, before: dt.datetime, after: dt.datetime, by: str | None
) -> DiffResult:
    """Compare the membership at two instants, each computed on the engine."""
    from segql import api

    check_by(model, by)
    if after < before:
        raise SegqlError("the second --as-of must not be earlier than the first", usage=True)
    dialect = engine.dialect.name
    first = api.compile_model(model, dialect, before).tree
    second = api.compile_model(model, dialect, after).tree
    outputs, _ = _outputs(model)
    segments = [n for n in outputs if isinstance(model.definitions[n], ast.Segment)]
    # splits are compared like segmentations: their groups are labels
    labeled = [n for n in outputs if isinstance(model.definitions[n], ast.Segmentation | ast.Split)]
    pair = Pair(_stamp(before), _stamp(after))
    with engine.temp_table(_t(BEFORE), first), engine.temp_table(_t(AFTER), second):
        return compare(engine, pair, model.project, segments, labeled, by)


@dataclass(frozen=True)
class Pair:
    """What is compared, for people, and the universe sizes when known apart
    from the rows (runs: a rebuilt past membership may hold entities that were
    outside the universe then)."""

    before: str
    after: str
    universe: tuple[int, int] | None = None


def compare(
    engine: Engine, pair: Pair, project, segments: list[str], labeled: list[str], by: str | None
) -> DiffResult:
    """Compare the memberships in the temporary tables BEFORE and AFTER."""
    key = project.key
    joined = _joined(_t(BEFORE), _t(AFTER), key)
    universe, seg_rows = _segment_counts(engine, joined, key, segments)
    universe = pair.universe or universe
    seg_diffs = tuple(
        _segment(name, counts, universe) for name, counts in zip(segments, seg_rows, strict=True)
    )
    sm_diffs = tuple(_segmentation(engine, joined, key, name, pair.universe) for name in labeled)
    composition: tuple[CompositionDiff, ...] = ()
    if by is not None and segments:
        composition = _composition(engine, joined, segments, by, project.profiles, key)
    return DiffResult(pair.before, pair.after, key, universe, seg_diffs, sm_diffs, composition)


def between_runs(
    project: str | None,
    target: str | None,
    db: str | None,
    first: str | None,
    last: str | None,
    by: str | None,
) -> DiffResult:
    """`segql diff [--from RUN|AS_OF] [--to RUN|AS_OF]` on a target's state:
    both memberships rebuilt on the engine (ops/history.py), then compared as
    above; default: the last two runs."""
    from segql.ops import history as hs
    from segql.ops import state as st

    proj, engine, state = hs.open_state(project, target, db)
    with engine:
        runs = st.runs(state)
        if len(runs) < 2 and (first is None or last is None):
            raise (
                hs.no_runs(state)
                if not runs
                else SegqlError(
                    "diff of runs needs two runs; there is one",
                    None,
                    ("segql run at a later --as-of, or give --db/--sample and two --as-of",),
                )
            )
        to = hs.find_run(runs, last, runs[-1])
        earlier = [r for r in runs if r.run_id < to.run_id]
        start = hs.find_run(runs, first, earlier[-1] if earlier else to)
        if start.run_id >= to.run_id:
            raise SegqlError("--from must be a run before --to", usage=True)
        if by is not None:
            from segql.ops.export import check_columns

            known = engine.columns(_profile_table(proj)) or {}
            check_columns(proj, [c for c in known if c != proj.key], [by], "--by")
        outputs = hs.outputs_of(state)
        segments = [o for o, k in outputs.items() if k == "segment"]
        labeled = [o for o, k in outputs.items() if k != "segment"]
        pair = Pair(
            f"run {start.run_id} ({_stamp(start.as_of)})",
            f"run {to.run_id} ({_stamp(to.as_of)})",
            (int(start.universe), int(to.universe)),
        )
        old = hs.membership_at(state, start, runs[-1], outputs)
        new = hs.membership_at(state, to, runs[-1], outputs)
        with engine.temp_table(_t(BEFORE), old), engine.temp_table(_t(AFTER), new):
            return compare(engine, pair, proj, segments, labeled, by)


def _profile_table(proj) -> exp.Table:
    from segql.sql.expressions import table_expr

    if proj.profiles is None:
        raise SegqlError("--by needs a profiles table in segql.yml", usage=True)
    return table_expr(proj.profiles)


# ---------------------------------------------------------------- queries


def _outputs(model: Model):
    from segql import api

    return api.select(model, None, None)


def _t(name: str) -> exp.Table:
    return exp.Table(this=ident(name))


def _stamp(when: dt.datetime) -> str:
    return when.isoformat() + "Z"


def _side(side: str, column: str) -> exp.Column:
    return exp.column(ident(column), table=ident(side))


def _joined(before: exp.Table, after: exp.Table, key: str) -> exp.Select:
    """`FROM before b FULL JOIN after a ON b.key = a.key`, to select from."""
    return (
        exp.select()
        .from_(before.copy().as_("b", quoted=True))
        .join(
            after.copy().as_("a", quoted=True),
            on=_side("b", key).eq(_side("a", key)),
            join_type="FULL",
        )
    )


def _count_if(cond: exp.Expr) -> exp.Expr:
    one = exp.If(this=cond, true=exp.Literal.number(1))
    return exp.Sum(this=exp.Case(ifs=[one], default=exp.Literal.number(0)))


def _true(side: str, column: str) -> exp.Expr:
    """The side's value is true (false when the entity is not on that side)."""
    return exp.func("COALESCE", _side(side, column), exp.false())


def _present(side: str, key: str) -> exp.Expr:
    return exp.not_(exp.Is(this=_side(side, key), expression=exp.null()))


def _fetch_one(engine: Engine, joined: exp.Select, selects: list[exp.Expr]) -> list[int]:
    q = joined.copy().select(
        *(exp.alias_(x, f"c{i}", quoted=True) for i, x in enumerate(selects)), copy=False
    )
    return [int(v or 0) for v in engine.fetch(q)[0]]


def _segment_counts(
    engine: Engine, joined: exp.Select, key: str, segments: list[str]
) -> tuple[tuple[int, int], list[tuple[int, ...]]]:
    """One query: both universes, and per segment before, after, entered, exited."""
    selects = [_count_if(_present("b", key)), _count_if(_present("a", key))]
    for name in segments:
        b, a = _true("b", name), _true("a", name)
        selects += [
            _count_if(b),
            _count_if(a),
            _count_if(exp.and_(a, exp.not_(b.copy()))),
            _count_if(exp.and_(b.copy(), exp.not_(a.copy()))),
        ]
    row = _fetch_one(engine, joined, selects)
    per_segment = [tuple(row[2 + 4 * i : 6 + 4 * i]) for i in range(len(segments))]
    return (row[0], row[1]), per_segment


def _segment(name: str, counts: tuple[int, ...], universe: tuple[int, int]) -> SegmentDiff:
    before, after, entered, exited = counts
    both = before - exited  # = after - entered
    share = Distribution(
        (True, False), (before, universe[0] - before), (after, universe[1] - after)
    )
    return SegmentDiff(
        name, before, after, entered, exited, drift.jaccard(both, before + entered), share
    )


def _order(value: object) -> tuple:
    return (value is None, str(value))


def _segmentation(
    engine: Engine, joined: exp.Select, key: str, name: str, universe: tuple[int, int] | None
) -> SegmentationDiff:
    """Labels before and after per entity, grouped: the transition matrix, and
    its margins are the label counts. With `universe` known apart, the entities
    without a label are the universe less the labelled."""
    groups = [_side("b", name), _side("a", name), _present("b", key), _present("a", key)]
    q = joined.copy().select(
        *(exp.alias_(g, f"g{i}", quoted=True) for i, g in enumerate(groups)),
        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        copy=False,
    )
    q = q.group_by(*(g.copy() for g in groups), copy=False)
    rows = [(lb, la, bool(pb), bool(pa), int(n)) for lb, la, pb, pa, n in engine.fetch(q)]
    rows.sort(key=lambda r: (not r[2], _order(r[0]), not r[3], _order(r[1])))
    values = sorted({r[0] for r in rows if r[2]} | {r[1] for r in rows if r[3]}, key=_order)
    before = [sum(r[4] for r in rows if r[2] and r[0] == v) for v in values]
    after = [sum(r[4] for r in rows if r[3] and r[1] == v) for v in values]
    if universe is not None:
        if None not in values:
            values, before, after = [*values, None], [*before, 0], [*after, 0]
        for counts, total in ((before, universe[0]), (after, universe[1])):
            counts[-1] = max(total - sum(counts[:-1]), 0)
    labels = Distribution(tuple(values), tuple(before), tuple(after))
    return SegmentationDiff(name, labels, tuple(rows))


def _composition(
    engine: Engine, joined: exp.Select, segments: list[str], by: str, profiles, key: str
) -> tuple[CompositionDiff, ...]:
    """One query: members per value of the profile column, before and after,
    for every segment."""
    from segql.sql.expressions import aliased, current_profiles

    entity = exp.func("COALESCE", _side("b", key), _side("a", key))
    rows = aliased(current_profiles(profiles), "p")
    q = joined.copy().join(rows, on=_side("p", key).eq(entity), join_type="LEFT")
    value = _side("p", by)
    selects = []
    for name in segments:
        selects += [_count_if(_true("b", name)), _count_if(_true("a", name))]
    q = q.select(
        exp.alias_(value, "v", quoted=True),
        *(exp.alias_(x, f"c{i}", quoted=True) for i, x in enumerate(selects)),
        copy=False,
    ).group_by(value.copy(), copy=False)
    rows = sorted(engine.fetch(q), key=lambda r: _order(r[0]))
    out = []
    for i, name in enumerate(segments):
        kept = [r for r in rows if r[1 + 2 * i] or r[2 + 2 * i]]
        out.append(
            CompositionDiff(
                name,
                by,
                Distribution(
                    tuple(r[0] for r in kept),
                    tuple(int(r[1 + 2 * i]) for r in kept),
                    tuple(int(r[2 + 2 * i]) for r in kept),
                ),
            )
        )
    return tuple(out)
