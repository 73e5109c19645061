"""docs/operations.md: the documented daily sequence runs as written (with a
DuckDB file for the `prod` target), exits as the table there says, and the
Airflow DAG and Prefect flow parse and run the same commands."""

from __future__ import annotations

import ast
import datetime as dt
import re
import shlex
from pathlib import Path

import pytest
from helpers import copy_examples
from typer.testing import CliRunner

from segql.cli import app

ROOT = Path(__file__).parents[1]
DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples" / "segments"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def sequence() -> list[list[str]]:
    """The tested block: the first `sh` block after the 'tested' marker."""
    after = DOC.split("<!-- tested:", 1)[1]
    block = re.search(r"```sh\n(.*?)```", after, re.S).group(1)
    return [shlex.split(line) for line in block.strip().splitlines()]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy_examples(tmp_path, definitions="segments", tests=True)
    monkeypatch.chdir(tmp_path)
    assert (
        CliRunner().invoke(app, ["sample", "--db", "wh.duckdb", "--scale", "0.003"]).exit_code == 0
    )
    return tmp_path


def run_sequence() -> list[int]:
    codes = []
    for argv in sequence():
        assert argv[0] == "segql"
        args = [a for a in argv[1:]]
        args = " ".join(args).replace("--target prod", "--db wh.duckdb").split()
        r = CliRunner().invoke(app, args)
        codes.append(r.exit_code)
        if r.exit_code:
            break
    return codes


def first_run(as_of: str) -> None:
    r = CliRunner().invoke(app, ["run", "segments/", "--db", "wh.duckdb", "--as-of", as_of])
    assert r.exit_code == 0, r.output


def test_the_daily_sequence_runs_and_stays_quiet_without_drift(project):
    # yesterday's run: today's sees nearly the same (the sample's data ended long ago)
    first_run((dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat())
    assert run_sequence() == [0, 0, 0, 0]


def test_major_drift_stops_the_sequence_with_status_4(project):
    # a run at the sample's last day, then today: every recent-activity segment empties
    first_run("2025-07-01")
    assert run_sequence() == [0, 0, 0, 4]


def test_a_failing_unit_test_stops_it_before_the_run(project):
    test = project / "tests" / "behaviour.yml"
    test.write_text(test.read_text().replace("cart_abandoners: [1]", "cart_abandoners: [2]"))
    assert run_sequence() == [0, 1]
    r = CliRunner().invoke(app, ["history", "recent_buyers", "--db", "wh.duckdb"])
    assert r.exit_code == 1 and "no runs" in r.stderr  # nothing reached the state


def test_airflow_and_prefect_run_the_same_commands():
    documented = [" ".join(a) for a in sequence()]
    airflow, prefect = blocks("python")
    ast.parse(airflow)
    ast.parse(prefect)
    commands = re.findall(r'bash_command="([^"]+)"', airflow)
    assert [c.split(" --as-of")[0] for c in commands] == documented
    calls = re.findall(r"segql\(([^)]*)\)\n", prefect)
    assert [" ".join(["segql", *ast.literal_eval(f"[{c}]")]) for c in calls] == documented
