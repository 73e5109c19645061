"""The queries that write a run's rows (docs/run.md), as sqlglot trees over
the temporary tables of a run: `__segql_new` (this run's membership) and
`__segql_pair` (it beside the previous membership). The tables themselves
and every reader of them are in segql/ops/state.py; the flow in run.py.
"""

from __future__ import annotations

from sqlglot import exp

from segql.ops.state import (
    NEW,
    PAIR,
    Kind,
    State,
    bigint_type,
    col,
    lit,
    membership_of,
    text_type,
    union_all,
)

RunId = int | exp.Expr  # a number (segql run), or an expression (a script's run)


def run_id_expr(run_id: RunId) -> exp.Expr:
    """A run's run_id as a BIGINT expression."""
    value = lit(run_id) if isinstance(run_id, int) else run_id.copy()
    return exp.cast(value, bigint_type())


def new_membership(query: exp.Query, as_of: exp.Expr, run_id: RunId) -> exp.Select:
    """The compiled membership query wrapped: its columns, then as_of and run_id."""
    return exp.select(
        exp.Star(),
        exp.alias_(as_of.copy(), "as_of", quoted=True),
        exp.alias_(run_id_expr(run_id), "run_id", quoted=True),
    ).from_(exp.alias_(exp.Subquery(this=query), "q", quoted=True))


def reversed_membership(
    state: State, last: int, current: dict[str, Kind], in_changes: dict[str, Kind]
) -> tuple[exp.Select, dict[str, Kind]]:
    """The membership before run `last`, rebuilt from its membership and its
    changes (for `--force`, which compares against the run before the one it
    replaces): a key that exited a name in `last` was in it (with the exit's
    label), one that entered was not, any other is as after `last`."""
    key = state.key
    names = {**current, **{n: k for n, k in in_changes.items() if n not in current}}
    m = exp.alias_(exp.Subquery(this=membership_of(state, last)), "m", quoted=True)
    changed = exp.select("*").from_(state.changes).where(col("run_id").eq(lit(last)))
    keys = exp.union(
        exp.select(col(key)).from_(
            exp.alias_(exp.Subquery(this=membership_of(state, last)), "m", quoted=True)
        ),
        exp.select(col(key)).from_(exp.alias_(exp.Subquery(this=changed.copy()), "c", quoted=True)),
        distinct=True,
    )
    flags: list[exp.Expr] = [col(key)]
    for i, (name, kind) in enumerate(names.items()):
        is_name = col("name").eq(lit(name))
        for flag, event in ((f"x{i}", "exit"), (f"e{i}", "enter")):
            hit = exp.and_(is_name, col("event").eq(lit(event)))
            # a label's exit keeps the label it left; otherwise a mark
            then = col("label") if flag[0] == "x" and kind == "label" else lit("1")
            flags.append(
                exp.alias_(
                    exp.Max(this=exp.Case(ifs=[exp.If(this=hit, true=then)])), flag, quoted=True
                )
            )
    c = exp.alias_(
        exp.Subquery(
            this=exp.select(*flags)
            .from_(exp.alias_(exp.Subquery(this=changed), "c", quoted=True))
            .group_by(col(key))
        ),
        "c",
        quoted=True,
    )
    out: list[exp.Expr] = [exp.alias_(col(key, "k"), key, quoted=True)]
    for i, (name, kind) in enumerate(names.items()):
        now = col(name, "m") if name in current else exp.Null()
        exited = exp.Not(this=exp.Is(this=col(f"x{i}", "c"), expression=exp.Null()))
        entered = exp.Not(this=exp.Is(this=col(f"e{i}", "c"), expression=exp.Null()))
        if kind == "segment":
            was_exit, was_enter = exp.true(), exp.false()
            other = exp.Coalesce(this=now, expressions=[exp.false()])
        else:
            was_exit, was_enter = col(f"x{i}", "c"), exp.cast(exp.Null(), text_type())
            other = now if name in current else exp.cast(exp.Null(), text_type())
        before = exp.Case(
            ifs=[exp.If(this=exited, true=was_exit), exp.If(this=entered, true=was_enter)],
            default=other,
        )
        out.append(exp.alias_(before, name, quoted=True))
    query = (
        exp.select(*out)
        .from_(exp.alias_(exp.Subquery(this=keys), "k", quoted=True))
        .join(m, on=col(key, "k").eq(col(key, "m")), join_type="left")
        .join(c, on=col(key, "k").eq(col(key, "c")), join_type="left")
    )
    return query, names


