"""Anchored windows' anchors (LANGUAGE.md §17: `7 to 14 days after signup_at`,
`first 30 days after first(orders.ordered_at)`): one instant per entity, each
distinct anchor expression evaluated once, in CTEs of their own before any read.

An anchor may be anything a trait may be (a profile column, a trait, first/last
of a source's time, even an aggregate over another anchored window), so it is
computed as one: the anchors are the outputs of a plan of their own over the
same model (the way `segql fit` computes clusters features), written with the
prefix `anchor_` (`anchor_src_orders`, `anchor_layer_1`, …) and ending in
`anchors`: the key as `segql_anchor_key` and one naive UTC instant per anchor.
A read of rows that an anchored window bounds LEFT JOINs `anchors` on the key
(Scans.from_source) and compares the row's time with the anchor's column.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from sqlglot import exp

from segql.plan.logical import plan as make_plan
from segql.semantic.model import DATE, type_of
from segql.sql.expressions import col, ident
from segql.sql.scans import ANCHOR_KEY
from segql.syntax import ast

if TYPE_CHECKING:
    from segql.sql.query import Generator


def anchor_ctes(gen: Generator) -> list[tuple[str, exp.Expr]]:
    """The CTEs computing the anchors of gen's plan, the last named gen.cte("anchors")."""
    from segql.sql.query import Generator  # the query builds its anchors: imported late

    model = gen.plan.model
    traits: dict[str, ast.Trait] = {}
    columns: dict[str, str] = {}  # trait -> its anchor's column
    for anchor, column in gen.plan.anchors.items():
        name = column
        while name in model.definitions:  # never a definition's own name
            name += "_"
        traits[name] = ast.Trait(name, anchor, anchor.span)  # type: ignore[arg-type]
        columns[name] = column
    extended = dataclasses.replace(
        model,
        definitions={**model.definitions, **traits},
        types={**model.types, **{n: type_of(t.expr) for n, t in traits.items()}},
    )
    sub = Generator(
        make_plan(extended, tuple(traits), "membership"),
        gen.dialect,
        gen.clock,
        prefix=gen.prefix + "anchor_",
    )
    ctes, last = sub.body()
    selects: list[exp.Expr] = [exp.alias_(col(sub.key), ANCHOR_KEY, quoted=True, copy=False)]
    for name, column in columns.items():
        value: exp.Expr = col(sub.plan.defs[name].column)
        if extended.types[name] == DATE:  # a date anchors at its local midnight
            value = gen.dialect.local_date_start(value, gen.project.timezone)
        selects.append(exp.alias_(value, column, quoted=True, copy=False))
    ctes.append((gen.cte("anchors"), exp.select(*selects).from_(ident(last), copy=False)))
    return ctes
