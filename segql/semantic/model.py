"""The resolved model: the AST with every name bound, plus the project.

The resolver replaces `ast.Name`/`ast.Column` by the reference nodes below, so
later stages (plan, generate, the test oracle) never look names up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segql.project import Project
from segql.syntax import ast
from segql.syntax.ast import DefRef, LabelRef, Node, ProfileRef, SourceCol, SourceRef

NUMBER, STRING, BOOLEAN, DATE, TIMESTAMP = "number", "string", "boolean", "date", "timestamp"
NULL, ANY, DURATION = "null", "any", "duration"


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
            if f == "date":
                return DATE
            if f == "lower":
                return STRING
            if f == "coalesce":
                known = [t for t in map(type_of, args) if t not in (NULL, ANY)]
                return known[0] if known else ANY
            return NUMBER
        case ast.Aggregate(func=f, value=v):
            if f == "did":
                return BOOLEAN
            if f in ("min", "max", "first", "last"):
                return type_of(v)
            return NUMBER
        case ast.Sequence():
            return BOOLEAN
        case SourceRef():
            return ANY
    return ANY
