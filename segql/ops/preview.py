"""Preview: run the selected segments, segmentations and splits on an engine and
summarize them.

    preview(paths, project=None, db=None, sample=False, scale=0.01, as_of=None,
            target=None) -> PreviewResult

Data comes from `target` (a target of segql.yml: DuckDB, PostgreSQL, Spark),
`db` (a DuckDB file, opened read-only), with `sample=True` the built-in sample
generated into an in-memory DuckDB, else the project's `database:`, else its
default target. Everything runs through the engine interface (segql/engines).
The membership query is compiled with a fixed as_of for the engine's dialect
and run once into a temporary table; every summary (universe size, segment sizes,
label sizes, rule matches, overlap, example keys) is a small sqlglot-built
query against that table.

Overlap needs each rule's own condition, which the membership query does not
return (a segmentation column holds only the winning label). So the model is
extended with one ad-hoc segment per rule — the rule's condition for `by
priority`, `weight > 0` for `by weight` — and those extra boolean columns ride
along in the same single query. The planner deduplicates their aggregates with
the segmentation's own, so no source is scanned again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine
from segql.errors import SegqlError
from segql.project import Project
from segql.semantic.model import Model
from segql.sql.expressions import col, ident
from segql.syntax import ast

MEMBERS_TABLE = "__segql_members"
# shares outside these bounds get a warning: a segment too small to act on, or
# so large that it hardly selects anything
SMALL_SHARE = 0.01
LARGE_SHARE = 0.5


@dataclass(frozen=True)
class SegmentSummary:
    name: str
    members: int
    share: float | None  # of the universe; None when the universe is empty
    warning: str | None  # "small" (< 1%), "large" (> 50%) or None
    examples: tuple = ()  # the smallest member keys, when asked for
    # the marketing context written with the definition (LANGUAGE.md §3)
    title: str | None = None
    hypothesis: str | None = None
    channels: tuple[str, ...] = ()
    kpis: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSummary:
    label: str
    members: int
    share: float | None
    matched: int | None  # entities whose rule holds, before priority; None for `else`
    catch_all: bool = False


@dataclass(frozen=True)
class SegmentationSummary:
    name: str
    by: str
    labels: tuple[LabelSummary, ...]
    unlabeled: int  # entities left with a null label (only without `else`)
    has_else: bool
    overlap: int  # entities matching more than one rule, settled by priority/weight


@dataclass(frozen=True)
class GroupSummary:
    group: str
    members: int
    share: float | None  # of the split's members (its segment's); None when it has none
    target: float  # the share written in the split: 0.1 for 10%


@dataclass(frozen=True)
class SplitSummary:
    name: str
    segment: str
    members: int  # of the segment the split divides
    groups: tuple[GroupSummary, ...]
    rest: int  # members in no group (the shares add up to less than 100%)


@dataclass(frozen=True)
class TraitSummary:
    """A trait's values over the universe (`preview --traits`): how many
    entities have one and how many have none; a number's min, max and mean; a
    date's or timestamp's min and max; a string's or boolean's most frequent
    values (TOP_VALUES, by count, ties by value) with their counts."""

    name: str
    type: str  # number, string, boolean, date, timestamp
    values: int  # entities with a (non-null) value
    nulls: int
    min: object = None
    max: object = None
    mean: float | None = None
    top: tuple[tuple[object, int], ...] = ()


TOP_VALUES = 5


@dataclass(frozen=True)
class PreviewResult:
    as_of: dt.datetime  # naive UTC
    as_of_source: str  # "given" | "sample" (the sample's fixed date) | "now"
    data: str  # what ran: a database path or "built-in sample (scale …)"
    entity: str
    key: str
    universe: int
    segments: tuple[SegmentSummary, ...]
    segmentations: tuple[SegmentationSummary, ...]
    splits: tuple[SplitSummary, ...] = ()
    traits: tuple[TraitSummary, ...] = ()  # with `traits` (--traits) only


Progress = Callable[[str], None]


def preview(
    paths: list[str],
    project: str | None = None,
    db: str | None = None,
    sample: bool = False,
    scale: float = 0.01,
    as_of: str | dt.datetime | None = None,
    show: int = 0,
    show_pii: bool = False,
    progress: Progress | None = None,
    target: str | None = None,
    traits: bool = False,
) -> PreviewResult:
    """Run the selection on an engine and summarize it; raises SegqlError(s).
    `traits`: also a value summary per trait of the PATHs."""
    from segql import api
    from segql.project import find_project_file, load_project

    step = progress or (lambda _msg: None)
    one_source(target, db, sample)
    if show < 0:
        raise SegqlError("--show must be 0 or more", usage=True)
    proj = load_project(find_project_file(project, paths))
    when, source = _as_of(as_of, proj, sample)
    proj, engine, data = open_data(proj, target, db, sample, scale, step)
    with engine:
        step("resolving definitions")
        model = api.load_with(proj, paths, engine)
        return _run(model, engine, when, source, data, show, step, show_pii, traits)


def one_source(target: str | None, db: str | None, sample: bool) -> None:
    given = [flag for flag, on in (("--target", target), ("--db", db), ("--sample", sample)) if on]
    if len(given) > 1:
        raise SegqlError(f"{given[0]} and {given[1]} cannot be used together", usage=True)


def _as_of(as_of, proj: Project, sample: bool) -> tuple[dt.datetime, str]:
    from segql import api

    if isinstance(as_of, dt.datetime):
        return as_of, "given"
    if as_of is not None:
        return api.parse_as_of(as_of, proj.timezone), "given"
    if sample:
        # the sample is a fixed history ending at SAMPLE_AS_OF: "now" would
        # leave every recent window empty as the calendar moves on
        from segql.ops.sample import SAMPLE_AS_OF

        return SAMPLE_AS_OF, "sample"
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0), "now"


def open_data(
    proj: Project, target: str | None, db: str | None, sample: bool, scale: float, step: Progress
) -> tuple[Project, Engine, str]:
    """The project as the data names its tables, an engine on the data, and a
    description of it: --target, --sample, --db, `database:`, files only, or
    else the project's default target (the first of `targets:`)."""
    from segql.engines import connect
    from segql.engines.duckdb import DuckDBEngine, wrap
    from segql.engines.targets import apply, choose, file_target

    if sample:
        if not (scale > 0 and scale <= 100):  # also rejects NaN
            raise SegqlError(f"--scale must be in (0, 100], got {scale}", usage=True)
        from segql.ops.sample import sample_database

        step(f"generating sample data (scale {scale:g})")
        return (
            proj,
            wrap(sample_database(scale=scale), proj.root),
            f"built-in sample (scale {scale:g})",
        )
    path = db or proj.database
    if target is not None or (path is None and not _all_files(proj) and proj.targets):
        t = choose(proj, target)
        step(f"connecting to target '{t.name}'")
        engine = connect(t, proj.root)
        return apply(proj, t), engine, engine.description
    if path is None and _all_files(proj):
        path = ":memory:"  # every table is a CSV/Parquet file: nothing else to open
    if path is None:
        raise SegqlError(
            "preview needs data",
            None,
            ("pass --target NAME or --db FILE, set 'database:' in segql.yml, or try --sample",),
            usage=True,
        )
    if path != ":memory:" and not Path(path).is_file():
        raise SegqlError(f"database file '{path}' not found", usage=db is not None)
    engine = DuckDBEngine(file_target(path), proj.root)
    return proj, engine, "CSV/Parquet files" if path == ":memory:" else path