def changes_in_run(state: State, run_id: int) -> dict[str, Kind]:
    """The names with changes in a run and their kind (a label: a segmentation)."""
    q = (
        exp.select(col("name"), exp.Max(this=col("label")))
        .from_(state.changes)
        .where(col("run_id").eq(lit(run_id)))
        .group_by(col("name"))
    )
    return {n: ("segment" if lab is None else "label") for n, lab in state.engine.fetch(q)}


def pair_query(
    state: State, new: dict[str, Kind], old: dict[str, Kind], old_table: exp.Expr
) -> exp.Select:
    """New and previous membership side by side, a row per key in either with
    a change: `k`, and per name (i: its position in the union of the names)
    `f<i>` for a segment on both sides (its flip: null when unchanged, else
    whether the key is in it now, i.e. true an entry, false an exit), else the
    new and old values `n<i>` and `o<i>`. A first run has no pair: its changes
    read the new membership."""
    key = state.key
    names = list(dict.fromkeys([*new, *old]))
    n_t = exp.alias_(state.scratch(NEW), "n", quoted=True)
    both = exp.Coalesce(this=col(key, "n"), expressions=[col(key, "o")])
    cols: list[exp.Expr] = [exp.alias_(both, "k", quoted=True)]
    flips = _one_column(new, old, True)
    for i, name in enumerate(names):
        if name in flips:
            now, before = (
                exp.Coalesce(this=col(name, side), expressions=[exp.false()]) for side in "no"
            )
            flip = exp.If(this=exp.NEQ(this=now, expression=before), true=now.copy())
            cols.append(exp.alias_(exp.Case(ifs=[flip]), flips[name], quoted=True))
            continue
        if name in new:
            cols.append(exp.alias_(col(name, "n"), f"n{i}", quoted=True))
        if name in old:
            cols.append(exp.alias_(col(name, "o"), f"o{i}", quoted=True))
    o_t = exp.alias_(exp.Subquery(this=old_table), "o", quoted=True)
    q = (
        exp.select(*cols, copy=False)
        .from_(n_t, copy=False)
        .join(o_t, on=col(key, "n").eq(col(key, "o")), join_type="full outer", copy=False)
    )
    # only the keys with a change: the branches of `changes` read no other
    # (most keys keep every membership from one run to the next). A flip is
    # not null where its segment changed: one COALESCE of the flips tests them
    # all (a third of the CPU time of testing each flip's entry and exit)
    conds = [cond for name, *_, cond in _events(new, old, True) if name not in flips]
    if flips:
        first, *more = (col(c) for c in flips.values())
        changed = exp.Coalesce(this=first, expressions=more) if more else first
        conds.insert(0, exp.Not(this=exp.Is(this=changed, expression=exp.Null())))
    if not conds:
        return q
    p = exp.alias_(exp.Subquery(this=q), "p", quoted=True)
    return exp.select("*").from_(p, copy=False).where(_any(conds), copy=False)


def _any(conds: list[exp.Expr]) -> exp.Expr:
    """OR of the conditions as a balanced tree: thousands of definitions nest
    only log2 deep (sqlglot renders recursively)."""
    if len(conds) == 1:
        return exp.paren(conds[0])
    half = len(conds) // 2
    return exp.Or(this=_any(conds[:half]), expression=_any(conds[half:]))


def _one_column(new: dict[str, Kind], old: dict[str, Kind], paired: bool) -> dict[str, str]:
    """The segments whose entries and exits sit in one column (name ->
    column). In the pair: a segment before and after holds its flip alone
    (`f<i>`: one column instead of two, most of them null, cheaper to store
    and to read). On a first run: the membership's own column (true enters)."""
    names = list(dict.fromkeys([*new, *old]))
    if paired:
        both = {n for n in names if new.get(n) == old.get(n) == "segment"}
        return {n: f"f{i}" for i, n in enumerate(names) if n in both}
    return {n: n for n in names if new.get(n) == "segment"}


