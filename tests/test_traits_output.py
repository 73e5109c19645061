"""Traits as outputs (LANGUAGE.md §17; docs/language.md, Traits as outputs):
`compile --traits` / `--trait N`, `preview --traits`, `run --traits`,
`export TRAIT`. Values are checked against hand-computed ones on a small
project (nulls, entities with no rows) and, on generated projects, against
the independent oracle (tests/oracle/)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from segql import api
from segql.cli import app

AS_OF = dt.datetime(2025, 3, 1)

PROJECT = """\
entity: customer
key: customer_id
database: data.duckdb
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
"""
# c1: two orders; c2: one old order; c3: no orders and no country; c4: one order
A_SEG = """\
segment buyers = count(orders, last 30 days) >= 1
trait n_orders   = count(orders)
trait spend      = sum(orders.amount)
trait top_amount = max(orders.amount, last 30 days)
trait category   = max(orders.category)
trait first_at   = first(orders.ordered_at)
trait big        = spend > 100
trait home       = country
trait signup     = signed_up
"""
B_SEG = """\
segment any_buyer = n_orders >= 1
trait recent = count(orders, last 7 days)
"""
CUSTOMERS = [
    ("c1", "US", dt.date(2024, 1, 5)),
    ("c2", "CA", dt.date(2024, 6, 1)),
    ("c3", None, None),
    ("c4", "US", dt.date(2025, 2, 1)),
]
ORDERS = [
    ("c1", dt.datetime(2025, 2, 10, 12), Decimal("80.50"), "shoes"),
    ("c1", dt.datetime(2025, 2, 27, 9), Decimal("40.00"), "bags"),
    ("c2", dt.datetime(2024, 11, 2), Decimal("15.00"), "hats"),
    ("c4", dt.datetime(2025, 2, 25), Decimal("20.00"), None),
    ("c4", dt.datetime(2025, 3, 2), Decimal("999.00"), "late"),  # after as_of: unseen
]
TRAITS = ["n_orders", "spend", "top_amount", "category", "first_at", "big", "home", "signup"]
# the values at AS_OF, worked out by hand
EXPECTED = {
    "c1": (2, Decimal("120.50"), Decimal("80.50"), "shoes", dt.datetime(2025, 2, 10, 12),
           True, "US", dt.date(2024, 1, 5)),
    "c2": (1, Decimal("15.00"), None, "hats", dt.datetime(2024, 11, 2), False, "CA",
           dt.date(2024, 6, 1)),
    # no rows: a count is 0, a sum 0 (docs/language.md), max and first null
    "c3": (0, Decimal("0"), None, None, None, False, None, None),
    "c4": (1, Decimal("20.00"), Decimal("20.00"), None, dt.datetime(2025, 2, 25), False, "US",
           dt.date(2025, 2, 1)),
}  # fmt: skip


def write_data(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (customer_id VARCHAR, country VARCHAR, signed_up DATE)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)
    con.execute(
        "CREATE TABLE orders (customer_id VARCHAR, ordered_at TIMESTAMP, "
        "amount DECIMAL(10, 2), category VARCHAR)"
    )
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
    con.close()


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "a.seg").write_text(A_SEG)
    (tmp_path / "b.seg").write_text(B_SEG)
    write_data(tmp_path / "data.duckdb")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args: str, code: int = 0):
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, r.output
    return r


def rows_of(sql: str, db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------ compile


def test_compile_traits_adds_a_column_per_trait_after_the_outputs(proj: Path):
    result = api.compile(["a.seg"], as_of=AS_OF, traits=True)
    assert [(o.name, o.role) for o in result.outputs] == [
        ("customer_id", "key"),
        ("buyers", "segment"),
        *((t, "trait") for t in TRAITS),
    ]
    sql = result.sql()
    for i, name in enumerate(TRAITS, start=2):
        assert f'AS "{name}" /* trait {name} (a.seg:{i}) */' in sql or (
            f'AS "{name}", /* trait {name} (a.seg:{i}) */' in sql
        )
    got = {r[0]: r[2:] for r in rows_of(sql, proj / "data.duckdb")}
    assert got == EXPECTED
    # without --traits: the membership as before
    plain = api.compile(["a.seg"], as_of=AS_OF)
    assert [o.name for o in plain.outputs] == ["customer_id", "buyers"]


def test_traits_are_those_of_the_paths_in_file_order(proj: Path):
    both = api.compile(["b.seg", "a.seg"], as_of=AS_OF, traits=True)
    names = [o.name for o in both.outputs if o.role == "trait"]
    assert names == [*TRAITS, "recent"]  # the project's file order, as for segments
    only_b = api.compile(["b.seg"], as_of=AS_OF, traits=True)
    assert [o.name for o in only_b.outputs] == ["customer_id", "any_buyer", "recent"]


def test_compile_one_trait_gives_key_and_value_of_every_entity(proj: Path):
    r = cli("compile", "a.seg", "--trait", "spend", "--as-of", AS_OF.isoformat())
    got = rows_of(r.stdout, proj / "data.duckdb")
    assert got == [(k, v[1]) for k, v in sorted(EXPECTED.items())]
    assert "/* trait spend (a.seg:3) */" in r.stdout


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--trait", "buyers"], "'buyers' is a segment: use --segment buyers", 1),
        (["--trait", "spnd"], "unknown trait 'spnd' (did you mean 'spend'?)", 1),
        (["--segment", "spend"], "'spend' is a trait: use --trait spend", 1),
        (["--trait", "spend", "--segment", "buyers"], "cannot be used together", 2),
        (["--traits", "--trait", "spend"], "not with --trait", 2),
    ],
)
def test_compile_trait_errors(proj: Path, args, message, code):
    r = cli("compile", "a.seg", *args, code=code)
    assert message in r.output


def test_a_trait_cannot_take_the_keys_name(tmp_path: Path, monkeypatch):
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: customer_id\ndatabase: data.duckdb\n"
        "sources:\n  orders: {table: orders, time: ordered_at}\n"
    )
    write_data(tmp_path / "data.duckdb")
    (tmp_path / "k.seg").write_text("trait customer_id = count(orders)\n")
    monkeypatch.chdir(tmp_path)
    r = cli("compile", "k.seg", "--traits", code=1)
    # the key is a profile column even without profiles: one namespace
    assert "trait 'customer_id' clashes with the profile column 'customer_id'" in r.output


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "bigquery", "snowflake", "spark",
                                     "databricks", "trino"])  # fmt: skip
def test_every_dialect_compiles_traits(proj: Path, dialect: str):
    import sqlglot

    from segql.sql.dialects import DIALECTS

    sql = api.compile(["a.seg", "b.seg"], as_of=AS_OF, traits=True, dialect=dialect).sql()
    (tree,) = sqlglot.parse(sql, read=DIALECTS[dialect].sqlglot)
    assert [s.alias_or_name for s in tree.selects][-9:] == [*TRAITS, "recent"]


# ------------------------------------------------------------------ preview


def test_preview_traits_summaries(proj: Path):
    r = cli("preview", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(),
            "--traits", "--format", "json")  # fmt: skip
    doc = json.loads(r.stdout)
    got = {t["name"]: t for t in doc["traits"]}
    assert list(got) == TRAITS

    def summary(i: int):
        values = [v[i] for v in EXPECTED.values()]
        return [v for v in values if v is not None], values.count(None)

    for i, name in enumerate(TRAITS):
        present, nulls = summary(i)
        t = got[name]
        assert (t["values"], t["nulls"]) == (len(present), nulls), name
        if t["type"] == "number":
            assert t["min"] == pytest.approx(float(min(present)))
            assert t["max"] == pytest.approx(float(max(present)))
            assert t["mean"] == pytest.approx(float(sum(present)) / len(present), abs=1e-6)
            assert t["top"] == []
        elif t["type"] in ("date", "timestamp"):
            assert (t["min"], t["max"]) == (min(present).isoformat(), max(present).isoformat())
        else:  # string, boolean: most frequent first, ties by value
            counts: dict = {}
            for v in present:
                counts[v] = counts.get(v, 0) + 1
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            assert t["top"] == [{"value": v, "count": n} for v, n in top], name
            assert t["min"] is None and t["mean"] is None
    assert got["home"]["top"] == [{"value": "US", "count": 2}, {"value": "CA", "count": 1}]
    assert got["big"]["top"] == [{"value": False, "count": 3}, {"value": True, "count": 1}]
    # without --traits: no traits key, the document as before
    r = cli("preview", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(),
            "--format", "json")  # fmt: skip
    assert "traits" not in json.loads(r.stdout)


def test_preview_traits_csv_and_table(proj: Path):
    base = ["preview", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(), "--traits"]
    rows = list(csv.reader(cli(*base, "--format", "csv").stdout.splitlines()))
    mine = [r for r in rows if r[0].startswith("trait") and r[1] == "home"]
    assert mine == [
        ["trait", "home", "string", "3", "0.75"],
        ["trait_nulls", "home", "", "1", "0.25"],
        ["trait_top", "home", "US", "2", "0.5"],
        ["trait_top", "home", "CA", "1", "0.25"],
    ]
    spend = [r for r in rows if r[1] == "spend"]
    assert ["trait_max", "spend", "120.5", "", ""] in spend
    table = cli(*base).stdout
    assert "Traits" in table and "US (2), CA (1)" in table


def test_preview_of_traits_alone(proj: Path):
    (proj / "t.seg").write_text("trait orders_2 = count(orders) * 2\n")
    r = cli("preview", "t.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(),
            "--traits", "--format", "json")  # fmt: skip
    (t,) = json.loads(r.stdout)["traits"]
    assert (t["min"], t["max"], t["values"]) == (0, 4, 4)
    r = cli("preview", "t.seg", "--db", "data.duckdb", code=1)
    assert "no segments or segmentations" in r.output


# ------------------------------------------------------------------ run


def state_rows(db: Path, query: str) -> list[tuple]:
    return rows_of(query, db)


def test_run_traits_keeps_values_in_membership_and_writes_no_changes_for_them(proj: Path):
    db = proj / "data.duckdb"
    cli("run", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(), "--traits")
    cols = [r[0] for r in state_rows(db, "DESCRIBE segql.membership")]
    assert cols == ["customer_id", "buyers", *TRAITS, "as_of", "run_id"]
    got = state_rows(db, f"SELECT customer_id, {', '.join(TRAITS)} FROM segql.membership")
    assert {r[0]: r[1:] for r in got} == EXPECTED
    names = {r[0] for r in state_rows(db, "SELECT DISTINCT name FROM segql.changes")}
    assert names == {"buyers"}
    assert {r[0] for r in state_rows(db, "SELECT name FROM segql.sizes")} == {"buyers"}

    # a later run with other values: still no trait in changes or sizes, and the
    # boolean trait `big` is not read as a segment of the previous run
    later = dt.datetime(2025, 3, 31)
    cli("run", "a.seg", "--db", "data.duckdb", "--as-of", later.isoformat(), "--traits")
    assert {r[0] for r in state_rows(db, "SELECT DISTINCT name FROM segql.changes")} == {"buyers"}
    # readers: history and export see the segment; the trait is exported by name
    out = cli("history", "buyers", "--db", "data.duckdb", "--format", "json").stdout
    assert [p["members"] for p in json.loads(out)["runs"]] == [2, 1]
    cli("export", "big", "--db", "data.duckdb", "--out", "big.csv")
    assert list(csv.reader(open("big.csv"))) == [
        ["customer_id", "big"],
        ["c1", "true"],
        ["c2", "false"],
        ["c3", "false"],
        ["c4", "true"],
    ]  # fmt: skip (by 2025-03-31 c4 ordered for 999)

    # the same run without --traits: the columns go, and nothing exits
    final = dt.datetime(2025, 4, 2)
    cli("run", "a.seg", "--db", "data.duckdb", "--as-of", final.isoformat())
    cols = [r[0] for r in state_rows(db, "DESCRIBE segql.membership")]
    assert cols == ["customer_id", "buyers", "as_of", "run_id"]
    assert {r[0] for r in state_rows(db, "SELECT DISTINCT name FROM segql.changes")} == {"buyers"}
    r = cli("export", "spend", "--db", "data.duckdb", "--out", "s.csv", code=1)
    assert "not in the last run's membership" in r.output and "--traits" in r.output


def test_run_traits_is_a_new_definition_at_the_same_as_of(proj: Path):
    first = cli("run", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(),
                "--format", "json").stdout  # fmt: skip
    assert json.loads(first)["status"] == "ok"
    again = cli("run", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(), "--traits",
                "--format", "json").stdout  # fmt: skip
    assert json.loads(again)["status"] == "ok"  # not a no-op: the membership differs
    db = proj / "data.duckdb"
    assert "spend" in [r[0] for r in state_rows(db, "DESCRIBE segql.membership")]
    sizes = state_rows(db, "SELECT name, members, entered, exited FROM segql.sizes")
    assert sizes == [("buyers", 2, 2, 0)]  # the replaced run's: the first run's again


def test_a_trait_named_as_a_run_column_is_an_error(proj: Path):
    (proj / "c.seg").write_text("trait as_of = count(orders)\nsegment s = as_of > 0\n")
    r = cli("run", "c.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(), "--traits",
            code=1)  # fmt: skip
    assert "'as_of' is a column that segql run adds" in r.output


# ------------------------------------------------------------------ export


def test_export_trait_at_an_as_of(proj: Path):
    cli("export", "category", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(),
        "--out", "c.csv")  # fmt: skip
    assert list(csv.reader(open("c.csv"))) == [
        ["customer_id", "category"],
        ["c1", "shoes"],
        ["c2", "hats"],
    ]  # entities with a value only
    cli("export", "first_at", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(),
        "--out", "f.jsonl", "--format", "jsonl", "--columns", "country")  # fmt: skip
    lines = [json.loads(x) for x in open("f.jsonl")]
    assert [x["customer_id"] for x in lines] == ["c1", "c2", "c4"]
    assert lines[0]["country"] == "US" and lines[0]["first_at"].startswith("2025-02-10")


def test_export_changes_of_a_trait_is_an_error(proj: Path):
    cli("run", "a.seg", "--db", "data.duckdb", "--as-of", AS_OF.isoformat(), "--traits")
    r = cli("export", "spend", "--db", "data.duckdb", "--changes", "--out", "x.jsonl", code=1)
    assert "'spend' is a trait: it has no changes" in r.output


def test_export_trait_on_the_sample():
    examples = Path(__file__).parents[1] / "examples" / "segments"
    from segql.ops.sample import sample_database

    con = sample_database(0.01)
    try:
        model = api.load([str(examples)], str(examples), con)
        sql = api.compile_model(model, "duckdb", api.parse_as_of("2025-07-01", "UTC"),
                                trait="monetary").sql()  # fmt: skip
        want = [(k, v) for k, v in con.execute(sql).fetchall() if v is not None]
    finally:
        con.close()
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "m.csv")
        cli("export", "monetary", "--project", str(examples), "--sample", "--out", out)
        got = list(csv.reader(open(out)))
    assert got[0] == ["customer_id", "monetary"]
    assert [(int(k), Decimal(v)) for k, v in got[1:]] == [(k, Decimal(v)) for k, v in want]


# ------------------------------------------------------------------ the oracle


def test_trait_columns_equal_the_oracle_on_generated_projects():
    """Every trait of generated projects, compiled with --traits and run on
    DuckDB, equals the oracle's value entity by entity."""
    from dataclasses import replace

    from hypothesis import HealthCheck, given, settings
    from oracle.evaluate import UNCERTAIN, Oracle, number
    from oracle.gen import cases
    from oracle.harness import duckdb_with, load_model

    checked = {"traits": 0}

    @settings(max_examples=20, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(cases())
    def check(case):
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            con = duckdb_with(case)
            try:
                model = load_model(case, con, root)
                if not model.selected_traits:
                    return
                # the traits alone: the query and the oracle read the same
                # profile columns (they settle overlapping history rows)
                traits_only = replace(model, selected=())
                for when in case.as_ofs:
                    result = api.compile_model(traits_only, "duckdb", when, traits=True)
                    names = [o.name for o in result.outputs]
                    rows = con.execute(result.sql()).fetchall()
                    oracle = Oracle(
                        replace(model, selected=model.selected_traits), case.tables, when
                    )
                    for row in rows:
                        for name, got in zip(names[1:], row[1:], strict=True):
                            if model.kind(name) != "trait":
                                continue
                            want = oracle.definition(name, row[0])
                            if want is UNCERTAIN:
                                continue
                            assert _same(got, want, number), (name, row[0], got, want)
                            checked["traits"] += 1
            finally:
                con.close()

    check()
    print("trait values checked:", checked["traits"])
    assert checked["traits"] > 0


def _same(got, want, number) -> bool:
    from fractions import Fraction

    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, int | Fraction | float):
        g = number(got) if isinstance(got, Decimal | float) else got
        return abs(float(g) - float(want)) <= 1e-9 * max(1.0, abs(float(want)))
    return got == want


