"""Type and window checks of bound expressions: what each operator, function
call and window needs (a mixin of the resolver, which binds the names first)."""

from __future__ import annotations

from segql.errors import Diagnostics, Span
from segql.semantic.model import (
    ANY,
    BOOLEAN,
    DATE,
    NULL,
    NUMBER,
    STRING,
    TIMESTAMP,
    type_of,
)
from segql.semantic.registry import AGGREGATES, FUNCTIONS
from segql.syntax import ast

_COMPARABLE = {NUMBER: NUMBER, STRING: STRING, BOOLEAN: BOOLEAN, DATE: "time", TIMESTAMP: "time"}
_COMPARE_HINT = {
    NUMBER: "compare it, e.g. '... > 0'",
    STRING: "compare it, e.g. '... = \"text\"'",
    DATE: "compare it, e.g. '... >= 2024-01-01', or use days_since(...)",
    TIMESTAMP: "compare it, e.g. '... >= 2024-01-01', or use days_since(...)",
}


def a_(t: str) -> str:
    return f"an {t}" if t[:1] in "aeiou" else f"a {t}"


class TypeChecks:
    """Reports to `diags` what an operator, call or window gets wrong."""

    diags: Diagnostics

    def check_duration(self, d: ast.Duration, what: str) -> None:
        if d.amount <= 0:
            self.diags.error(f"{what} must be longer than zero", d.span)

    def check_fixed_length(self, d: ast.Duration, what: str) -> None:
        if d.unit in ("month", "year"):
            self.diags.error(
                f"{what} takes seconds, minutes, hours, days or weeks: a {d.unit} has no "
                "fixed length",
                d.span,
                f"write e.g. '{what.strip(chr(39))} 30 days'",
            )

    def check_window(self, w: ast.Window | None, func: str) -> None:
        match w:
            case None:
                return
            case ast.RollingWindow(length=d):
                self.check_duration(d, "a window")
            case ast.SlidingWindow(length=d):
                self.check_duration(d, "a window")
                self.check_fixed_length(d, "'any'")
                if not AGGREGATES[func].sliding:
                    unit = d.unit + ("s" if d.amount != 1 else "")
                    self.diags.error(
                        f"'any {d.amount} {unit}' (the busiest span) only works with count(), "
                        f"not {func}()",
                        w.span,
                    )
            case ast.AgoWindow(newer=n, older=o):
                if o is not None and _approx_seconds(n) > _approx_seconds(o):
                    first = str(n.amount) if n.unit == o.unit else _dur(n)
                    written = f"{first} to {_dur(o)}"
                    self.diags.error(
                        f"window runs backwards: '{written} ago' "
                        "needs the first number smaller than the second",
                        w.span,
                        f"the nearer end comes first: write '{o.amount} to {_dur(n)} ago'"
                        if n.unit == o.unit
                        else f"write '{_dur(o)} to {_dur(n)} ago'",
                    )
                elif o is not None and _approx_seconds(n) == _approx_seconds(o):
                    self.diags.error(
                        "window is empty: both ends are the same time ago",
                        w.span,
                        f"a window of one {o.unit} is '{max(o.amount - 1, 0)} to {_dur(o)} ago'",
                    )
                if n.amount < 0:
                    self.diags.error("a window cannot be negative", w.span)
            case ast.AnchoredWindow():
                self.check_anchored(w)
            case ast.StaticWindow(kind="range", start=s, end=e):
                if _as_dt(s) > _as_dt(e):
                    self.diags.error(
                        f"date range runs backwards: {s} is after {e}",
                        w.span,
                        f"the earlier date comes first: write '{e} to {s}'",
                    )

    def check_anchored(self, w: ast.AnchoredWindow) -> None:
        """N < M, and an anchor that is an instant: a timestamp, or a date (its
        local midnight, like a source's date time column)."""
        n, m = w.start, w.end
        if w.first:
            self.check_duration(m, "an anchored window")
        elif _approx_seconds(n) > _approx_seconds(m):
            first = str(n.amount) if n.unit == m.unit else _dur(n)
            self.diags.error(
                f"window runs backwards: '{first} to {_dur(m)} after' "
                "needs the first number smaller than the second",
                w.span,
                f"write '{m.amount} to {_dur(n)} after …'"
                if n.unit == m.unit
                else f"write '{_dur(m)} to {_dur(n)} after …'",
            )
        elif _approx_seconds(n) == _approx_seconds(m):
            self.diags.error(
                "window is empty: both ends are the same time after the anchor",
                w.span,
                f"a window of one {m.unit} is '{max(m.amount - 1, 0)} to {_dur(m)} after …'",
            )
        t = type_of(w.anchor)
        if t not in (TIMESTAMP, DATE, ANY, NULL):
            self.diags.error(
                f"a window's anchor is an instant (a timestamp or a date), got {a_(t)}",
                w.anchor.span,
                "e.g. a profile column 'signup_at', or first(orders.ordered_at)",
            )

    def check_call(self, call: ast.Call) -> None:
        """Argument types and further rules, as the function's registry entry says."""
        fn = FUNCTIONS[call.func]
        for i, arg in enumerate(call.args):
            param, t = fn.param(i), type_of(arg)
            if param is not None and t not in (*param.accepts, ANY, NULL):
                self.diags.error(f"{fn.name}() needs {param.what}, got a {t}", arg.span)
        if fn.same_kind:
            self._same_kind(call.args, call.span, f"{fn.name}() arguments")
        for message, span in fn.check(call) if fn.check else ():
            self.diags.error(message, span)

    def _kind(self, t: str) -> str:
        return _COMPARABLE.get(t, t)

    def _same_kind(self, nodes, span: Span, what: str) -> None:
        kinds = {self._kind(type_of(n)) for n in nodes} - {ANY, NULL}
        if len(kinds) > 1:
            self.diags.error(f"{what} mix types: " + " and ".join(sorted(kinds)), span)

    def expect_condition(self, e: ast.Expr, what: str = "expected") -> None:
        """`what` names what needs the condition: "segment 'a' needs", "'and' needs"."""
        t = type_of(e)
        if t not in (BOOLEAN, ANY):
            self.diags.error(
                f"{what} a condition (true or false), got {a_(t)}",
                e.span,
                _COMPARE_HINT.get(t, ""),
            )

    def check_operator(self, e: ast.Expr) -> None:
        match e:
            case ast.Binary(op=op, left=left, right=right):
                lt, rt = type_of(left), type_of(right)
                if op in ("and", "or"):
                    self.expect_condition(left, f"'{op}' needs")
                    self.expect_condition(right, f"'{op}' needs")
                elif op in ("+", "-", "*", "/"):
                    for side, t in ((left, lt), (right, rt)):
                        if t not in (NUMBER, ANY, NULL):
                            self.diags.error(f"'{op}' needs numbers, got a {t}", side.span)
                else:
                    if isinstance(left, ast.Null) or isinstance(right, ast.Null):
                        self.diags.error(
                            "a comparison with null is never true",
                            e.span,
                            {
                                "=": "write 'is null' instead of '= null'",
                                "!=": "write 'is not null' instead of '!= null'",
                            }.get(op, "use 'is null' or 'is not null'"),
                        )
                    elif op not in ("=", "!=") and BOOLEAN in (lt, rt):
                        self.diags.error(f"'{op}' cannot compare booleans", e.span)
                    elif len({self._kind(lt), self._kind(rt)} - {ANY, NULL}) > 1:
                        self.diags.error(f"'{op}' compares {a_(lt)} with {a_(rt)}", e.span)
            case ast.Unary(op="not", operand=x):
                self.expect_condition(x, "'not' needs")
            case ast.Unary(op="-", operand=x):
                if type_of(x) not in (NUMBER, ANY, NULL):
                    self.diags.error(f"'-' needs a number, got a {type_of(x)}", x.span)
            case ast.InList(operand=x, items=items):
                self._same_kind((x, *items), e.span, "'in' compares values that")
            case ast.Between(operand=x, low=lo, high=hi):
                self._same_kind((x, lo, hi), e.span, "'between' compares values that")
            case ast.Like(operand=x, pattern=p):
                for side in (x, p):
                    if type_of(side) not in (STRING, ANY, NULL):
                        self.diags.error(f"'like' needs strings, got a {type_of(side)}", side.span)


def _dur(d: ast.Duration) -> str:
    return f"{d.amount} {d.unit}{'' if d.amount == 1 else 's'}"


def _approx_seconds(d: ast.Duration) -> float:
    return d.amount * ast.MEAN_SECONDS[d.unit]


def _as_dt(v):
    import datetime as dt

    return v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
