"""Fuzzing: no input makes segql raise anything but its own errors, or hang.

Two sources of inputs, each run through parse → resolve → compile for every
dialect on a fixed in-memory project (tests/fuzz_harness.py):

- grammar-driven: `hypothesis.extra.lark.from_lark` on grammar/segql.lark, with
  explicit strategies for the terminals (names biased to the project's, so
  that many inputs get past the resolver);
- mutations of valid texts (LANGUAGE.md's examples, examples/segments): deletions,
  duplications, swaps, truncation, inserted keywords, punctuation, unicode and
  raw bytes (read through the loader, so the UTF-8 check is fuzzed too).

Short mode (default, in CI): a few hundred inputs, well under 30 s. Long mode:
`SEGQL_LONG=1 python -m pytest -m slow tests/test_fuzz.py` runs 100,000 inputs
(SEGQL_FUZZ_EXAMPLES overrides the count). Each input has a wall-clock limit
(SEGQL_FUZZ_TIMEOUT seconds, default 20): a hang fails the test.
"""

from __future__ import annotations

import os
import signal
import string
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import fuzz_harness as fh
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from segql.errors import SegqlError, SegqlErrors
from segql.syntax import ast
from segql.syntax.loader import parse_file
from segql.syntax.parser import _lark

LONG = os.environ.get("SEGQL_LONG", "") == "1"
TIMEOUT = float(os.environ.get("SEGQL_FUZZ_TIMEOUT", "20"))
SHORT_EXAMPLES = {"grammar": 30, "walk": 150, "mutation": 120, "bytes": 60, "yaml": 60,
                  "expression": 100}  # fmt: skip
LONG_EXAMPLES = int(os.environ.get("SEGQL_FUZZ_EXAMPLES", "100000"))
# the long run's inputs, split across the generators (from_lark is slow: a few)
LONG_SHARE = {"grammar": 0.01, "walk": 0.39, "mutation": 0.35, "bytes": 0.08, "yaml": 0.09,
              "expression": 0.08}  # fmt: skip

