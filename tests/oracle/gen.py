"""Hypothesis strategies: random `.seg` projects over a fixed schema, and data.

Schema (fixed):
  customers(customer_id INTEGER, country VARCHAR, age INTEGER, consent BOOLEAN,
            signup_at TIMESTAMP, created_on DATE,      -- the profiles table: `created`
            valid_from TIMESTAMP, valid_to TIMESTAMP)  -- is one of the first two or
                                                       -- none; a history or not
  orders(customer_id INTEGER, ordered_at TIMESTAMP, amount DECIMAL(10,2),
         quantity INTEGER, sku VARCHAR)                -- source `orders`
  events(customer_id INTEGER, occurred_at TIMESTAMP, name VARCHAR, kind VARCHAR,
         duration_s DOUBLE)                            -- source `events`

A `Case` is a project (segql.yml + .seg files), the rows of the three tables and
a few as_of instants. Every generated segment condition p comes with a segment
`not (p)` so that the partition property can be checked.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import strategies as st

from .timeutil import midnight, period_start, plus, previous_period_start, to_local

KEY = "customer_id"
TIMEZONES = ("UTC", "UTC", "America/New_York", "Asia/Kolkata", "Australia/Adelaide")

COLUMNS = {
    "customers": (
        ("customer_id", "INTEGER"),
        ("country", "VARCHAR"),
        ("age", "INTEGER"),
        ("consent", "BOOLEAN"),
        ("signup_at", "TIMESTAMP"),
        ("created_on", "DATE"),
        ("valid_from", "TIMESTAMP"),
        ("valid_to", "TIMESTAMP"),
    ),
    "orders": (
        ("customer_id", "INTEGER"),
        ("ordered_at", "TIMESTAMP"),
        ("amount", "DECIMAL(10,2)"),
        ("quantity", "INTEGER"),
        ("sku", "VARCHAR"),
    ),
    "events": (
        ("customer_id", "INTEGER"),
        ("occurred_at", "TIMESTAMP"),
        ("name", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("duration_s", "DOUBLE"),
    ),
}
TIME = {"orders": "ordered_at", "events": "occurred_at", "sessions": "time"}
# row-level columns by type
ROW_NUM = {
    "orders": ("amount", "quantity", "customer_id"),
    "events": ("duration_s",),
    # LANGUAGE.md §17 sessions of events (SESSIONS: by a gap or by kind)
    "sessions": ("duration_s", "rows", "first_duration_s", "last_duration_s"),
}
ROW_STR = {
    "orders": ("sku",),
    "events": ("name", "kind"),
    "sessions": ("first_name", "last_name", "first_kind", "last_kind"),
}
SOURCES = ("orders", "events", "sessions")
# the sessions source's settings: gaps that the instants' deltas (DELTAS, anchors)
# hit exactly, or sessions named by a column (null kinds are no session's)
SESSIONS = ("gap: 1 hour", "gap: 30 minutes", "gap: 1 day", "gap: 1 second", "id: kind")

# strings: unicode, quotes, backslashes, LIKE wildcards, SQL-looking text
STRINGS = (
    "US",
    "CA",
    "FR",
    "",
    "x",
    "abc",
    "a%b",
    "a_b",
    "é",
    "Ünïcödé",
    "ß",
    "日本",
    "🙂",
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "'; DROP TABLE orders; --",
    "MiXeD",
    "movie",
    "episode",
    "pricing_view",
    "add_to_cart",
    "  spaced  ",
    "line\nbreak",
    "tab\there",
)
PATTERNS = (
    "%",
    "_",
    "a%",
    "%a%",
    "%b",
    "a_b",
    "O'%",
    '%"%',
    "%é%",
    "M_X%",
    "%🙂",
    "back\\%",
    "%\\%",
    "__",
    "",
    "%'%",
    "US",
    "%_%",
)
QUOTES = ('"', "'")
# shares of a split's groups: whole, one and two decimals, the smallest, all
SHARES = ("10", "45", "50", "12.5", "33.33", "0.01", "90", "100", "5")
KEYWORD_NAMES = ("select", "order", "group", "last", "from", "where", "null", "then")

AS_OF_BASES = (
    dt.datetime(2024, 3, 31, 12, 0, 0),
    dt.datetime(2024, 3, 10, 7, 30, 0),  # DST starts in New York that morning
    dt.datetime(2024, 1, 1, 0, 0, 0),
    dt.datetime(2024, 11, 3, 5, 59, 59, 999999),
    dt.datetime(2023, 12, 31, 23, 59, 59),
    dt.datetime(2024, 2, 29, 18, 45, 0),
    dt.datetime(2024, 4, 1, 4, 0, 0),  # local midnight in New York
    dt.datetime(2024, 10, 6, 13, 30, 0),  # local midnight in Adelaide, DST that day
)


def _probe(text: str) -> bool:
    """Does the compiler accept this construct yet? ('not supported yet' → False)."""
    import tempfile
    from pathlib import Path

    import duckdb

    from segql import api
    from segql.errors import SegqlError, SegqlErrors

    con = duckdb.connect()
    try:
        for table, cols in COLUMNS.items():
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols)})")
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            (root / "segql.yml").write_text(project_yaml(True, None, "UTC"), encoding="utf-8")
            (root / "probe.seg").write_text(f"segment probe = {text}\n", encoding="utf-8")
            model = api.load([str(root / "probe.seg")], str(root / "segql.yml"), con=con)
            con.execute(api.compile_model(model, "duckdb", dt.datetime(2024, 1, 1)).sql())
        return True
    except (SegqlError, SegqlErrors) as e:
        if "not supported yet" in str(e):
            return False
        raise
    finally:
        con.close()


def features() -> dict[str, bool]:
    """Which not-yet-universal constructs the compiler supports (checked once)."""
    global _FEATURES
    if _FEATURES is None:
        _FEATURES = {
            "sequence": _probe("did(events then orders within 1 day)"),
            "sliding": _probe("count(events, any 24 hours) > 1"),
        }
    return _FEATURES


_FEATURES: dict[str, bool] | None = None


# point in time (LANGUAGE.md §2): the profiles table's settings, by kind
POINT_IN_TIME = {
    "": {},
    "created_at": {"created": "signup_at"},
    "created_on": {"created": "created_on"},
    "history": {"valid_from": "valid_from", "valid_to": "valid_to"},
    "history_created": {"valid_from": "valid_from", "valid_to": "valid_to", "created": "signup_at"},
}


def project_yaml(
    profiles: bool,
    universe: str | None,
    timezone: str,
    point_in_time: str = "",
    sessions: str = SESSIONS[0],
) -> str:
    lines = ["entity: customer", f"key: {KEY}"]
    settings = POINT_IN_TIME[point_in_time] if profiles else {}
    if settings:
        fields = ", ".join(f"{k}: {v}" for k, v in settings.items())
        lines.append(f"profiles: {{table: customers, {fields}}}")
    elif profiles:
        lines.append("profiles: customers")
    lines += [
        "sources:",
        "  orders: {table: orders, time: ordered_at}",
        "  events: {table: events, time: occurred_at}",
        f"  sessions: {{sessions_of: events, {sessions}}}",
    ]
    if universe is not None:
        lines.append("universe: " + _yaml_quote(universe))
    lines.append(f"timezone: {timezone}")
    return "\n".join(lines) + "\n"


def _yaml_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------ the case


@dataclass
class Case:
    timezone: str
    profiles: bool
    universe: str | None
    files: dict[str, str]  # file name -> .seg text
    tables: dict[str, list[dict]]
    as_ofs: list[dt.datetime]
    pairs: list[tuple[str, str]]  # (segment p, segment `not (p)`)
    sources: dict[str, str] = field(default_factory=dict)  # definition name -> text
    point_in_time: str = ""  # a key of POINT_IN_TIME
    # clusters segmentation -> its fit file without definitions_hash (the harness
    # adds the hash of the features as loaded: harness.load_model)
    fits: dict[str, dict] = field(default_factory=dict)
    sessions: str = SESSIONS[0]  # the sessions source's gap or id

    def yaml(self) -> str:
        return project_yaml(
            self.profiles, self.universe, self.timezone, self.point_in_time, self.sessions
        )

    def describe(self) -> str:
        """The case as text: settings, definitions and rows."""
        out = [f"-- timezone {self.timezone}, profiles {self.profiles}, universe {self.universe}"]
        out.append(f"-- sessions of events by {self.sessions}")
        if self.point_in_time:
            out.append(f"-- point in time: {POINT_IN_TIME[self.point_in_time]}")
        out += [f"-- as_of {a.isoformat()}" for a in self.as_ofs]
        for name, text in self.files.items():
            out += [f"-- {name}", text]
        for name, fit in self.fits.items():
            out.append(f"-- clusters/{name}.json: {json.dumps(fit)}")
        for table, rows in self.tables.items():
            out.append(f"-- {table}: {len(rows)} rows")
            out += [f"   {r}" for r in rows]
        return "\n".join(out)


def seg_string(s: str, quote: str = '"') -> str:
    body = s.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
    return quote + body + quote


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


class Gen:
    """Draws well-typed expression text for one project."""

    def __init__(self, draw, *, profiles: bool, as_ofs, tz: str, feats: dict[str, bool]):
        self.draw = draw
        seed = draw(st.integers(0, 2**63))
        self.rng = random.Random(seed)
        self.arng = random.Random(seed ^ 0xA5C4)  # anchored windows' choices
        # §17 constructs together (sessions as anchors, anchored sequences of
        # sessions): a stream of their own, so arng's and every other draw stay
        self.trng = random.Random(seed ^ 0x7065)
        self.profiles = profiles
        self.tz = tz
        self.feats = feats
        self.traits: dict[str, list[str]] = {"num": [], "str": [], "bool": [], "time": []}
        self.segments: list[str] = []
        self.labels: list[str] = []
        self.weight_labels: list[str] = []
        base = as_ofs[0]
        days = {to_local(a, tz).date() for a in as_ofs}
        for a in as_ofs:
            for back in (1, 7, 30, 31, 90, 365):
                days.add(to_local(a - dt.timedelta(days=back), tz).date())
        self.dates = sorted(days)
        self.base = base

    # -- helpers: structural choices come from a seeded uniform generator, not
    # from Hypothesis draws, which favour the first alternative of every choice
    def pick(self, seq):
        return self.rng.choice(list(seq))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def string(self) -> str:
        return seg_string(self.pick(STRINGS), self.pick(QUOTES))

    def date_lit(self) -> str:
        return self.pick(self.dates).isoformat()

    def ts_lit(self) -> str:
        d = self.pick(self.dates)
        h, m = self.pick([(0, 0), (12, 30), (23, 59), (7, 30), (6, 0)])
        return f"{d.isoformat()}T{h:02d}:{m:02d}:00"

    def num_lit(self) -> str:
        v = self.pick(
            [
                "0",
                "1",
                "2",
                "3",
                "5",
                "10",
                "18",
                "30",
                "100",
                "1000",
                "2.5",
                "0.01",
                "12.34",
                "-1",
                "-2.5",
                "7",
                "60",
                "80%",
                "50%",
                "33.3%",
            ]
        )
        return f"(-{v[1:]})" if v.startswith("-") else v

    def duration(self) -> str:
        unit = self.pick(["day", "day", "hour", "week", "month", "minute", "year"])
        n = self.pick(
            {
                "day": [1, 2, 7, 30, 90],
                "hour": [1, 12, 24, 36],
                "week": [1, 2, 4],
                "month": [1, 3, 6],
                "minute": [30, 90],
                "year": [1],
            }[unit]
        )
        return _plural(n, unit)

    def fixed_duration(self) -> str:
        """A span of fixed length (`any`, `within`): seconds … weeks."""
        return self.pick(
            [
                "1 second",
                "30 minutes",
                "1 hour",
                "24 hours",
                "36 hours",
                "1 day",
                "2 days",
                "7 days",
                "1 week",
                "2 weeks",
            ]
        )

    def window(self, allow_sliding: bool = False) -> str | None:
        w = self._window(allow_sliding)
        # LANGUAGE.md §17: an anchored window instead, one time in 12, drawn from
        # a generator of its own so that every other draw stays as it was
        if self.arng.random() < 1 / 12:
            return self.anchored()
        return w

    def _window(self, allow_sliding: bool = False) -> str | None:
        kind = self.pick(
            [
                "none",
                "none",
                "last",
                "last",
                "ago",
                "before_ago",
                "range",
                "since",
                "before",
                "today",
                "yesterday",
                "this",
                "previous",
                "any",
            ]
        )
        if kind == "any" and not (allow_sliding and self.feats["sliding"]):
            kind = "last"
        if kind == "none":
            return None
        if kind == "last":
            return "last " + self.duration()
        if kind == "ago":
            unit = self.pick(["day", "hour", "week", "month"])
            a, b = sorted(
                self.draw(
                    st.lists(
                        st.sampled_from([0, 1, 2, 7, 30, 90]), min_size=2, max_size=2, unique=True
                    )
                )
            )
            if self.chance(0.5):
                return f"{a} to {_plural(b, unit)} ago"
            return f"{_plural(a, unit)} to {_plural(b, unit)} ago"
        if kind == "before_ago":
            return f"before {self.duration()} ago"
        if kind == "range":
            lo, hi = sorted([self.pick(self.dates), self.pick(self.dates)])
            if self.chance(0.3):
                return f"{lo.isoformat()}T06:00:00 to {hi.isoformat()}T12:30:00"
            return f"{lo.isoformat()} to {hi.isoformat()}"
        if kind == "since":
            return "since " + (self.date_lit() if self.chance(0.7) else self.ts_lit())
        if kind == "before":
            return "before " + (self.date_lit() if self.chance(0.7) else self.ts_lit())
        if kind in ("today", "yesterday"):
            return kind
        if kind in ("this", "previous"):
            return f"{kind} {self.pick(['week', 'month', 'year'])}"
        return "any " + self.fixed_duration()

    def anchored(self) -> str:
        """`N to M UNITS after ANCHOR` / `first N UNITS after ANCHOR`, the anchor a
        profile instant or date, a time trait, or first/last of a source's time
        (every choice from `arng`)."""
        r = self.arng
        kinds = ["agg", "agg"] + (["signup", "signup", "created"] if self.profiles else [])
        if self.traits["time"]:
            kinds.append("trait")
        k = r.choice(kinds)
        if k == "signup":
            anchor = "signup_at"
        elif k == "created":
            anchor = "created_on"  # a date: its local midnight
        elif k == "trait":
            anchor = r.choice(self.traits["time"])
        else:
            src = r.choice(["orders", "events"])
            if self.trng.random() < 0.3:
                src = "sessions"  # an anchor computed from sessions
            anchor = f"{r.choice(['first', 'last'])}({src}.{TIME[src]})"
        unit = r.choice(["day", "day", "hour", "week", "month"])
        if r.random() < 0.4:
            return f"first {_plural(r.choice([1, 2, 7, 30]), unit)} after {anchor}"
        a, b = sorted(r.sample([0, 1, 2, 7, 14, 30], 2))
        return f"{a} to {_plural(b, unit)} after {anchor}"

    # -- row level (inside an aggregate)
    def col(self, src: str, column: str, bare: bool) -> str:
        return column if bare else f"{src}.{column}"

    def row_num(self, src: str, depth: int, bare: bool) -> str:
        k = self.pick(["col", "col", "col", "lit", "arith", "fn"] if depth > 0 else ["col", "lit"])
        if k == "col":
            return self.col(src, self.pick(ROW_NUM[src]), bare)
        if k == "lit":
            return self.num_lit()
        if k == "arith":
            op = self.pick(["+", "-", "*", "/"])
            a, b = self.row_num(src, depth - 1, bare), self.row_num(src, depth - 1, bare)
            return f"({a} {op} {b})"
        f = self.pick(["abs", "hour", "weekday", "days_since", "coalesce", "s17", "t17"])
        if f == "abs":
            return f"abs({self.row_num(src, depth - 1, bare)})"
        if f == "coalesce":
            return f"coalesce({self.row_num(src, depth - 1, bare)}, {self.num_lit()})"
        if f == "s17":
            return self.rounded(self.row_num(src, depth - 1, bare))
        if f == "t17":
            return f"{self.pick(['year', 'month', 'day'])}({self.col(src, TIME[src], bare)})"
        return f"{f}({self.col(src, TIME[src], bare)})"

    def value_num(self, src: str) -> str:
        """A number over a source's columns, qualified, using at least one column."""
        c = self.col(src, self.pick(ROW_NUM[src]), False)
        k = self.pick(["col", "col", "col", "arith", "fn"])
        if k == "col":
            return c
        if k == "arith":
            op = self.pick(["+", "-", "*", "/"])
            other = self.row_num(src, 1, False)
            return f"({c} {op} {other})" if self.chance(0.5) else f"({other} {op} {c})"
        f = self.pick(["abs", "hour", "weekday", "days_since", "coalesce", "s17", "t17"])
        if f == "abs":
            return f"abs({c})"
        if f == "coalesce":
            return f"coalesce({c}, {self.num_lit()})"
        if f == "s17":
            return self.rounded(c)
        if f == "t17":  # LANGUAGE.md §17: year, month, day of the row's instant
            f = self.pick(["year", "month", "day"])
        return f"{f}({src}.{TIME[src]})"

    def rounded(self, x: str) -> str:
        """LANGUAGE.md §17: floor, ceil, round with or without decimal places."""
        f = self.pick(["floor", "ceil", "round", "round", "round"])
        if f == "round" and self.chance(0.7):
            return f"round({x}, {self.pick(['0', '1', '2', '-1', '3'])})"
        return f"{f}({x})"

    def text_test(self, s: str) -> str:
        """starts_with / ends_with / contains: plain text, wildcards included."""
        f = self.pick(["starts_with", "ends_with", "contains"])
        p = seg_string(self.pick([*STRINGS, *PATTERNS]), self.pick(QUOTES))
        return f"{f}({s}, {p})" if self.chance(0.85) else f"{f}({p}, {s})"

    def order_stat(self, v: str, src: str) -> str:
        """mode, median, quantile (p from tiny to 1) of a value."""
        f = self.pick(["mode", "median", "quantile"])
        where = f" where {self.row_cond(src, 2)}" if self.chance(0.5) else ""
        w = self.window()
        p = ""
        if f == "quantile":
            p = ", " + self.pick(["1", "0.5", "0.25", "0.9", "0.01", "90%", "0.333", "0.75"])
        return f"{f}({v}{where}{p}{', ' + w if w else ''})"

    def row_str(self, src: str, depth: int, bare: bool) -> str:
        if depth > 0 and self.chance(0.2):
            return f"lower({self.row_str(src, depth - 1, bare)})"
        if depth > 0 and self.chance(0.1):
            return f"coalesce({self.col(src, self.pick(ROW_STR[src]), bare)}, {self.string()})"
        return self.col(src, self.pick(ROW_STR[src]), bare)

    def row_cond(self, src: str, depth: int) -> str:
        bare = self.chance(0.5)
        k = self.pick(
            ["cmp", "cmp", "str", "in", "like", "null", "time", "between", "text"]
            + (["and", "or", "not"] if depth > 0 else [])
        )
        if k == "text":
            return self.text_test(self.row_str(src, depth - 1, bare))
        if k == "cmp":
            op = self.pick(["=", "!=", "<", "<=", ">", ">="])
            return f"{self.row_num(src, depth - 1, bare)} {op} {self.row_num(src, depth - 1, bare)}"
        if k == "str":
            op = self.pick(["=", "!=", "<", ">="])
            return f"{self.row_str(src, depth - 1, bare)} {op} {self.string()}"
        if k == "in":
            items = self.draw(st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3))
            parts = [seg_string(s) for s in items] + (["null"] if self.chance(0.2) else [])
            neg = "not in" if self.chance(0.4) else "in"
            return f"{self.row_str(src, depth - 1, bare)} {neg} ({', '.join(parts)})"
        if k == "like":
            neg = "not like" if self.chance(0.3) else "like"
            return f"{self.row_str(src, depth - 1, bare)} {neg} {seg_string(self.pick(PATTERNS))}"
        if k == "null":
            c = self.pick([*ROW_NUM[src], *ROW_STR[src]])
            return f"{self.col(src, c, bare)} is {'not ' if self.chance(0.5) else ''}null"
        if k == "time":
            op = self.pick(["<", "<=", ">", ">=", "="])
            t = self.col(src, TIME[src], bare)
            if self.chance(0.3):
                return f"date({t}) {op} {self.date_lit()}"
            return f"{t} {op} {self.ts_lit() if self.chance(0.5) else self.date_lit()}"
        if k == "between":
            neg = "not between" if self.chance(0.3) else "between"
            lo, hi = self.num_lit(), self.num_lit()
            return f"{self.row_num(src, depth - 1, bare)} {neg} {lo} and {hi}"
        if k == "not":
            return f"not ({self.row_cond(src, depth - 1)})"
        return f"({self.row_cond(src, depth - 1)}) {k} ({self.row_cond(src, depth - 1)})"

    # -- aggregates
    def agg_tail(self, src: str, allow_sliding: bool = False) -> str:
        where = f" where {self.row_cond(src, 2)}" if self.chance(0.5) else ""
        w = self.window(allow_sliding)
        return where + (f", {w}" if w else "")

    def agg_num(self) -> str:
        src = self.pick(SOURCES)
        f = self.pick(
            [
                "count",
                "count",
                "count_col",
                "count_distinct",
                "sum",
                "sum",
                "avg",
                "min",
                "max",
                "first",
                "last",
                "decayed_count",
                "decayed_sum",
                "sliding",
                "order_stat",
                "order_stat",
            ]
        )
        if f == "sliding":
            if self.feats["sliding"]:
                where = f" where {self.row_cond(src, 1)}" if self.chance(0.5) else ""
                return f"count({src}{where}, any {self.fixed_duration()})"
            f = "count"
        if f == "count":
            return f"count({src}{self.agg_tail(src)})"
        if f == "count_col":
            return f"count({self.value_num(src)}{self.agg_tail(src)})"
        if f == "order_stat":
            return self.order_stat(self.value_num(src), src)
        if f == "count_distinct":
            v = self.pick(
                [self.value_num(src), self.row_str(src, 1, False), f"date({src}.{TIME[src]})"]
            )
            return f"count_distinct({v}{self.agg_tail(src)})"
        if f == "decayed_count":
            where = f" where {self.row_cond(src, 1)}" if self.chance(0.4) else ""
            w = self.window()
            return f"decayed_count({src}{where}, {self.duration()}{', ' + w if w else ''})"
        if f == "decayed_sum":
            where = f" where {self.row_cond(src, 1)}" if self.chance(0.4) else ""
            w = self.window()
            return (
                f"decayed_sum({self.value_num(src)}{where}, {self.duration()}"
                f"{', ' + w if w else ''})"
            )
        return f"{f}({self.value_num(src)}{self.agg_tail(src)})"

    def agg_str(self) -> str:
        src = self.pick(SOURCES)
        f = self.pick(["first", "last", "min", "max", "order_stat"])
        if f == "order_stat":
            return self.order_stat(self.row_str(src, 1, False), src)
        return f"{f}({self.row_str(src, 1, False)}{self.agg_tail(src)})"

    def agg_time(self) -> str:
        src = self.pick(SOURCES)
        f = self.pick(["first", "last", "min", "max", "order_stat"])
        if f == "order_stat":
            return self.order_stat(f"{src}.{TIME[src]}", src)
        return f"{f}({src}.{TIME[src]}{self.agg_tail(src)})"

    def did(self) -> str:
        if self.feats["sequence"] and self.chance(0.4):
            return self.sequence()
        src = self.pick(SOURCES)
        return f"did({src}{self.agg_tail(src)})"

    def sequence(self) -> str:
        # without `within` (LANGUAGE.md §17): `then`, `then directly`, `then not`
        # (last), up to four steps; with it: `then` and `then not`, up to three
        within = self.chance(0.4)
        n = self.pick([2, 3] if within else [2, 3, 3, 4])
        same = self.chance(0.5)
        srcs = [self.pick(SOURCES)] * n if same else [self.pick(SOURCES) for _ in range(n)]
        parts = []
        for i, s in enumerate(srcs):
            where = f" where {self.row_cond(s, 1)}" if self.chance(0.5) else ""
            if i == 0:
                parts.append(f"{s}{where}")
            elif i == n - 1 and self.chance(0.4):
                parts.append(f"then not {s}{where}")
            elif not within and self.chance(0.6):
                parts.append(f"then directly {s}{where}")
            else:
                parts.append(f"then {s}{where}")
        text = " ".join(parts)
        if within:
            text += f" within {self.fixed_duration()}"
            if same and self.chance(0.7):
                text += " on " + self.pick(ROW_STR[srcs[0]])
        # anchored windows are one kind among many in window(): drawn more often
        # here, where the first step's rows are the ones anchored
        w = self.window()
        if self.arng.random() < 0.2:
            w = self.anchored()
        if (
            w is not None
            and " after " in w
            and not parts[0].startswith("sessions")
            and " on " not in text
            and self.trng.random() < 0.3
        ):
            # sessions as the anchored first step (a filter of another source's
            # columns would not fit: the first step is replaced whole)
            text = " ".join(["sessions", *parts[1:]]) + text[len(" ".join(parts)) :]
        return f"did({text}{', ' + w if w else ''})"

    # -- entity level
    def num(self, depth: int, varying: bool = False) -> str:
        """A number; `varying`: never a bare literal (so comparisons tell
        entities apart more often)."""
        kinds = ["agg", "agg", "agg"] if varying else ["lit", "agg", "agg", "agg"]
        if self.profiles:
            kinds += ["age", "age"]
        if self.traits["num"]:
            kinds += ["trait", "trait"]
        if depth > 0:
            kinds += ["arith", "arith", "fn", "days", "rank", "rank", "coalesce", "neg", "key"]
        k = self.pick(kinds)
        if k == "lit":
            return self.num_lit()
        if k == "age":
            return "age"
        if k == "key":  # the entity key as a value (with or without profiles)
            return KEY
        if k == "trait":
            return self.pick(self.traits["num"])
        if k == "agg":
            return self.agg_num()
        if k == "arith":
            op = self.pick(["+", "-", "*", "/"])
            return f"({self.num(depth - 1)} {op} {self.num(depth - 1)})"
        if k == "neg":
            return f"-({self.num(depth - 1)})"
        if k == "coalesce":
            return f"coalesce({self.num(depth - 1)}, {self.num(depth - 1)})"
        if k == "fn":
            f = self.pick(["abs", "weekday", "hour", "s17", "year", "month", "day"])
            if f == "abs":
                return f"abs({self.num(depth - 1)})"
            if f == "s17":
                return self.rounded(self.num(depth - 1))
            return f"{f}({self.time(depth - 1) if self.chance(0.7) else self.date(depth - 1)})"
        if k == "days":
            t = self.time(depth - 1) if self.chance(0.8) else self.date(depth - 1)
            return f"days_since({t})"
        arg = self.num(depth - 1)
        if self.chance(0.5):
            return f"percentile({arg})"
        return f"score({arg}, {self.pick([2, 3, 4, 5, 10])})"

    def str_(self, depth: int, varying: bool = False) -> str:
        kinds = ["agg", "agg"] if varying else ["lit", "agg", "agg"]
        if self.profiles:
            kinds += ["country", "country"]
        if self.traits["str"]:
            kinds.append("trait")
        if depth > 0:
            kinds += ["lower", "coalesce"]
        k = self.pick(kinds)
        if k == "lit":
            return self.string()
        if k == "country":
            return "country"
        if k == "trait":
            return self.pick(self.traits["str"])
        if k == "agg":
            return self.agg_str()
        if k == "lower":
            return f"lower({self.str_(depth - 1)})"
        return f"coalesce({self.str_(depth - 1)}, {self.str_(depth - 1)})"

    def time(self, depth: int) -> str:
        kinds = ["agg", "agg", "lit"]
        if self.profiles:
            kinds += ["signup", "signup"]
        if self.traits["time"]:
            kinds.append("trait")
        if depth > 0:
            kinds.append("coalesce")
        k = self.pick(kinds)
        if k == "agg":
            return self.agg_time()
        if k == "lit":
            return self.ts_lit()
        if k == "signup":
            return "signup_at"
        if k == "trait":
            return self.pick(self.traits["time"])
        return f"coalesce({self.time(depth - 1)}, {self.time(depth - 1)})"

    def date(self, depth: int) -> str:
        k = self.pick(["date_of", "lit", "agg", "week"])
        if k == "date_of":
            return f"date({self.time(depth)})"
        if k == "week":  # LANGUAGE.md §17
            return f"week({self.time(depth) if self.chance(0.7) else self.date(max(depth - 1, 0))})"
        if k == "lit":
            return self.date_lit()
        src = self.pick(SOURCES)
        f = self.pick(["min", "max", "first", "last"])
        return f"{f}(date({src}.{TIME[src]}){self.agg_tail(src)})"

    def cond(self, depth: int) -> str:
        kinds = ["cmp", "cmp", "cmp", "str", "time", "in", "between", "null", "like", "did", "text"]
        if self.profiles:
            kinds += ["consent"]
        if self.segments:
            kinds += ["segment", "segment"]
        if self.labels:
            kinds += ["label"]
        if self.traits["bool"]:
            kinds += ["btrait"]
        if depth > 0:
            kinds += ["and", "and", "or", "or", "not"]
        k = self.pick(kinds)
        if k == "cmp":
            op = self.pick(["=", "!=", "<", "<=", ">", ">="])
            right = self.num_lit() if self.chance(0.6) else self.num(max(depth - 1, 0))
            return f"{self.num(depth, varying=True)} {op} {right}"
        if k == "str":
            op = self.pick(["=", "!=", "<", ">"])
            return f"{self.str_(depth, varying=True)} {op} {self.str_(0)}"
        if k == "time":
            op = self.pick(["<", "<=", ">", ">=", "=", "!="])
            other = self.pick([self.ts_lit(), self.date_lit(), self.time(0), self.date(0)])
            left = self.time(depth) if self.chance(0.7) else self.date(depth)
            return f"{left} {op} {other}"
        if k == "in":
            neg = "not in" if self.chance(0.4) else "in"
            if self.chance(0.5):
                items = [self.string() for _ in range(self.pick([1, 2, 3]))]
                if self.chance(0.3):
                    items.append("null")
                if self.chance(0.2):
                    items.append(self.str_(0))
                return f"{self.str_(depth, varying=True)} {neg} ({', '.join(items)})"
            items = [self.num_lit() for _ in range(self.pick([1, 2, 3]))]
            if self.chance(0.3):
                items.append("null")
            if self.chance(0.2):
                items.append(self.num(0))
            return f"{self.num(depth, varying=True)} {neg} ({', '.join(items)})"
        if k == "between":
            neg = "not between" if self.chance(0.4) else "between"
            lo = self.num_lit() if self.chance(0.7) else self.num(0)
            hi = self.num_lit() if self.chance(0.7) else self.num(0)
            return f"{self.num(depth, varying=True)} {neg} {lo} and {hi}"
        if k == "null":
            what = self.pick(["num", "str", "time"])
            v = {"num": self.num, "str": self.str_, "time": self.time}[what](depth)
            return f"{v} is {'not ' if self.chance(0.5) else ''}null"
        if k == "like":
            neg = "not like" if self.chance(0.3) else "like"
            pattern = seg_string(self.pick(PATTERNS), self.pick(QUOTES))
            return f"{self.str_(depth)} {neg} {pattern}"
        if k == "did":
            return self.did()
        if k == "text":
            return self.text_test(self.str_(depth))
        if k == "consent":
            return self.pick(["consent", "consent = true", "consent != false", "consent is null"])
        if k == "segment":
            return self.pick(self.segments)
        if k == "label":
            return self.pick(self.labels)
        if k == "btrait":
            return self.pick(self.traits["bool"])
        if k == "not":
            return f"not ({self.cond(depth - 1)})"
        return f"({self.cond(depth - 1)}) {k} ({self.cond(depth - 1)})"

    def universe(self) -> str:
        return self.pick(
            [
                "consent = true",
                "consent",
                "age >= 18",
                'country in ("US", "CA") or age is null',
                "not consent",
                "signup_at < " + self.date_lit(),
                "coalesce(age, 0) between 10 and 60",
            ]
        )


