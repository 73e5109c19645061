"""`segql export` (LANGUAGE.md §13): members out to the tools that act on them.

    segql export NAME [PATH…] [--target T | --db FILE | --sample] [--as-of TS]
                 --format csv|parquet|jsonl --out FILE [--columns c1,c2] [--show-pii]

NAME is a segment (its members' keys), a segmentation or split (key and
label of every labelled entity) or a trait (key and value of every entity
with a value: docs/language.md, Traits as outputs); `--columns` adds profile
columns. The rows
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

FORMATS = {"csv": "CSV", "parquet": "PARQUET", "jsonl": "JSON", "json": "JSON"}
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


def pii_traits(model: Model) -> set[str]:
    """The string traits whose value may be a `pii:` column's: those whose
    definition reads one, directly or through other traits. They leave segql
    hashed like the column (export, preview), unless --show-pii."""
    from segql.semantic.model import DefRef, ProfileRef

    pii = set(model.project.pii)
    reads: set[str] = set()
    for name, d in model.definitions.items():  # dependency order: referred-to first
        if not isinstance(d, ast.Trait):
            continue
        for n in ast.walk(d.expr):
            if (isinstance(n, ProfileRef) and n.column in pii) or (
                isinstance(n, DefRef) and n.name in reads
            ):
                reads.add(name)
                break
    return {n for n in reads if model.types.get(n) == "string"}


def query(
    model: Model, dialect, name: str, as_of: dt.datetime, columns: list[str], show_pii: bool
) -> tuple[exp.Query, tuple[str, ...]]:
    """The rows of NAME evaluated at as_of, and their column names."""
    from segql import api

    d = model.definitions.get(name)
    if isinstance(d, ast.Segment):
        one = {"segment": name}
    elif isinstance(d, ast.Segmentation | ast.Split):  # a split: key and group
        one = {"segmentation": name}
    elif isinstance(d, ast.Trait):  # key and value, of the entities with one
        one = {"trait": name}
    else:
        outputs = ast.Segment | ast.Segmentation | ast.Split | ast.Trait
        pool = [n for n, x in model.definitions.items() if isinstance(x, outputs)]
        hint = did_you_mean(name, pool)
        raise SegqlError(
            f"unknown segment, segmentation or trait '{name}'" + (f" ({hint})" if hint else "")
        )
    check_columns(model.project, list(model.profile_columns), columns)
    compiled = api.compile_model(model, dialect.name, as_of, **one)
    labeled = not isinstance(d, ast.Segment)
    hashed = name in pii_traits(model) and not show_pii
    return shaped(
        model.project, dialect, compiled.tree, name, labeled, columns, show_pii, hashed=hashed
    )


def shaped(
    project,
    dialect,
    members: exp.Query,
    name: str,
    labeled: bool,
    columns: list[str],
    show_pii: bool,
    flagged: bool = False,
    hashed: bool = False,
) -> tuple[exp.Query, tuple[str, ...]]:
    """The exported rows of a membership query: key, the label of a segmentation
    or split (labelled entities only) or the value of a trait (`labeled` too:
    entities with a value only), or the members of a segment (`flagged`:
    NAME is a boolean column of every entity, as in a run's membership; else
    the rows are the members, as compile gives one segment); profile columns
    joined; pii hashed (`hashed`: NAME's values too, a trait of a pii column);
    ordered by key."""
    key = project.key
    m = exp.Subquery(this=members, alias=exp.TableAlias(this=ident("m")))
    names: list[str] = [key]
    keys = exp.column(ident(key), table=ident("m"))
    selects: list[exp.Expr] = [_shown(project, dialect, keys, key, show_pii)]
    q = exp.select().from_(m, copy=False)
    value = exp.column(ident(name), table=ident("m"))
    if labeled:
        shown = dialect.pii_hash(value.copy()) if hashed else value.copy()
        selects.append(exp.alias_(shown, name, quoted=True))
        names.append(name)
        q = q.where(exp.not_(exp.Is(this=value, expression=exp.null())), copy=False)
    elif flagged:  # a run's membership: every entity, a boolean per segment
        q = q.where(value, copy=False)
    if columns:
        from segql.sql.expressions import aliased, current_profiles

        q = q.join(
            aliased(current_profiles(project.profiles), "p"),
            on=exp.column(ident(key), table=ident("p")).eq(keys.copy()),
            join_type="LEFT",
            copy=False,
        )
        for c in columns:
            column = exp.column(ident(c), table=ident("p"))
            selects.append(_shown(project, dialect, column, c, show_pii))
            names.append(c)
    q = q.select(*selects, copy=False).order_by(
        exp.Ordered(this=keys.copy(), nulls_first=False), copy=False
    )
    return q, tuple(names)


def _shown(project, dialect, value: exp.Expr, name: str, show_pii: bool) -> exp.Expr:
    if name in project.pii and not show_pii:
        value = dialect.pii_hash(value)
    return exp.alias_(value, name, quoted=True)


def check_columns(project, known: list[str], columns: list[str], flag: str = "--columns") -> None:
    """Each of `columns` is a profile column (or the key): a usage error with the
    nearest name otherwise (export's --columns, diff's --by)."""
    if columns and project.profiles is None:
        raise SegqlError(f"{flag} needs a profiles table in segql.yml", usage=True)
    for c in columns:
        if c not in known and c != project.key:
            hint = did_you_mean(c, known)
            raise SegqlError(
                f"{flag}: '{c}' is not a profile column" + (f" ({hint})" if hint else ""),
                None,
                ("profile columns are " + ", ".join(known),),
                usage=True,
            )


def write(
    engine: Engine,
    rows: exp.Query,
    names: tuple[str, ...],
    fmt: str,
    out: Path,
    header: dict | None = None,
) -> Exported:
    """Run the query and write its rows to `out`, whole or not at all. `json`:
    one document, the `header` (what was exported: name, title, hypothesis,
    channels, KPIs, as_of) and its `rows`."""
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
        if fmt == "json":
            _wrap(tmp, header or {})
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
    if fmt == "json":  # one array of objects, wrapped in the header by _wrap
        params.append(exp.CopyParameter(this=exp.Var(this="ARRAY"), expression=exp.true()))
    copy = exp.Copy(
        this=exp.Subquery(this=rows), kind=False, files=[exp.Literal.string(path)], params=params
    )
    return int(engine.fetch(copy)[0][0])  # DuckDB's COPY answers the rows it wrote


def _wrap(path: str, header: dict) -> None:
    """The rows DuckDB wrote as a JSON array, inside the header's object."""
    import json

    with open(path, encoding="utf-8") as f:
        array = f.read().strip() or "[]"
    head = json.dumps(header, indent=2, ensure_ascii=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head[:-2] + ',\n  "rows": ' + array + "\n}\n" if header else array + "\n")


def header_of(d, name: str, as_of: dt.datetime) -> dict:
    """What a json export says about itself: the definition's marketing context."""
    from segql.ops.preview import metadata

    title, hypothesis, channels, kpis = metadata(d) if d is not None else (None, None, (), ())
    kind = type(d).__name__.lower() if d is not None else None
    return {
        "name": name,
        "kind": kind,
        "title": title,
        "hypothesis": hypothesis,
        "channels": list(channels),
        "kpis": list(kpis),
        "as_of": as_of.isoformat() + "Z",
    }


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
    changes: bool = False,
) -> Exported:
    """The CLI's export: NAME evaluated at --as-of (or on --sample), else read
    from the target's last run; with `changes`, that run's entries and exits."""
    from segql import api
    from segql.ops.preview import _as_of, one_source, open_data
    from segql.project import find_project_file, load_project

    path = check_out(out)
    one_source(target, db, sample)
    if changes:
        if fmt != "jsonl":
            raise SegqlError("--changes writes JSON lines: --format jsonl", usage=True)
        return _changes(name, path, project, target, db, show_pii)
    if as_of is None and not sample:  # the last run's membership
        return _from_state(name, path, fmt, project, target, db, columns or [], show_pii)
    proj = load_project(find_project_file(project, paths))
    when, _ = _as_of(as_of, proj, sample)
    proj, engine, _ = open_data(proj, target, db, sample, scale, lambda _m: None)
    with engine:
        model = api.load_with(proj, paths or [str(proj.root)], engine)
        rows, names = query(model, engine.dialect, name, when, columns or [], show_pii)
        header = header_of(model.definitions.get(name), name, when)
        return write(engine, rows, names, fmt, path, header)


