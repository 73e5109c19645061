"""`segql sample --target T` then `segql preview --target T` on PostgreSQL and
Spark gives what the built-in sample gives on DuckDB (`--sample`), line for
line except `data` (which names where the data is).

The example project (examples/segments) is copied with targets added; the
PostgreSQL DSN comes from the environment, as secrets must.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segql.cli import app
from segql.errors import SegqlError

pytestmark = pytest.mark.engines

EXAMPLES = Path(__file__).parents[2] / "examples" / "segments"
AS_OF = "2025-07-01"
SCALE = "0.002"  # 200 customers: enough for every example segment, fast on Spark
TARGETS = """
targets:
  local: {engine: duckdb, path: local.duckdb}
  pg:    {engine: postgres, dsn: "${SEGQL_TEST_PG_DSN}", schema: segql_sample}
  spark: {engine: spark, database: segql_sample}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in EXAMPLES.iterdir():
        if f.suffix in (".seg", ".yml"):
            shutil.copy(f, tmp_path / f.name)
    shutil.copytree(EXAMPLES / "clusters", tmp_path / "clusters")  # fit files
    with open(tmp_path / "segql.yml", "a", encoding="utf-8") as out:
        out.write(TARGETS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args: str) -> str:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


def preview_json(*args: str) -> dict:
    out = json.loads(cli("preview", ".", "--format", "json", "--as-of", AS_OF, *args))
    out.pop("data")
    return out


def test_postgres_sample_then_preview_equals_builtin(project, postgres, monkeypatch):
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    cli("sample", "--target", "pg", "--scale", SCALE)
    on_pg = preview_json("--target", "pg")
    assert on_pg == preview_json("--sample", "--scale", SCALE)
    assert on_pg["universe"] > 0 and on_pg["segments"]


def test_spark_sample_then_preview_equals_builtin(project, spark):
    # the tests' Spark session is running: the engine uses it and leaves it running
    cli("sample", "--target", "spark", "--scale", SCALE)
    try:
        assert preview_json("--target", "spark") == preview_json("--sample", "--scale", SCALE)
    finally:
        spark.sql("DROP DATABASE IF EXISTS segql_sample CASCADE")


def test_duckdb_target_sample_then_preview(project):
    cli("sample", "--target", "local", "--scale", SCALE)
    assert preview_json("--target", "local") == preview_json("--sample", "--scale", SCALE)
    # --db FILE is the same DuckDB target
    assert preview_json("--db", "local.duckdb") == preview_json("--target", "local")


def test_postgres_columns_and_atomic_replace(project, postgres, monkeypatch):
    from sqlglot import exp

    from segql.engines import connect
    from segql.engines.targets import choose
    from segql.project import load_project

    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    proj = load_project(project / "segql.yml")
    table = exp.Table(this=exp.to_identifier("t"), db=exp.to_identifier("segql_swap"))
    with connect(choose(proj, "pg"), project) as engine:
        engine.execute("CREATE SCHEMA IF NOT EXISTS segql_swap")
        engine.replace_table(table, exp.select("1 AS a"))
        engine.replace_table(table, exp.select("2 AS a", "'x' AS b"))
        assert engine.fetch(exp.select("*").from_(table.copy())) == [(2, "x")]
        assert engine.columns(table) == {"a": "integer", "b": "text"}
        assert engine.columns(exp.Table(this=exp.to_identifier("nope"))) is None
        # a failing statement inside a transaction leaves nothing behind
        with pytest.raises(SegqlError), engine.transaction():
            engine.execute("CREATE TABLE segql_swap.gone (a int)")
            engine.execute("SELECT no_such_column FROM segql_swap.t")
        assert engine.columns(exp.to_table("segql_swap.gone")) is None
        engine.execute("DROP SCHEMA segql_swap CASCADE")


def test_postgres_wrong_password_shows_no_secret(project, postgres, monkeypatch, tmp_path):
    """A password from the environment never appears in any output, even when
    the connection fails (here: an unreachable server, then a bad setting)."""
    secret = "s3cr3t-Pa55word"
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", f"postgresql://segql:{secret}@127.0.0.1:1/db")
    r = CliRunner().invoke(app, ["preview", ".", "--target", "pg"])
    assert r.exit_code == 1
    assert secret not in r.output
    assert "127.0.0.1:1" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["--debug", "preview", ".", "--target", "pg"])
    assert secret not in str(r.exception) and secret not in r.output
    # a malformed DSN: psycopg's message quotes the DSN
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", f"host=x password={secret} bogus")
    r = CliRunner().invoke(app, ["preview", ".", "--target", "pg"])
    assert r.exit_code == 1 and secret not in r.output, r.output


BQ_TARGET = (
    "  bq:    {engine: bigquery, dataset: shop.analytics, tables: {orders: shop.sales.orders}}\n"
)


def compile_for_bq() -> str:
    return cli("compile", ".", "--target", "bq", "--as-of", AS_OF, "--strict")


def test_schema_pull_then_compile_without_a_database(project, postgres, spark, monkeypatch):
    """`segql schema pull` from PostgreSQL or Spark, then compile for a BigQuery
    target with no database: the same SQL as compiled beside the DuckDB data."""
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    (project / "schema.yml").unlink()  # the examples' own: pulled again below
    with open(project / "segql.yml", "a", encoding="utf-8") as out:
        out.write(BQ_TARGET)
    cli("sample", "--target", "local", "--scale", SCALE)
    text = (project / "segql.yml").read_text()
    (project / "segql.yml").write_text(text + "database: local.duckdb\n")
    beside_the_data = compile_for_bq()
    (project / "segql.yml").write_text(text)
    r = CliRunner().invoke(app, ["compile", ".", "--target", "bq", "--strict"])
    assert r.exit_code == 1 and "is unknown" in r.stderr  # no types anywhere: said, not guessed
    cli("sample", "--target", "pg", "--scale", SCALE)
    cli("schema", "pull", "--target", "pg")
    pulled = (project / "schema.yml").read_text()
    assert "dialect: postgres" in pulled and "timestamp without time zone" in pulled
    assert compile_for_bq() == beside_the_data
    cli("sample", "--target", "spark", "--scale", SCALE)
    try:
        cli("schema", "pull", "--target", "spark")
    finally:
        spark.sql("DROP DATABASE IF EXISTS segql_sample CASCADE")
    assert "dialect: spark" in (project / "schema.yml").read_text()
    assert compile_for_bq() == beside_the_data


def test_schema_pull_of_a_missing_table_on_a_target(project, postgres, monkeypatch):
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    cli("sample", "--target", "pg", "--scale", SCALE)
    (project / "schema.yml").unlink()  # the examples' own
    text = (project / "segql.yml").read_text()
    (project / "segql.yml").write_text(text.replace("table: web_events", "table: web_event"))
    r = CliRunner().invoke(app, ["schema", "pull", "--target", "pg"])
    assert r.exit_code == 1
    assert (
        "table 'segql_sample.web_event' not found in the database (did you mean 'web_events'?)"
        in r.stderr
    )
    assert not (project / "schema.yml").exists()