def _name(n: str) -> str:
    return f"`{n}`" if n in KEYWORD_NAMES else n


def _yq(text: str) -> str:
    """A YAML single-quoted scalar (backslashes are literal there)."""
    return "'" + text.replace("'", "''") + "'"


def yaml_file(items: list[tuple[str, str, object]]) -> str:
    """Definitions in the YAML form: (name, section, value) in order."""
    out = ["# generated (YAML form)"]
    for section in ("traits", "segments", "segmentations", "splits"):
        mine = [(n, v) for n, s, v in items if s == section]
        if not mine:
            continue
        out.append(f"{section}:")
        for name, v in mine:
            if section == "splits":
                assert isinstance(v, dict)
                out += [f"  {name}:", f"    of: {v['of']}"]
                if v["salt"] is not None:  # JSON's string escapes are YAML's
                    out.append(f"    salt: {json.dumps(v['salt'], ensure_ascii=False)}")
                out.append("    groups:")
                out += [f"      - {g}: {share}%" for g, share in v["groups"]]
            elif isinstance(v, str):
                out.append(f"  {name}: {_yq(v)}")
            elif section == "segments":
                out += [
                    f"  {name}:",
                    f"    title: {_yq(v['title'])}",
                    "    channels: [email, push]",
                    f"    where: {_yq(v['where'])}",
                ]
            elif v["by"] == "clusters":
                out += [f"  {name}:", "    by: clusters", f"    k: {v['k']}", "    features:"]
                out += [f"      - {_yq(f)}" for f in v["features"]]
                if v["scale"]:
                    out.append(f"    scale: {v['scale']}")
                if v["names"]:
                    out.append("    names:")
                    out += [f"      {j}: {n}" for j, n in v["names"].items()]
                if v["else"]:
                    out.append(f"    else: {v['else']}")
            else:
                out.append(f"  {name}:")
                if v["by"]:
                    out.append(f"    by: {v['by']}")
                out.append("    rules:")
                out += [f"      - {label}: {_yq(e)}" for label, e in v["rules"]]
                if v["else"]:
                    out.append(f"    else: {v['else']}")
    return "\n".join(out) + "\n"


