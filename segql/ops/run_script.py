"""`segql compile PATH… --run-script [--target T | --dialect D] [--as-of TS]`
(LANGUAGE.md §12, docs/run.md): the whole of a `segql run` as one SQL script,
for engines segql does not run on (BigQuery, Snowflake, Trino), to be run by a
scheduler. The statements are run_steps.py's, those `segql run` executes; what
a run reads from the state first, the script reads in SQL:

- run_id (one above the last), as_of (the --as-of, else the engine's clock when
  the script starts: the membership query's clock is pinned to it) and the
  start time: one row of a temporary table (state.RUN);
- an as_of earlier than the last run's, or equal to it with other definitions:
  a statement that fails (the dialect's error function), in the transaction,
  before any write; the same as_of and definitions: every write is skipped
  (a no-op);
- the previous membership: the rows of the last run in `membership`, which
  has a column for every output (added when missing).

    script(model, dialect, as_of) -> list[exp.Expr]
    render(statements, dialect) -> str
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from segql.errors import SegqlError
from segql.ops import changes as ch
from segql.ops import run as rn
from segql.ops import run_steps as rs
from segql.ops import state as st
from segql.semantic.model import Model
from segql.sql.dialects import Dialect, get_dialect

PREFIX = "segql run script: "


def script(model: Model, dialect: str | None = None, as_of: dt.datetime | None = None):
    """The statements of a run of the model's selected definitions."""
    from segql import api

    d = get_dialect(dialect or model.project.dialect)
    state = st.State(None, model.project.state_schema, model.project.key, d)
    run_t = state.scratch(st.RUN)

    def param(name: str) -> exp.Expr:
        return exp.Subquery(this=exp.select(st.col(name)).from_(run_t.copy()))

    run_id, when = param("run_id"), param("as_of")
    result = api.compile_model(model, d.name, as_of, now=when if as_of is None else None)
    kinds = {
        o.name: ("segment" if o.role == "segment" else "label")
        for o in result.outputs
        if o.role != "key"
    }
    rn._check_names(model.project.key, kinds)
    defs = rn.definitions_hash(model, d.name)
    sql_hash = hashlib.sha256(result.sql().encode()).hexdigest()

    def run_values() -> dict[str, exp.Expr]:
        return {
            "run_id": ch.run_id_expr(run_id),
            "as_of": when.copy(),
            "started_at": param("started_at"),
            "finished_at": d.now(),
            "status": st.lit(st.OK),
            "segql_version": st.lit(rn._version()),
            "definitions_hash": st.lit(defs),
            "sql_hash": st.lit(sql_hash),
            "engine": st.lit(d.name),
        }

    plan = rs.Plan(
        state,
        result.tree,
        kinds,
        run_id,
        when,
        rn._size_rows(model, kinds),
        run_values,
        script=_script_part(state, d, as_of, defs),
    )
    return list(rs.statements(plan))


def _script_part(state: st.State, d: Dialect, as_of: dt.datetime | None, defs: str) -> rs.Script:
    run_t = state.scratch(st.RUN)
    first = exp.Coalesce(this=exp.Max(this=st.col("run_id")), expressions=[st.lit(0)])
    run_row = exp.select(
        exp.alias_(
            exp.cast(exp.Add(this=first, expression=st.lit(1)), st.bigint_type()),
            "run_id",
            quoted=True,
        ),
        exp.alias_(d.instant(as_of) if as_of is not None else d.now(), "as_of", quoted=True),
        exp.alias_(d.now(), "started_at", quoted=True),
    ).from_(state.runs)
    when = exp.Subquery(this=exp.select(st.col("as_of")).from_(run_t.copy()))
    this_run = exp.Subquery(this=exp.select(st.col("run_id")).from_(run_t.copy()))
    ok = st.col("status").eq(st.lit(st.OK))

    def text(e: exp.Expr) -> exp.Expr:
        return exp.cast(e, st.text_type())

    def message(*parts: exp.Expr) -> exp.Expr:
        out = parts[0]
        for p in parts[1:]:
            out = exp.DPipe(this=out, expression=p, safe=True)
        return out

    last = exp.Max(this=st.col("as_of"))
    earlier = d.fail(
        message(
            st.lit(PREFIX + "as_of "),
            text(when.copy()),
            st.lit(" is earlier than the last run's ("),
            text(last.copy()),
            st.lit("): runs go forward"),
        )
    )
    same_at = exp.and_(
        st.col("as_of").eq(when.copy()),
        exp.NEQ(this=st.col("definitions_hash"), expression=st.lit(defs)),
    )
    others = exp.Sum(this=exp.Case(ifs=[exp.If(this=same_at, true=st.lit(1))], default=st.lit(0)))
    replaced = d.fail(
        message(
            st.lit(PREFIX + "a run at as_of "),
            text(when.copy()),
            st.lit(" has other definitions; a script replaces no run (segql run --force does)"),
        )
    )
    check = (
        exp.select(
            exp.alias_(
                exp.Case(
                    ifs=[
                        exp.If(this=exp.GT(this=last, expression=when.copy()), true=earlier),
                        exp.If(this=exp.GT(this=others, expression=st.lit(0)), true=replaced),
                    ]
                ),
                "check",
                quoted=True,
            )
        )
        .from_(state.runs)
        .where(ok.copy())
    )
    done = (
        exp.select(st.lit(1))
        .from_(state.runs)
        .where(ok.copy())
        .where(st.col("as_of").eq(when.copy()))
        .where(st.col("definitions_hash").eq(st.lit(defs)))
        .where(exp.NEQ(this=st.col("run_id"), expression=this_run))
    )
    gate = exp.Not(this=exp.Exists(this=done))
    last_ok = exp.select(exp.Max(this=st.col("run_id"))).from_(state.runs).where(ok.copy())
    previous = (
        exp.select("*")
        .from_(state.membership)
        .where(st.col("run_id").eq(exp.Subquery(this=last_ok)))
    )
    return rs.Script(run_row, check, gate, previous)


def render(statements: list[exp.Expr], dialect: str, header: str = "") -> str:
    """The script's text: each statement pretty, ending in `;`."""
    d = get_dialect(dialect)
    out = [header] if header else []
    for s in statements:
        try:
            text = s.sql(
                dialect=d.sqlglot, pretty=True, identify=True, unsupported_level=ErrorLevel.RAISE
            )
        except UnsupportedError as e:
            raise SegqlError(f"cannot express this on {d.name}: {e}") from None
        out.append(text + ";\n")
    return "\n".join(out)


def run_script(
    paths: list[str],
    project: str | None = None,
    target: str | None = None,
    dialect: str | None = None,
    as_of: str | dt.datetime | None = None,
) -> str:
    """`segql compile --run-script`: the script's text."""
    from segql import api

    if dialect is not None:
        get_dialect(dialect)
    model = api.load(paths, project, target=target)
    when = api.parse_as_of(as_of, model.project.timezone) if isinstance(as_of, str) else as_of
    d = get_dialect(dialect or model.project.dialect)
    stmts = script(model, d.name, when)
    clock = f"as_of {when:%Y-%m-%d %H:%M:%S} UTC" if when else "as_of: the engine's clock"
    header = (
        f"-- segql run script for {d.name}: state in '{model.project.state_schema}', "
        f"{clock} (docs/run.md)\n"
    )
    return render(stmts, d.name, header)


__all__ = ["script", "render", "run_script", "PREFIX"]