REACHED: Counter[str] = Counter()


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Fail an input that runs longer than `seconds` (SIGALRM: main thread, POSIX)."""

    def on_alarm(signum, frame):
        raise Hang(f"input ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def fuzz_settings(kind: str):
    return settings(
        max_examples=SHORT_EXAMPLES[kind],
        deadline=None,  # slow machines vary; hangs are caught by time_limit
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # CI sees the same inputs every run
    )


# ---------------------------------------------------------------- grammar-driven

PROJECT_NAMES = [
    "orders", "events", "amount", "quantity", "sku", "ordered_at", "name", "kind",
    "duration_s", "occurred_at", "country", "age", "email", "consent_marketing", "is_test",
    "signup_at", "customer_id", "count", "sum", "avg", "min", "max", "first", "last", "did",
    "count_distinct", "decayed_count", "decayed_sum", "days_since", "weekday", "hour", "date",
    "coalesce", "lower", "abs", "percentile", "score", "t1", "t2", "s1", "s2", "x",
]  # fmt: skip
UNITS = [u + s for u in (*ast.UNITS, "year") for s in ("", "s")]


def _spaced(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return s.map(lambda x: f" {x} ")


def _string_literal() -> st.SearchStrategy[str]:
    body = st.text(
        st.characters(blacklist_characters='"\\\n', blacklist_categories=("Cs",)), max_size=8
    )
    escapes = st.sampled_from(['\\"', "\\\\", "\\n", "\\t", "\\'"])
    return st.lists(body | escapes, max_size=3).map(lambda parts: '"' + "".join(parts) + '"')


def _terminals() -> dict[str, st.SearchStrategy[str]]:
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for t in _lark().terminals:
        if t.pattern.type == "str":
            explicit[t.name] = st.just(f" {t.pattern.value} ")
    digits = st.integers(0, 400).map(str)
    explicit.update(
        NAME=_spaced(
            st.sampled_from(PROJECT_NAMES)
            | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
        ),
        QUOTED_NAME=_spaced(
            st.text(st.characters(blacklist_characters="`\n", blacklist_categories=("Cs",)),
                    min_size=1, max_size=6).map(lambda s: f"`{s}`")
            | st.sampled_from(PROJECT_NAMES).map(lambda s: f"`{s}`")
        ),
        INT=_spaced(digits),
        DECIMAL=_spaced(st.tuples(digits, digits).map(".".join)),
        PERCENT=_spaced(digits.map(lambda d: d + "%")),
        DATE=_spaced(
            st.dates().map(lambda d: d.isoformat())
            | st.from_regex(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}", fullmatch=True)
        ),
        TIMESTAMP=_spaced(
            st.datetimes().map(lambda d: d.isoformat(timespec="seconds"))
            | st.from_regex(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", fullmatch=True)
        ),
        STRING=_spaced(_string_literal()),
        UNIT=_spaced(st.sampled_from(UNITS)),
        CMP=_spaced(st.sampled_from(["==", "!=", "<>", "<=", ">=", "<", ">"])),
        NOT_IN=st.just(" not in "),
        NOT_BETWEEN=st.just(" not between "),
        NOT_LIKE=st.just(" not like "),
        IS_NULL=st.just(" is null "),
        IS_NOT_NULL=st.just(" is not null "),
        THEN_NOT=st.just(" then not "),
        BY_KIND=st.sampled_from([" by priority ", " by weight "]),
        COMMENT=st.just("# c\n"),
        WS=st.sampled_from([" ", "\n", "\t"]),
    )  # fmt: skip
    return explicit


GRAMMAR_TEXTS = from_lark(_lark(), start="start", explicit=_terminals())


def _check_seg(text: str) -> None:
    with time_limit(TIMEOUT):
        REACHED[fh.run_seg(text)] += 1


@fuzz_settings("grammar")
@given(GRAMMAR_TEXTS)
def test_grammar_inputs(text: str) -> None:
    _check_seg(text)


@fuzz_settings("walk")
@given(st.randoms(use_true_random=False))
def test_grammar_walk(rng) -> None:
    """The fast grammar walk of fuzz_harness (the long mode's generator)."""
    _check_seg(fh.random_text(rng))


# ---------------------------------------------------------------- mutations

PIECES = fh.MUTATION_PIECES  # the long mode's mutation pieces


def _mutate(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        n = len(text)
        i = data.draw(st.integers(0, n), label="at")
        j = data.draw(st.integers(i, min(n, i + 40)), label="to")
        op = data.draw(
            st.sampled_from(["delete", "duplicate", "swap", "truncate", "insert", "replace"]),
            label="op",
        )
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "duplicate":
            k = data.draw(st.integers(0, n), label="where")
            text = text[:k] + text[i:j] + text[k:]
        elif op == "swap" and j < n:
            k = data.draw(st.integers(j, n), label="other")
            m = data.draw(st.integers(k, min(n, k + 40)), label="other end")
            text = text[:i] + text[k:m] + text[j:k] + text[i:j] + text[m:]
        elif op == "truncate":
            text = text[:i]
        else:
            piece = data.draw(
                st.sampled_from(PIECES) | st.text(max_size=4)
                | st.text(string.printable, max_size=4),
                label="piece",
            )  # fmt: skip
            text = text[:i] + piece + text[(j if op == "replace" else i) :]
    return text


@fuzz_settings("mutation")
@given(st.data())
def test_mutated_examples(data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(fh.SEEDS), label="seed")
    if data.draw(st.integers(0, 3), label="part"):  # a few definitions: faster, more cases
        picked = data.draw(st.lists(st.sampled_from(fh.definitions(seed)), min_size=1, max_size=3))
        seed = "\n".join(picked)
    _check_seg(_mutate(data, seed))


# a stray byte, a cut sequence, a BOM inside, NUL, an encoded surrogate
BAD_BYTES = [b"\xff", b"\xc3", b"\xe2\x82", b"\xef\xbb\xbf", b"\x00", b"\xed\xa0\x80"]


def _bytes_case(tmp: Path, data: st.DataObject, suffix: str) -> None:
    seeds = fh.SEEDS if suffix == ".seg" else fh.YAML_SEEDS
    raw = bytearray(data.draw(st.sampled_from(seeds), label="seed").encode())
    for _ in range(data.draw(st.integers(1, 3), label="byte edits")):
        i = data.draw(st.integers(0, len(raw)), label="at")
        junk = data.draw(
            st.binary(min_size=1, max_size=4) | st.sampled_from(BAD_BYTES),
            label="bytes",
        )
        raw[i:i] = junk
    path = tmp / f"fuzz{suffix}"
    path.write_bytes(bytes(raw))
    with time_limit(TIMEOUT):
        try:
            module = parse_file(path)
        except (SegqlError, SegqlErrors) as e:
            errors = e.errors if isinstance(e, SegqlErrors) else [e]
            for err in errors:
                err.render()  # read back from the file: must not fail on bad bytes
            REACHED["parse"] += 1
            return
        REACHED[fh._resolve_and_compile(module, "", str(path))] += 1


@fuzz_settings("bytes")
@given(st.data(), st.sampled_from([".seg", ".yml"]))
def test_random_bytes(tmp_path_factory, data: st.DataObject, suffix: str) -> None:
    _bytes_case(tmp_path_factory.mktemp("bytes"), data, suffix)


@fuzz_settings("yaml")
@given(st.data())
def test_mutated_yaml(data: st.DataObject) -> None:
    text = _mutate(data, data.draw(st.sampled_from(fh.YAML_SEEDS), label="seed"))
    with time_limit(TIMEOUT):
        REACHED[fh.run_yaml(text)] += 1


@fuzz_settings("expression")
@given(st.text(max_size=60) | st.lists(st.sampled_from(PIECES + PROJECT_NAMES)).map(" ".join))
def test_expressions(text: str) -> None:
    with time_limit(TIMEOUT):
        fh.run_expression(text)


# ---------------------------------------------------------------- long mode


def _long_case(kind: str, rng, tmp: Path) -> str:
    if kind == "walk":
        return fh.run_seg(fh.random_text(rng))
    if kind == "mutation":
        return fh.run_seg(fh.mutate(rng, fh.seed_part(rng, rng.choice(fh.SEEDS))))
    if kind == "yaml":
        return fh.run_yaml(fh.mutate(rng, rng.choice(fh.YAML_SEEDS)))
    if kind == "expression":
        fh.run_expression(fh.mutate(rng, fh.random_text(rng).partition(" = ")[2][:80]))
        return "parse"
    suffix = rng.choice([".seg", ".yml"])
    raw = bytearray(rng.choice(fh.SEEDS if suffix == ".seg" else fh.YAML_SEEDS).encode())
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(raw))
        raw[i:i] = bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 4)))
    path = tmp / f"fuzz{suffix}"
    path.write_bytes(bytes(raw))
    try:
        module = parse_file(path)
    except (SegqlError, SegqlErrors) as e:
        for err in e.errors if isinstance(e, SegqlErrors) else [e]:
            err.render()
        return "parse"
    return fh._resolve_and_compile(module, "", str(path))


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long fuzzing runs with SEGQL_LONG=1")
@pytest.mark.parametrize("kind", ["walk", "mutation", "bytes", "yaml", "expression"])
def test_long_fuzz(kind: str, tmp_path: Path, capsys) -> None:
    """LONG_EXAMPLES inputs in all (with test_long_grammar), random each run
    (SEGQL_FUZZ_SEED repeats one); a failure names the input's seed."""
    import random

    n = max(1, int(LONG_EXAMPLES * LONG_SHARE[kind]))
    base = int(os.environ.get("SEGQL_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
    reached: Counter[str] = Counter()
    start = time.monotonic()
    for i in range(n):
        rng = random.Random(base + i)
        try:
            with time_limit(TIMEOUT):
                reached[_long_case(kind, rng, tmp_path)] += 1
        except Exception as e:
            raise AssertionError(
                f"{kind} input {i}: SEGQL_FUZZ_SEED={base + i} SEGQL_FUZZ_EXAMPLES=1 "
                f"fails with {type(e).__name__}: {e}"
            ) from e
    with capsys.disabled():
        print(f"\n[fuzz {kind}] {n} inputs in {time.monotonic() - start:.0f} s; "
              f"reached {dict(reached)}")  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long fuzzing runs with SEGQL_LONG=1")
def test_long_grammar(capsys) -> None:
    """from_lark's share of the long run (Hypothesis, random each run)."""
    n = max(1, int(LONG_EXAMPLES * LONG_SHARE["grammar"]))
    start = time.monotonic()
    run = settings(
        max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )(given(GRAMMAR_TEXTS)(_check_seg))
    run()
    with capsys.disabled():
        print(f"\n[fuzz grammar] {n} inputs in {time.monotonic() - start:.0f} s")