@st.composite
def definitions(draw, *, profiles: bool, as_ofs, tz: str, feats: dict[str, bool]):
    """(files, pairs, sources): the .seg text of a random project."""
    g = Gen(draw, profiles=profiles, as_ofs=as_ofs, tz=tz, feats=feats)
    defs: list[tuple[str, str]] = []  # (name, text)
    keywords = list(KEYWORD_NAMES)
    keyword_ok = draw(st.booleans())

    def fresh(prefix: str, i: int) -> str:
        if keyword_ok and keywords and g.chance(0.15):
            return keywords.pop(0)
        return f"{prefix}{i}"

    yaml_of: dict[str, tuple[str, object]] = {}
    fits: dict[str, dict] = {}  # clusters segmentation -> its fit file (without the hash)
    for i in range(draw(st.integers(0, 4))):
        typ = g.pick(["num", "num", "num", "bool", "str", "time"])
        name = fresh("t", i)
        expr = {
            "num": lambda: g.num(2),
            "bool": lambda: g.cond(1),
            "str": lambda: g.str_(1),
            "time": lambda: g.time(1),
        }[typ]()
        defs.append((name, f"trait {_name(name)} = {expr}"))
        yaml_of[name] = ("traits", expr)
        g.traits[typ].append(_name(name))
    pairs = []
    n_segments = draw(st.integers(2, 10))
    n_segmentations = draw(st.integers(0, 2))
    order = ["s"] * n_segments + ["g"] * n_segmentations
    order = draw(st.permutations(order))
    si = gi = 0
    for what in order:
        if what == "s":
            name, neg = fresh("s", si), f"n{si}"
            si += 1
            p = g.cond(draw(st.integers(0, 3)))
            if g.chance(0.2):
                text = (
                    f"segment {_name(name)} {{\n  title {seg_string('Title of ' + name)}\n"
                    f"  channels email, push\n  where {p}\n}}"
                )
                yaml_of[name] = ("segments", {"title": "Title of " + name, "where": p})
            else:
                text = f"segment {_name(name)} = {p}"
                yaml_of[name] = ("segments", p)
            defs.append((name, text))
            defs.append((neg, f"segment {neg} = not ({p})"))
            yaml_of[neg] = ("segments", f"not ({p})")
            pairs.append((name, neg))
            g.segments.append(_name(name))
        else:
            name = fresh("g", gi)
            gi += 1
            by = g.pick(["priority", "priority", "weight", "", "clusters"])
            if by == "clusters":
                text, yaml_of[name], fits[name] = clusters(draw, g, name)
                defs.append((name, text))
                continue
            n_rules = draw(st.integers(1, 4))
            labels = [f"{name}_{chr(97 + j)}" for j in range(n_rules)]
            if by == "weight":
                exprs = [g.num(1) for _ in labels]
            else:
                exprs = [g.cond(draw(st.integers(0, 2))) for _ in labels]
            rules = [f"  {lb} = {e}" for lb, e in zip(labels, exprs, strict=True)]
            has_else = g.chance(0.7)
            else_ = f"  else {name}_else\n" if has_else else ""
            yaml_of[name] = (
                "segmentations",
                {
                    "by": by,
                    "rules": list(zip(labels, exprs, strict=True)),
                    "else": f"{name}_else" if has_else else None,
                },
            )
            head = f"segmentation {_name(name)}" + (f" by {by}" if by else "")
            defs.append((name, head + " {\n" + "\n".join(rules) + "\n" + else_ + "}"))
            g.labels += labels
    for i in range(draw(st.integers(0, 2))):
        name, of = f"sp{i}", g.pick(g.segments)
        salt = g.pick([None, None, *STRINGS])
        groups, total = [], Decimal(0)
        for group in ("control", "email", "sms")[: draw(st.integers(1, 3))]:
            share = Decimal(g.pick(SHARES))
            if total + share <= 100:
                groups.append((group, share))
                total += share
        salted = f" salt {seg_string(salt)}" if salt is not None else ""
        body = "".join(f"  {group} {share}%\n" for group, share in groups)
        defs.append((name, f"split {name} of {of}{salted} {{\n{body}}}"))
        yaml_of[name] = ("splits", {"of": of, "salt": salt, "groups": groups})
    # definitions may come in any order and in several files
    shuffled = draw(st.permutations(defs))
    split = draw(st.integers(1, len(shuffled)))  # every file defines something
    files = {"a.seg": "# generated\n" + "\n\n".join(t for _, t in shuffled[:split]) + "\n"}
    if split < len(shuffled):
        rest = [n for n, _ in shuffled[split:]]
        plain = all(n not in KEYWORD_NAMES for n in yaml_of)
        if plain and g.chance(0.3):  # the YAML form of the same definitions
            files["b.yml"] = yaml_file([(n, *yaml_of[n]) for n in rest])
        else:
            files["b.seg"] = "\n\n".join(t for _, t in shuffled[split:]) + "\n"
    universe = g.universe() if profiles and g.chance(0.25) else None
    return files, pairs, dict(defs), universe, fits


