"""The Python API: what the CLI calls. `compile()` only chains the stages,
load (parse) → resolve → plan → generate, and returns the query as a tree with
its output columns (a CompileResult); `.sql()` gives the text."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterator
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine
from segql.errors import Diagnostics, SegqlError, SegqlErrors, issue_warnings
from segql.plan.explain import explain
from segql.plan.logical import plan
from segql.plan.physical import physical
from segql.project import Project, find_project_file, load_project
from segql.semantic.model import Model
from segql.semantic.resolve import resolve
from segql.semantic.schema import Catalog, introspect
from segql.sql.dialects import get_dialect
from segql.sql.query import Generator
from segql.sql.result import CompileResult, OutputColumn, output_columns
from segql.sql.windows import FixedClock, LiveClock, local_to_utc
from segql.syntax import ast
from segql.syntax.loader import load_modules


@contextlib.contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Python's cycle collector off while a stage runs. A compile builds objects
    (AST, model, sqlglot trees) that all live until it ends, and the collector
    scanned them again and again: a third of the compile time of 1,000 segments
    (docs/performance.md). Reference counting still frees what is dropped; the
    collector is back on as soon as the stage returns or raises."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def load(
    paths: list[str], project: str | None = None, con=None, target: str | None = None
) -> Model:
    """Parse, resolve and type-check the project's definitions; PATHs select outputs.
    `con`: an engine (segql.engines) or a DuckDB connection to read column types from.
    `target`: a target of segql.yml, whose dialect and table names are used
    (compile connects to no engine)."""
    proj = load_project(find_project_file(project, paths))
    if target is None:
        return load_with(proj, paths, con)
    from segql.engines.targets import apply, choose

    # column types as the project's own database knows them (compile connects to
    # nothing), under the names the tables have on the target
    catalog = _catalog(proj, con)
    on_target = apply(proj, choose(proj, target))
    renamed = {old.name: new.name for old, new in zip(proj.tables, on_target.tables, strict=True)}
    catalog = catalog.renamed(renamed)
    return load_with(on_target, paths, catalog=catalog)


def project_catalog(proj: Project) -> Catalog:
    """Column types as compile finds them without an engine: the project's
    database file, CSV/Parquet files, schema.yml, `columns:`."""
    return _catalog(proj, None)


def _catalog(proj: Project, con) -> Catalog:
    diags = Diagnostics()
    if con is not None and not isinstance(con, Engine):
        from segql.engines.duckdb import wrap

        con = wrap(con, proj.root)  # a DuckDB connection; not closed here
    catalog = introspect(proj, con, diags)
    texts = {proj.file: proj.text, **catalog.texts}
    if diags.errors:  # a missing table: every use of it would be reported again
        raise SegqlErrors(diags.errors, texts)
    issue_warnings(diags.warnings, texts)
    return catalog


@_no_gc_pauses()
def load_with(
    proj: Project,
    paths: list[str],
    con=None,
    catalog: Catalog | None = None,
    check_fits: bool = True,
) -> Model:
    """load() for a project already read. `check_fits=False`: clusters
    segmentations need no fit file (segql fit, which writes them)."""
    loaded = load_modules(paths, proj.root)
    if catalog is None:
        try:
            catalog = _catalog(proj, con)
        except SegqlErrors as e:
            raise SegqlErrors([*e.errors, *loaded.errors], {proj.file: proj.text}) from None
    # resolved even when some definitions did not parse: a syntax error in one
    # file hides no name or type error of the others
    try:
        model = resolve(
            loaded.modules, proj, catalog, loaded.selected if paths else None, check_fits
        )
    except SegqlErrors as e:
        raise SegqlErrors([*loaded.errors, *e.errors]) from None
    if loaded.errors:
        raise SegqlErrors(loaded.errors)
    issue_warnings(model.warnings, model.sources)
    return model


def parse_as_of(text: str, timezone: str) -> dt.datetime:
    """--as-of: a date (its local midnight) or timestamp, read in the project time
    zone unless it carries an offset (Z, +02:00); returns a naive UTC instant."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SegqlError(
            f"invalid --as-of '{text}'",
            None,
            ("write a date or timestamp: 2024-05-01 or 2024-05-01T12:00:00",),
            usage=True,
        ) from None
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return local_to_utc(value, timezone)


