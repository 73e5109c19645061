"""Reading the state of `segql run` (docs/run.md): a definition's size per run
(`segql history`), and the membership as it was at an earlier run, rebuilt on
the engine for `segql diff --from/--to`.

History reads only `sizes` (and `runs`). A past membership is the last run's
membership with the changes since that run undone: for each entity and
definition changed since, its value then is told by its first change after
it (an `exit` says it was in, with the label it exits; an `enter` alone says
it was not). Only the changes of the runs after it are read, never the whole
table: the default diff (the last two runs) reads one run's changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from segql.errors import SegqlError, did_you_mean
from segql.ops import state as st
from segql.ops.render import percent
from segql.sql.expressions import col, ident

SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Point:
    run_id: int
    as_of: dt.datetime
    label: str | None
    members: int
    share: float | None
    entered: int
    exited: int


def open_state(project: str | None, target: str | None, db: str | None):
    """(project, engine, State) of the target's state, read-only."""
    from segql.ops.run import open_target
    from segql.project import find_project_file, load_project

    proj = load_project(find_project_file(project, []))
    proj, engine = open_target(proj, target, db, lambda _m: None, read_only=True)
    return proj, engine, st.State(engine, proj.state_schema, proj.key)


def no_runs(state: st.State) -> SegqlError:
    return SegqlError(
        f"no runs in state schema '{state.schema}' on this target",
        None,
        ("segql run PATH… writes one; segql backfill a series",),
    )


def sized_runs(state: st.State, name: str | None = None) -> dict[str, list[Point]]:
    """The `sizes` rows of every committed run (of `name` only, when given),
    per definition, oldest run first: one query (history, the catalog)."""
    committed = exp.Subquery(this=st.committed_runs(state), alias=exp.TableAlias(this=ident("r")))
    q = (
        exp.select(
            col("name", "s"),
            col("run_id", "r"),
            exp.alias_(exp.cast(col("as_of", "r"), st.text_type()), "as_of", quoted=True),
            *(col(c, "s") for c in ("label", "members", "share", "entered", "exited")),
        )
        .from_(exp.alias_(state.sizes, "s", quoted=True))
        .join(committed, on=col("run_id", "s").eq(col("run_id", "r")))
        .order_by(
            col("name", "s"),
            col("run_id", "r"),
            exp.Ordered(this=col("label", "s"), nulls_first=True),
        )
    )
    if name is not None:
        q = q.where(col("name", "s").eq(st.lit(name)))
    out: dict[str, list[Point]] = {}
    for n, r, a, lab, m, sh, e, x in state.engine.fetch(q):
        share = None if sh is None else float(sh)
        point = Point(int(r), st.parse_instant(a), lab, int(m), share, int(e), int(x))
        out.setdefault(n, []).append(point)
    return out


def history(state: st.State, name: str) -> list[Point]:
    """Every committed run's sizes rows of `name`, oldest first (a segment has
    one per run, label null; a segmentation or split one per label)."""
    if not st.runs(state):
        raise no_runs(state)
    rows = sized_runs(state, name).get(name, [])
    if not rows:
        known = [
            n for (n,) in state.engine.fetch(exp.select(col("name")).distinct().from_(state.sizes))
        ]
        hint = did_you_mean(name, known)
        raise SegqlError(
            f"'{name}' has no sizes in the runs" + (f" ({hint})" if hint else ""),
            None,
            ("names in the state: " + ", ".join(sorted(known)[:20]),),
        )
    return rows