def clusters(draw, g: Gen, name: str) -> tuple[str, tuple[str, object], dict]:
    """A clusters segmentation over 1 to 3 random numbers, and a random fit for
    it (LANGUAGE.md §14): centers, scales and centroids drawn so that entities
    land in several clusters, exact ties included (round centroids, scale 1)."""
    k = draw(st.integers(2, 4))
    feats = [g.num(1) for _ in range(draw(st.integers(1, 3)))]
    method = g.pick([None, "standard", "minmax", "none"])
    rng = random.Random(draw(st.integers(0, 2**32)))
    if method == "none":
        center, scale = [0.0] * len(feats), [1.0] * len(feats)
    else:
        center = [rng.choice([0.0, 1.0, round(rng.uniform(-20, 20), 3)]) for _ in feats]
        scale = [rng.choice([1.0, 2.5, round(rng.uniform(0.1, 30), 4)]) for _ in feats]
    centroids = [
        [rng.choice([float(rng.randint(-3, 3)), rng.uniform(-5, 5)]) for _ in feats]
        for _ in range(k)
    ]
    names = {j: f"{name}_c{j}" for j in range(1, k + 1) if g.chance(0.5)}
    has_else = g.chance(0.7)
    lines = [f"  scale {method}"] if method else []
    if names:
        lines.append("  names { " + "  ".join(f"{j} {n}" for j, n in names.items()) + " }")
    if has_else:
        lines.append(f"  else {name}_else")
    head = f"segmentation {_name(name)} by clusters({k}) on ({', '.join(feats)})"
    text = head + " {\n" + "".join(line + "\n" for line in lines) + "}"
    g.labels += list(names.values())
    yaml_value = {
        "by": "clusters",
        "k": k,
        "features": feats,
        "scale": method,
        "names": names,
        "else": f"{name}_else" if has_else else None,
    }
    fit = {
        "k": k,
        "scale": {"method": method or "standard", "center": center, "scale": scale},
        "centroids": centroids,
    }
    return text, ("segmentations", yaml_value), fit