def select(
    model: Model,
    segment: str | None,
    segmentation: str | None,
    traits: bool = False,
    trait: str | None = None,
) -> tuple[tuple[str, ...], str]:
    """Outputs and mode for --segment / --segmentation / --trait / everything
    selected (with `traits`, then the selected files' traits, in file order).
    --segmentation also takes a split: both label every entity (key, label);
    --trait gives key and value of every entity."""
    if trait is not None:
        return (_one_trait(model, trait),), "trait"
    labeled = (ast.Segmentation, ast.Split)
    for name, kind in ((segment, (ast.Segment,)), (segmentation, labeled)):
        if name is None:
            continue
        d = model.definitions.get(name)
        what = "segment" if kind[0] is ast.Segment else "segmentation"
        if isinstance(d, ast.Segment | ast.Segmentation | ast.Split) and not isinstance(d, kind):
            other = "segmentation" if kind[0] is ast.Segment else "segment"
            its = type(d).__name__.lower()
            raise SegqlError(f"'{name}' is a {its}: use --{other} {name}")
        if isinstance(d, ast.Trait):
            raise SegqlError(f"'{name}' is a trait: use --trait {name}")
        if not isinstance(d, kind):
            from segql.errors import did_you_mean

            pool = [n for n, x in model.definitions.items() if isinstance(x, kind)]
            hint = did_you_mean(name, pool)
            raise SegqlError(f"unknown {what} '{name}'" + (f" ({hint})" if hint else ""))
        return (name,), what
    chosen = model.selected + (model.selected_traits if traits else ())
    if not chosen:
        what = "segments, segmentations or traits" if traits else "segments or segmentations"
        raise SegqlError(f"no {what} to compile in the given paths")
    return chosen, "membership"


def _one_trait(model: Model, name: str) -> str:
    d = model.definitions.get(name)
    if isinstance(d, ast.Segment | ast.Segmentation | ast.Split):
        its = type(d).__name__.lower()
        option = "segment" if isinstance(d, ast.Segment) else "segmentation"
        raise SegqlError(f"'{name}' is a {its}: use --{option} {name}")
    if not isinstance(d, ast.Trait):
        from segql.errors import did_you_mean

        pool = [n for n, x in model.definitions.items() if isinstance(x, ast.Trait)]
        hint = did_you_mean(name, pool)
        raise SegqlError(f"unknown trait '{name}'" + (f" ({hint})" if hint else ""))
    return name


@_no_gc_pauses()
def compile_model(
    model: Model,
    dialect: str | None = None,
    as_of: dt.datetime | None = None,
    segment: str | None = None,
    segmentation: str | None = None,
    traits: bool = False,
    trait: str | None = None,
    now: exp.Expr | None = None,
) -> CompileResult:
    """The query of a resolved model. as_of is a naive UTC instant, or None for
    the engine's current timestamp (or `now`, an expression standing for it).
    `traits`: the selected files' traits as columns too; `trait`: one trait's
    key and value per entity."""
    d = get_dialect(dialect or model.project.dialect)
    tz = model.project.timezone
    clock = FixedClock(as_of, tz, d) if as_of is not None else LiveClock(tz, d, now)
    outputs, mode = select(model, segment, segmentation, traits, trait)
    try:
        p = plan(model, outputs, mode)
        tree = Generator(p, d, clock).query()
    except RecursionError as e:  # resolve bounds nesting (semantic/checks.py): a bug
        raise AssertionError("nested too deeply despite checks.MAX_DEPTH") from e
    return CompileResult(tree, d, mode, output_columns(p))


def compile(
    paths: list[str],
    *,
    project: str | None = None,
    dialect: str | None = None,
    as_of: str | dt.datetime | None = None,
    segment: str | None = None,
    segmentation: str | None = None,
    target: str | None = None,
    traits: bool = False,
    trait: str | None = None,
) -> CompileResult:
    """Compile definitions (LANGUAGE.md §9): the query, `.sql()` for its text.
    With `target`, for that target of segql.yml: its engine's dialect (unless
    `dialect` is given) and its table names."""
    if dialect is not None:
        get_dialect(dialect)  # a usage error before any work
    model = load(paths, project, target=target)
    when = parse_as_of(as_of, model.project.timezone) if isinstance(as_of, str) else as_of
    return compile_model(model, dialect, when, segment, segmentation, traits, trait)


def explain_model(
    model: Model,
    dialect: str | None = None,
    segment: str | None = None,
    segmentation: str | None = None,
    traits: bool = False,
    trait: str | None = None,
) -> str:
    """The physical plan compile would write, for people (--explain)."""
    d = get_dialect(dialect or model.project.dialect)
    outputs, mode = select(model, segment, segmentation, traits, trait)
    return explain(physical(plan(model, outputs, mode), d.pair_buckets, d.percentile_disc), d.name)


def explain_plan(
    paths: list[str],
    *,
    project: str | None = None,
    dialect: str | None = None,
    segment: str | None = None,
    segmentation: str | None = None,
    target: str | None = None,
    traits: bool = False,
    trait: str | None = None,
) -> str:
    """`segql compile --explain`: how each aggregate would be computed, and why."""
    if dialect is not None:
        get_dialect(dialect)  # a usage error before any work
    model = load(paths, project, target=target)
    return explain_model(model, dialect, segment, segmentation, traits, trait)


def validate(paths: list[str], project: str | None = None) -> Model:
    """Parse, resolve and type-check; raises SegqlErrors."""
    return load(paths, project)


__all__ = [
    "compile",
    "compile_model",
    "CompileResult",
    "OutputColumn",
    "validate",
    "load",
    "parse_as_of",
    "Path",
]
