"""schema.yml (LANGUAGE.md §2): `segql schema pull` writes the column types of
the project's tables; compile reads them when no database is reachable, so the
SQL is the same with and without the database; an unknown time column type is
a warning naming it (`--strict`: an error)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from segql.cli import app

PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_on}
  events: {table: web_events, time: occurred_at}
timezone: Europe/Paris
"""
DEFINITIONS = """\
segment buyers = count(orders, last 7 days) >= 1
segment visitors = count(events, last 24 hours) >= 1
segment big = sum(orders.amount, last 30 days) > 100 and signed_up < 2024-01-01
"""
DIALECTS = ("duckdb", "postgres", "bigquery", "snowflake", "spark", "trino")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose orders have a DATE time column (the case where unknown
    types changed the SQL), with a DuckDB file holding its tables."""
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "defs.seg").write_text(DEFINITIONS)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE TABLE customers (customer_id BIGINT, signed_up DATE, country VARCHAR)")
    con.execute("CREATE TABLE orders (customer_id BIGINT, ordered_on DATE, amount DECIMAL(10,2))")
    con.execute(
        "CREATE TABLE web_events (customer_id BIGINT, occurred_at TIMESTAMPTZ, name VARCHAR)"
    )
    con.close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def ok(*args: str) -> str:
    r = run(*args)
    assert r.exit_code == 0, r.output
    return r.stdout


def with_database(project: Path) -> None:
    (project / "segql.yml").write_text(PROJECT + "database: wh.duckdb\n")


def compiled(dialect: str) -> str:
    return ok("compile", ".", "--dialect", dialect, "--as-of", "2024-06-01")


def test_pull_writes_every_table_as_the_engine_names_it(project):
    r = run("schema", "pull", "--db", "wh.duckdb")
    assert r.exit_code == 0, r.output
    assert "3 tables" in r.stderr
    doc = yaml.safe_load((project / "schema.yml").read_text())
    assert doc["dialect"] == "duckdb"
    assert list(doc["tables"]) == ["customers", "orders", "web_events"]
    assert doc["tables"]["orders"] == {
        "customer_id": "BIGINT",
        "ordered_on": "DATE",
        "amount": "DECIMAL(10,2)",
    }
    assert doc["tables"]["web_events"]["occurred_at"] == "TIMESTAMP WITH TIME ZONE"
    # deterministic: a second pull writes the same bytes
    first = (project / "schema.yml").read_bytes()
    ok("schema", "pull", "--db", "wh.duckdb")
    assert (project / "schema.yml").read_bytes() == first


def test_same_sql_with_the_database_or_with_schema_yml(project):
    with_database(project)
    ok("schema", "pull")  # no target: the project's database
    reference = {d: compiled(d) for d in DIALECTS}
    (project / "segql.yml").write_text(PROJECT)  # no database reachable now
    for d in DIALECTS:
        r = run("compile", ".", "--dialect", d, "--as-of", "2024-06-01")
        assert r.exit_code == 0, r.output
        assert r.stdout == reference[d], d
        assert "warning" not in r.stderr
    # the DATE time column is read as a date, the timestamptz one normalized
    assert "ordered_on" in reference["bigquery"]


def test_unknown_time_types_warn_and_strict_makes_them_errors(project):
    with_database(project)
    typed = compiled("bigquery")
    (project / "segql.yml").write_text(PROJECT)
    r = run("compile", ".", "--dialect", "bigquery", "--as-of", "2024-06-01")
    assert r.exit_code == 0
    # without types the SQL differs: and the user is told, at the column in segql.yml
    assert r.stdout != typed
    assert (
        "segql.yml:5:33: warning: the type of time column 'ordered_on' of source 'orders' "
        "is unknown: it is read as a naive UTC timestamp"
    ) in r.stderr
    assert "time column 'occurred_at' of source 'events'" in r.stderr
    assert "segql schema pull" in r.stderr
    r = run("compile", ".", "--dialect", "bigquery", "--strict")
    assert r.exit_code == 1 and r.stdout == ""
    assert "segql.yml:5:33: error: the type of time column 'ordered_on'" in r.stderr
    assert "2 errors" in r.stderr
    r = run("--strict", "validate", ".")  # before the command too
    assert r.exit_code == 1
    # a declared type is a known type
    (project / "segql.yml").write_text(
        PROJECT.replace(
            "{table: orders, time: ordered_on}",
            "{table: orders, time: ordered_on, columns: {ordered_on: date}}",
        ).replace(
            "{table: web_events, time: occurred_at}",
            "{table: web_events, time: occurred_at, columns: {occurred_at: timestamp}}",
        )
    )
    r = run("validate", ".", "--strict")
    assert r.exit_code == 0, r.output


def test_a_stale_schema_yml_is_reported_when_the_database_disagrees(project):
    with_database(project)
    ok("schema", "pull")
    text = (project / "schema.yml").read_text().replace("ordered_on: DATE", "ordered_on: TIMESTAMP")
    (project / "schema.yml").write_text(text)
    r = run("compile", ".", "--as-of", "2024-06-01")
    assert r.exit_code == 0
    assert (
        "warning: schema.yml gives 'orders.ordered_on' the type timestamp, the database date"
        in r.stderr
    )
    assert r.stderr.startswith("schema.yml:")


def test_pull_of_a_missing_table_names_the_nearest_and_writes_nothing(project):
    (project / "segql.yml").write_text(PROJECT.replace("table: orders", "table: order"))
    r = run("schema", "pull", "--db", "wh.duckdb")
    assert r.exit_code == 1
    assert "error: table 'order' not found in the database (did you mean 'orders'?)" in r.stderr
    assert not (project / "schema.yml").exists()


def test_schema_yml_problems_are_errors_at_their_line(project):
    (project / "schema.yml").write_text("dialect: duckdbb\ntabels: {}\n")
    r = run("validate", ".")
    assert r.exit_code == 1
    assert "schema.yml:1:10: error: unknown dialect 'duckdbb' in schema.yml" in r.stderr
    assert "schema.yml:2:1: error: unknown setting 'tabels' in schema.yml" in r.stderr


def test_schema_yml_is_not_a_definitions_file(project):
    ok("schema", "pull", "--db", "wh.duckdb")
    assert "3 segments" in ok("validate", ".")
    r = run("validate", "schema.yml")
    assert r.exit_code == 1 and "not definitions" in r.stderr


def test_types_from_another_engine_are_read_in_its_dialect(project):
    (project / "schema.yml").write_text(
        "dialect: postgres\n"
        "tables:\n"
        "  customers: {customer_id: bigint, signed_up: date, country: text}\n"
        "  orders: {customer_id: bigint, ordered_on: date, amount: numeric}\n"
        "  web_events: {customer_id: bigint, occurred_at: timestamp with time zone, name: text}\n"
    )
    from_pg = {d: compiled(d) for d in DIALECTS}
    with_database(project)
    for d in DIALECTS:
        assert compiled(d) == from_pg[d], d


def test_replacing_leaves_the_old_file_when_writing_fails(tmp_path):
    from segql.ops.files import replacing

    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as f:
        f.write("new, half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