# ------------------------------------------------------------------ data


def anchors(as_ofs: list[dt.datetime], tz: str) -> list[dt.datetime]:
    """Instants worth putting rows at: window edges, period starts, local midnights."""
    out: set[dt.datetime] = set()
    for a in as_ofs:
        out.add(a)
        for amount, unit in (
            (1, "day"),
            (2, "day"),
            (7, "day"),
            (30, "day"),
            (90, "day"),
            (1, "month"),
            (3, "month"),
            (6, "month"),
            (1, "year"),
            (1, "hour"),
            (12, "hour"),
            (24, "hour"),
            (36, "hour"),
            (1, "week"),
            (2, "week"),
            (4, "week"),
            (30, "minute"),
            (90, "minute"),
        ):
            out.add(plus(a, -amount, unit))
        local = to_local(a, tz).date()
        for unit in ("day", "week", "month", "year"):
            start = period_start(local, unit)
            out.add(midnight(start, tz))
            out.add(midnight(previous_period_start(start, unit), tz))
        for back in (0, 1, 7, 30, 31, 90, 365):
            d = local - dt.timedelta(days=back)
            out.add(midnight(d, tz))
            out.add(midnight(d + dt.timedelta(days=1), tz))
            for h, m in ((6, 0), (12, 30), (23, 59), (7, 30)):
                from .timeutil import to_utc

                out.add(to_utc(dt.datetime(d.year, d.month, d.day, h, m), tz))
    return sorted(out)