def _all_files(proj: Project) -> bool:
    tables = [s.table for s in proj.sources.values()]
    tables += [proj.profiles] if proj.profiles is not None else []
    return all(t.is_path for t in tables)


def _run(
    model: Model, engine: Engine, as_of, source, data, show, step, show_pii=False, traits=False
) -> PreviewResult:
    from segql import api

    outputs, _ = api.select(model, None, None, traits)
    trait_names = [n for n in outputs if isinstance(model.definitions[n], ast.Trait)]
    outputs = tuple(n for n in outputs if n not in trait_names)
    segments = [n for n in outputs if isinstance(model.definitions[n], ast.Segment)]
    segmentations = [
        d for d in (model.definitions[o] for o in outputs) if isinstance(d, ast.Segmentation)
    ]
    splits = [d for d in (model.definitions[o] for o in outputs) if isinstance(d, ast.Split)]
    extended, rule_columns = with_rule_segments(model, outputs)
    # the segments splits divide ride along, for the splits' sizes
    divided = list(dict.fromkeys(_segment_of(d) for d in splits))
    more = tuple(n for n in divided if n not in extended.selected)
    extended = replace(extended, selected=(*extended.selected, *more))
    step("running the membership query")
    query = api.compile_model(extended, engine.dialect.name, as_of, traits=traits).tree
    # the membership query runs once; every summary reads its rows
    with engine.temp_table(_table(), query):
        step("summarizing")
        counted = list(dict.fromkeys([*segments, *divided]))
        counts = _fetch_counts(engine, counted, segmentations, rule_columns)
        labeled = [d.name for d in segmentations] + [d.name for d in splits]
        labels = {n: _fetch_labels(engine, n) for n in labeled}
        key = model.project.key
        hashed = key in model.project.pii and not show_pii
        examples = (
            {n: _fetch_examples(engine, key, n, show, hashed) for n in segments} if show else {}
        )
        from segql.ops.export import pii_traits

        secret = pii_traits(model) if not show_pii else set()
        trait_summaries = tuple(
            _fetch_trait(engine, n, model.types[n], n in secret) for n in trait_names
        )
    universe = counts["universe", ""]
    seg_summaries = tuple(
        SegmentSummary(
            n,
            m,
            _share(m, universe),
            share_warning(m, universe),
            tuple(examples.get(n, ())),
            *metadata(model.definitions[n]),
        )
        for n, m in ((n, counts["segment", n]) for n in segments)
    )
    sm_summaries = tuple(
        _segmentation(d, labels[d.name], counts, rule_columns[d.name], universe)
        for d in segmentations
    )
    split_summaries = tuple(
        _split(d, labels[d.name], counts["segment", _segment_of(d)]) for d in splits
    )
    return PreviewResult(
        as_of,
        source,
        data,
        model.project.entity,
        model.project.key,
        universe,
        seg_summaries,
        sm_summaries,
        split_summaries,
        trait_summaries,
    )