def _last_run(project: str | None, target: str | None, db: str | None):
    from segql.ops import history as hs
    from segql.ops import state as st

    proj, engine, state = hs.open_state(project, target, db)
    last = st.last_run(state)
    if last is None:
        engine.close()
        raise SegqlError(
            f"no runs in state schema '{state.schema}': segql run first, or give --as-of",
            None,
            ("--as-of evaluates the definitions at that instant instead",),
        )
    return proj, engine, state, last


def _output_of(state, name: str, traits: bool = True) -> str:
    """NAME's kind in the last run's membership (segment / label / trait: a
    column of `run --traits`)."""
    from segql.ops import history as hs

    outputs = hs.outputs_of(state)
    if name in outputs:
        return outputs[name]
    written = hs.traits_of(state)
    if name in written:
        if not traits:
            raise SegqlError(
                f"'{name}' is a trait: it has no changes",
                None,
                ("export its values: segql export NAME without --changes",),
            )
        return "trait"
    columns = [*outputs, *written]
    hint = did_you_mean(name, columns)
    raise SegqlError(
        f"'{name}' is not in the last run's membership" + (f" ({hint})" if hint else ""),
        None,
        (
            "columns of the run: " + (", ".join(columns) or "none"),
            "a trait is there when the run had --traits (segql run PATH --traits), "
            "or give --as-of to evaluate it at that instant",
        ),
    )