DELTAS = (
    dt.timedelta(0),
    dt.timedelta(0),
    dt.timedelta(0),
    dt.timedelta(microseconds=1),
    dt.timedelta(microseconds=-1),
    dt.timedelta(seconds=1),
    dt.timedelta(seconds=-1),
    dt.timedelta(hours=1),
    dt.timedelta(hours=-3),
    dt.timedelta(days=1),
    dt.timedelta(days=-2),
)


@st.composite
def instants(draw, pool: list[dt.datetime]):
    base = draw(st.sampled_from(pool))
    if draw(st.integers(0, 9)) < 7:
        return base + draw(st.sampled_from(DELTAS))
    return base + dt.timedelta(seconds=draw(st.integers(-40 * 86400, 5 * 86400)))


AMOUNTS = st.sampled_from(
    [
        Decimal("0"),
        Decimal("0.01"),
        Decimal("10"),
        Decimal("12.34"),
        Decimal("-5"),
        Decimal("99.99"),
        Decimal("1000"),
        Decimal("2.5"),
        Decimal("100"),
        Decimal("-0.01"),
        Decimal("33.33"),
    ]
)
DURATIONS = st.sampled_from([0.0, 0.5, 1.25, 2.5, 30.0, 60.0, -1.0, 1e6, 0.75, 12.0])


