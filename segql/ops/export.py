"""`segql export` (LANGUAGE.md §13): members out to the tools that act on them.

    segql export NAME [PATH…] [--target T | --db FILE | --sample] [--as-of TS]
                 --format csv|parquet|jsonl --out FILE [--columns c1,c2] [--show-pii]

NAME is a segment (its members' keys) or a segmentation or split (key and
label of every labelled entity); `--columns` adds profile columns. The rows
are one query on the engine: the compiled query of NAME joined with the
profiles, `pii:` columns hashed there (Dialect.pii_hash), ordered by key.

Every file is written by DuckDB's COPY (the same text for a value whatever the
engine was): on a DuckDB target straight from the query, else from the rows
fetched into an in-memory DuckDB table typed like the project's columns. The
file is written beside FILE and renamed over it, so a failed or killed export
leaves the old file or none, never part of one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine
from segql.errors import SegqlError, did_you_mean
from segql.semantic.model import Model
from segql.sql.expressions import ident
from segql.syntax import ast

FORMATS = {"csv": "CSV", "parquet": "PARQUET", "jsonl": "JSON"}
ROWS = "__segql_export"


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int
    columns: tuple[str, ...]


def check_out(out: str) -> Path:
    path = Path(out)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SegqlError(f"cannot write '{out}': folder '{folder}' does not exist")
    if path.is_dir():
        raise SegqlError(f"cannot write '{out}': it is a folder")
    return path


def query(
    model: Model, dialect, name: str, as_of: dt.datetime, columns: list[str], show_pii: bool
) -> tuple[exp.Query, tuple[str, ...]]:
    """The rows to export and their column names."""
    from segql import api

    d = model.definitions.get(name)
    if isinstance(d, ast.Segment):
        one = {"segment": name}
    elif isinstance(d, ast.Segmentation | ast.Split):  # a split: key and group
        one = {"segmentation": name}
    elif isinstance(d, ast.Trait):
        raise SegqlError(f"'{name}' is a trait: export takes a segment, a segmentation or a split")
    else:
        outputs = ast.Segment | ast.Segmentation | ast.Split
        pool = [n for n, x in model.definitions.items() if isinstance(x, outputs)]
        hint = did_you_mean(name, pool)
        raise SegqlError(
            f"unknown segment or segmentation '{name}'" + (f" ({hint})" if hint else "")
        )
    project = model.project
    _check_columns(model, columns)
    compiled = api.compile_model(model, dialect.name, as_of, **one)
    key = project.key
    members = exp.Subquery(this=compiled.tree, alias=exp.TableAlias(this=ident("m")))
    names: list[str] = [key]
    keys = exp.column(ident(key), table=ident("m"))
    selects: list[exp.Expr] = [_shown(model, dialect, keys, key, show_pii)]
    q = exp.select().from_(members, copy=False)
    if isinstance(d, ast.Segmentation | ast.Split):
        label = exp.column(ident(name), table=ident("m"))
        selects.append(exp.alias_(label.copy(), name, quoted=True))
        names.append(name)
        q = q.where(exp.not_(exp.Is(this=label, expression=exp.null())), copy=False)
    if columns:
        from segql.sql.expressions import aliased, current_profiles

        q = q.join(
            aliased(current_profiles(project.profiles), "p"),
            on=exp.column(ident(key), table=ident("p")).eq(keys.copy()),
            join_type="LEFT",
            copy=False,
        )
        for c in columns:
            value = exp.column(ident(c), table=ident("p"))
            selects.append(_shown(model, dialect, value, c, show_pii))
            names.append(c)
    q = q.select(*selects, copy=False).order_by(
        exp.Ordered(this=keys.copy(), nulls_first=False), copy=False
    )
    return q, tuple(names)


def _shown(model: Model, dialect, value: exp.Expr, name: str, show_pii: bool) -> exp.Expr:
    if name in model.project.pii and not show_pii:
        value = dialect.pii_hash(value)
    return exp.alias_(value, name, quoted=True)


def _check_columns(model: Model, columns: list[str]) -> None:
    project = model.project
    if columns and project.profiles is None:
        raise SegqlError("--columns needs a profiles table in segql.yml", usage=True)
    known = [*model.profile_columns]
    for c in columns:
        if c not in known and c != project.key:
            hint = did_you_mean(c, known)
            raise SegqlError(
                f"--columns: '{c}' is not a profile column" + (f" ({hint})" if hint else ""),
                None,
                ("profile columns are " + ", ".join(known),),
                usage=True,
            )


def write(engine: Engine, rows: exp.Query, names: tuple[str, ...], fmt: str, out: Path) -> Exported:
    """Run the query and write its rows to `out`, whole or not at all."""
    from segql.engines.duckdb import DuckDBEngine
    from segql.engines.targets import file_target

    folder = out.parent if str(out.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        if isinstance(engine, DuckDBEngine):
            n = _copy(engine, rows, fmt, tmp)
        else:
            with DuckDBEngine(file_target(":memory:"), Path.cwd(), read_only=False) as duck:
                table = exp.Table(this=ident(ROWS))
                fetched = engine.fetch(rows)
                types = {c: _type_of([r[i] for r in fetched]) for i, c in enumerate(names)}
                duck.write_table(table, types, [fetched] if fetched else [])
                in_order = exp.select("*").from_(table).order_by(exp.column(ident(names[0])))
                n = _copy(duck, in_order, fmt, tmp)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Exported(out, n, names)


def _copy(engine, rows: exp.Query, fmt: str, path: str) -> int:
    params = [exp.CopyParameter(this=exp.Var(this="FORMAT"), expression=exp.Var(this=FORMATS[fmt]))]
    if fmt == "csv":
        params.append(exp.CopyParameter(this=exp.Var(this="HEADER"), expression=exp.true()))
    copy = exp.Copy(
        this=exp.Subquery(this=rows), kind=False, files=[exp.Literal.string(path)], params=params
    )
    return int(engine.fetch(copy)[0][0])  # DuckDB's COPY answers the rows it wrote


def _type_of(values: list) -> exp.DataType:
    """A DuckDB column type for values fetched from another engine."""
    from decimal import Decimal

    seen = [v for v in values if v is not None]
    kinds = {type(v) for v in seen}
    if kinds <= {bool} and seen:
        name = "BOOLEAN"
    elif kinds <= {int} and seen:
        name = "BIGINT"
    elif kinds <= {int, float} and seen:
        name = "DOUBLE"
    elif kinds <= {int, Decimal} and seen:
        scale = max(-v.as_tuple().exponent for v in seen if isinstance(v, Decimal))
        name = f"DECIMAL(38, {max(scale, 0)})"
    elif kinds <= {dt.date} and seen:
        name = "DATE"
    elif kinds <= {dt.datetime} and seen:
        name = "TIMESTAMPTZ" if any(v.tzinfo for v in seen) else "TIMESTAMP"
    else:
        name = "VARCHAR"
    return exp.DataType.build(name, dialect="duckdb")


def export(
    name: str,
    out: str,
    fmt: str,
    paths: list[str],
    project: str | None = None,
    target: str | None = None,
    db: str | None = None,
    sample: bool = False,
    scale: float = 0.01,
    as_of: str | None = None,
    columns: list[str] | None = None,
    show_pii: bool = False,
) -> Exported:
    """Evaluate NAME at as_of on the data and write its rows (the CLI's export)."""
    from segql import api
    from segql.ops.preview import _as_of, one_source, open_data
    from segql.project import find_project_file, load_project

    path = check_out(out)
    one_source(target, db, sample)
    proj = load_project(find_project_file(project, paths))
    if as_of is None and not sample:
        raise SegqlError(
            "give --as-of to evaluate the members at that instant",
            None,
            ("reading a target's last run is for segql run's state",),
            usage=True,
        )
    when, _ = _as_of(as_of, proj, sample)
    proj, engine, _ = open_data(proj, target, db, sample, scale, lambda _m: None)
    with engine:
        model = api.load_with(proj, paths or [str(proj.root)], engine)
        rows, names = query(model, engine.dialect, name, when, columns or [], show_pii)
        return write(engine, rows, names, fmt, path)
