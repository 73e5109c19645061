"""`segql test` (LANGUAGE.md §15): given rows typed by the project, expected
members and labels, failures that show what differs and the rows behind it,
errors at their YAML line; the example project's tests pass on DuckDB, and
unchanged on PostgreSQL and Spark."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segql.cli import app

EXAMPLES = Path(__file__).parents[1] / "examples" / "segments"

FAILING = """\
tests:
  - name: right
    as_of: 2024-06-01
    given:
      customers: [{customer_id: 1, consent_marketing: true}]
      orders: [{customer_id: 1, ordered_at: 2024-05-31T23:59:59, amount: 5}]
    expect:
      recent_buyers: [1]
  - name: wrong on purpose
    as_of: 2024-06-01
    given:
      customers:
        - {customer_id: 1, consent_marketing: true}
        - {customer_id: 2, consent_marketing: true}
      web_events: [{customer_id: 1, occurred_at: 2024-05-28T09:00:00, name: add_to_cart}]
    expect:
      cart_abandoners: [2]
      lifecycle: {1: vip}
"""
BAD = """\
tests:
  - name: bad input
    as_of: 2024-06-01
    given:
      customer:  [{customer_id: 1}]
      events:  [{customer_id: 1}]
      orders:  [{customer_id: "1", amout: 3, ordered_at: yesterday}]
    expect:
      cart_abandoner: []
      lifecycle: [1]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in EXAMPLES.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    shutil.copytree(EXAMPLES / "clusters", tmp_path / "clusters")  # fit files
    (tmp_path / "tests").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_the_examples_tests_pass(monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    r = run("test")
    assert r.exit_code == 0, r.output
    assert r.stdout.endswith("3 tests, 0 failed\n")
    # the test files beside the definitions are not definitions
    assert run("validate", ".").exit_code == 0


def test_a_failure_shows_missing_unexpected_labels_and_rows(project):
    (project / "tests" / "t.yml").write_text(FAILING)
    r = run("test", "tests/t.yml")
    assert r.exit_code == 1
    assert r.stdout == (
        "PASS right\n"
        "FAIL wrong on purpose (tests/t.yml:9)\n"
        "  cart_abandoners: missing 2\n"
        "  cart_abandoners: unexpected 1\n"
        "  lifecycle: 1 expected vip, got browsers\n"
        "  rows of 1:\n"
        "    customers: {customer_id: 1, consent_marketing: True}\n"
        "    web_events: {customer_id: 1, occurred_at: 2024-05-28 09:00:00, name: add_to_cart}\n"
        "  rows of 2:\n"
        "    customers: {customer_id: 2, consent_marketing: True}\n"
        "2 tests, 1 failed\n"
    )
    doc = json.loads(run("test", "tests/t.yml", "--format", "json").stdout)
    assert (doc["passed"], doc["failed"]) == (1, 1)
    failures = doc["tests"][1]["failures"]
    assert failures[0] == {
        "output": "cart_abandoners",
        "missing": [2],
        "unexpected": [1],
        "labels": [],
    }
    assert failures[1]["labels"] == [{"key": 1, "expected": "vip", "actual": "browsers"}]


def test_window_edges_and_omitted_columns(project):
    """A row exactly at as_of counts, one a second later does not, one exactly
    30 days before is outside `last 30 days` but 30 whole days old; omitted
    columns are null (amount null: no spend) and tables not given are empty."""
    (project / "tests" / "t.yml").write_text(
        """\
tests:
  - name: edges
    as_of: 2024-06-01T00:00:00
    given:
      customers:
        - {customer_id: 1, consent_marketing: true}
        - {customer_id: 2, consent_marketing: true}
        - {customer_id: 3, consent_marketing: true}
        - {customer_id: 4, consent_marketing: true}
      orders:
        - {customer_id: 1, ordered_at: 2024-06-01T00:00:00}
        - {customer_id: 2, ordered_at: 2024-06-01T00:00:01}
        - {customer_id: 3, ordered_at: 2024-05-01T00:00:00}
        - {customer_id: 4, ordered_at: 2024-05-02T00:00:00}
    expect:
      recent_buyers: [1]      # last 30 days: after 2024-05-02T00:00, up to as_of
      high_value: []
      lifecycle: {1: new, 2: browsers, 3: browsers, 4: new}   # new: 30 whole days at most
"""
    )
    r = run("test")
    assert r.exit_code == 0, r.output


def test_bad_input_is_reported_at_its_line_before_anything_runs(project):
    (project / "tests" / "t.yml").write_text(BAD)
    r = run("test")
    assert r.exit_code == 1 and r.stdout == ""
    expected = [
        "tests/t.yml:5:7: error: unknown table 'customer' (did you mean 'customers'?)",
        "tests/t.yml:6:7: error: 'events' is a source: give the rows of its table 'web_events'",
        "tests/t.yml:7:31: error: 'customer_id' of 'orders' is a number, not the text '1'",
        "tests/t.yml:7:36: error: table 'orders' has no column 'amout' (did you mean 'amount'?)",
        "tests/t.yml:7:58: error: 'ordered_at' of 'orders' is a timestamp, "
        "not the text 'yesterday'",
        "tests/t.yml:9:7: error: unknown segment or segmentation 'cart_abandoner' "
        "(did you mean 'cart_abandoners'?)",
        "tests/t.yml:10:7: error: 'lifecycle' is a segmentation: expect key: label pairs",
    ]
    for line in expected:
        assert line in r.stderr
    assert "7 errors" in r.stderr


def test_unknown_types_are_an_error_not_a_guess(project):
    (project / "schema.yml").unlink()
    (project / "tests" / "t.yml").write_text(FAILING)
    r = run("test")
    assert r.exit_code == 1
    assert "the columns of table 'customers' are not known" in r.stderr
    assert "segql schema pull" in r.stderr


def test_no_tests_is_an_error(project):
    r = run("test")
    assert r.exit_code == 1 and "no tests found" in r.stderr


@pytest.mark.engines
def test_the_same_on_postgres_and_spark(project, postgres, spark, monkeypatch):
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    with open(project / "segql.yml", "a", encoding="utf-8") as out:
        out.write(
            "targets:\n"
            '  pg: {engine: postgres, dsn: "${SEGQL_TEST_PG_DSN}"}\n'
            "  spark: {engine: spark}\n"
        )
    shutil.copy(EXAMPLES / "tests" / "behaviour.yml", project / "tests" / "behaviour.yml")
    (project / "tests" / "t.yml").write_text(FAILING)
    on_duckdb = run("test", "--format", "json").stdout
    assert json.loads(on_duckdb)["failed"] == 1
    for target in ("pg", "spark"):
        r = run("test", "--target", target, "--format", "json")
        assert r.exit_code == 1
        assert r.stdout == on_duckdb, (target, r.stderr)
    # the scratch schema is gone
    left = [r[0] for r in spark.sql("SHOW DATABASES").collect()]
    assert not [d for d in left if d.startswith("segql_test")]
