"""Preview: run the selected segments and segmentations on DuckDB and summarize them.

    preview(paths, project=None, db=None, sample=False, scale=0.01, as_of=None) -> PreviewResult

Data comes from `db` (a DuckDB file, opened read-only), else the project's
`database:`, else, with `sample=True`, the built-in sample generated into an
in-memory DuckDB. The membership query is compiled with a fixed as_of and run
once into a temporary table; every summary (universe size, segment sizes,
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
class PreviewResult:
    as_of: dt.datetime  # naive UTC
    as_of_source: str  # "given" | "sample" (the sample's fixed date) | "now"
    data: str  # what ran: a database path or "built-in sample (scale …)"
    entity: str
    key: str
    universe: int
    segments: tuple[SegmentSummary, ...]
    segmentations: tuple[SegmentationSummary, ...]


Progress = Callable[[str], None]


def preview(
    paths: list[str],
    project: str | None = None,
    db: str | None = None,
    sample: bool = False,
    scale: float = 0.01,
    as_of: str | dt.datetime | None = None,
    show: int = 0,
    progress: Progress | None = None,
) -> PreviewResult:
    """Run the selection on DuckDB (read-only) and summarize it; raises SegqlError(s)."""
    from segql import api
    from segql.project import find_project_file, load_project

    step = progress or (lambda _msg: None)
    if db is not None and sample:
        raise SegqlError("--db and --sample cannot be used together", usage=True)
    if show < 0:
        raise SegqlError("--show must be 0 or more", usage=True)
    proj = load_project(find_project_file(project, paths))
    when, source = _as_of(as_of, proj, sample)
    con, data = _connect(proj, db, sample, scale, step)
    try:
        step("resolving definitions")
        model = api.load_with(proj, paths, con)
        return _run(model, con, when, source, data, show, step)
    finally:
        con.close()


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


def _connect(proj: Project, db: str | None, sample: bool, scale: float, step: Progress):
    """A DuckDB connection and a description of the data it holds."""
    import duckdb

    if sample:
        if not (scale > 0 and scale <= 100):  # also rejects NaN
            raise SegqlError(f"--scale must be in (0, 100], got {scale}", usage=True)
        from segql.ops.sample import sample_database

        step(f"generating sample data (scale {scale:g})")
        con = sample_database(scale=scale)
        data = f"built-in sample (scale {scale:g})"
    else:
        path = db or proj.database
        if path is None and _all_files(proj):
            path = ":memory:"  # every table is a CSV/Parquet file: nothing else to open
        if path is None:
            raise SegqlError(
                "preview needs data",
                None,
                ("pass --db FILE, set 'database:' in segql.yml, or try --sample",),
                usage=True,
            )
        if path != ":memory:" and not Path(path).is_file():
            raise SegqlError(f"database file '{path}' not found", usage=db is not None)
        try:
            # an in-memory database cannot be opened read-only (and holds nothing to protect)
            con = duckdb.connect(path, read_only=path != ":memory:")
        except duckdb.Error as e:
            raise SegqlError(f"cannot open DuckDB database '{path}': {e}") from None
        data = "CSV/Parquet files" if path == ":memory:" else path
    # DuckDB's progress bar writes to stdout, which holds our json/csv output
    con.execute("SET enable_progress_bar = false")
    # tables given as CSV/Parquet paths are relative to the project folder
    con.execute("SET file_search_path = ?", [str(proj.root)])
    return con, data


def _all_files(proj: Project) -> bool:
    tables = [s.table for s in proj.sources.values()]
    tables += [proj.profiles] if proj.profiles is not None else []
    return all(t.is_path for t in tables)


def _run(model: Model, con, as_of, source, data, show, step) -> PreviewResult:
    import duckdb

    from segql import api

    outputs, _ = api.select(model, None, None)
    segments = [n for n in outputs if isinstance(model.definitions[n], ast.Segment)]
    segmentations = [
        d for d in (model.definitions[n] for n in outputs) if isinstance(d, ast.Segmentation)
    ]
    extended, rule_columns = with_rule_segments(model, outputs)
    step("running the membership query")
    try:
        con.execute(_sql(_create_members(extended, as_of)))
        step("summarizing")
        counts = _fetch_counts(con, segments, segmentations, rule_columns)
        labels = {d.name: _fetch_labels(con, d.name) for d in segmentations}
        key = model.project.key
        examples = {n: _fetch_examples(con, key, n, show) for n in segments} if show else {}
    except duckdb.Error as e:
        raise SegqlError(f"DuckDB could not run the query: {e}".rstrip()) from None
    universe = counts["universe", ""]
    seg_summaries = tuple(
        SegmentSummary(n, m, _share(m, universe), _warning(m, universe), tuple(examples.get(n, ())))
        for n, m in ((n, counts["segment", n]) for n in segments)
    )
    sm_summaries = tuple(
        _segmentation(d, labels[d.name], counts, rule_columns[d.name], universe)
        for d in segmentations
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
    )


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


def _create_members(model: Model, as_of: dt.datetime) -> exp.Create:
    """CREATE TEMP TABLE … AS <membership query>: the query compile returns,
    wrapped as a tree, never as text."""
    from segql import api

    query = api.compile_model(model, "duckdb", as_of).tree
    return exp.Create(
        this=_table(),
        kind="TABLE",
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


# ------------------------------------------------------------------ summaries


def _sql(tree: exp.Expression) -> str:
    """DuckDB text of a tree; a construct DuckDB lacks is an error, never dropped."""
    from sqlglot.errors import ErrorLevel, UnsupportedError

    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as e:
        raise SegqlError(f"cannot express this on duckdb: {e}") from None


def _table() -> exp.Table:
    return exp.Table(this=ident(MEMBERS_TABLE))


def _one(flag: str) -> exp.Expression:
    return exp.Case(
        ifs=[exp.If(this=col(flag), true=exp.Literal.number(1))], default=exp.Literal.number(0)
    )


def _fetch_counts(con, segments, segmentations, rule_columns) -> dict[tuple[str, str], int]:
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
        matched = _one(rules[0])  # a segmentation has at least one rule
        for c in rules[1:]:
            matched = exp.Add(this=matched, expression=_one(c))
        selects.append(exp.CountIf(this=exp.GTE(this=matched, expression=exp.Literal.number(2))))
    q = exp.select(*(exp.alias_(s, f"c{i}", quoted=True) for i, s in enumerate(selects)))
    row = con.execute(_sql(q.from_(_table()))).fetchone()
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}


def _fetch_labels(con, column: str) -> dict[str | None, int]:
    q = (
        exp.select(col(column), exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True))
        .from_(_table())
        .group_by(col(column))
    )
    return {label: int(n) for label, n in con.execute(_sql(q)).fetchall()}


def _fetch_examples(con, key: str, segment: str, n: int) -> list:
    q = (
        exp.select(col(key))
        .from_(_table())
        .where(col(segment))
        .order_by(exp.Ordered(this=col(key), desc=False, nulls_first=False))
        .limit(n)
    )
    return [row[0] for row in con.execute(_sql(q)).fetchall()]


def _share(members: int, universe: int) -> float | None:
    return members / universe if universe else None


def _warning(members: int, universe: int) -> str | None:
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


__all__ = [
    "preview",
    "PreviewResult",
    "SegmentSummary",
    "SegmentationSummary",
    "LabelSummary",
    "with_rule_segments",
]
