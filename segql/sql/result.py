"""What compile returns: the query as a sqlglot tree and the columns it outputs.

Callers wrap the tree (preview's CREATE TEMP TABLE … AS <tree>, later run,
export, splits) and ask it for text only at the end: nobody edits SQL text.
The output spec comes from the plan, not from reading the tree back.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from segql.errors import SegqlError, Span
from segql.plan.logical import Plan
from segql.sql.dialects import Dialect
from segql.syntax import ast

Mode = Literal["membership", "segment", "segmentation", "trait"]
# DESIGN.md: key, segment, label (a segmentation's), split (a split's group),
# trait (a trait's value: `--traits`, `--trait`)
Role = Literal["key", "segment", "label", "split", "trait"]


@dataclass(frozen=True)
class OutputColumn:
    name: str  # the result column's name, as in the SQL
    role: Role
    definition: str | None  # the definition it shows; None for the key
    span: Span | None  # where that definition is written; None for the key


@dataclass(frozen=True)
class CompileResult:
    tree: exp.Query
    dialect: Dialect
    mode: Mode
    outputs: tuple[OutputColumn, ...]

    def sql(self, script: bool = False) -> str:
        """Pretty, deterministic SQL text ending in a newline. No trailing `;`,
        so the query can be wrapped (a view, a subquery); `script=True` ends the
        statement with `;` as a file of statements wants it."""
        return self._text + (";\n" if script else "\n")

    @functools.cached_property
    def _text(self) -> str:
        # Rendered once: without a copy (copying the tree was 1/4 of compiling)
        # sqlglot rewrites a few nodes in place for the dialect (a CAST for typed
        # division), so a second rendering is not guaranteed to be the first.
        try:
            return self.tree.sql(
                dialect=self.dialect.sqlglot,
                copy=False,
                pretty=True,
                identify=True,
                unsupported_level=ErrorLevel.RAISE,
            )
        except UnsupportedError as e:
            # no input is known to reach this (validate checks every limit:
            # tests/test_validate_finds_all.py); should one, it names the construct
            raise SegqlError(f"cannot express this on {self.dialect.name}: {e}") from None
        except RecursionError:  # a clean error, never a traceback
            raise too_deep() from None


def too_deep() -> SegqlError:
    return SegqlError("expression nested too deeply to compile", None, ("split it into traits",))


def output_columns(plan: Plan) -> tuple[OutputColumn, ...]:
    """The query's columns in order (LANGUAGE.md §9): the key, then unless one
    segment's members are asked for, a column per output named as defined — a
    boolean for a segment, the label for a segmentation, the group for a split,
    the value of a trait (`--traits`, `--trait`)."""
    key = OutputColumn(plan.model.project.key, "key", None, None)
    if plan.mode == "segment":
        return (key,)
    columns = [key]
    for name in plan.outputs:
        d = plan.model.definitions[name]
        role: Role = "segment"
        if isinstance(d, ast.Segmentation):
            role = "label"
        elif isinstance(d, ast.Split):
            role = "split"
        elif isinstance(d, ast.Trait):
            role = "trait"
        columns.append(OutputColumn(name, role, name, d.span))
    return tuple(columns)
