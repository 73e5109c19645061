"""The command line (LANGUAGE.md §10, §11) and preview, on a hand-made project.

The data: five customers and five orders, evaluated at 2025-07-01 (hand-computed):

    customer  orders (time, amount)                    recent big  lifecycle  viewing
    1         2025-06-20 200, 2025-01-01 50             yes    yes  vip        spenders (250 > 200)
    2         2025-06-25 20                             yes    no   active     buyers (100 > 20)
    3         2024-12-01 500                            no     yes  -          spenders (500 > 100)
    4         -                                         no     no   -          quiet (else)
    5         2025-07-02 1000 (after as_of: invisible)  no     no   -          quiet (else)

recent = an order in the last 30 days; big = all-time amount > 100.
lifecycle (priority, no else): vip = big and recent, active = recent → customer 1
matches both rules (overlap 1). viewing (weight): spenders = sum(amount),
buyers = 100 * count(orders) → customers 1, 2, 3 have both weights positive
(overlap 3).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlglot
from typer.testing import CliRunner

from segql import api
from segql.cli import app
from segql.sql.dialects import DIALECTS

AS_OF = "2025-07-01"

PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
database: data.duckdb
"""

DEFS = """\
segment recent = count(orders, last 30 days) >= 1
segment big = sum(orders.amount) > 100
segment everyone_but_recent = not recent
segment nobody = count(orders) > 99

segmentation lifecycle by priority {
  vip    = big and recent
  active = recent
}

segmentation viewing by weight {
  spenders = sum(orders.amount)
  buyers   = 100 * count(orders)
  else quiet
}
"""


def make_db(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (customer_id INTEGER, country VARCHAR)")
    con.execute(
        "INSERT INTO customers VALUES (1, 'US'), (2, 'US'), (3, 'CA'), (4, 'FR'), (5, 'US')"
    )
    con.execute("CREATE TABLE orders (customer_id INTEGER, ordered_at TIMESTAMP, amount DOUBLE)")
    con.execute(
        "INSERT INTO orders VALUES (1, '2025-06-20 10:00', 200), (1, '2025-01-01', 50),"
        " (2, '2025-06-25', 20), (3, '2024-12-01', 500), (5, '2025-07-02', 1000)"
    )
    con.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    (root / "segql.yml").write_text(PROJECT)
    (root / "defs.seg").write_text(DEFS)
    make_db(root / "data.duckdb")
    return root


@pytest.fixture
def run(project, monkeypatch):
    """Invoke the CLI in the project folder; returns the click Result."""
    monkeypatch.chdir(project)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=True)

    return invoke


# ------------------------------------------------------------------ validate, errors


def test_validate_ok(run):
    r = run("validate", "defs.seg")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "ok: 0 traits, 4 segments, 2 segmentations\n"


def test_bad_definition_exits_1_with_located_error(run, project, tmp_path):
    bad = tmp_path / "bad.seg"
    bad.write_text("segment x = sum(orders.amont, last 30 days) > 1\n")
    r = run("validate", str(bad), "--project", str(project))
    assert r.exit_code == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    # 'amont' starts at column 24 of line 1
    assert lines[0] == (
        f"{bad}:1:24: error: unknown column 'amont' in source 'orders' (did you mean 'amount'?)"
    )
    assert lines[1] == "  segment x = sum(orders.amont, last 30 days) > 1"
    assert lines[2] == "  " + " " * 23 + "^^^^^"
    assert lines[-1] == "1 error"
    assert "Traceback" not in r.stderr


def test_language_md_error_example(run, project, tmp_path):
    bad = tmp_path / "bad.seg"
    bad.write_text("segment x = count(order, last 30 days) >= 1\n")
    r = run("validate", str(bad), "--project", str(project))
    assert r.exit_code == 1
    assert r.stderr == (
        f"{bad}:1:19: error: unknown source 'order' (did you mean 'orders'?)\n"
        "  segment x = count(order, last 30 days) >= 1\n"
        "                    ^^^^^\n"
        "1 error\n"
    )


