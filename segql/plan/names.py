"""Names for what the query computes, derived from the definitions, so that a
reviewer can read the SQL against the .seg files: `orders_count_last_30_days`,
not `a1`.

Names are made of the language's own words (source, function, column,
window), lower-case ASCII, at most MAX_LENGTH characters, and unique ignoring
case within one query (a clash gets `_2`, `_3` in the order names are asked
for, which is the plan's deterministic order).
"""

from __future__ import annotations

import re

from segql.syntax import ast
from segql.syntax.ast import DefRef, LabelRef, ProfileRef, SourceCol, SourceRef

# PostgreSQL truncates identifiers at 63 characters: a name, with the CTE
# prefixes and suffixes put around it (segql1_windowed_<name>__times), fits
MAX_LENGTH = 40
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> str:
    return _NOT_WORD.sub("_", text.lower()).strip("_")


def _duration(d: ast.Duration) -> str:
    return f"{d.amount}_{d.unit}{'s' if d.amount != 1 else ''}"


def window_words(w: ast.Window | None) -> str:
    match w:
        case None:
            return ""
        case ast.RollingWindow(length=d):
            return f"last_{_duration(d)}"
        case ast.SlidingWindow(length=d):
            return f"any_{_duration(d)}"
        case ast.AgoWindow(newer=n, older=None):
            return f"before_{_duration(n)}_ago"
        case ast.AgoWindow(newer=n, older=o):
            return f"{_duration(n)}_to_{_duration(o)}_ago"
        case ast.StaticWindow(kind="range", start=s, end=e):
            return f"{_words(str(s))}_to_{_words(str(e))}"
        case ast.StaticWindow(kind=kind, start=s, end=e):
            return f"{kind}_{_words(str(s if kind == 'since' else e))}"
        case ast.CalendarWindow(unit=u, offset=0):
            return "today" if u == "day" else f"this_{u}"
        case ast.CalendarWindow(unit="day", offset=1):
            return "yesterday"
        case ast.CalendarWindow(unit=u, offset=k):
            return f"previous_{u}" if k == 1 else f"{k}_{u}s_back"
        case ast.AnchoredWindow(start=n, end=m, anchor=a, first=True):
            return f"first_{_duration(m)}_after_{value_words(a)}"
        case ast.AnchoredWindow(start=n, end=m, anchor=a):
            return f"{_duration(n)}_to_{_duration(m)}_after_{value_words(a)}"
    return "window"


def _short_string(n: ast.Node) -> bool:
    return isinstance(n, ast.String) and 0 < len(n.value) <= 12


def value_words(e: ast.Node) -> str:
    """The columns and definitions an expression reads, in order, each once."""
    seen: list[str] = []
    for n in ast.walk(e):
        match n:
            case SourceCol(column=c) | ProfileRef(column=c):
                word = c
            case DefRef(name=d):
                word = d
            case LabelRef(segmentation=s, label=label):
                word = f"{s}_{label}"
            case ast.String(value=v) if _short_string(n):  # where kind = "view"
                word = v
            case ast.Aggregate() | ast.Sequence():
                word = aggregate_words(n)
            case _:
                continue
        if word and word not in seen:
            seen.append(word)
    return "_".join(seen)


def aggregate_words(n: ast.Aggregate | ast.Sequence) -> str:
    """`count(orders where paid, last 30 days)` -> orders_count_where_paid_last_30_days."""
    if isinstance(n, ast.Sequence):
        # did_events_cart_then_not_orders_in_2_days: steps by source and the
        # short strings their filters compare with
        parts = ["did"]
        for i, s in enumerate(n.steps):
            if i:
                parts.append("then_not" if s.negated else "then_directly" if s.directly else "then")
            parts.append(s.source.name)
            if s.where is not None:
                parts.extend(x.value for x in ast.walk(s.where) if _short_string(x))
        if n.within is not None:
            parts.append(f"in_{_duration(n.within)}")
        if n.on:
            parts.append(f"on_{n.on}")
    else:
        refs = (x for x in ast.walk(n.value) if isinstance(x, SourceCol | SourceRef))
        source = next(refs).source
        parts = [source, n.func]
        if not isinstance(n.value, SourceRef):
            parts.append(value_words(n.value))
        if n.where is not None:
            parts.append("where_" + value_words(n.where))
        if n.half_life is not None:
            parts.append(f"half_life_{_duration(n.half_life)}")
        if isinstance(n.param, ast.Number):  # quantile(x, 0.9): p_0_9
            parts.append(f"p_{n.param.value}")
    parts.append(window_words(n.window))
    return "_".join(p for p in parts if p)


def _cut(words: str, n: int) -> str:
    """At most n characters, cut between words where one ends late enough."""
    if len(words) <= n:
        return words
    cut = words[: n + 1].rfind("_")
    return (words[:cut] if cut >= n // 2 else words[:n]).rstrip("_")


class Namer:
    """Unique, bounded, deterministic names within one query."""

    def __init__(self, reserved: tuple[str, ...] = ()):
        self.taken: set[str] = {r.lower() for r in reserved}

    def name(self, words: str, fallback: str = "value") -> str:
        base = _cut(_words(words), MAX_LENGTH) or fallback
        name, i = base, 1
        while name.lower() in self.taken:
            i += 1
            suffix = f"_{i}"
            name = _cut(base, MAX_LENGTH - len(suffix)) + suffix
        self.taken.add(name.lower())
        return name