# ------------------------------------------------------------------ pii


def _sha(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def test_a_string_trait_of_a_pii_column_leaves_hashed(proj: Path):
    with open("segql.yml", "a", encoding="utf-8") as f:
        f.write("pii: [country]\n")
    (proj / "p.seg").write_text("trait place = lower(home)\ntrait has_home = home is not null\n")
    when = AS_OF.isoformat()
    cli("export", "place", "--db", "data.duckdb", "--as-of", when, "--out", "p.csv")
    rows = list(csv.reader(open("p.csv")))
    assert rows[1:] == [["c1", _sha("us")], ["c2", _sha("ca")], ["c4", _sha("us")]]
    cli("export", "home", "--db", "data.duckdb", "--as-of", when, "--out", "h.csv", "--show-pii")
    assert list(csv.reader(open("h.csv")))[1] == ["c1", "US"]
    # a boolean of it is not the value: as it is
    cli("export", "has_home", "--db", "data.duckdb", "--as-of", when, "--out", "b.csv")
    assert list(csv.reader(open("b.csv")))[1] == ["c1", "true"]
    doc = json.loads(
        cli(
            "preview",
            "p.seg",
            "a.seg",
            "--db",
            "data.duckdb",
            "--as-of",
            when,
            "--traits",
            "--format",
            "json",
        ).stdout  # fmt: skip
    )
    top = {t["name"]: t["top"] for t in doc["traits"]}
    assert top["place"] == [{"value": _sha("us"), "count": 2}, {"value": _sha("ca"), "count": 1}]
    assert top["home"][0] == {"value": _sha("US"), "count": 2}
    # from a run's membership too
    cli("run", "a.seg", "p.seg", "--db", "data.duckdb", "--as-of", when, "--traits")
    cli("export", "place", "--db", "data.duckdb", "--out", "s.csv")
    assert list(csv.reader(open("s.csv")))[1] == ["c1", _sha("us")]
