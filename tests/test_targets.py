"""Targets in segql.yml (LANGUAGE.md §12, docs/targets.md): parsing, the
default target, table names on a target, `${NAME}` from the environment,
missing drivers. Engines themselves: tests/engines/test_targets_run.py."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segql import api
from segql.cli import app
from segql.engines import connect
from segql.engines.targets import choose, table_name
from segql.errors import SegqlError
from segql.project import load_project

PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
  events: {table: raw.web_events, time: occurred_at}
targets:
  local: {engine: duckdb, path: local.duckdb}
  pg:    {engine: postgres, dsn: "${SEGQL_TEST_DSN}", schema: analytics}
  spark: {engine: spark, master: "local[1]", database: "${SEGQL_TEST_DB}"}
  bq:    {engine: bigquery, dataset: shop.analytics, tables: {orders: shop.sales.orders}}
"""
DEFS = "segment buyer = count(orders) >= 1 and count(events) >= 1\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "s.seg").write_text(DEFS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEGQL_TEST_DSN", raising=False)
    monkeypatch.delenv("SEGQL_TEST_DB", raising=False)
    return tmp_path


def test_targets_parsed_in_order_first_is_default(project):
    proj = load_project(project / "segql.yml")
    assert list(proj.targets) == ["local", "pg", "spark", "bq"]
    assert choose(proj, None).name == "local"
    assert proj.targets["bq"].engine == "bigquery"


def test_schema_qualifies_bare_tables_and_tables_override(project, monkeypatch):
    proj = load_project(project / "segql.yml")
    pg, bq, spark = proj.targets["pg"], proj.targets["bq"], proj.targets["spark"]
    assert table_name(pg, "customers") == "analytics.customers"
    assert table_name(pg, "raw.web_events") == "raw.web_events"  # already qualified
    assert table_name(bq, "orders") == "shop.sales.orders"
    assert table_name(bq, "customers") == "shop.analytics.customers"
    monkeypatch.setenv("SEGQL_TEST_DB", "lake")
    assert table_name(spark, "orders") == "lake.orders"


def test_compile_for_a_target_uses_its_dialect_and_tables(project):
    sql = api.compile(["s.seg"], target="bq", as_of="2025-07-01").sql()
    assert "`shop`.`sales`.`orders`" in sql and "`shop`.`analytics`.`customers`" in sql
    # the DSN is not needed to compile: its unset variable is no error
    sql = api.compile(["s.seg"], target="pg", as_of="2025-07-01").sql()
    assert '"analytics"."customers"' in sql and '"raw"."web_events"' in sql
    # without --target: the project's dialect and names, whatever the targets
    assert 'FROM "customers"' in api.compile(["s.seg"], as_of="2025-07-01").sql()


def test_cli_compile_target_and_unknown_target(project):
    r = CliRunner().invoke(app, ["compile", "s.seg", "--target", "bq"])
    assert r.exit_code == 0 and "`shop`.`sales`.`orders`" in r.stdout
    r = CliRunner().invoke(app, ["compile", "s.seg", "--target", "bqq"])
    assert r.exit_code == 2 and "unknown target 'bqq' (did you mean 'bq'?)" in r.output


def test_missing_variable_is_an_error_naming_it(project):
    with pytest.raises(SegqlError) as e:
        api.compile(["s.seg"], target="spark")
    assert "environment variable 'SEGQL_TEST_DB' is not set" in e.value.message
    assert e.value.span.file == "segql.yml" and e.value.span.line == 10


def test_secret_from_environment_is_redacted(project, monkeypatch):
    monkeypatch.setenv("SEGQL_TEST_DSN", "postgresql://me:pa55-w0rd@db.example:5432/shop")
    pg = load_project(project / "segql.yml").targets["pg"]
    assert "pa55-w0rd" not in pg.redact("failed for postgresql://me:pa55-w0rd@db.example")
    assert "pa55-w0rd" not in pg.redact('near "pa55-w0rd@db"')
    assert "pa55-w0rd" not in repr(pg)


def test_engines_that_only_compile_cannot_be_previewed(project):
    r = CliRunner().invoke(app, ["preview", "s.seg", "--target", "bq"])
    assert r.exit_code == 1
    assert "target 'bq' is bigquery, which segql does not connect to" in r.output
    assert "segql compile --target bq" in r.output


def _without(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import module` fail as if it were not installed."""
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named '{module}'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize(
    ("target", "module", "extra"), [("pg", "psycopg", "postgres"), ("spark", "pyspark", "spark")]
)
def test_missing_driver_names_the_extra(project, monkeypatch, target, module, extra):
    monkeypatch.setenv("SEGQL_TEST_DSN", "host=localhost")
    monkeypatch.setenv("SEGQL_TEST_DB", "lake")
    _without(module, monkeypatch)
    proj = load_project(project / "segql.yml")
    with pytest.raises(SegqlError) as e:
        connect(proj.targets[target], project)
    assert f"pip install 'segql[{extra}]'" in e.value.message
    assert "\n" not in e.value.render()


def test_preview_without_data_uses_the_default_target(project):
    # `local` is first: its file does not exist yet, and the message says so
    r = CliRunner().invoke(app, ["preview", "s.seg"])
    assert r.exit_code == 1 and "local.duckdb' not found" in r.output


def test_sample_needs_a_target_or_a_file(project):
    r = CliRunner().invoke(app, ["sample"])
    assert r.exit_code == 2 and "--target NAME or --db FILE" in r.output
    r = CliRunner().invoke(app, ["sample", "--db", "x.duckdb", "--scale", "0"])
    assert r.exit_code == 2


def test_sample_into_a_duckdb_file(project):
    r = CliRunner().invoke(app, ["sample", "--db", "s.duckdb", "--scale", "0.001"])
    assert r.exit_code == 0, r.output
    import duckdb

    con = duckdb.connect("s.duckdb", read_only=True)
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (100,)
    con.close()
