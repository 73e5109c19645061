"""What every fuzzer runs: one text through parse → resolve → compile (every
dialect), on a fixed in-memory project. Only segql's own errors may come out,
and none from compile once resolve has passed (validate finds every error).

Shared by tests/test_fuzz.py (Hypothesis) and tests/fuzz_atheris.py (atheris).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from segql import api
from segql.errors import SegqlError, SegqlErrors
from segql.project import Project, Source, Table
from segql.semantic.resolve import resolve
from segql.semantic.schema import Catalog
from segql.sql.dialects import DIALECTS
from segql.syntax.parser import parse_expression, parse_module
from segql.syntax.yaml_front import parse_yaml_module

N, S, B, T = "number", "string", "boolean", "timestamp"
TABLES = {
    "customers": {"customer_id": N, "email": S, "country": S, "age": N, "device": S,
                  "consent_marketing": B, "is_test": B, "signup_at": T},
    "orders": {"order_id": N, "customer_id": N, "ordered_at": T, "amount": N, "quantity": N,
               "sku": S},
    "web_events": {"event_id": N, "customer_id": N, "occurred_at": T, "name": S, "kind": S,
                   "duration_s": N, "sku": S},
}  # fmt: skip
PROJECT = Project(
    file="segql.yml",
    root=Path("."),
    entity="customer",
    key="customer_id",
    profiles=Table("customers"),
    sources={
        "orders": Source("orders", Table("orders"), "ordered_at"),
        "events": Source("events", Table("web_events"), "occurred_at"),
    },
    universe=None,
    timezone="UTC",
    dialect="duckdb",
    database=None,
)
CATALOG = Catalog({name: dict(cols) for name, cols in TABLES.items()})
AS_OF = dt.datetime(2024, 6, 1, 12, 0)
SEG_FILE, YAML_FILE = "fuzz.seg", "fuzz.yml"

# texts every mutation fuzzer starts from: the examples plus a few of every construct
SEEDS = [
    """trait recency   = days_since(last(orders.ordered_at))
trait frequency = count(orders, last 365 days)
trait monetary  = sum(orders.amount, last 365 days)
segment recent_buyers = count(orders, last 30 days) >= 1
segment high_value {
  title "High-value customers"
  hypothesis "High spenders respond to early access to launches"
  channels email, push
  kpis conversion_rate, average_order_value
  where sum(orders.amount, last 90 days) > 1000 and country in ("US", "CA")
}
segment april_double_buyers = count(orders, 2024-04-01 to 2024-04-30) = 2
segment pricing_hunters = count(events where name = "pricing_view", any 24 hours) > 2
segment cart_abandoners =
  did(events where name = "add_to_cart" then not orders within 1 day, last 7 days)
segment engaged = percentile(sum(events.duration_s, last 30 days)) > 80%
segmentation lifecycle by priority {
  vip       = high_value and recent_buyers
  at_risk   = frequency >= 3 and recency > 60
  new       = days_since(first(orders.ordered_at)) <= 30
  else browsers
}
segmentation viewing by weight {
  movie_watchers = count(events where kind = "movie")
  bingers        = count(events where kind = "episode")
  documentaries  = 1.5 * count(events where kind = "documentary")
  else unclassified
}
""",
    """segment a = count(orders, 30 to 90 days ago) >= 1 and not did(orders, last 30 days)
segment b = count_distinct(date(events.occurred_at), last 28 days) >= 10
segment c = did(events where name = "view" then not orders within 2 days on sku)
segment d = weekday(last(orders.ordered_at)) in (6, 7) or hour(first(events.occurred_at)) < 6
segment e = decayed_count(orders, 30 days) > 1.5 and decayed_sum(orders.amount, 2 weeks) > 10
segment f = count(orders, this month) > 0 or count(orders, previous year) > 0
segment g = count(orders, today) + count(orders, yesterday) > 0
segment h = avg(orders.amount, since 2024-01-01) between 10 and 100
segment i = lower(coalesce(email, "x")) like "%@example.com" and age is not null
segment j = max(orders.amount, before 2024-01-01T12:30:00) / 0 > -1
segment k = score(sum(orders.amount), 5) = 5 and `country` != 'it\\'s'
trait t = min(orders.quantity * orders.amount, before 30 days ago)
segment l = t is null or abs(t - 3) <= 20% or did(orders then events then orders within 1 week)
""",
]
YAML_SEEDS = [
    """traits:
  recency: days_since(last(orders.ordered_at))
