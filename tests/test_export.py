"""`segql export` (LANGUAGE.md §13): the members, labels and profile columns
of the compiled query, `pii:` columns hashed on the engine exactly as Python's
hashlib does, files that appear whole or not at all."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from segql import api
from segql.cli import app
from segql.ops.sample import sample_database

EXAMPLES = Path(__file__).parents[1] / "examples" / "segments"
AS_OF = "2025-07-01"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in EXAMPLES.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    shutil.copytree(EXAMPLES / "clusters", tmp_path / "clusters")  # fit files
    with open(tmp_path / "segql.yml", "a", encoding="utf-8") as out:
        out.write("pii: [email]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def sha(value: str) -> str:
    return hashlib.sha256(value.strip(" ").lower().encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def sample():
    con = sample_database(0.01)
    yield con
    con.close()


def compiled(sample, **one) -> list[tuple]:
    model = api.load(["."], None, sample)  # the project copy in the current folder
    sql = api.compile_model(model, "duckdb", api.parse_as_of(AS_OF, "UTC"), **one).sql()
    return sample.execute(sql).fetchall()


def test_segment_members_with_columns_and_pii_hashed(project, sample):
    r = run("export", "high_value", "--sample", "--out", "hv.csv", "--columns", "country,email")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open("hv.csv", encoding="utf-8")))
    members = sorted(k for (k,) in compiled(sample, segment="high_value"))
    assert [int(r["customer_id"]) for r in rows] == members and members
    profiles = dict(sample.execute("SELECT customer_id, email FROM customers").fetchall())
    for r in rows:
        assert r["email"] == sha(profiles[int(r["customer_id"])])
        assert r["country"] in ("US", "CA")
    assert (
        f"wrote {len(members)} rows (customer_id, country, email) to hv.csv"
        in run(
            "export", "high_value", "--sample", "--out", "hv.csv", "--columns", "country,email"
        ).stderr
    )
    run("export", "high_value", "--sample", "--out", "raw.csv", "--columns", "email", "--show-pii")
    raw = list(csv.DictReader(open("raw.csv", encoding="utf-8")))
    assert [r["email"] for r in raw] == [profiles[int(r["customer_id"])] for r in raw]


def test_segmentation_labels_jsonl_and_parquet(project, sample):
    r = run("export", "lifecycle", "--sample", "--out", "l.jsonl", "--format", "jsonl")
    assert r.exit_code == 0
    lines = [json.loads(x) for x in open("l.jsonl", encoding="utf-8")]
    expected = sorted((k, lab) for k, lab in compiled(sample, segmentation="lifecycle") if lab)
    assert [(x["customer_id"], x["lifecycle"]) for x in lines] == expected
    r = run("export", "lifecycle", "--sample", "--out", "l.parquet", "--format", "parquet")
    assert r.exit_code == 0
    got = duckdb.sql("SELECT customer_id, lifecycle FROM 'l.parquet'").fetchall()
    assert got == expected


def test_the_same_file_at_an_as_of_on_a_database(project, sample):
    sample.execute(f"ATTACH '{project / 'data.duckdb'}' AS f")
    for t in ("customers", "orders", "web_events"):
        sample.execute(f"CREATE TABLE f.{t} AS SELECT * FROM {t}")
    sample.execute("DETACH f")
    run("export", "cart_abandoners", "--sample", "--out", "a.csv")
    r = run("export", "cart_abandoners", "--db", "data.duckdb", "--as-of", AS_OF, "--out", "b.csv")
    assert r.exit_code == 0, r.output
    assert Path("a.csv").read_bytes() == Path("b.csv").read_bytes()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["high_valu", "--sample"], "'high_valu' (did you mean 'high_value'?)", 1),
        (["recenc", "--sample"], "'recenc' (did you mean 'recency'?)", 1),
        (["high_value", "--sample", "--columns", "countri"], "did you mean 'country'?", 2),
        (["high_value", "--db", "nowhere.duckdb", "--as-of", AS_OF], "not found", 2),
        (["high_value"], "no target: runs and their state live on a target", 2),
    ],
)
def test_bad_input_writes_nothing(project, args, message, code):
    Path("out.csv").write_text("old\n")
    r = run("export", *args, "--out", "out.csv")
    assert r.exit_code == code and message in r.stderr, r.output
    assert Path("out.csv").read_text() == "old\n"
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".out")) == []


def test_an_out_in_a_missing_folder(project):
    r = run("export", "high_value", "--sample", "--out", "no/such/folder/x.csv")
    assert r.exit_code == 1 and "folder 'no/such/folder' does not exist" in r.stderr


def test_pii_must_be_a_profile_column(project):
    text = (project / "segql.yml").read_text().replace("pii: [email]", "pii: [emial]")
    (project / "segql.yml").write_text(text)
    r = run("validate", ".")
    assert r.exit_code == 1
    assert "pii column 'emial' is not a profile column (did you mean 'email'?)" in r.stderr


def test_a_killed_export_leaves_the_old_file_or_the_new(project):
    """SIGKILL at random instants: the file is the old one or a whole new one,
    and no temporary file is left beside it except the killed one's (named
    .out.csv.*.tmp, never out.csv)."""
    run("export", "lifecycle", "--sample", "--out", "full.csv")
    whole = Path("full.csv").read_bytes()
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    for _ in range(8):
        Path("out.csv").write_bytes(b"old\n")
        p = subprocess.Popen(
            [sys.executable, "-m", "segql", "export", "lifecycle", "--sample", "--out", "out.csv"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.5, 4.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert Path("out.csv").read_bytes() in (b"old\n", whole)


HASHED = ["a@b.com", "  A@B.com ", "Ä-ö@x.de", "", "MiXeD@Example.ORG", None]


def _hashes_on(engine) -> list:
    from sqlglot import exp

    def text(v):
        return exp.null() if v is None else exp.Literal.string(v)

    rows = [exp.Tuple(expressions=[exp.Literal.number(i), text(v)]) for i, v in enumerate(HASHED)]
    names = [exp.to_identifier("i"), exp.to_identifier("v")]
    values = exp.Values(
        expressions=rows, alias=exp.TableAlias(this=exp.to_identifier("t"), columns=names)
    )
    hashed = exp.alias_(engine.dialect.pii_hash(exp.column("v")), "h")
    q = exp.select(exp.column("i"), hashed).from_(values).order_by("i")
    return [h for _, h in engine.fetch(q)]


def expected_hashes() -> list:
    return [None if v is None else sha(v) for v in HASHED]


def test_pii_hash_on_duckdb():
    from segql.engines.duckdb import wrap

    with wrap(duckdb.connect(), Path.cwd()) as engine:
        assert _hashes_on(engine) == expected_hashes()


@pytest.mark.engines
def test_pii_hash_on_postgres_spark_and_bigquery(postgres, spark, bigquery, tmp_path):
    from segql.engines.postgres import PostgresEngine
    from segql.engines.spark import SparkEngine
    from segql.engines.targets import Setting, Target
    from segql.errors import Span

    span = Span("t", 1, 1, 1, 2)
    pg = Target("pg", "postgres", {"dsn": Setting(postgres.conninfo, span)}, {}, span)
    with PostgresEngine(pg) as engine:
        assert _hashes_on(engine) == expected_hashes()
    with SparkEngine(Target("s", "spark", {}, {}, span), tmp_path) as engine:
        assert _hashes_on(engine) == expected_hashes()
    from segql.sql.dialects import get_dialect

    bq = get_dialect("bigquery")
    from sqlglot import exp

    given = [v for v in HASHED if v is not None]
    hashes = [exp.alias_(bq.pii_hash(exp.Literal.string(v)), f"h{i}") for i, v in enumerate(given)]
    _, rows = bigquery.run(exp.select(*hashes).sql(bq.sqlglot))
    assert list(rows[0]) == [sha(v) for v in given]


def test_preview_hashes_a_pii_key(project):
    text = (project / "segql.yml").read_text().replace("pii: [email]", "pii: [customer_id]")
    (project / "segql.yml").write_text(text)
    args = ["preview", ".", "--sample", "--format", "json", "--show", "2"]
    plain = json.loads(run(*args, "--show-pii").stdout)["segments"][0]["examples"]
    hashed = json.loads(run(*args).stdout)["segments"][0]["examples"]
    assert hashed == [sha(str(k)) for k in plain] and len(plain) == 2


def test_a_split_exports_its_groups(project, sample):
    r = run("export", "cart_test", "--sample", "--out", "s.csv")
    assert r.exit_code == 0, r.output
    rows = [(int(r["customer_id"]), r["cart_test"]) for r in csv.DictReader(open("s.csv"))]
    expected = sorted((k, g) for k, g in compiled(sample, segmentation="cart_test") if g)
    assert rows == expected and {g for _, g in rows} <= {"control", "email", "sms"}


def test_json_export_carries_the_marketing_context(project, sample):
    r = run("export", "high_value", "--sample", "--format", "json", "--out", "hv.json")
    assert r.exit_code == 0, r.output
    doc = json.loads(Path("hv.json").read_text())
    assert {k: v for k, v in doc.items() if k != "rows"} == {
        "name": "high_value",
        "kind": "segment",
        "title": "High-value customers",
        "hypothesis": "High spenders respond to early access to launches",
        "channels": ["email", "push"],
        "kpis": ["conversion_rate", "average_order_value"],
        "as_of": "2025-07-01T00:00:00Z",
    }
    assert [row["customer_id"] for row in doc["rows"]] == sorted(
        k for (k,) in compiled(sample, segment="high_value")
    )