def sparkline(values: list[int]) -> str:
    """Sizes as a line of block characters, lowest to highest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(
        SPARK[0 if span == 0 else round((v - low) * (len(SPARK) - 1) / span)] for v in values
    )


# ---------------------------------------------------------------- past membership


def find_run(runs: list[st.Run], text: str | None, default: st.Run) -> st.Run:
    """--from/--to: a run id, or an as_of (the run at that instant)."""
    if text is None:
        return default
    if text.strip().isdigit():
        wanted = int(text)
        for r in runs:
            if r.run_id == wanted:
                return r
        raise SegqlError(f"no committed run {wanted}", None, (_listing(runs),), usage=True)
    from segql.api import parse_as_of

    when = parse_as_of(text, "UTC")
    for r in runs:
        if r.as_of == when:
            return r
    raise SegqlError(f"no committed run at {when.isoformat()}", None, (_listing(runs),), usage=True)


def _listing(runs: list[st.Run]) -> str:
    shown = ", ".join(f"{r.run_id} ({r.as_of.isoformat()})" for r in runs[-8:])
    return f"runs (id, as_of): {shown}"


def membership_at(state: st.State, run: st.Run, last: st.Run, outputs: dict[str, str]) -> exp.Query:
    """The membership (key, a column per output) as it was at `run`, from the
    last run's membership and the changes of the runs after `run`."""
    key = state.key
    current = exp.Subquery(
        this=st.membership_of(state, last.run_id), alias=exp.TableAlias(this=ident("m"))
    )
    if run.run_id == last.run_id:
        return exp.select(col(key, "m"), *(col(o, "m") for o in outputs)).from_(current)
    since = [r.run_id for r in st.runs(state) if run.run_id < r.run_id <= last.run_id]
    # the committed runs after `run`: rows of runs that never committed (Spark) are not read
    after = (
        exp.select(col("name"), col(key), col("event"), col("label"), col("run_id"))
        .from_(state.changes)
        .where(exp.In(this=col("run_id"), expressions=[st.lit(r) for r in since]))
    )
    first = (
        exp.select(
            col("name"), col(key), exp.alias_(exp.Min(this=col("run_id")), "first", quoted=True)
        )
        .from_(exp.Subquery(this=after.copy(), alias=exp.TableAlias(this=ident("a"))))
        .group_by(col("name"), col(key))
    )
    # per entity: for each output changed since, whether it was in then and its label then
    then: list[exp.Expr] = [col(key, "a")]
    for name in outputs:
        is_name = col("name", "a").eq(st.lit(name))
        exit_ = exp.and_(is_name, col("event", "a").eq(st.lit("exit")))
        then += [
            exp.alias_(exp.Max(this=_when(is_name, st.lit(1))), f"changed_{name}", quoted=True),
            exp.alias_(exp.Max(this=_when(exit_, st.lit(1))), f"was_{name}", quoted=True),
            exp.alias_(exp.Max(this=_when(exit_, col("label", "a"))), f"label_{name}", quoted=True),
        ]
    undone = (
        exp.select(*then)
        .from_(exp.Subquery(this=after, alias=exp.TableAlias(this=ident("a"))))
        .join(
            exp.Subquery(this=first, alias=exp.TableAlias(this=ident("f"))),
            on=exp.and_(
                col("name", "a").eq(col("name", "f")),
                col(key, "a").eq(col(key, "f")),
                col("run_id", "a").eq(col("first", "f")),
            ),
        )
        .group_by(col(key, "a"))
    )
    keys = exp.union(
        exp.select(col(key)).from_(current.copy()),
        exp.select(col(key)).from_(
            exp.Subquery(this=undone.copy(), alias=exp.TableAlias(this=ident("u")))
        ),
        distinct=True,
    )
    selects: list[exp.Expr] = [col(key, "k")]
    for name, kind in outputs.items():
        changed = exp.EQ(this=col(f"changed_{name}", "u"), expression=st.lit(1))
        if kind == "segment":
            then_value: exp.Expr = exp.EQ(
                this=exp.func("COALESCE", col(f"was_{name}", "u"), st.lit(0)), expression=st.lit(1)
            )
            now = exp.func("COALESCE", col(name, "m"), exp.false())
        else:
            then_value, now = col(f"label_{name}", "u"), col(name, "m")
        value = exp.Case(ifs=[exp.If(this=changed, true=then_value)], default=now)
        selects.append(exp.alias_(value, name, quoted=True))
    return (
        exp.select(*selects)
        .from_(exp.Subquery(this=keys, alias=exp.TableAlias(this=ident("k"))))
        .join(current, on=col(key, "m").eq(col(key, "k")), join_type="LEFT")
        .join(
            exp.Subquery(this=undone, alias=exp.TableAlias(this=ident("u"))),
            on=col(key, "u").eq(col(key, "k")),
            join_type="LEFT",
        )
    )


def _when(cond: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=cond, true=value)])


def outputs_of(state: st.State) -> dict[str, str]:
    """The membership's output columns and their kind (segment / label); its
    trait columns (`run --traits`) are not outputs: traits_of."""
    last = st.last_run(state)
    if last is None:
        return st.kinds_of(state.engine.columns(state.membership) or {}, state.key)
    return st.membership_columns(state, last.run_id)[0]


def traits_of(state: st.State) -> dict[str, str]:
    """The trait columns of the last run's membership and their engine type."""
    last = st.last_run(state)
    return {} if last is None else st.membership_columns(state, last.run_id)[1]


# ---------------------------------------------------------------- output


def as_dict(name: str, points: list[Point]) -> dict:
    return {
        "name": name,
        "runs": [
            {
                "run_id": p.run_id,
                "as_of": p.as_of.isoformat() + "Z",
                "label": p.label,
                "members": p.members,
                "share": None if p.share is None else round(p.share, 6),
                "entered": p.entered,
                "exited": p.exited,
            }
            for p in points
        ],
    }


def to_text(name: str, points: list[Point]) -> str:
    """A line per run (and label), then a sparkline of the sizes per label."""
    labels = list(dict.fromkeys(p.label for p in points))
    width = max((len(str(lab)) for lab in labels if lab is not None), default=0)
    lines = [f"{name}: {len({p.run_id for p in points})} runs"]
    head = f"{'as_of':<20} {'label':<{width}}  " if width else f"{'as_of':<20} "
    lines.append(head + f"{'members':>9} {'share':>7} {'entered':>8} {'exited':>8}")
    for p in points:
        label = f"{p.label or '':<{width}}  " if width else ""
        lines.append(
            f"{p.as_of.isoformat(sep=' '):<20} {label}{p.members:>9,} {percent(p.share):>7} "
            f"{'+' + format(p.entered, ','):>8} {'-' + format(p.exited, ','):>8}"
        )
    for lab in labels:
        values = [p.members for p in points if p.label == lab]
        prefix = f"{lab}: " if lab is not None else ""
        lines.append(f"{prefix}{sparkline(values)}  {min(values):,} … {max(values):,}")
    return "\n".join(lines) + "\n"


def draw(name: str, points: list[Point], path: str) -> None:
    """A PNG of members per run (one line per label), through matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SegqlError("--plot needs matplotlib: pip install 'segql[plot]'") from None
    from pathlib import Path

    from segql.ops.files import replacing

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for lab in dict.fromkeys(p.label for p in points):
        mine = [p for p in points if p.label == lab]
        ax.plot([p.as_of for p in mine], [p.members for p in mine], marker="o", label=lab or name)
    ax.set_title(f"{name}: members per run")
    ax.set_ylabel("members")
    if any(p.label is not None for p in points):
        ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    with replacing(Path(path), "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