def metadata(d: ast.Definition) -> tuple:
    """title, hypothesis, channels, kpis of a definition (segments carry them)."""
    if isinstance(d, ast.Segment):
        return d.title, d.hypothesis, d.channels, d.kpis
    return None, None, (), ()


def with_rule_segments(
    model: Model, outputs: tuple[str, ...]
) -> tuple[Model, dict[str, list[str]]]:
    """The model with one extra selected segment per rule of each selected
    segmentation (its condition, or its weight being positive), and the names of
    those extra columns per segmentation."""
    taken = {*model.definitions, model.project.key}
    extra: dict[str, ast.Definition] = {}
    columns: dict[str, list[str]] = {}
    n = 0
    for d in (model.definitions[o] for o in outputs):
        if not isinstance(d, ast.Segmentation):
            continue
        columns[d.name] = []
        for rule in d.rules:
            n += 1
            while f"__segql_rule_{n}" in taken:
                n += 1
            name = f"__segql_rule_{n}"
            cond = rule.expr
            if d.by == "weight":  # as the segmentation reads it: a null weight is no match
                cond = ast.Binary(">", rule.expr, ast.Number(Decimal(0)))
            extra[name] = ast.Segment(name, cond)
            columns[d.name].append(name)
    extended = replace(
        model,
        definitions={**model.definitions, **extra},  # after everything they refer to
        selected=(*outputs, *extra),
    )
    return extended, columns


# ------------------------------------------------------------------ summaries


def _table() -> exp.Table:
    return exp.Table(this=ident(MEMBERS_TABLE))


def _one(flag: str) -> exp.Expression:
    return exp.Case(
        ifs=[exp.If(this=col(flag), true=exp.Literal.number(1))], default=exp.Literal.number(0)
    )


def _fetch_counts(
    engine: Engine, segments, segmentations, rule_columns
) -> dict[tuple[str, str], int]:
    """One query: universe, members per segment, matches per rule, overlap per
    segmentation; keyed by (kind, name) so that no name can collide."""
    keys: list[tuple[str, str]] = [("universe", "")]
    selects: list[exp.Expression] = [exp.Count(this=exp.Star())]
    for name in segments:
        keys.append(("segment", name))
        selects.append(exp.CountIf(this=col(name)))
    for d in segmentations:
        rules = rule_columns[d.name]
        for c in rules:
            keys.append(("rule", c))
            selects.append(exp.CountIf(this=col(c)))
        keys.append(("overlap", d.name))
        if not rules:  # clusters: the nearest centroid, never two
            selects.append(exp.Literal.number(0))
            continue
        matched = _one(rules[0])  # a priority or weight segmentation has a rule
        for c in rules[1:]:
            matched = exp.Add(this=matched, expression=_one(c))
        selects.append(exp.CountIf(this=exp.GTE(this=matched, expression=exp.Literal.number(2))))
    q = exp.select(*(exp.alias_(s, f"c{i}", quoted=True) for i, s in enumerate(selects)))
    row = engine.fetch(q.from_(_table()))[0]
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}


def _fetch_labels(engine: Engine, column: str) -> dict[str | None, int]:
    q = (
        exp.select(col(column), exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True))
        .from_(_table())
        .group_by(col(column))
    )
    return {label: int(n) for label, n in engine.fetch(q)}


