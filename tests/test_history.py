"""`segql history` and `segql diff` between runs (LANGUAGE.md §12), read from
the state of `segql run` on the example project over the sample data.

History equals sizes computed independently: each segment's members at each
as_of from its own compiled query, entered and exited as set differences.
A diff of runs (memberships rebuilt from the last membership and the changes
since) equals the diff of the same two instants computed statelessly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import copy_examples
from typer.testing import CliRunner

from segql import api
from segql.cli import app
from segql.ops.history import sparkline
from segql.ops.sample import sample_database

EXAMPLES = Path(__file__).parents[1] / "examples" / "segments"
AS_OFS = ("2025-05-01", "2025-06-01", "2025-07-01")
SCALE = "0.005"


def run(*args: str, code: int = 0):
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    import os

    root = copy_examples(tmp_path_factory.mktemp("history"))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        run("sample", "--db", "wh.duckdb", "--scale", SCALE)
        for when in AS_OFS:
            run("run", ".", "--db", "wh.duckdb", "--as-of", when)
    finally:
        os.chdir(cwd)
    return root


@pytest.fixture
def here(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


def members(when: str, segment: str) -> set:
    con = sample_database(float(SCALE))
    try:
        model = api.load(["."], None, con)
        sql = api.compile_model(model, "duckdb", api.parse_as_of(when, "UTC"), segment).sql()
        return {k for (k,) in con.execute(sql).fetchall()}
    finally:
        con.close()


def test_history_of_a_segment_equals_sets_of_members(here):
    doc = json.loads(
        run("history", "recent_buyers", "--db", "wh.duckdb", "--format", "json").stdout
    )
    sets = [members(w, "recent_buyers") for w in AS_OFS]
    assert [r["as_of"] for r in doc["runs"]] == [w + "T00:00:00Z" for w in AS_OFS]
    before: set = set()
    for row, now in zip(doc["runs"], sets, strict=True):
        assert row["label"] is None
        assert (row["members"], row["entered"], row["exited"]) == (
            len(now),
            len(now - before),
            len(before - now),
        )
        before = now
    text = run("history", "recent_buyers", "--db", "wh.duckdb").stdout
    assert text.startswith("recent_buyers: 3 runs\n")
    assert sparkline([len(s) for s in sets]) in text


def test_history_of_a_segmentation_has_a_line_per_label(here):
    doc = json.loads(run("history", "lifecycle", "--db", "wh.duckdb", "--format", "json").stdout)
    labels = {r["label"] for r in doc["runs"]}
    assert labels == {"vip", "at_risk", "new", "browsers"}
    assert len(doc["runs"]) == 3 * 4


def test_history_plot(here, tmp_path):
    pytest.importorskip("matplotlib")
    run("history", "lifecycle", "--db", "wh.duckdb", "--plot", str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_errors(here):
    r = run("history", "recent_buyer", "--db", "wh.duckdb", code=1)
    assert "'recent_buyer' has no sizes in the runs (did you mean 'recent_buyers'?)" in r.stderr


def _stateless(first: str, last: str, *extra: str) -> dict:
    args = ["diff", ".", "--db", "wh.duckdb", "--as-of", first, "--as-of", last, *extra]
    return json.loads(run(*args, "--format", "json").stdout)


def _of_runs(*extra: str) -> dict:
    return json.loads(run("diff", "--db", "wh.duckdb", *extra, "--format", "json").stdout)


@pytest.mark.parametrize(
    ("runs", "instants"),
    [
        ((), (AS_OFS[1], AS_OFS[2])),
        (("--from", "1", "--to", "3"), (AS_OFS[0], AS_OFS[2])),
        (("--from", "2025-05-01", "--to", "2"), (AS_OFS[0], AS_OFS[1])),
    ],
)
def test_diff_of_runs_equals_the_diff_of_their_instants(here, runs, instants):
    got, want = _of_runs(*runs, "--by", "country"), _stateless(*instants, "--by", "country")
    assert got["universe"] == want["universe"]
    assert got["segments"] == want["segments"]
    assert got["composition"] == want["composition"]
    by_name = {m["name"]: m for m in want["segmentations"]}
    for m in got["segmentations"]:
        w = by_name[m["name"]]
        # label shares: the unlabeled entities are the universe less the labelled ones
        assert [x for x in m["labels"] if x["label"]] == [x for x in w["labels"] if x["label"]]
        assert (m["psi"], m["js"]) == (w["psi"], w["js"])
        labelled = lambda ts: {  # noqa: E731
            (t["from"], t["to"]): t["entities"] for t in ts if t["from"] and t["to"]
        }
        assert labelled(m["transitions"]) == labelled(w["transitions"])


def test_diff_of_runs_errors(here):
    assert (
        "--from must be a run before --to"
        in run("diff", "--db", "wh.duckdb", "--from", "3", "--to", "2", code=2).stderr
    )
    assert "no committed run 9" in run("diff", "--db", "wh.duckdb", "--to", "9", code=2).stderr
    assert (
        "not both"
        in run(
            "diff",
            "--db",
            "wh.duckdb",
            "--from",
            "1",
            "--as-of",
            "2025-05-01",
            "--as-of",
            "2025-06-01",
            code=2,
        ).stderr
    )


def test_no_state_yet(tmp_path, monkeypatch):
    copy_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    run("sample", "--db", "wh.duckdb", "--scale", SCALE)
    assert (
        "no runs in state schema 'segql'" in run("history", "x", "--db", "wh.duckdb", code=1).stderr
    )
    assert "no runs" in run("diff", "--db", "wh.duckdb", code=1).stderr
    run("run", ".", "--db", "wh.duckdb", "--as-of", "2025-07-01")
    assert "needs two runs" in run("diff", "--db", "wh.duckdb", code=1).stderr


def test_export_from_the_last_run_equals_export_at_its_as_of(here, tmp_path):
    for name, extra in (("recent_buyers", []), ("lifecycle", ["--columns", "country"])):
        a, b = tmp_path / f"{name}-state.csv", tmp_path / f"{name}-as-of.csv"
        run("export", name, "--db", "wh.duckdb", "--out", str(a), *extra)
        run("export", name, "--db", "wh.duckdb", "--as-of", AS_OFS[-1], "--out", str(b), *extra)
        assert a.read_bytes() == b.read_bytes() and len(a.read_text().splitlines()) > 1


def test_export_changes_are_the_last_runs_entries_and_exits(here, tmp_path):
    out = tmp_path / "changes.jsonl"
    run("export", "recent_buyers", "--db", "wh.duckdb", "--changes", "--out", str(out))
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    before, now = members(AS_OFS[1], "recent_buyers"), members(AS_OFS[2], "recent_buyers")
    entered = {x["userId"] for x in lines if x["event"] == "Segment Entered"}
    exited = {x["userId"] for x in lines if x["event"] == "Segment Exited"}
    assert (entered, exited) == (now - before, before - now)
    assert {x["timestamp"] for x in lines} == {AS_OFS[2] + "T00:00:00Z"}
    assert all(
        x["type"] == "track" and x["properties"] == {"segment": "recent_buyers", "label": None}
        for x in lines
    )
    r = run("export", "lifecycle", "--db", "wh.duckdb", "--changes", "--out", str(out))
    moves = [json.loads(x) for x in out.read_text().splitlines()]
    first = moves[0]["userId"]
    mine = [m["event"] for m in moves if m["userId"] == first]
    assert mine in (["Segment Exited", "Segment Entered"], ["Segment Entered"], ["Segment Exited"])
    assert (
        "--format jsonl"
        in run(
            "export",
            "lifecycle",
            "--db",
            "wh.duckdb",
            "--changes",
            "--format",
            "csv",
            "--out",
            str(out),
            code=2,
        ).stderr
    )
    assert (
        "did you mean 'lifecycle'"
        in run("export", "lifecycl", "--db", "wh.duckdb", "--out", str(out), code=1).stderr
    )
    assert r.exit_code == 0
