"""The benchmark harness (benchmarks/, docs/performance.md) runs end to end on tiny
data, and the comparison it makes is a fair one: segql's membership query gives the
same members as the per-segment queries and the floor covers the same entities."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` is a top-level folder, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import harness, run  # noqa: E402
from benchmarks.data import ensure_database  # noqa: E402

SCALE = 0.001


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_database(SCALE, 42, tmp_path_factory.mktemp("bench"), log=lambda _: None)


@pytest.fixture(scope="module")
def con(db: Path):
    c = duckdb.connect(str(db), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def project(con) -> harness.BenchProject:
    return harness.load_project(con)


def test_project_is_realistic(project: harness.BenchProject) -> None:
    m = project.model
    kinds = [m.kind(n) for n in m.selected]
    assert kinds.count("segment") + len(project.skipped) >= 40
    assert kinds.count("segmentation") == 3
    assert set(m.project.sources) == {"orders", "events"}


def test_membership_equals_per_segment_queries(con, project: harness.BenchProject) -> None:
    m = project.model
    membership = harness.membership_sql(m)
    per_segment = harness.per_segment_sqls(m)
    assert set(per_segment) == set(m.selected)
    assert harness.check_membership_matches_per_segment(con, m, membership, per_segment) == []
    # the check compares something: at this scale many segments have members
    harness.store(con, membership, "__t_membership")
    seg_cols = [n for n in m.selected if m.kind(n) == "segment"]
    sizes = con.execute(
        "SELECT "
        + ", ".join(f'count(*) FILTER (WHERE "{n}")' for n in seg_cols)
        + " FROM __t_membership"
    ).fetchone()
    assert sum(1 for s in sizes if s > 0) >= len(seg_cols) // 2


def test_the_check_catches_a_wrong_answer(con, project: harness.BenchProject) -> None:
    m = project.model
    membership = harness.membership_sql(m)
    name = next(n for n in m.selected if m.kind(n) == "segment")
    label = next(n for n in m.selected if m.kind(n) == "segmentation")
    key = m.project.key
    wrong = {
        name: f'SELECT customer_id AS "{key}" FROM customers',  # everyone
        label: f'SELECT customer_id AS "{key}", \'x\' AS "{label}" FROM customers',
    }
    assert harness.check_membership_matches_per_segment(con, m, membership, wrong) == [
        name,
        label,
    ]


def test_floor_covers_the_same_entities(con, project: harness.BenchProject) -> None:
    m = project.model
    harness.store(con, harness.floor_sql(m), "__t_floor")
    harness.store(con, harness.membership_sql(m), "__t_members")
    key = m.project.key
    diff = con.execute(
        f'SELECT count(*) FROM (SELECT "{key}" FROM __t_floor '
        f'EXCEPT SELECT "{key}" FROM __t_members)'
    ).fetchone()[0]
    n_floor = con.execute("SELECT count(*) FROM __t_floor").fetchone()[0]
    n_members = con.execute("SELECT count(*) FROM __t_members").fetchone()[0]
    assert diff == 0 and n_floor == n_members > 0


def test_pandas_rfm_gives_segqls_labels(con, project: harness.BenchProject) -> None:
    from benchmarks import pandas_rfm  # pandas is in the dev extra

    customers, orders = pandas_rfm.load_frames(con)
    df = pandas_rfm.rfm(customers, orders, harness.AS_OF)
    harness.store(con, harness.segmentation_sql(project.model, "rfm"), "__t_rfm")
    segql = dict(con.execute('SELECT customer_id, "rfm" FROM __t_rfm').fetchall())
    assert df["rfm"].to_dict() == segql


def test_harness_runs_end_to_end(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "results.json"
    argv = [
        "--scale",
        str(SCALE),
        "--repeat",
        "1",
        "--compile-sizes",
        "20,40",
        "--data-dir",
        str(db.parent),
        "--out",
        str(out),
        "--skip",
        "rfm-package",
    ]
    assert run.main(argv) == 0
    results = json.loads(out.read_text())
    (scale,) = results["scales"]
    assert scale["check_mismatches"] == []
    for k in ("floor", "segql", "segql_rfm", "per_segment"):
        assert scale["median_s"][k] > 0
    assert scale["ratios"]["segql_vs_floor"] > 0
    assert scale["memory"]["segql"]["peak_rss_mb"] > 0
    assert [c["segments"] for c in results["compile"]] == [20, 40]
    printed = capsys.readouterr().out
    assert "segql: all segments, one membership query" in printed


def test_unsupported_windowed_segments_are_left_out(con, monkeypatch) -> None:
    from segql.errors import SegqlError

    real = harness.api.compile_model

    def compile_model(model, dialect=None, as_of=None, segment=None, segmentation=None):
        if segment in ("pricing_hunters", "cart_abandoners"):
            raise SegqlError("'any …' windows are not supported yet")
        return real(model, dialect, as_of, segment=segment, segmentation=segmentation)

    monkeypatch.setattr(harness.api, "compile_model", compile_model)
    bp = harness.load_project(con)
    assert set(bp.skipped) == {"pricing_hunters", "cart_abandoners"}
    assert "pricing_hunters" not in bp.model.selected
    assert "order_bursts" in bp.model.selected and "rfm" in bp.model.selected


def test_constructs17_hand_sql_gives_segqls_members(db: Path) -> None:
    """benchmarks/constructs17.py: each §17 construct and its hand-written SQL
    give the same members (the benchmark asserts it before timing)."""
    from benchmarks import constructs17

    rows = constructs17.bench_duckdb(db, constructs17.CONSTRUCTS, repeat=1)
    assert [r[0] for r in rows] == [c.name for c in constructs17.CONSTRUCTS]
    assert sum(members for _, members, *_ in rows) > 0


def test_run_overhead_runs_end_to_end(tmp_path: Path) -> None:
    """benchmarks/run_overhead.py on tiny data: segql's two runs and the
    expert's hand-written ones (whose `changes` it asserts equal to segql's,
    row for row, before comparing them), with the results it records."""
    from benchmarks import run_overhead

    out = tmp_path / "overhead.json"
    run_overhead.main(
        ["--scale", str(SCALE), "--repeat", "1", "--data-dir", str(tmp_path), "--out", str(out)]
    )
    doc = json.loads(out.read_text())
    assert doc["engine"] == "duckdb"
    assert {"first run / expert's", "second run / expert's"} <= set(doc["results"])
    first, second = (rows for _, rows in doc["changes_rows_per_run"])
    assert first > 0 and second > 0  # the first run enters every member; the second, changes
    assert doc["results"]["first run (A)"]["cpu"] > 0
