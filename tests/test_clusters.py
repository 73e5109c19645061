"""Clusters segmentations (LANGUAGE.md §14): k-means personas every engine assigns.

Hand-computed cases over hand-written fit files: ties go to the lower number,
a null feature gets `else` (or null), each scale method, names and the
`cluster_<n>` default. Then `segql fit` on DuckDB: the fit file's shape, its
scaling, and every entity's compiled label equal to scikit-learn's `predict`
with the same centroids (tests/engines/test_clusters_engines.py does the same
on PostgreSQL, Spark and BigQuery's ZetaSQL).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import _project_text, _workdir, _write, copy_examples, database, members

from segql import api
from segql.errors import SegqlErrors
from segql.project import load_project
from segql.syntax import ast
from segql.syntax.parser import parse_module
from segql.syntax.yaml_front import parse_yaml_module

AS_OF = "2024-06-01"


def fitted(seg: str, name: str, centroids, center=None, scale=None, data=None):
    """The files of a project: the definitions and a fit file for `name` written
    by hand (with the hash of the features as segql computes it)."""
    data = data or customers((0, 0.0))  # the columns' types; the hash needs no rows
    root = _workdir({"defs.seg": seg})
    _write(root / "segql.yml", _project_text("UTC", repr(None)))
    _write(root / "defs.seg", seg)
    proj = load_project(root / "segql.yml")
    model = api.load_with(proj, [str(root / "defs.seg")], database(data), check_fits=False)
    n = len(centroids[0])
    d = model.definitions[name]
    method = d.clusters.scale_method
    doc = {
        "features": [f"f{i}" for i in range(n)],
        "definitions_hash": model.cluster_hashes[name],
        "scale": {
            "method": method,
            "center": center or [0.0] * n,
            "scale": scale or [1.0] * n,
        },
        "centroids": centroids,
        "k": len(centroids),
    }
    return {"defs.seg": seg, f"clusters/{name}.json": json.dumps(doc)}


def customers(*rows) -> dict:
    """customers with (age, score) per key 1, 2, …"""
    return {
        "customers": [
            {"customer_id": i, "age": a, "score": s} for i, (a, s) in enumerate(rows, start=1)
        ]
    }


# ------------------------------------------------------------------ syntax


def test_seg_and_yaml_forms_give_equal_asts():
    seg = parse_module(
        "trait t = 1\n"
        "segmentation p by clusters(3) on (t, age * 2) {\n"
        "  scale minmax\n  names { 1 big  3 small }\n  else none_\n}\n",
        "a.seg",
    )
    yml = parse_yaml_module(
        "traits:\n  t: '1'\nsegmentations:\n  p:\n    by: clusters\n    k: 3\n"
        "    features: [t, age * 2]\n    scale: minmax\n    names: {1: big, 3: small}\n"
        "    else: none_\n",
        "a.yml",
    )
    assert seg.definitions == yml.definitions
    p = seg.definitions[1]
    assert isinstance(p, ast.Segmentation) and p.clusters is not None
    assert p.by == "clusters" and p.clusters.k == 3 and p.clusters.scale == "minmax"
    assert [p.clusters.label(j) for j in (1, 2, 3)] == ["big", "cluster_2", "small"]


def test_the_json_schema_knows_clusters():
    import jsonschema
    import yaml

    from segql.syntax import json_schema

    schema = json_schema.schema("definitions")
    doc = yaml.safe_load(
        "segmentations:\n  personas:\n    by: clusters\n    k: 4\n"
        "    features: [recency, frequency]\n    scale: none\n"
        "    names: {1: best, 3: worst}\n    else: never\n"
    )
    jsonschema.validate(doc, schema)
    doc["segmentations"]["personas"]["on"] = ["x"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_scale_and_names_stay_names_elsewhere():
    m = parse_module(
        "trait scale = 1\ntrait names = 2\n"
        "segmentation s by priority {\n  scale = names > 1\n  names = scale > 0\n}\n",
        "a.seg",
    )
    assert [d.name for d in m.definitions] == ["scale", "names", "s"]


def test_scale_defaults_to_standard():
    (d,) = parse_module("segmentation p by clusters(2) on (age) { }", "a.seg").definitions
    assert d.clusters.scale is None and d.clusters.scale_method == "standard"


# ------------------------------------------------------------------ assignment


SEG = "segmentation p by clusters(2) on (age, score) {\n  scale none\n}\n"


def test_nearest_centroid_and_ties_to_the_lower_number():
    # centroids (0, 0) and (10, 10): (5, 5) is as near to both -> cluster 1
    files = fitted(SEG, "p", [[0.0, 0.0], [10.0, 10.0]])
    data = customers((5, 5), (6, 5), (4, 5), (5, 6), (100, -100), (-100, 100))
    got, _ = members(files, data, as_of=AS_OF)
    assert got == {
        1: "cluster_1",  # tie: 50 = 50
        2: "cluster_2",
        3: "cluster_1",
        4: "cluster_2",
        5: "cluster_1",  # 20000 vs 20200: a tie of sums of different squares
        6: "cluster_1",  # 20000 vs 20200
    }


def test_three_way_tie_and_later_ties():
    seg = "segmentation p by clusters(3) on (age) {\n  scale none\n}\n"
    files = fitted(seg, "p", [[0.0], [4.0], [2.0]])
    # 1: 0 | 2: 4 | 3: 2 — 1 is 1 from 0 and 2: tie 1/3 → 1; 3 is 1 from 2 and 4: tie 2/3 → 2
    got, _ = members(files, customers((1, 0), (3, 0), (2, 0), (-7, 0)), as_of=AS_OF)
    assert got == {1: "cluster_1", 2: "cluster_2", 3: "cluster_3", 4: "cluster_1"}


def test_a_null_feature_gets_else_or_null():
    with_else = SEG.replace("}\n", "  else unknown\n}\n")
    data = customers((5, None), (None, 5), (9, 9))
    got, _ = members(fitted(with_else, "p", [[0.0, 0.0], [10.0, 10.0]]), data, as_of=AS_OF)
    assert got == {1: "unknown", 2: "unknown", 3: "cluster_2"}
    got, _ = members(fitted(SEG, "p", [[0.0, 0.0], [10.0, 10.0]]), data, as_of=AS_OF)
    assert got == {1: None, 2: None, 3: "cluster_2"}


def test_names_label_their_clusters():
    seg = SEG.replace("  scale none\n", "  scale none\n  names { 2 high }\n")
    got, _ = members(
        fitted(seg, "p", [[0.0, 0.0], [10.0, 10.0]]), customers((1, 1), (9, 9)), as_of=AS_OF
    )
    assert got == {1: "cluster_1", 2: "high"}


def test_standard_scaling_uses_center_and_scale():
    # x' = (x − center) / scale: age (center 50, scale 10), score (center 0, scale 100)
    seg = SEG.replace("scale none", "scale standard")
    files = fitted(seg, "p", [[-1.0, 0.0], [1.0, 0.0]], center=[50.0, 0.0], scale=[10.0, 100.0])
    # (44, 900): x' = (-0.6, 9) -> d1 = 0.16 + 81, d2 = 2.56 + 81 -> 1
    # (56, -900): x' = (0.6, -9) -> 2;  (50, 0): tie -> 1
    got, _ = members(files, customers((44, 900), (56, -900), (50, 0)), as_of=AS_OF)
    assert got == {1: "cluster_1", 2: "cluster_2", 3: "cluster_1"}


def test_minmax_scaling_is_the_same_arithmetic():
    seg = SEG.replace("scale none", "scale minmax")
    files = fitted(seg, "p", [[0.25, 0.5], [0.75, 0.5]], center=[20.0, 0.0], scale=[40.0, 2.0])
    # age 29 -> 0.225 (1); age 51 -> 0.775 (2); age 40 -> 0.5: tie -> 1
    got, _ = members(files, customers((29, 1), (51, 1), (40, 1)), as_of=AS_OF)
    assert got == {1: "cluster_1", 2: "cluster_2", 3: "cluster_1"}


def test_negative_centers_and_centroids():
    files = fitted(
        SEG.replace("scale none", "scale standard"),
        "p",
        [[-2.5, -1.0], [3.0, 1.5]],
        center=[-10.0, -3.25],
        scale=[2.0, 0.5],
    )
    data = customers((-15, -3.75), (-4, -2.5), (0, 0))
    got, sql = members(files, data, as_of=AS_OF)
    # (-15, -3.75) -> (-2.5, -1.0) = centroid 1; (-4, -2.5) -> (3, 1.5) = centroid 2
    assert got == {1: "cluster_1", 2: "cluster_2", 3: "cluster_2"}
    assert "- -" not in sql


def test_features_may_be_traits_and_aggregates():
    seg = (
        "trait spend = sum(orders.amount)\n"
        "segmentation p by clusters(2) on (spend, count(orders)) {\n  scale none\n"
        "  else nothing\n}\n"
    )
    data = {
        "customers": [{"customer_id": i} for i in (1, 2, 3)],
        "orders": [
            {"customer_id": 1, "ordered_at": "2024-05-01T00:00:00", "amount": 10.0},
            {"customer_id": 2, "ordered_at": "2024-05-01T00:00:00", "amount": 900.0},
            {"customer_id": 2, "ordered_at": "2024-05-02T00:00:00", "amount": 100.0},
        ],
    }
    files = fitted(seg, "p", [[0.0, 0.0], [1000.0, 2.0]], data=data)
    got, _ = members(files, data, as_of=AS_OF)
    # no orders: spend 0 (sum of nothing), count 0 -> cluster 1, not else
    assert got == {1: "cluster_1", 2: "cluster_2", 3: "cluster_1"}


# ------------------------------------------------------------------ fit files


def _load(files: dict, data=None):
    root = _workdir(files)
    _write(root / "segql.yml", _project_text("UTC", repr(None)))
    for name, text in files.items():
        _write(root / name, text)
    con = database(data or customers((0, 0.0)))
    return api.load([str(root / "defs.seg")], str(root / "segql.yml"), con=con)


def _messages(files: dict) -> list[str]:
    with pytest.raises(SegqlErrors) as e:
        _load(files)
    return [err.message for err in e.value.errors]


def test_a_missing_fit_file_is_an_error_at_the_segmentation():
    (msg,) = _messages({"defs.seg": SEG})
    assert msg == "segmentation 'p' has not been fitted: clusters/p.json not found"


def test_changed_features_need_a_new_fit():
    files = fitted(
        "trait t = age + 1\n" + SEG.replace("(age,", "(t,"), "p", [[0.0, 0.0], [1.0, 1.0]]
    )
    _load(files)  # fitted: fine
    changed = dict(files, **{"defs.seg": files["defs.seg"].replace("age + 1", "age + 2")})
    (msg,) = _messages(changed)
    assert msg == "the features of segmentation 'p' changed since clusters/p.json was fitted"
    # comments, spacing and the order of definitions change nothing
    moved = dict(files, **{"defs.seg": SEG.replace("(age,", "(t,") + "# x\ntrait  t = age+1\n"})
    _load(moved)


def test_other_k_or_scale_need_a_new_fit():
    files = fitted(SEG, "p", [[0.0, 0.0], [1.0, 1.0]])
    three = files["defs.seg"].replace("clusters(2)", "clusters(3)")
    (msg,) = _messages(dict(files, **{"defs.seg": three}))
    assert "has 3 clusters, but clusters/p.json was fitted with 2" in msg
    minmax = files["defs.seg"].replace("scale none", "scale minmax")
    (msg,) = _messages(dict(files, **{"defs.seg": minmax}))
    assert "scales 'minmax', but clusters/p.json was fitted with 'none'" in msg


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("centroids"), "no 'centroids'"),
        (lambda d: d["centroids"].pop(), "'centroids' needs 2 lists of 2 finite numbers"),
        (lambda d: d["scale"]["scale"].__setitem__(0, 0), "a 'scale' of 0"),
        (lambda d: d["scale"].__setitem__("center", [1]), "'scale' needs 2 finite numbers"),
    ],
)
def test_malformed_fit_files(change, problem):
    files = fitted(SEG, "p", [[0.0, 0.0], [1.0, 1.0]])
    doc = json.loads(files["clusters/p.json"])
    change(doc)
    (msg,) = _messages(dict(files, **{"clusters/p.json": json.dumps(doc)}))
    assert msg.startswith("clusters/p.json is not a fit file: ") and problem in msg


def test_compile_never_imports_sklearn():
    import subprocess
    import sys

    code = (
        "import sys, segql.api, segql.sql.clusters, segql.semantic.clusters\n"
        "assert 'sklearn' not in sys.modules and 'numpy' not in sys.modules, sys.modules.keys()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ segql fit


def _fit_project(tmp_path: Path, seg: str, rows: list[tuple]) -> tuple[Path, str]:
    import duckdb

    db = tmp_path / "data.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE customers (customer_id INTEGER, age INTEGER, score DOUBLE)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)", rows)
    con.execute("CREATE TABLE orders (customer_id INTEGER, ordered_at TIMESTAMP, amount DOUBLE)")
    con.close()
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: customer_id\nprofiles: customers\n"
        "sources:\n  orders: {table: orders, time: ordered_at}\n"
        f"database: {db}\n"
    )
    (tmp_path / "defs.seg").write_text(seg)
    return tmp_path, str(db)


def _rows(n: int, seed: int = 3) -> list[tuple]:
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        group = i % 3
        age = None if i % 17 == 0 else int(rng.gauss(20 + 20 * group, 4))
        score = rng.gauss(100 * group, 30)
        rows.append((i, age, score))
    return rows


def _predict(doc: dict, X):
    """scikit-learn's predict with the fit file's centroids (a KMeans fitted on
    the centroids themselves keeps them exactly), and the rows whose two nearest
    centroids are within 1e-9 (excepted)."""
    import numpy as np
    from sklearn.cluster import KMeans

    C = np.array(doc["centroids"])
    Xs = (X - np.array(doc["scale"]["center"])) / np.array(doc["scale"]["scale"])
    km = KMeans(n_clusters=len(C), init=C, n_init=1, max_iter=1).fit(C)
    assert np.array_equal(km.cluster_centers_, C)
    d = ((Xs[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    part = np.sort(d, axis=1)
    near_tie = (part[:, 1] - part[:, 0]) <= 1e-9
    return km.predict(Xs) + 1, near_tie


@pytest.mark.parametrize("method", ["standard", "minmax", "none"])
def test_fit_writes_the_file_and_sql_agrees_with_predict(tmp_path: Path, method: str):
    pytest.importorskip("sklearn")
    import numpy as np

    from segql.ops.fit import fit

    seg = (
        f"segmentation p by clusters(3) on (age, score / 10) {{\n  scale {method}\n"
        "  names { 1 first }\n  else no_age\n}\n"
    )
    rows = _rows(600)
    root, _ = _fit_project(tmp_path, seg, rows)
    (result,) = fit([str(root / "defs.seg")], project=str(root / "segql.yml"), as_of=AS_OF)
    doc = json.loads((root / "clusters" / "p.json").read_text())
    assert list(doc)[:10] == [
        "features",
        "definitions_hash",
        "scale",
        "centroids",
        "k",
        "as_of",
        "rows",
        "sizes",
        "inertia",
        "silhouette",
    ]
    assert doc["features"] == ["age", "score / 10"] and doc["k"] == 3
    complete = np.array([(a, s / 10) for _, a, s in rows if a is not None], dtype=float)
    assert doc["rows"] == len(complete) == result.rows
    center, scale = np.array(doc["scale"]["center"]), np.array(doc["scale"]["scale"])
    if method == "standard":
        assert np.allclose(center, complete.mean(axis=0))
        assert np.allclose(scale, complete.std(axis=0))  # population
    elif method == "minmax":
        assert np.allclose(center, complete.min(axis=0))
        assert np.allclose(scale, complete.max(axis=0) - complete.min(axis=0))
    else:
        assert center.tolist() == [0, 0] and scale.tolist() == [1, 1]
    assert doc["sizes"] == sorted(doc["sizes"], reverse=True) and sum(doc["sizes"]) == len(complete)
    assert -1 <= doc["silhouette"] <= 1 and doc["inertia"] > 0
    # every entity's compiled label is scikit-learn's predict
    model = api.load([str(root / "defs.seg")], str(root / "segql.yml"))
    sql = api.compile_model(model, "duckdb", api.parse_as_of(AS_OF, "UTC"), segmentation="p").sql()
    import duckdb

    con = duckdb.connect(str(root / "data.duckdb"), read_only=True)
    got = dict(con.execute(sql).fetchall())
    con.close()
    labels = {1: "first", 2: "cluster_2", 3: "cluster_3"}
    keys = [k for k, a, _ in rows if a is not None]
    predicted, near = _predict(doc, complete)
    assert not near.any()
    assert [got[k] for k in keys] == [labels[int(p)] for p in predicted]
    assert {got[k] for k, a, _ in rows if a is None} == {"no_age"}
    # the sizes written are the labels' sizes
    assert [sum(got[k] == labels[j] for k in keys) for j in (1, 2, 3)] == doc["sizes"]


def test_fit_is_deterministic_and_zero_variance_scales_by_one(tmp_path: Path):
    pytest.importorskip("sklearn")
    from segql.ops.fit import fit

    seg = "segmentation p by clusters(2) on (age, 5) { }\n"
    root, _ = _fit_project(tmp_path, seg, _rows(200))
    fit([str(root / "defs.seg")], project=str(root / "segql.yml"), as_of=AS_OF)
    first = (root / "clusters" / "p.json").read_bytes()
    fit([str(root / "defs.seg")], project=str(root / "segql.yml"), as_of=AS_OF)
    assert (root / "clusters" / "p.json").read_bytes() == first
    doc = json.loads(first)
    assert doc["scale"]["scale"][1] == 1.0 and doc["scale"]["center"][1] == 5.0


def test_fit_with_a_range_of_k_writes_no_fit_file(tmp_path: Path):
    pytest.importorskip("sklearn")
    from segql.ops.fit import fit, render

    seg = "segmentation p by clusters(3) on (age, score) { }\n"
    root, _ = _fit_project(tmp_path, seg, _rows(300))
    (r,) = fit(
        [str(root / "defs.seg")],
        project=str(root / "segql.yml"),
        as_of=AS_OF,
        k="2..5",
        plot=str(tmp_path / "elbow.png"),
    )
    assert [f.k for f in r.fits] == [2, 3, 4, 5]
    assert all(a.inertia >= b.inertia for a, b in zip(r.fits, r.fits[1:], strict=False))
    assert not (root / "clusters" / "p.json").exists()
    text = render(r)
    assert "no fit file written" in text
    if r.plot is not None:
        assert (tmp_path / "elbow.png").read_bytes()[:4] == b"\x89PNG"


def test_fit_cli_errors(tmp_path: Path):
    pytest.importorskip("sklearn")
    from segql.errors import SegqlError
    from segql.ops.fit import fit

    seg = "segmentation p by clusters(3) on (age, score) { }\nsegment s = age > 1\n"
    root, _ = _fit_project(tmp_path, seg, _rows(50))
    args = ([str(root / "defs.seg")],)
    with pytest.raises(SegqlError, match="has clusters\\(3\\), not 4"):
        fit(*args, project=str(root / "segql.yml"), as_of=AS_OF, k="4")
    with pytest.raises(SegqlError, match="invalid --k '1..3'"):
        fit(*args, project=str(root / "segql.yml"), as_of=AS_OF, k="1..3")
    with pytest.raises(SegqlError, match="'s' is a segment, not a clusters segmentation"):
        fit(*args, project=str(root / "segql.yml"), as_of=AS_OF, segmentation="s")
    with pytest.raises(SegqlError, match=r"unknown clusters segmentation 'pp' \(did you mean 'p'"):
        fit(*args, project=str(root / "segql.yml"), as_of=AS_OF, segmentation="pp")


# ------------------------------------------------------------------ the command line


def test_cli_fit_on_the_sample_gives_the_committed_fit(tmp_path: Path, monkeypatch):
    """The example's fit file is what `segql fit --sample` writes."""
    pytest.importorskip("sklearn")
    from typer.testing import CliRunner

    from segql.cli import app

    root = copy_examples(tmp_path)
    committed = (root / "clusters" / "personas.json").read_bytes()
    (root / "clusters" / "personas.json").unlink()
    monkeypatch.chdir(root)
    r = CliRunner().invoke(app, ["fit", ".", "--segmentation", "personas", "--sample"])
    assert r.exit_code == 0, r.output
    assert "1 best_customers" in r.output and "clusters/personas.json\n" in r.output
    import json

    # the same fit: every field equal, numbers to 1e-9 (a CPU's vector width may
    # move the last bits of a sum; one thread fixes their order, not the kernel)
    def close(a, b) -> bool:
        if isinstance(a, dict):
            return (
                isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
            )
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(map(close, a, b))
        if isinstance(a, float) and isinstance(b, float):
            return a == pytest.approx(b, rel=1e-9, abs=1e-12)
        return a == b

    got = json.loads((root / "clusters" / "personas.json").read_bytes())
    assert close(got, json.loads(committed))
    assert got["sizes"] == json.loads(committed)["sizes"]


def test_cli_fit_without_scikit_learn_names_the_extra(tmp_path: Path, monkeypatch):
    import sys

    from typer.testing import CliRunner

    from segql.cli import app

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    monkeypatch.chdir(copy_examples(tmp_path))
    r = CliRunner().invoke(app, ["fit", ".", "--sample"])
    assert r.exit_code == 1
    assert "segql fit needs scikit-learn: pip install 'segql[ml]'" in r.output
