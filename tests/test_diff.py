"""`segql diff` without state (LANGUAGE.md §12): two --as-of on the same data.

A hand-made case checks every number by hand; on the sample data the numbers
equal an independent computation from the members at each instant (the
compiled query per segment, compared in Python sets); PSI and JS equal a hand
computation and scipy's."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from segql.cli import app
from segql.ops import drift

PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
database: data.duckdb
"""
DEFINITIONS = """\
segment buyers = count(orders, last 30 days) >= 1
segmentation tier by priority {
  big = sum(orders.amount, last 30 days) >= 100
  small = count(orders, last 30 days) >= 1
  else idle
}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "defs.seg").write_text(DEFINITIONS)
    con = duckdb.connect(str(tmp_path / "data.duckdb"))
    con.execute("CREATE TABLE customers (customer_id INT, country VARCHAR)")
    con.execute("INSERT INTO customers VALUES (1,'FR'),(2,'FR'),(3,'DE'),(4,'DE'),(5,NULL)")
    con.execute("CREATE TABLE orders (customer_id INT, ordered_at TIMESTAMP, amount DOUBLE)")
    # as_of 1: 2024-02-01 (window Jan 2 .. Feb 1]; as_of 2: 2024-03-01 (Jan 31 .. Mar 1]
    con.execute(
        """INSERT INTO orders VALUES
        (1, '2024-01-10', 150), (1, '2024-02-10', 20),   -- big -> small, buyer both times
        (2, '2024-01-20', 10),                           -- small -> idle, exits buyers
        (3, '2024-02-20', 500),                          -- idle -> big, enters buyers
        (4, '2024-02-01', 5)                             -- at as_of 1 exactly: small, small
        """
    )
    con.close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def diff_json(*args: str) -> dict:
    r = CliRunner().invoke(app, ["diff", *args, "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_hand_computed(project):
    d = diff_json("--as-of", "2024-02-01", "--as-of", "2024-03-01", "--by", "country")
    assert d["universe"] == {"before": 5, "after": 5}
    (buyers,) = d["segments"]
    # before {1, 2, 4}, after {1, 3, 4}
    assert (buyers["before"], buyers["after"], buyers["entered"], buyers["exited"]) == (3, 3, 1, 1)
    assert buyers["jaccard"] == 0.5  # {1, 4} of {1, 2, 3, 4}
    assert buyers["psi"] == 0.0 and buyers["drift"] == "stable"
    (tier,) = d["segmentations"]
    labels = {x["label"]: (x["before"], x["after"]) for x in tier["labels"]}
    assert labels == {"big": (1, 1), "idle": (2, 2), "small": (2, 2)}
    moves = {(t["from"], t["to"]): t["entities"] for t in tier["transitions"]}
    assert moves == {
        ("big", "small"): 1,
        ("small", "idle"): 1,
        ("idle", "big"): 1,
        ("small", "small"): 1,
        ("idle", "idle"): 1,
    }
    assert all(t["from_universe"] and t["to_universe"] for t in tier["transitions"])
    assert tier["psi"] == 0.0 and tier["js"] == 0.0  # same shares, other people
    (country,) = d["composition"]
    values = {v["value"]: (v["before"], v["after"]) for v in country["values"]}
    assert values == {"FR": (2, 1), "DE": (1, 2)}  # buyers by country
    b, a = [2 / 3, 1 / 3], [1 / 3, 2 / 3]
    assert country["psi"] == pytest.approx(round(drift.psi(b, a), 6))
    assert country["psi"] == pytest.approx(2 * (1 / 3) * math.log(2), abs=1e-6)


def test_fail_on_drift_exits_4(project):
    args = ["diff", "--as-of", "2024-02-01", "--as-of", "2024-03-01", "--by", "country"]
    r = CliRunner().invoke(app, [*args, "--fail-on-drift", "0.25"])
    assert r.exit_code == 4 and "reaches --fail-on-drift 0.25" in r.stderr
    r = CliRunner().invoke(app, [*args, "--fail-on-drift", "0.5"])
    assert r.exit_code == 0, r.output


def test_bad_input(project):
    def fails(*args: str) -> str:
        r = CliRunner().invoke(app, ["diff", *args])
        assert r.exit_code == 2, r.output
        return r.stderr

    assert "two --as-of" in fails("--as-of", "2024-02-01")
    assert "earlier than the first" in fails("--as-of", "2024-03-01", "--as-of", "2024-02-01")
    assert "did you mean 'country'" in fails(
        "--as-of", "2024-02-01", "--as-of", "2024-03-01", "--by", "contry"
    )


def test_entities_entering_the_universe_count_on_their_side_only(project):
    con = duckdb.connect(str(project / "data.duckdb"))
    con.execute("ALTER TABLE customers ADD COLUMN signed_up TIMESTAMP")
    con.execute("UPDATE customers SET signed_up = '2024-02-15' WHERE customer_id = 3")
    con.close()
    # the universe: customers signed up by as_of; customer 3 joins in between
    (project / "segql.yml").write_text(
        PROJECT + "universe: signed_up is null or days_since(signed_up) >= 0\n"
    )
    d = diff_json("--as-of", "2024-02-01", "--as-of", "2024-03-01")
    assert d["universe"] == {"before": 4, "after": 5}
    (buyers,) = d["segments"]
    assert (buyers["before"], buyers["after"], buyers["entered"], buyers["exited"]) == (3, 3, 1, 1)
    (tier,) = d["segmentations"]
    moves = {(t["from"], t["from_universe"], t["to"]): t["entities"] for t in tier["transitions"]}
    assert moves[None, False, "big"] == 1  # from outside the universe, not from a label
    labels = {x["label"]: (x["before"], x["after"]) for x in tier["labels"]}
    assert labels == {"big": (1, 1), "idle": (1, 2), "small": (2, 2)}


def test_psi_and_js_against_scipy():
    from scipy.spatial.distance import jensenshannon

    cases = [
        ([0.2, 0.3, 0.5], [0.25, 0.25, 0.5]),
        ([0.5, 0.5, 0.0], [0.1, 0.2, 0.7]),  # an empty share: PSI smoothed
        ([1.0, 0.0], [0.0, 1.0]),
        ([0.1] * 10, [0.1] * 10),
    ]
    for before, after in cases:
        assert drift.js_distance(before, after) == pytest.approx(
            float(jensenshannon(before, after, base=2)), abs=1e-12
        )
        smoothed = [(x or 1e-4, y or 1e-4) for x, y in zip(before, after, strict=True)]
        by_hand = sum((y - x) * math.log(y / x) for x, y in smoothed)
        assert drift.psi(before, after) == pytest.approx(by_hand, abs=1e-12)
    assert drift.js_distance([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert drift.level(0.09) == "stable" and drift.level(0.1) == "moderate"
    assert drift.level(0.25) == "major"


def test_on_the_sample_equals_sets_of_members(tmp_path, monkeypatch):
    """Every segment's numbers equal set arithmetic on its members at each as_of
    (each computed by its own compiled query), every label count likewise."""
    from segql import api
    from segql.ops.sample import sample_database

    examples = Path(__file__).parents[1] / "examples" / "segments"
    monkeypatch.chdir(examples)
    d = diff_json("--sample", "--as-of", "2025-04-01", "--as-of", "2025-07-01")
    con = sample_database(0.01)
    model = api.load(["."], None, con)

    def members(as_of: str, segment: str) -> set:
        sql = api.compile_model(model, "duckdb", api.parse_as_of(as_of, "UTC"), segment).sql()
        return {r[0] for r in con.execute(sql).fetchall()}

    assert d["segments"]
    for s in d["segments"]:
        before, after = members("2025-04-01", s["name"]), members("2025-07-01", s["name"])
        assert s["before"] == len(before) and s["after"] == len(after)
        assert s["entered"] == len(after - before) and s["exited"] == len(before - after)
        union = before | after
        assert s["jaccard"] == (round(len(before & after) / len(union), 6) if union else None)
    assert "cart_test" in {m["name"] for m in d["segmentations"]}  # a split, by its groups
    for m in d["segmentations"]:
        sql = api.compile_model(
            model, "duckdb", api.parse_as_of("2025-07-01", "UTC"), segmentation=m["name"]
        ).sql()
        labels = [r[1] for r in con.execute(sql).fetchall()]
        for x in m["labels"]:
            assert x["after"] == labels.count(x["label"])
        assert sum(t["entities"] for t in m["transitions"]) == d["universe"]["after"]