segments:
  recent_buyers: count(orders, last 30 days) >= 1
  high_value:
    title: High-value customers
    channels: [email, push]
    where: sum(orders.amount, last 90 days) > 1000
  quoted: "country = \\"US\\" and age > 18"
  folded: >
    count(events where name = 'pricing_view',
      any 24 hours) > 2
segmentations:
  lifecycle:
    by: priority
    rules:
      - vip: high_value and recent_buyers
      - at_risk: recency > 60
    else: browsers
""",
]


def _examples() -> None:
    """The committed examples join the seeds when they are there."""
    folder = Path(__file__).resolve().parent.parent / "examples" / "segments"
    files = sorted(folder.glob("*.seg"))
    if files:  # one text: the example files use one another's definitions
        SEEDS.append("\n".join(path.read_text(encoding="utf-8") for path in files))
    for path in sorted(folder.glob("*.yml")):
        if path.name not in ("segql.yml", "schema.yml"):
            YAML_SEEDS.append(path.read_text(encoding="utf-8"))


_examples()


def run_seg(text: str) -> str:
    """Parse, resolve and compile a .seg text for every dialect; return how far it
    got ('parse', 'resolve', 'compile', 'ok'). Raises anything but segql errors."""
    try:
        module = parse_module(text, SEG_FILE)
    except (SegqlError, SegqlErrors) as e:
        _check_rendering(e, text)
        return "parse"
    return _resolve_and_compile(module, text)


def run_yaml(text: str) -> str:
    try:
        module = parse_yaml_module(text, YAML_FILE)
    except (SegqlError, SegqlErrors) as e:
        _check_rendering(e, text, YAML_FILE)
        return "parse"
    return _resolve_and_compile(module, text, YAML_FILE)


def run_expression(text: str) -> None:
    """A condition alone (the YAML front end's and the universe's entry point)."""
    try:
        parse_expression(text, YAML_FILE, 3, 7)
    except (SegqlError, SegqlErrors) as e:
        _check_rendering(e, "\n\n      " + text, YAML_FILE)


def _resolve_and_compile(module, text: str, file: str = SEG_FILE) -> str:
    try:
        model = resolve([module], PROJECT, CATALOG)
    except (SegqlError, SegqlErrors) as e:
        _check_rendering(e, text, file)
        return "resolve"
    compile_everywhere(model)
    return "ok"


def compile_everywhere(model) -> None:
    """Compile a model that resolved for every dialect: validate reports every
    user error (DESIGN.md: codegen never rejects input), so none may come out
    here. A model with nothing to compile (traits only) has nothing to check."""
    if not model.selected:
        return
    for i, dialect in enumerate(DIALECTS):
        try:
            # alternate a fixed as_of and the engine's clock
            api.compile_model(model, dialect, AS_OF if i % 2 else None).sql()
        except (SegqlError, SegqlErrors) as e:
            raise AssertionError(f"validate passed, compile for {dialect} failed:\n{e}") from e


def _check_rendering(e: SegqlError | SegqlErrors, text: str, file: str = SEG_FILE) -> None:
    """Every error renders (against the text itself) without raising."""
    errors = e.errors if isinstance(e, SegqlErrors) else [e]
    assert errors
    for err in errors:
        rendered = err.render({file: text})
        assert rendered and "error:" in rendered.splitlines()[0]


# ---------------------------------------------------------------- random grammar walk
# Hypothesis' from_lark is thorough but slow (a fraction of a second per input);
# long runs and atheris walk the grammar with this plain random expander instead.

PROJECT_NAMES = (
    "orders events amount quantity sku ordered_at name kind duration_s occurred_at country "
    "age email consent_marketing is_test signup_at customer_id count sum avg min max first "
    "last did count_distinct decayed_count decayed_sum days_since weekday hour date coalesce "
    "lower abs percentile score d0 d1 d2 x"
).split()
UNIT_WORDS = [u + s for u in ("second", "minute", "hour", "day", "week", "month", "year")
              for s in ("", "s")]  # fmt: skip


def _terminal_text(name: str, rng) -> str | None:
    """Text for a regular-expression terminal; None for a literal keyword/punctuation."""
    r = rng.random
    if name == "NAME":
        if r() < 0.8:
            return rng.choice(PROJECT_NAMES)
        return "".join(rng.choice("abcxyz_Q9") for _ in range(rng.randint(1, 5))).lstrip("9") or "n"
    if name == "QUOTED_NAME":
        return (
            "`" + rng.choice([*PROJECT_NAMES, "Order Date", "select", "it's", "é ü", ";--"]) + "`"
        )
    if name == "INT":
        return str(rng.choice([0, 1, 2, 3, 5, 7, 10, 24, 30, 90, 365, 1000, 10**12]))
    if name == "DECIMAL":
        return rng.choice(["0.5", "1.5", "3.25", "100.0", "0.0001"])
    if name == "PERCENT":
        return rng.choice(["0%", "20%", "80%", "99.5%", "100%", "250%"])
    bad = r() < 0.05  # now and then an impossible value, to reach those errors
    if name == "DATE":
        if bad:
            return rng.choice(["2023-02-29", "2024-13-01", "2024-02-30", "0000-01-01"])
        return rng.choice(["2024-04-01", "2024-04-30", "2024-02-29", "0001-01-01", "9999-12-31"])
    if name == "TIMESTAMP":
        if bad:
            return rng.choice(["2024-04-01T24:00:00", "2024-02-30T00:00"])
        return rng.choice(["2024-04-01T12:30:00", "2024-04-01T00:00", "2024-04-01T23:59:59.999999",
                           "2024-12-31T12:00:00.5"])  # fmt: skip
    if name == "STRING":
        if bad:
            return '"a\\qb"'
        return rng.choice(['"US"', "'CA'", '""', '"it\'s"', '"a\\"b"', '"\\\\"', '"50%"',
                           '"line\\nbreak"', "'; DROP TABLE orders; --'", '"/* x */"', '"é😀"',
                           '"pricing_view"'])  # fmt: skip
    if name == "UNIT":
        return rng.choice(UNIT_WORDS)
    if name == "CMP":
        return rng.choice(["==", "!=", "<>", "<=", ">=", "<", ">"])
    if name == "BY_KIND":
        return rng.choice(["by priority", "by weight"])
    words = {
        "NOT_IN": "not in",
        "NOT_BETWEEN": "not between",
        "NOT_LIKE": "not like",
        "IS_NULL": "is null",
        "IS_NOT_NULL": "is not null",
        "THEN_NOT": "then not",
    }
    return words.get(name)  # fmt: skip


_RARE = {"TRUE", "FALSE", "NULL", "DATE", "TIMESTAMP", "PERCENT", "duration"}


class GrammarWalk:
    """Random sentences of the grammar, expansions bounded in depth."""

    def __init__(self, start: str = "start", max_depth: int = 12):
        from segql.syntax.parser import _lark

        parser = _lark()
        self.start = start
        self.max_depth = max_depth
        self.literals = {
            t.name: str(t.pattern.value) for t in parser.terminals if t.pattern.type == "str"
        }
        self.rules: dict[str, list[list]] = {}
        for rule in parser.rules:
            self.rules.setdefault(rule.origin.name, []).append(list(rule.expansion))
        # the cheapest expansion of each rule, to finish a sentence past max_depth
        cost = {name: float("inf") for name in self.rules}
        changed = True
        while changed:
            changed = False
            for name, expansions in self.rules.items():
                best = min(sum(cost.get(s.name, 1) for s in e) + 1 for e in expansions)
                if best < cost[name]:
                    cost[name], changed = best, True
        self.cheapest = {
            name: min(es, key=lambda e: sum(cost.get(s.name, 1) for s in e))
            for name, es in self.rules.items()
        }

    def sentence(self, rng) -> str:
        out: list[str] = []
        todo: list[tuple[object, int]] = [(self.start, 0)]
        while todo:
            sym, depth = todo.pop()
            name = sym if isinstance(sym, str) else sym.name
            if name in self.rules:
                options = self.rules[name]
                expansion = self.cheapest[name] if depth > self.max_depth else rng.choice(options)
                if len(expansion) == 1 and expansion[0].name in _RARE and rng.random() < 0.8:
                    expansion = rng.choice(options)  # fewer true/false/null: more well-typed
                todo.extend((s, depth + 1) for s in reversed(expansion))
            else:
                text = _terminal_text(name, rng)
                out.append(self.literals.get(name, "") if text is None else text)
                out.append(rng.choice([" ", " ", " ", "\n", "\t", " # c\n"]) if rng.random() < 0.1
                           else " ")  # fmt: skip
        return "".join(out)


_WALKS: dict[str, GrammarWalk] = {}


def random_text(rng) -> str:
    """A whole random file (a third of the time) or one to three definitions with
    random conditions: traits d0, d1 … that later segments may use."""
    if "start" not in _WALKS:
        _WALKS["start"] = GrammarWalk("start")
        _WALKS["expr"] = GrammarWalk("expr", max_depth=6)
    if rng.random() < 0.3:
        return _WALKS["start"].sentence(rng)
    lines = []
    n = rng.randint(1, 3)
    for i in range(n):
        kind = "segment" if i == n - 1 else rng.choice(["segment", "trait"])
        lines.append(f"{kind} d{i} = {_WALKS['expr'].sentence(rng)}")
    return "\n".join(lines)


MUTATION_PIECES = [
    "(", ")", "{", "}", ",", ".", "=", "==", "-", "+", "*", "/", "%", '"', "'", "`", "\\",
    "#", "\n", " ", "and", "or", "not", "where", "then", "then not", "within", "on", "last",
    "to", "ago", "before", "since", "any", "this", "previous", "today", "yesterday", "in",
    "between", "like", "is null", "null", "true", "false", "segment", "trait",
    "segmentation", "else", "by weight", "0", "-1", "1e9", "99999999999999999999",
    "2024-02-30", "2024-13-01", "0000-01-01", "9999-12-31T23:59:59", "1.5", "100%", "days",
    "months", "é", "\u200b", "\ufeff", "\U0001f600", "\x00", "\r", "\t", "𝔰𝔢𝔤", "ǅ",
]  # fmt: skip


def mutate(rng, text: str) -> str:
    """One to four random edits: delete, duplicate, swap, truncate, insert, replace."""
    for _ in range(rng.randint(1, 4)):
        n = len(text)
        i = rng.randint(0, n)
        j = rng.randint(i, min(n, i + 40))
        op = rng.choice(["delete", "duplicate", "swap", "truncate", "insert", "replace"])
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "duplicate":
            k = rng.randint(0, n)
            text = text[:k] + text[i:j] + text[k:]
        elif op == "swap" and j < n:
            k = rng.randint(j, n)
            m = rng.randint(k, min(n, k + 40))
            text = text[:i] + text[k:m] + text[j:k] + text[i:j] + text[m:]
        elif op == "truncate":
            text = text[:i]
        else:
            if rng.random() < 0.7:
                piece = rng.choice(MUTATION_PIECES)
            else:
                piece = "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x2FFFF)]))
                                for _ in range(rng.randint(1, 4)))  # fmt: skip
            piece = piece.encode("utf-8", "replace").decode("utf-8", "replace")  # no surrogates
            text = text[:i] + piece + text[(j if op == "replace" else i) :]
    return text


def seed_part(rng, seed: str) -> str:
    """A whole seed, or (mostly: faster, so more inputs) one to three of its definitions."""
    if rng.random() < 0.25:
        return seed
    parts = definitions(seed)
    return "\n".join(rng.choice(parts) for _ in range(rng.randint(1, 3)))


def definitions(text: str) -> list[str]:
    """The top-level definitions of a .seg text (comments go with the one after)."""
    from segql.syntax.parser import TOP_LEVEL

    starts = [m.start() for m in TOP_LEVEL.finditer(text)] or [0]
    starts[0] = 0
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