def _from_state(name, path, fmt, project, target, db, columns, show_pii) -> Exported:
    from segql.ops import state as st

    proj, engine, state, last = _last_run(project, target, db)
    with engine:
        kind = _output_of(state, name)
        if columns:
            from segql.sql.expressions import table_expr

            known = engine.columns(table_expr(proj.profiles)) if proj.profiles else {}
            check_columns(proj, list(known or {}), columns)
        members = st.membership_of(state, last.run_id)
        hashed = kind == "trait" and not show_pii and _pii_trait(proj, engine, name)
        rows, names = shaped(
            proj,
            engine.dialect,
            members,
            name,
            kind != "segment",
            columns,
            show_pii,
            flagged=True,
            hashed=hashed,
        )
        header = header_of(_definition(proj, name), name, last.as_of) if fmt == "json" else None
        return write(engine, rows, names, fmt, path, header)


def _definition(proj, name: str):
    """NAME's definition as the project now writes it (for a json header), if any."""
    from segql import api
    from segql.errors import SegqlError, SegqlErrors

    try:
        return api.load_with(
            proj, [str(proj.root)], catalog=api.project_catalog(proj)
        ).definitions.get(name)
    except (SegqlError, SegqlErrors):
        return None


def _pii_trait(proj, engine, name: str) -> bool:
    """Whether a trait column of the last run holds a `pii:` column's values,
    as the project's definitions say now; when they cannot be read, any text
    trait is taken to (hashed rather than leaked)."""
    from segql import api
    from segql.errors import SegqlErrors

    if not proj.pii:
        return False
    try:
        model = api.load_with(proj, [str(proj.root)], engine)
    except (SegqlError, SegqlErrors):
        return True
    d = model.definitions.get(name)
    return not isinstance(d, ast.Trait) or name in pii_traits(model)


def _changes(name, path, project, target, db, show_pii) -> Exported:
    """The last run's changes of NAME as Segment-style track events, one JSON
    object per line: entries and exits (a move: the exit, then the entry)."""
    import json

    from segql.ops import state as st
    from segql.ops.files import replacing

    proj, engine, state, last = _last_run(project, target, db)
    key = proj.key
    with engine:
        _output_of(state, name, traits=False)
        user = exp.column(ident(key))
        if key in proj.pii and not show_pii:
            user = engine.dialect.pii_hash(user)
        order = exp.Case(
            ifs=[exp.If(this=exp.column("event").eq(st.lit("exit")), true=exp.Literal.number(0))],
            default=exp.Literal.number(1),
        )
        q = (
            exp.select(
                exp.alias_(user, "user", quoted=True), exp.column("event"), exp.column("label")
            )
            .from_(state.changes)
            .where(exp.column("run_id").eq(st.lit(last.run_id)))
            .where(exp.column("name").eq(st.lit(name)))
            .order_by(exp.column(ident(key)), order)
        )
        rows = engine.fetch(q)
    stamp = last.as_of.isoformat() + "Z"
    events = {"enter": "Segment Entered", "exit": "Segment Exited"}
    from segql.ops.render import json_value

    with replacing(path) as f:
        for user_id, event, label in rows:
            record = {
                "type": "track",
                "event": events[event],
                "userId": json_value(user_id),
                "properties": {"segment": name, "label": label},
                "timestamp": stamp,
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return Exported(path, len(rows), ("userId", "event", "label"))