def test_every_error_of_a_run_at_once(run, project, tmp_path):
    bad = tmp_path / "bad.seg"
    bad.write_text(
        "segment x = sum(orders.amont) > 1\nsegment y = big and country = 3\nsegment big = recent\n"
    )
    r = run("validate", str(bad), "--project", str(project))
    assert r.exit_code == 1
    located = re.findall(r"^(\S+):(\d+):(\d+): error: (.*)$", r.stderr, re.M)
    assert [(f, int(a), int(b)) for f, a, b, _ in located] == [
        (str(bad), 1, 24),
        (str(bad), 2, 21),
        ("defs.seg", 2, 9),
    ]
    assert "did you mean 'amount'?" in located[0][3]
    assert "'='" in located[1][3]
    assert "duplicate name 'big'" in located[2][3]
    assert r.stderr.endswith("\n3 errors\n")


def test_unknown_name_reported_once(run, project, tmp_path):
    bad = tmp_path / "bad.seg"
    bad.write_text("segment x = big and recnt\n")
    r = run("validate", str(bad), "--project", str(project))
    assert r.exit_code == 1
    assert r.stderr.count("error:") == 1  # no cascade from the unknown name
    assert "unknown name 'recnt' (did you mean 'recent'?)" in r.stderr


def test_missing_path_is_a_user_error(run):
    r = run("validate", "nope.seg")
    assert r.exit_code == 1
    assert "nope.seg" in r.stderr and "Traceback" not in r.stderr