def _events(new: dict[str, Kind], old: dict[str, Kind], paired: bool):
    """(name, event, column, kind, condition) per change a row can hold, over
    the pair (`paired`) or, on a first run, over the new membership: for a
    segment enter = true now and not before, exit = true before and not now
    (the pair's flip); for a label a move is an exit of the old label and an
    enter of the new. A name only on one side enters (added) or exits
    (removed) all its members; a name whose kind changed exits as the old kind
    and enters as the new."""
    names = list(dict.fromkeys([*new, *old]))
    flips = _one_column(new, old, True) if paired else {}
    for i, name in enumerate(names):
        if name in flips:
            flip = col(flips[name])
            yield name, "enter", None, "segment", flip
            yield name, "exit", None, "segment", exp.Not(this=flip.copy())
            continue
        n_kind, o_kind = new.get(name), old.get(name) if paired else None
        now, before = (f"n{i}", f"o{i}") if paired else (name, name)
        sides = (("enter", now, n_kind, before, o_kind), ("exit", before, o_kind, now, n_kind))
        for event, this, kind, other, other_kind in sides:
            if kind is None:
                continue
            if kind == "segment":
                member: exp.Expr = exp.Coalesce(this=col(this), expressions=[exp.false()])
            else:
                member = exp.Not(this=exp.Is(this=col(this), expression=exp.Null()))
            if other_kind != kind:
                cond = member
            elif kind == "segment":
                still = exp.Coalesce(this=col(other), expressions=[exp.false()])
                cond = exp.and_(member, exp.Not(this=exp.paren(still)), copy=False)
            else:
                same = exp.Coalesce(this=col(this).eq(col(other)), expressions=[exp.false()])
                cond = exp.and_(member, exp.Not(this=exp.paren(same)), copy=False)
            yield name, event, this, kind, cond


def change_branches(
    state: State,
    run_id: RunId,
    as_of: exp.Expr,
    new: dict[str, Kind],
    old: dict[str, Kind],
    has_old: bool,
) -> list[exp.Select]:
    """SELECTs giving `changes` rows, one per (name, event) (`_events` says
    which): over the pair table, or on a first run (no previous membership:
    every member enters) over the new membership itself. Where the engine has
    UNPIVOT, the segments read from one column each (a first run's, or the
    pair's flips) are one branch: one pass instead of two filters per name."""
    order = state.columns(state.changes)
    source, key = (state.scratch(PAIR), "k") if has_old else (state.scratch(NEW), state.key)
    single = _one_column(new, old, has_old)
    out = []
    branch = _unpivoted(state, run_id, as_of, source, key, single, has_old)
    if branch is not None:
        out.append(branch)
    done = single if branch is not None else {}
    for name, event, this, kind, cond in _events(new, old, has_old):
        if name in done:
            continue
        label = exp.cast(exp.Null(), text_type()) if kind == "segment" else col(this)
        values = {
            "run_id": run_id_expr(run_id),
            "as_of": as_of.copy(),
            "name": lit(name),
            state.key: col(key),
            "event": lit(event),
            "label": label,
        }
        out.append(
            exp.select(*(exp.alias_(values[c], c, quoted=True) for c in order), copy=False)
            .from_(source.copy(), copy=False)
            .where(cond, copy=False)
        )
    return out


def _unpivoted(
    state: State,
    run_id: RunId,
    as_of: exp.Expr,
    source: exp.Table,
    key: str,
    single: dict[str, str],
    has_old: bool,
) -> exp.Select | None:
    """The `changes` rows of the segments in `single` (name -> column) as one
    UNPIVOT (None where the engine has none): a row per key and segment whose
    column is not null; true enters, false exits (the pair's flips), or on a
    first run only true is kept (its columns are the membership's)."""
    if len(single) < 2:  # one filter is as good
        return None
    # the unpivot's own columns, beside the key (a key may have any name)
    what, value = (n + "_" * (n == state.key) for n in ("__segql_name", "__segql_value"))
    rows = exp.select(
        exp.alias_(col(key), state.key, quoted=True),
        *(exp.alias_(col(c), name, quoted=True) for name, c in single.items()),
        copy=False,
    ).from_(source.copy(), copy=False)
    unpivoted = state.dialect.unpivot(rows, list(single), what, value)
    if unpivoted is None:
        return None
    entered = lit("enter")
    event = (
        exp.Case(ifs=[exp.If(this=col(value), true=entered)], default=lit("exit"))
        if has_old
        else entered
    )
    values = {
        "run_id": run_id_expr(run_id),
        "as_of": as_of.copy(),
        "name": col(what),
        state.key: col(state.key),
        "event": event,
        "label": exp.cast(exp.Null(), text_type()),
    }
    order = state.columns(state.changes)
    q = exp.select(*(exp.alias_(values[c], c, quoted=True) for c in order), copy=False).from_(
        unpivoted, copy=False
    )
    return q if has_old else q.where(col(value), copy=False)


OBSERVED = "\0observed"  # sizes_query: the labels found in the membership