def _fetch_examples(engine: Engine, key: str, segment: str, n: int, pii: bool) -> list:
    """The smallest member keys; a `pii:` key is shown as its hash (the order
    stays that of the keys, which nobody sees)."""
    shown = engine.dialect.pii_hash(col(key)) if pii else col(key)
    q = (
        exp.select(shown)
        .from_(_table())
        .where(col(segment))
        .order_by(exp.Ordered(this=col(key), desc=False, nulls_first=False))
        .limit(n)
    )
    return [row[0] for row in engine.fetch(q)]


def _fetch_trait(engine: Engine, name: str, kind: str, pii: bool = False) -> TraitSummary:
    """A trait's summary: one query of counts (and min, max, mean), and for a
    string or boolean one of its most frequent values (`pii`: a string trait
    of a `pii:` column, its values shown hashed)."""
    c = col(name)
    selects: list[exp.Expression] = [exp.Count(this=exp.Star()), exp.Count(this=c.copy())]
    ordered = kind in ("number", "date", "timestamp")
    if ordered:
        selects += [exp.Min(this=c.copy()), exp.Max(this=c.copy())]
    if kind == "number":
        selects.append(exp.Avg(this=exp.cast(c.copy(), engine.dialect.double())))
    q = exp.select(*(exp.alias_(x, f"c{i}", quoted=True) for i, x in enumerate(selects)))
    row = engine.fetch(q.from_(_table()))[0]
    total, values = int(row[0] or 0), int(row[1] or 0)
    low = high = mean = None
    if ordered:
        low, high = row[2], row[3]
    if kind == "number" and row[4] is not None:
        mean = float(row[4])
    top: tuple[tuple[object, int], ...] = ()
    if not ordered:
        n = exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True)
        q = (
            exp.select(c.copy(), n)
            .from_(_table())
            .where(exp.not_(exp.Is(this=c.copy(), expression=exp.null())))
            .group_by(c.copy())
            .order_by(
                exp.Ordered(this=col("n"), desc=True),
                exp.Ordered(this=c.copy(), nulls_first=False),
            )
            .limit(TOP_VALUES)
        )
        if pii:  # counted and ordered by value, shown hashed
            q = (
                exp.select(
                    exp.alias_(engine.dialect.pii_hash(c.copy()), "v", quoted=True), col("n")
                )
                .from_(q.subquery(ident("top_values")))
                .order_by(
                    exp.Ordered(this=col("n"), desc=True),
                    exp.Ordered(this=c.copy(), nulls_first=False),
                )
            )
        top = tuple((v, int(k)) for v, k in engine.fetch(q))
    return TraitSummary(name, kind, values, total - values, low, high, mean, top)


def _share(members: int, universe: int) -> float | None:
    return members / universe if universe else None


def share_warning(members: int, universe: int) -> str | None:
    share = _share(members, universe)
    if share is None:
        return None
    if share < SMALL_SHARE:
        return "small"
    if share > LARGE_SHARE:
        return "large"
    return None


def _segmentation(
    d: ast.Segmentation, labels: dict, counts: dict, rules: list[str], universe: int
) -> SegmentationSummary:
    out = [
        LabelSummary(
            r.label,
            labels.get(r.label, 0),
            _share(labels.get(r.label, 0), universe),
            counts["rule", c],
        )
        for r, c in zip(d.rules, rules, strict=True)
    ]
    if d.clusters is not None:  # one label per cluster; nothing matched before priority
        for j in range(1, d.clusters.k + 1):
            name = d.clusters.label(j)
            n = labels.get(name, 0)
            out.append(LabelSummary(name, n, _share(n, universe), None))
    if d.catch_all is not None:
        n = labels.get(d.catch_all.label, 0)
        out.append(LabelSummary(d.catch_all.label, n, _share(n, universe), None, True))
    return SegmentationSummary(
        d.name,
        d.by,
        tuple(out),
        labels.get(None, 0),
        d.catch_all is not None,
        counts["overlap", d.name],
    )


def _segment_of(d: ast.Split) -> str:
    assert isinstance(d.of, ast.DefRef)  # resolved
    return d.of.name


def _split(d: ast.Split, labels: dict, members: int) -> SplitSummary:
    groups = tuple(
        GroupSummary(g.name, labels.get(g.name, 0), _share(labels.get(g.name, 0), members),
                     float(g.percent) / 100)
        for g in d.groups
    )  # fmt: skip
    rest = members - sum(g.members for g in groups)
    return SplitSummary(d.name, _segment_of(d), members, groups, rest)


__all__ = [
    "preview",
    "PreviewResult",
    "SegmentSummary",
    "SegmentationSummary",
    "SplitSummary",
    "GroupSummary",
    "LabelSummary",
    "TraitSummary",
    "with_rule_segments",
]
