"""`segql fmt`: the canonical layout, comments kept in place, idempotent, the
same definitions after (every .seg file of the repository and the fuzz corpus),
and the command (`--check`, errors, the files it writes)."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import fuzz_harness as fh
import pytest
from hypothesis import HealthCheck, given, settings
from test_fuzz import GRAMMAR_TEXTS
from typer.testing import CliRunner

from segql.cli import app
from segql.errors import SegqlError, SegqlErrors
from segql.syntax.fmt import check, format_text
from segql.syntax.parser import _lark, parse_module

ROOT = Path(__file__).parents[1]


def fmt(text: str) -> str:
    out = format_text(textwrap.dedent(text), "t.seg")
    assert format_text(out, "t.seg") == out, "not idempotent"
    return out


def same(text: str) -> None:
    text = textwrap.dedent(text)
    assert fmt(text) == text


def _parses(text: str) -> bool:
    try:
        parse_module(text, "t.seg")
    except (SegqlError, SegqlErrors):
        return False
    return True


def assert_formats(text: str) -> str:
    """fmt(text) means text (format_text checks definitions and comments), and is a fixed point."""
    out = format_text(text, "t.seg")
    assert format_text(out, "t.seg") == out, f"not idempotent:\n{text}\n---\n{out}"
    return out


# ---------------------------------------------------------------- layout


def test_keywords_lower_case_strings_double_quoted_numbers_as_written():
    out = fmt("""\
        trait a   =   x == 'it\\'s'   or   y <> 2 and z >= 1.50
        segment b=count(orders where amount>10,last 1 days)>=1 and p>10%
        """)
    assert out == (
        'trait a = x = "it\'s" or y != 2 and z >= 1.50\n'
        "segment b = count(orders where amount > 10, last 1 day) >= 1 and p > 10%\n"
    )


def test_windows_aggregates_and_sequences():
    same("""\
        trait w1 = count(orders, last 30 days)
        trait w2 = count(orders, 7 to 14 days ago)
        trait w3 = count(orders, 7 days to 2 weeks ago)
        trait w4 = count(orders, before 90 days ago)
        trait w5 = count(orders, 2024-01-01 to 2024-03-31)
        trait w6 = count(orders, since 2024-01-01T10:30)
        trait w7 = count(orders, before 2024-01-01T10:30:15)
        trait w8 = count(orders, today) + count(orders, yesterday)
        trait w9 = sum(orders.amount, this week) - sum(orders.amount, previous month)
        trait wa = count(events where name = "x", any 24 hours)
        trait wb = decayed_count(events, last 90 days, 14 days)
        trait wc = did(events where name = "view" then not orders within 2 days on sku, last 7 days)
        trait wd = last(orders.ordered_at)
        trait we = quantile(orders.amount where amount > 0, 90%, last 30 days)
        trait wf = quantile(orders.amount, 0.5) + median(orders.amount)
        """)


def test_minimal_parentheses():
    out = fmt(
        "trait a = ((x + y) * (z - (w - v))) / (-(u))\n"
        "segment b = (p or q) and not (r and s) and not (t > 1) and (not u)\n"
        "segment c = (a or b) or (c and d)\n"
    )
    assert out == (
        "trait a = (x + y) * (z - (w - v)) / -u\n"
        "segment b = (p or q) and not (r and s) and not (t > 1) and not u\n"
        "segment c = a or b or c and d\n"
    )


def test_names_that_are_keywords_keep_their_backticks():
    out = fmt(
        "segmentation s by priority {\n  `and` = `where` > 1\n  `days` = x\n  else `or`\n}\n"
        "trait `my col` = `this`"
    )
    assert out == (
        "segmentation s by priority {\n  `and`  = `where` > 1\n  `days` = x\n  else `or`\n}\n"
        "trait `my col` = `this`\n"
    )


def test_long_conditions_break_before_and_or():
    long_a = 'count(orders where amount > 100 and sku in ("A", "B"), last 30 days) >= 3'
    long_b = 'did(events where name = "pricing_view", last 7 days)'
    out = fmt(f"segment s = {long_a} and {long_b} or {long_a} and not {long_b}\n")
    assert out == textwrap.dedent(f"""\
        segment s =
          {long_a}
            and {long_b}
          or {long_a}
            and not {long_b}
        """)
    assert max(len(line) for line in out.splitlines()) <= 100


def test_blocks_align_rules_and_groups():
    out = fmt("""\
        segmentation journey {
          champions = a
          window_shoppers = b

          newcomers = c
          else prospects
        }
        split t of s salt 'x' { control 10% email 45% sms 45% }
        segment high { title "T"  channels email,push where x > 1 }
        """)
    assert out == textwrap.dedent("""\
        segmentation journey by priority {
          champions       = a
          window_shoppers = b

          newcomers       = c
          else prospects
        }
        split t of s salt "x" {
          control 10%
          email   45%
          sms     45%
        }
        segment high {
          title "T"
          channels email, push
          where x > 1
        }
        """)


def test_one_line_runs_align_and_blank_lines_are_kept_at_most_one():
    out = fmt(
        "trait a = 1\ntrait bbb = 2\n\n\n\ntrait cc = 3\nsegment d = a > 1\nsegment eeee = b\n"
    )
    assert out == (
        "trait a   = 1\ntrait bbb = 2\n\ntrait cc = 3\nsegment d    = a > 1\nsegment eeee = b\n"
    )


# ---------------------------------------------------------------- comments


def test_comments_stay_where_they_are():
    same("""\
        # file header

        # leading comment of a
        trait a = 1  # trailing comment of a
        # leading comment of b
        segment b =
          # before the first operand
          x > 1  # after the first operand
          # before the second
          and y < 2  # at the end

        segmentation s by priority {  # on the header
          # before the first rule
          one = a
          two = b  # after a rule
          # before else
          else rest
          # before the closing brace
        }
        split t of b {
          # before a group
          control 10%  # after a group
        }
        segment m {
          # before the title
          title "x"  # after the title
          where a  # after the condition
        }
        # the end of the file
        """)


def test_a_comment_inside_a_one_line_element_moves_before_it():
    out = fmt("trait a = coalesce(x,  # why x\n  0)\n")
    assert out == "trait a =\n  # why x\n  coalesce(x, 0)\n"
    out = fmt("segment s = f > 1 and coalesce(x,  # why x\n  0) > 2\n")
    assert out == "segment s =\n  f > 1\n  # why x\n  and coalesce(x, 0) > 2\n"


def test_a_result_that_would_lose_a_comment_or_change_a_definition_is_refused():
    with pytest.raises(SegqlError, match="comments"):
        check("trait a = 1  # c\n", "trait a = 1\n", "t.seg")
    with pytest.raises(SegqlError, match="definitions"):
        check("trait a = 1\n", "trait a = 2\n", "t.seg")
    with pytest.raises(SegqlError, match="break"):
        check("trait a = 1\n", "trait a = \n", "t.seg")


# ---------------------------------------------------------------- every input


def _repo_seg_files() -> list[Path]:
    files = [*ROOT.glob("examples/**/*.seg"), *ROOT.glob("benchmarks/project/**/*.seg")]
    files += ROOT.glob("tests/errors/*.seg")
    return sorted(files)


def test_every_seg_file_of_the_repository():
    formatted = 0
    for path in _repo_seg_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # tests/errors/file_not_utf8.seg
        if _parses(text):
            assert_formats(text)
            formatted += 1
    assert formatted >= 20


def test_the_examples_are_formatted():
    for path in ROOT.glob("examples/**/*.seg"):
        text = path.read_text(encoding="utf-8")
        assert format_text(text, str(path)) == text, path


def _with_comments(rng: random.Random, text: str) -> str:
    """text with `# cN` comments after a few random tokens."""
    toks = [t for t in _lark().lex(text, dont_ignore=True) if t.type != "WS"]
    for k in sorted(rng.sample(range(len(toks)), min(len(toks), rng.randint(1, 5))), reverse=True):
        text = text[: toks[k].end_pos] + f" # c{k}\n" + text[toks[k].end_pos :]
    return text


def test_the_fuzz_corpus():
    """The fuzzers' inputs that parse: grammar walks, mutated seeds, and both with
    comments after random tokens (fixed seed: the same inputs every run)."""
    rng = random.Random(20261202)
    checked = 0
    for i in range(600):
        if i % 2:
            text = fh.random_text(rng)
        else:
            seed = fh.seed_part(rng, rng.choice(fh.SEEDS))
            text = fh.mutate(rng, seed) if i % 4 == 0 else seed
        if i % 3 == 0:
            try:
                text = _with_comments(rng, text)
            except Exception:  # noqa: BLE001 - a mutated text the lexer rejects
                continue
        if _parses(text):
            assert_formats(text)
            checked += 1
    assert checked >= 300


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(GRAMMAR_TEXTS)
def test_grammar_inputs(text: str) -> None:
    if _parses(text):
        assert_formats(text)


# ---------------------------------------------------------------- the command


def test_fmt_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segql.yml").write_text("entity: customer\n")
    good = tmp_path / "a.seg"
    good.write_text("trait a = 1\n")
    ugly = tmp_path / "b.seg"
    ugly.write_text("trait   b=2 # two\n")
    ugly.chmod(0o644)
    (tmp_path / "c.yml").write_text("traits: {x: {expr: '1'}}\n")  # YAML: left alone

    r = CliRunner().invoke(app, ["fmt", "--check"])
    assert r.exit_code == 1 and r.output == "would reformat b.seg\n"
    assert ugly.read_text() == "trait   b=2 # two\n"

    r = CliRunner().invoke(app, ["fmt"])
    assert r.exit_code == 0 and r.output == "reformatted b.seg\n"
    assert ugly.read_text() == "trait b = 2  # two\n"
    assert ugly.stat().st_mode & 0o777 == 0o644
    assert CliRunner().invoke(app, ["fmt", "--check", "a.seg", "b.seg"]).exit_code == 0

    broken = tmp_path / "d.seg"
    broken.write_text("trait d = (1\n")
    r = CliRunner().invoke(app, ["fmt", "d.seg", "b.seg"])
    assert r.exit_code == 1 and "d.seg:1:" in r.output
    assert broken.read_text() == "trait d = (1\n"