def sizes_query(
    state: State,
    run_id: RunId,
    as_of: exp.Expr,
    rows: list[tuple[str, str | None, str]],
    first: bool = False,
) -> exp.Select:
    """`sizes` rows of this run: `rows` holds (name, label, column) per segment
    (label None) and per declared label of each segmentation (OBSERVED: per
    label present, for label columns without declared labels); members counted in
    the new membership, entered/exited in this run's changes (on a `first` run,
    with no membership before it, every member entered and none exited: its
    changes are not read back), share of the universe (the new membership's
    rows; null when it is empty)."""
    new = state.scratch(NEW)
    # one pass over the new membership counts the universe and every declared row
    # (a row of COUNTs, `t`); a declared row takes its count from it by position
    # `i`, a row of observed labels brings its own
    counts: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "universe", quoted=True)]
    branches: list[exp.Query] = []

    def row(name: str, label: exp.Expr, i: exp.Expr, members: exp.Expr) -> exp.Select:
        return exp.select(
            exp.alias_(lit(name), "name", quoted=True),
            exp.alias_(exp.cast(label, text_type()), "label", quoted=True),
            exp.alias_(exp.cast(i, bigint_type()), "i", quoted=True),
            exp.alias_(exp.cast(members, bigint_type()), "members", quoted=True),
        )

    for name, label, column in rows:
        if label == OBSERVED:  # labels not declared (not a segmentation): those present
            branches.append(
                row(name, col(column), exp.Null(), exp.Count(this=exp.Star()))
                .from_(new.copy())
                .where(exp.Not(this=exp.Is(this=col(column), expression=exp.Null())))
                .group_by(col(column))
            )
            continue
        cond: exp.Expr = col(column) if label is None else col(column).eq(lit(label))
        i = len(counts) - 1
        hit = exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))])
        counts.append(exp.alias_(exp.Count(this=hit), f"m{i}", quoted=True))
        branches.append(row(name, lit(label), exp.Literal.number(i), exp.Null()))
    b = union_all(branches)
    t = exp.select(*counts).from_(new.copy())
    picks = [
        exp.If(this=exp.Literal.number(i), true=col(f"m{i}", "t")) for i in range(len(counts) - 1)
    ]
    members: exp.Expr = col("members", "b")
    if picks:
        members = exp.Coalesce(this=members, expressions=[exp.Case(this=col("i", "b"), ifs=picks)])

    share = exp.Case(
        ifs=[exp.If(this=col("universe", "t").eq(exp.Literal.number(0)), true=exp.Null())],
        default=exp.Div(
            this=exp.cast(members.copy(), state.dialect.double()),
            expression=col("universe", "t"),
        ),
    )
    if first:
        entered, exited = members.copy(), exp.Literal.number(0)
    else:
        entered = exp.Coalesce(this=col("entered", "c"), expressions=[exp.Literal.number(0)])
        exited = exp.Coalesce(this=col("exited", "c"), expressions=[exp.Literal.number(0)])
    values = {
        "run_id": run_id_expr(run_id),
        "as_of": as_of.copy(),
        "name": col("name", "b"),
        "label": col("label", "b"),
        "members": exp.cast(members, bigint_type()),
        "share": share,
        "entered": exp.cast(entered, bigint_type()),
        "exited": exp.cast(exited, bigint_type()),
    }
    # built in place (copy=False): each copy of a builder would copy the branches
    sized = (exp.alias_(values[c], c, quoted=True) for c in state.columns(state.sizes))
    q = (
        exp.select(*sized, copy=False)
        .from_(exp.alias_(exp.Subquery(this=b), "b", quoted=True), copy=False)
        .join(exp.alias_(exp.Subquery(this=t), "t", quoted=True), join_type="cross", copy=False)
    )
    if first:
        return q

    def count(event: str) -> exp.Expr:
        hit = exp.If(this=col("event").eq(lit(event)), true=exp.Literal.number(1))
        return exp.Sum(this=exp.Case(ifs=[hit], default=exp.Literal.number(0)))

    counted = (
        exp.select(
            col("name"),
            col("label"),
            exp.alias_(count("enter"), "entered", quoted=True),
            exp.alias_(count("exit"), "exited", quoted=True),
        )
        .from_(state.changes)
        .where(col("run_id").eq(run_id_expr(run_id)))
        .group_by(col("name"), col("label"))
    )
    same_label = exp.NullSafeEQ(this=col("label", "c"), expression=col("label", "b"))
    return q.join(
        exp.alias_(exp.Subquery(this=counted), "c", quoted=True),
        on=exp.and_(col("name", "c").eq(col("name", "b")), same_label),
        join_type="left",
        copy=False,
    )


def run_row(state: State, run: dict[str, exp.Expr]) -> exp.Select:
    """The `runs` row of a run, `universe` counted in its new membership."""
    universe = exp.Subquery(this=exp.select(exp.Count(this=exp.Star())).from_(state.scratch(NEW)))
    values = {**run, "universe": exp.cast(universe, bigint_type())}
    return exp.select(*(exp.alias_(values[c], c, quoted=True) for c in state.columns(state.runs)))