LENGTHS = tuple(
    dt.timedelta(**kw)
    for kw in ({}, {"microseconds": 1}, {"hours": 1}, {"days": 1}, {"days": 40}, {"days": 400})
)


def _profile_versions(
    rng: random.Random, pool: list[dt.datetime], as_ofs: list[dt.datetime]
) -> list[tuple]:
    """(valid_from, valid_to) of one entity's rows in a history: consecutive
    versions, and now and then bad data (overlaps, equal starts, a null start,
    an empty span); starts and ends fall exactly on an as_of often. (Choices
    from a seeded generator: Hypothesis draws favour the first alternative.)"""
    if rng.random() < 0.5:
        start = rng.choice(pool)
    else:
        start = rng.choice(as_ofs) + rng.choice(DELTAS)
    spans: list[tuple] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.randint(0, 9)
        if kind == 0:
            spans.append((None, None))
            continue
        if kind in (1, 2) and spans and spans[-1][0] is not None:
            if kind == 1:  # the same span as the row before: the columns decide
                spans.append(spans[-1])
                continue
            start = spans[-1][0]  # the same valid_from as the row before
        end = None  # open: the current row
        if kind >= 6:  # an end: some length later, or exactly at an as_of
            end = start + rng.choice(LENGTHS)
            if kind >= 8:
                end = max(start, rng.choice(as_ofs))
        spans.append((start, end))
        # the next version: where this one ends, after a gap (the entity left the
        # universe for a while), or (bad data) overlapping it
        if end is None or kind == 3:
            start = start + rng.choice(DELTAS)
        else:
            start = end + (rng.choice(LENGTHS) if rng.random() < 0.4 else dt.timedelta(0))
    return spans


