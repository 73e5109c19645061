"""The resolved model: the AST with every name bound, plus the project.

The resolver replaces `ast.Name`/`ast.Column` by the reference nodes below, so
later stages (plan, generate, the test oracle) never look names up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segql.project import Project
from segql.semantic.registry import AGGREGATES, FUNCTIONS
from segql.semantic.types import (  # noqa: F401 -- re-exported: the stages name types from here
    ANY,
    BOOLEAN,
    DATE,
    DURATION,
    NULL,
    NUMBER,
    STRING,
    TIMELIKE,
    TIMESTAMP,
)
from segql.syntax import ast
from segql.syntax.ast import DefRef, LabelRef, Node, ProfileRef, SourceCol, SourceRef


@dataclass(frozen=True)
class Model:
    """Everything later stages need: project, bound definitions in dependency
    order, column types, and which definitions the user selected."""

    project: Project
    definitions: dict[str, ast.Definition]  # dependency order
    profile_columns: dict[str, str]  # column -> type
    source_columns: dict[str, dict[str, str]]  # source -> column -> type
    time_types: dict[str, str]  # source -> type of its time column (timestamp/timestamptz/date)
    selected: tuple[str, ...]  # names of the selected segments/segmentations, in file order
    universe: ast.Expr | None = None
    types: dict[str, str] = field(default_factory=dict)  # definition -> type
    # file -> text as read, to show errors of later stages without reading files again
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # warnings of resolve (segql.errors.issue_warnings issues them)
    warnings: tuple = field(default=(), compare=False, repr=False)
    # the traits written in the selected files, in file order: the columns
    # `--traits` adds (docs/language.md, Traits as outputs)
    selected_traits: tuple[str, ...] = ()
    # clusters segmentation -> the hash of its features' definitions (fit files)
    cluster_hashes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def kind(self, name: str) -> str:
        d = self.definitions[name]
        return type(d).__name__.lower()


def source_of(agg: ast.Aggregate) -> str:
    """The one source an aggregate reads."""
    for n in ast.walk(agg.value):
        if isinstance(n, SourceRef | SourceCol):
            return n.source
    raise ValueError("aggregate without source")  # the resolver guarantees one


def type_of(node: Node) -> str:
    """The type of a bound expression."""
    match node:
        case ast.Number():
            return NUMBER
        case ast.String():
            return STRING
        case ast.Boolean():
            return BOOLEAN
        case ast.Null():
            return NULL
        case ast.DateLit():
            return DATE
        case ast.TimestampLit():
            return TIMESTAMP
        case ast.Duration():
            return DURATION
        case ProfileRef() | SourceCol() | DefRef():
            return node.type
        case LabelRef() | ast.InList() | ast.Between() | ast.IsNull() | ast.Like():
            return BOOLEAN
        case ast.Unary(op="not"):
            return BOOLEAN
        case ast.Unary():
            return NUMBER
        case ast.Binary(op=op) if op in ("and", "or", "=", "!=", "<", "<=", ">", ">="):
            return BOOLEAN
        case ast.Binary():
            return NUMBER
        case ast.Call(func=f, args=args):
            return FUNCTIONS[f].result([type_of(a) for a in args])
        case ast.Aggregate(func=f, value=v):
            return AGGREGATES[f].result(type_of(v))
        case ast.Sequence():
            return BOOLEAN
        case SourceRef():
            return ANY
    return ANY