def test_unknown_dialect_is_usage_error_with_hint(run):
    r = run("compile", "defs.seg", "--dialect", "postgress")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert "unknown dialect 'postgress' (did you mean 'postgres'?)" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["compile", "defs.seg", "--no-such-flag"],
        ["compile", "defs.seg", "--segment", "big", "--segmentation", "lifecycle"],
        ["compile", "defs.seg", "--as-of", "last tuesday"],
        ["preview", "defs.seg", "--format", "xml"],
        ["preview", "defs.seg", "--show", "-1"],
        ["preview", "defs.seg", "--sample", "--db", "data.duckdb"],
        ["preview", "defs.seg", "--scale", "0.1"],
        ["preview", "defs.seg", "--sample", "--scale", "0"],
        ["preview", "defs.seg", "--db", "missing.duckdb"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(run, args):
    r = run(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert "Traceback" not in r.stderr


def test_unknown_segment_is_a_user_error(run):
    r = run("compile", "defs.seg", "--segment", "bigg")
    assert r.exit_code == 1
    assert "unknown segment 'bigg' (did you mean 'big'?)" in r.stderr


def test_segment_flag_naming_a_segmentation_says_which_flag(run):
    r = run("compile", "defs.seg", "--segment", "lifecycle")
    assert r.exit_code == 1
    assert "error: 'lifecycle' is a segmentation: use --segmentation lifecycle" in r.stderr
    r = run("compile", "defs.seg", "--segmentation", "big")
    assert "error: 'big' is a segment: use --segment big" in r.stderr


def test_internal_error_exits_3_and_debug_reraises(run, monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(api, "compile", boom)
    r = run("compile", "defs.seg")
    assert r.exit_code == 3
    assert r.stderr.startswith("internal error: ZeroDivisionError: oops\n")
    assert "--debug" in r.stderr
    r = run("--debug", "compile", "defs.seg")
    assert isinstance(r.exception, ZeroDivisionError)
    r = run("compile", "defs.seg", "--debug")
    assert isinstance(r.exception, ZeroDivisionError)


@pytest.mark.parametrize("command", ["validate", "compile", "preview"])
def test_help_shows_paths_as_path_dots(run, command):
    r = run(command, "--help")
    assert r.exit_code == 0
    assert f"Usage: segql {command} [OPTIONS] PATH...\n" in r.stdout
    assert re.search(r"^  PATH\.\.\.  \.seg/\.yml files or folders of them", r.stdout, re.M)
    assert "{PATH}" not in r.stdout and "<list[str]>" not in r.stdout


def test_version(run):
    r = run("--version")
    assert r.exit_code == 0
    assert re.fullmatch(r"segql \S+\n", r.stdout)


# ------------------------------------------------------------------ compile


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_compile_stdout_is_only_sql(run, dialect):
    r = run("compile", "defs.seg", "--dialect", dialect, "--as-of", AS_OF)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    statements = [s for s in sqlglot.parse(r.stdout, read=DIALECTS[dialect].sqlglot) if s]
    assert len(statements) == 1
    assert isinstance(statements[0], sqlglot.exp.Select)


def test_compile_without_as_of_is_live_and_deterministic(run):
    a = run("compile", "defs.seg")
    b = run("compile", "defs.seg")
    assert a.exit_code == 0
    assert a.stdout == b.stdout
    assert "CURRENT_TIMESTAMP" in a.stdout.upper()


def test_compile_out_file(run, tmp_path):
    out = tmp_path / "q.sql"
    r = run("compile", "defs.seg", "--as-of", AS_OF, "--out", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text() == run("compile", "defs.seg", "--as-of", AS_OF).stdout


def test_compile_ends_without_semicolon_unless_script(run, project, tmp_path):
    # no `;` by default, so the query can be wrapped; --script ends the statement
    plain = run("compile", "defs.seg", "--as-of", AS_OF).stdout
    script = run("compile", "defs.seg", "--as-of", AS_OF, "--script").stdout
    assert plain.endswith('"customer_id"\n') and not plain.rstrip().endswith(";")
    assert script == plain[:-1] + ";\n"
    wrapped = f"SELECT count(*) FROM ({plain}) AS q"
    assert _execute(project, wrapped)[1] == [(5,)]
    out = tmp_path / "q.sql"
    r = run("compile", "defs.seg", "--as-of", AS_OF, "--script", "--out", str(out))
    assert r.exit_code == 0 and out.read_text() == script


def test_compile_out_not_written_on_error(run, tmp_path):
    out = tmp_path / "q.sql"
    out.write_text("old")
    r = run("compile", "defs.seg", "--segment", "nope", "--out", str(out))
    assert r.exit_code == 1
    assert out.read_text() == "old"


def _execute(project: Path, sql: str):
    con = duckdb.connect(str(project / "data.duckdb"), read_only=True)
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def test_compile_segment_shape(run, project):
    r = run("compile", "defs.seg", "--segment", "big", "--as-of", AS_OF)
    assert r.exit_code == 0, r.stderr
    columns, rows = _execute(project, r.stdout)
    assert columns == ["customer_id"]
    assert rows == [(1,), (3,)]


def test_compile_segmentation_shape(run, project):
    r = run("compile", "defs.seg", "--segmentation", "lifecycle", "--as-of", AS_OF)
    assert r.exit_code == 0, r.stderr
    columns, rows = _execute(project, r.stdout)
    assert columns == ["customer_id", "lifecycle"]
    assert rows == [(1, "vip"), (2, "active"), (3, None), (4, None), (5, None)]


def test_project_found_from_a_subfolder_and_by_flag(project, monkeypatch, tmp_path):
    sub = project / "sub"
    sub.mkdir(exist_ok=True)
    monkeypatch.chdir(sub)
    r = CliRunner().invoke(app, ["compile", "../defs.seg", "--segment", "big", "--as-of", AS_OF])
    assert r.exit_code == 0, r.stderr
    monkeypatch.chdir(tmp_path)  # no segql.yml upwards from here
    args = ["compile", str(project / "defs.seg"), "--segment", "big", "--as-of", AS_OF]
    for where in (["--project", str(project)], []):
        r2 = CliRunner().invoke(app, [*where, *args] if where else args)
        assert r2.exit_code == 0, r2.stderr
        assert r2.stdout == r.stdout  # beside the PATHs, or named by --project
    r3 = CliRunner().invoke(app, ["--project", str(tmp_path / "none.yml"), *args])
    assert r3.exit_code == 2


# ------------------------------------------------------------------ preview


def _preview_json(run, *extra: str) -> dict:
    r = run("preview", "defs.seg", "--as-of", AS_OF, "--format", "json", *extra)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_preview_json_hand_computed(run):
    doc = _preview_json(run, "--show", "2")
    assert list(doc) == [
        "as_of",
        "as_of_source",
        "data",
        "entity",
        "key",
        "universe",
        "segments",
        "segmentations",
    ]
    assert doc["as_of"] == "2025-07-01T00:00:00Z"
    assert doc["as_of_source"] == "given"
    assert doc["universe"] == 5
    segs = {s["name"]: s for s in doc["segments"]}
    assert [s["name"] for s in doc["segments"]] == [
        "recent",
        "big",
        "everyone_but_recent",
        "nobody",
    ]
    assert (segs["recent"]["members"], segs["recent"]["share"]) == (2, 0.4)
    assert segs["recent"]["examples"] == [1, 2]
    assert segs["big"]["examples"] == [1, 3]
    assert (segs["everyone_but_recent"]["members"], segs["everyone_but_recent"]["warning"]) == (
        3,
        "large",
    )  # 60% > 50%
    assert (segs["nobody"]["members"], segs["nobody"]["warning"]) == (0, "small")
    assert segs["recent"]["warning"] is None
    life, view = doc["segmentations"]
    assert life == {
        "name": "lifecycle",
        "by": "priority",
        "labels": [
            {"label": "vip", "members": 1, "share": 0.2, "matched": 1, "catch_all": False},
            {"label": "active", "members": 1, "share": 0.2, "matched": 2, "catch_all": False},
        ],
        "unlabeled": 3,
        "overlap": 1,
    }
    assert view == {
        "name": "viewing",
        "by": "weight",
        "labels": [
            {"label": "spenders", "members": 2, "share": 0.4, "matched": 3, "catch_all": False},
            {"label": "buyers", "members": 1, "share": 0.2, "matched": 3, "catch_all": False},
            {"label": "quiet", "members": 2, "share": 0.4, "matched": None, "catch_all": True},
        ],
        "unlabeled": 0,
        "overlap": 3,
    }


def test_preview_earlier_as_of(run):
    # at 2025-01-15: customer 1's 2025-01-01 order is recent; 3 is big; others nothing
    r = run("preview", "defs.seg", "--as-of", "2025-01-15", "--format", "json")
    doc = json.loads(r.stdout)
    segs = {s["name"]: s["members"] for s in doc["segments"]}
    assert segs == {"recent": 1, "big": 1, "everyone_but_recent": 4, "nobody": 0}
    assert doc["segmentations"][0]["overlap"] == 0  # customer 1 is recent but not yet big


def test_preview_csv(run):
    r = run("preview", "defs.seg", "--as-of", AS_OF, "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "kind,name,label,members,share\n"
        "universe,customer,,5,1.0\n"
        "segment,recent,,2,0.4\n"
        "segment,big,,2,0.4\n"
        "segment,everyone_but_recent,,3,0.6\n"
        "segment,nobody,,0,0.0\n"
        "label,lifecycle,vip,1,0.2\n"
        "label,lifecycle,active,1,0.2\n"
        "unlabeled,lifecycle,,3,0.6\n"
        "overlap,lifecycle,,1,0.2\n"
        "label,viewing,spenders,2,0.4\n"
        "label,viewing,buyers,1,0.2\n"
        "label,viewing,quiet,2,0.4\n"
        "unlabeled,viewing,,0,0.0\n"
        "overlap,viewing,,3,0.6\n"
    )


def test_preview_table(run):
    r = run("preview", "defs.seg", "--as-of", AS_OF, "--show", "1")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "as_of 2025-07-01 00:00:00 UTC" in out
    assert "universe 5 customers" in out
    assert re.search(r"recent\s*│\s*2 │\s*40\.0% │", out)
    assert re.search(r"everyone_but_recent\s*│\s*3 │\s*60\.0% │ ! over 50%", out)
    assert re.search(r"\(no label\)\s*│\s*3 │\s*60\.0%", out)
    assert re.search(r"quiet \(else\)\s*│\s*2 │\s*40\.0%", out)
    assert "overlap: 1 customer matched more than one rule, settled by priority" in out
    assert "overlap: 3 customers matched more than one rule, settled by the largest weight" in out


@pytest.mark.parametrize(
    ("entity", "n", "shown"),
    [
        ("customer", 2, "2 customers"),
        ("customer", 1, "1 customer"),
        ("entity", 1_000, "1,000 entities"),  # the name when segql.yml gives none
        ("day", 3, "3 days"),
        ("business", 2, "2 businesses"),
    ],
)
def test_counts_of_entities_in_plain_english(entity, n, shown):
    from segql.ops.render import _count

    assert _count(n, entity) == shown


def test_preview_is_read_only(run, project):
    before = (project / "data.duckdb").read_bytes()
    assert run("preview", "defs.seg", "--as-of", AS_OF, "--format", "csv").exit_code == 0
    assert (project / "data.duckdb").read_bytes() == before


def test_preview_without_as_of_uses_now(run):
    doc = json.loads(run("preview", "defs.seg", "--format", "json").stdout)
    assert doc["as_of_source"] == "now"
    assert doc["as_of"] > "2025-07-01"
    # orders are all before now: nobody ordered in the last 30 days
    assert {s["name"]: s["members"] for s in doc["segments"]}["recent"] == 0


def test_preview_missing_table_is_user_error(tmp_path, monkeypatch):
    (tmp_path / "segql.yml").write_text(PROJECT.replace("table: orders", "table: orderz"))
    (tmp_path / "defs.seg").write_text("segment big = sum(orders.amount) > 100\n")
    make_db(tmp_path / "data.duckdb")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["preview", "defs.seg", "--as-of", AS_OF])
    assert r.exit_code == 1
    assert "segql.yml:" in r.stderr and "'orderz' not found" in r.stderr


SAMPLE_PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
  events: {table: web_events, time: occurred_at}
universe: consent_marketing = true
"""

SAMPLE_DEFS = """\
trait frequency = count(orders, last 365 days)
segment recent_buyers = count(orders, last 30 days) >= 1
segment viewers = count(events where name = "view", last 7 days) >= 1
segmentation lifecycle by priority {
  active = recent_buyers
  regular = frequency >= 3
  else other
}
"""


def test_preview_sample_from_repo_root(tmp_path, monkeypatch):
    (tmp_path / "segql.yml").write_text(SAMPLE_PROJECT)
    (tmp_path / "s.seg").write_text(SAMPLE_DEFS)
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    args = [
        "preview",
        str(tmp_path / "s.seg"),
        "--sample",
        "--scale",
        "0.002",
        "--project",
        str(tmp_path),
    ]
    r = CliRunner().invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["as_of"] == "2025-07-01T00:00:00Z" and doc["as_of_source"] == "sample"
    assert doc["universe"] > 0
    (life,) = doc["segmentations"]
    assert sum(lab["members"] for lab in life["labels"]) == doc["universe"]  # exhaustive
    assert life["unlabeled"] == 0
    active = life["labels"][0]
    assert active["members"] == active["matched"]  # the first rule never loses to priority
    recent = doc["segments"][0]["members"]
    assert active["members"] == recent
    table = CliRunner().invoke(app, args)
    assert "the sample's fixed date" in table.stdout


# ------------------------------------------------------------------ real processes


def test_python_m_segql_and_console_script(project):
    r = subprocess.run(
        [sys.executable, "-m", "segql", "compile", "defs.seg", "--dialect", "dukdb"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert "did you mean 'duckdb'?" in r.stderr
    script = shutil.which("segql") or str(Path(sys.executable).parent / "segql")
    r = subprocess.run(
        [script, "compile", "defs.seg", "--segment", "big", "--as-of", AS_OF],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert _execute(project, r.stdout)[1] == [(1,), (3,)]


def test_preview_api_rule_columns_never_collide(project, tmp_path):
    # a user name shaped like the hidden per-rule columns does not disturb them
    (tmp_path / "segql.yml").write_text((project / "segql.yml").read_text())
    make_db(tmp_path / "data.duckdb")
    (tmp_path / "d.seg").write_text(
        "segment __segql_rule_1 = count(orders) >= 1\n"
        "segmentation s by priority {\n  a = __segql_rule_1\n  b = sum(orders.amount) > 100\n}\n"
    )
    from segql.ops.preview import preview

    r = preview([str(tmp_path / "d.seg")], project=str(tmp_path), as_of="2025-07-01", show=5)
    (seg,) = r.segments
    assert (seg.name, seg.members, seg.examples) == ("__segql_rule_1", 3, (1, 2, 3))
    (s,) = r.segmentations
    # a = customers with orders by as_of {1, 2, 3}; b = amount > 100 {1, 3}
    assert [(lab.label, lab.members, lab.matched) for lab in s.labels] == [("a", 3, 3), ("b", 0, 2)]
    assert (s.unlabeled, s.overlap) == (2, 2)


def test_preview_parquet_tables_without_database(tmp_path, monkeypatch):
    # no database: every table is a file, read relative to the project folder
    (tmp_path / "data").mkdir()
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES (1, TIMESTAMP '2025-06-20', 5.0),"
        " (2, TIMESTAMP '2025-01-01', 7.0)) t(customer_id, ordered_at, amount))"
        f" TO '{tmp_path / 'data' / 'orders.parquet'}'"
    )
    con.close()
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: customer_id\n"
        "sources:\n  orders: {table: data/orders.parquet, time: ordered_at}\n"
    )
    (tmp_path / "d.seg").write_text("segment recent = count(orders, last 30 days) >= 1\n")
    monkeypatch.chdir("/")
    r = CliRunner().invoke(
        app, ["preview", str(tmp_path / "d.seg"), "--as-of", AS_OF, "--format", "csv"]
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1:] == ["universe,customer,,2,1.0", "segment,recent,,1,0.5"]


# ------------------------------------------------------------------ the API and the collector


def test_api_turns_the_cycle_collector_back_on(project, monkeypatch, tmp_path):
    # the API turns Python's cycle collector off while it loads and compiles
    # (speed: docs/performance.md); it must be back on afterwards, also after an
    # error, and a caller who turned it off keeps it off
    import gc

    monkeypatch.chdir(project)
    seen = []
    real_generator = api.Generator

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_generator(*args, **kwargs)

    monkeypatch.setattr(api, "Generator", spy)
    assert gc.isenabled()
    assert "recent" in api.compile([str(project / "defs.seg")], as_of=AS_OF).sql()
    assert seen == [False] and gc.isenabled()
    bad = tmp_path / "bad.seg"
    bad.write_text("segment x = count(nowhere) >= 1\n")
    with pytest.raises(Exception, match="nowhere"):
        api.compile([str(bad)], project=str(project / "segql.yml"))
    assert gc.isenabled()
    gc.disable()
    try:
        api.compile([str(project / "defs.seg")], as_of=AS_OF)
        assert not gc.isenabled()
    finally:
        gc.enable()
