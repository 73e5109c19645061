"""Checks of bound definitions that are not about names or types: the limits of
what segql compiles. They run in resolve, so that `validate` reports everything
`compile` would: code generation never rejects input (docs/architecture.md).

None of these limits depends on the dialect: each holds for every engine, so
validate needs no dialect to report them (docs/language.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from segql.errors import Diagnostics, Span
from segql.semantic.registry import FUNCTIONS
from segql.syntax import ast

# SQL generation (sqlglot's recursive generator) takes some 6 to 9 Python frames
# per level of an expression: past 119 levels of '/' it ran out of Python's
# default 1,000 frames (BigQuery), past about 150 for most operators. 64 leaves
# room for the caller's own frames (a test runner, an application).
MAX_DEPTH = 64


def depth(e: ast.Node) -> int:
    """Levels of operators, calls and aggregates in e (parentheses are not nodes).
    Walked with a stack of its own: the expression may be deeper than Python's."""
    deepest = 0
    todo = [(e, 1)]
    while todo:
        node, level = todo.pop()
        deepest = max(deepest, level)
        todo.extend((child, level + 1) for child in ast.children(node))
    return deepest


def check_depth(
    what: str, exprs: list[ast.Expr], where: Callable[[], Span], diags: Diagnostics
) -> None:
    """`what` ('x', 'universe') nests none of its expressions (a segmentation has
    one per rule) more than MAX_DEPTH levels deep. `where` gives the span to
    report, found only for an error (narrowing a span reads the file)."""
    n = max((depth(e) for e in exprs), default=0)
    if n > MAX_DEPTH:
        diags.error(
            f"{what} is nested too deeply to compile ({n} levels; at most {MAX_DEPTH})",
            where(),
            "split the expression into traits: each is computed on its own",
        )


def check_sequence_steps(seq: ast.Sequence, diags: Diagnostics) -> None:
    """With `within`, 'then not' follows one or two steps: the windowed pass finds
    the latest B before a missing C (LANGUAGE.md §6), not a chain of three or more.
    Without `within` any number of steps chain (sql/chains.py).
    `then directly` and `within` do not mix (docs/language.md, "Sequences")."""
    last = seq.steps[-1]
    if seq.within is not None and last.negated and len(seq.steps) > 3:
        diags.error(
            "'then not' after more than two steps is not supported",
            last.span,
            "at most two steps come before 'then not': A then B then not C within D",
        )
    direct = next((s for s in seq.steps if s.directly), None)
    if seq.within is not None and direct is not None:
        diags.error(
            "'then directly' cannot be used with 'within'",
            direct.span,
            "the next row already follows at once: drop 'within', or write 'then' "
            "to allow other rows in between",
        )


def check_universe(e: ast.Expr, diags: Diagnostics) -> None:
    """The universe is a condition on profile columns: aggregates and ranks are
    computed over the universe, so they cannot define it."""
    for node in ast.walk(e):
        match node:
            case ast.Aggregate(func=f):
                pass
            case ast.Call(func=f) if FUNCTIONS[f].ranked:
                pass
            case ast.Sequence():
                f = "did"
            case _:
                continue
        diags.error(
            f"'universe' is a condition on profile columns: it cannot use {f}()",
            node.span,
            "write the condition as a segment instead",
        )


def check_groups(split: ast.Split, diags: Diagnostics) -> None:
    """A split's groups: distinct names, shares over 0% with at most two decimals
    (a bucket is 0.01%: LANGUAGE.md §13), adding up to at most 100%."""
    seen: dict[str, ast.Group] = {}
    total = Decimal(0)
    for g in split.groups:
        if g.name in seen:
            at = seen[g.name].span
            diags.error(
                f"duplicate group '{g.name}' in split '{split.name}' (also at line {at.line})",
                g.span,
            )
        seen.setdefault(g.name, g)
        if g.percent <= 0:
            diags.error(f"group '{g.name}' has a share of 0%: a share is more than 0%", g.span)
        elif g.percent * 100 % 1:
            diags.error(
                f"the share of group '{g.name}' has more than two decimals ({g.percent}%)",
                g.span,
                "a split has 10,000 buckets of 0.01%: write e.g. 33.33%",
            )
        before, total = total, total + g.percent
        if total > 100 >= before:
            diags.error(
                f"the groups of split '{split.name}' add up to "
                f"{sum(x.percent for x in split.groups)}%, more than 100%",
                g.span,
                "the shares may add up to less: the rest of the members get no group",
            )