@st.composite
def tables(draw, as_ofs: list[dt.datetime], tz: str, point_in_time: str = ""):
    pool = anchors(as_ofs, tz)
    history = point_in_time.startswith("history")
    rng = random.Random(draw(st.integers(0, 2**63))) if history else random.Random(0)
    n_keys = draw(st.integers(3, 10))
    keys = list(range(1, n_keys + 1))
    without_profile = draw(st.lists(st.sampled_from(keys), unique=True, max_size=3))

    def maybe(strategy):
        """The strategy's value, or null one time in five."""
        return st.integers(0, 4).flatmap(lambda i: st.none() if i == 0 else strategy)

    def key_of():
        return None if draw(st.integers(0, 15)) == 0 else draw(st.sampled_from(keys))

    t = st.one_of(st.none(), instants(pool)) if draw(st.booleans()) else instants(pool)
    days = sorted(
        {to_local(a, tz).date() + dt.timedelta(days=d) for a in as_ofs for d in (-30, -1, 0, 1)}
    )
    customers = []
    for k in keys:
        if k in without_profile:
            continue
        spans = _profile_versions(rng, pool, as_ofs) if history else [(None, None)]
        for valid_from, valid_to in spans:
            customers.append(
                {
                    "customer_id": k,
                    "country": draw(maybe(st.sampled_from(STRINGS))),
                    "age": draw(maybe(st.sampled_from([0, 5, 17, 18, 30, 45, 60, 61, 99]))),
                    "consent": draw(maybe(st.booleans())),
                    "signup_at": draw(maybe(instants(pool))),
                    "created_on": draw(maybe(st.sampled_from(days))),
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                }
            )
        if history and len(spans) > 1 and rng.random() < 0.25:
            customers.append(dict(customers[-1]))  # an exact duplicate version
    if draw(st.integers(0, 9)) == 0:
        customers.append(
            {
                "customer_id": None,
                "country": "US",
                "age": 30,
                "consent": True,
                "signup_at": None,
                "created_on": None,
                "valid_from": None,
                "valid_to": None,
            }
        )
    empty = draw(st.sampled_from(["", "", "", "", "", "orders", "events", "both"]))
    orders = []
    for _ in range(0 if empty in ("orders", "both") else draw(st.integers(2, 25))):
        row = {
            "customer_id": key_of(),
            "ordered_at": draw(t),
            "amount": draw(maybe(AMOUNTS)),
            "quantity": draw(maybe(st.sampled_from([0, 1, 2, 3, -1, 10]))),
            "sku": draw(maybe(st.sampled_from(STRINGS))),
        }
        orders.append(row)
        if draw(st.integers(0, 5)) == 0:
            orders.append(dict(row))  # an exact duplicate row
    events = []
    for _ in range(0 if empty in ("events", "both") else draw(st.integers(2, 25))):
        row = {
            "customer_id": key_of(),
            "occurred_at": draw(t),
            "name": draw(maybe(st.sampled_from(STRINGS))),
            "kind": draw(maybe(st.sampled_from(("movie", "episode", "documentary", "x", "")))),
            "duration_s": draw(maybe(DURATIONS)),
        }
        events.append(row)
        if draw(st.integers(0, 5)) == 0:
            events.append(dict(row))
    return {"customers": customers, "orders": orders, "events": events}


@st.composite
def cases(draw, feats: dict[str, bool] | None = None) -> Case:
    feats = features() if feats is None else feats
    tz = draw(st.sampled_from(TIMEZONES))
    base = draw(
        st.one_of(
            st.sampled_from(AS_OF_BASES),
            st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2025, 12, 31)),
        )
    )
    offsets = draw(
        st.lists(
            st.sampled_from(
                [
                    dt.timedelta(days=-1),
                    dt.timedelta(days=-7),
                    dt.timedelta(days=-31),
                    dt.timedelta(hours=1),
                    dt.timedelta(microseconds=1),
                    dt.timedelta(days=30),
                    dt.timedelta(hours=-12),
                ]
            ),
            max_size=2,
            unique=True,
        )
    )
    as_ofs = [base] + [base + o for o in offsets]
    profiles = draw(st.integers(0, 5)) > 0
    # half of the projects with profiles have a point in time
    kinds = ["", "", "", "", "created_at", "created_on", "history", "history_created"]
    point_in_time = random.Random(draw(st.integers(0, 2**63))).choice(kinds) if profiles else ""
    files, pairs, sources, universe, fits = draw(
        definitions(profiles=profiles, as_ofs=as_ofs, tz=tz, feats=feats)
    )
    data = draw(tables(as_ofs, tz, point_in_time))
    if not profiles:
        data.pop("customers")
    sessions = draw(st.sampled_from(SESSIONS))
    return Case(
        tz, profiles, universe, files, data, as_ofs, pairs, sources, point_in_time, fits, sessions
    )
