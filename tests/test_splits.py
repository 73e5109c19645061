"""Splits (LANGUAGE.md §13): holdout and test groups inside a segment.

Groups are checked against Python's hashlib (tests/oracle/evaluate.split_bucket,
written from §13's words): the same key gets the same group on every engine
(tests/engines/test_splits_engines.py runs the hash on PostgreSQL, Spark and
BigQuery's ZetaSQL).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from helpers import members, table
from oracle.evaluate import split_bucket
from sqlglot import exp

from segql import api
from segql.errors import SegqlError
from segql.semantic.model import ProfileRef
from segql.sql.dialects import DIALECTS, get_dialect
from segql.sql.expressions import Translator
from segql.sql.windows import FixedClock
from segql.syntax import ast
from segql.syntax.parser import parse_module
from segql.syntax.yaml_front import parse_yaml_module

AS_OF = "2024-06-01"
# LANGUAGE.md §13: (salt, key, bucket)
VECTORS = [
    ("spring_test", "c1", 6977),
    ("spring_test", "42", 2188),
    ("spring_test", "Ä-ö 7", 1346),
    ("x", "", 9221),
]


def expected(keys, salt: str, groups: list[tuple[str, float]], member=lambda k: True) -> dict:
    """key -> group as §13 says, by hashlib."""
    out = {}
    for k in keys:
        label, start, b = None, Decimal(0), split_bucket(salt, k)
        for name, share in groups:
            start += Decimal(str(share)) * 100
            if label is None and b < start:
                label = name
        out[k] = label if member(k) else None
    return out


def customers(n: int) -> dict:
    return {"customers": [{"customer_id": k, "age": k % 50} for k in range(1, n + 1)]}


# ------------------------------------------------------------------ syntax


def test_seg_and_yaml_forms_give_equal_asts():
    seg = parse_module(
        'segment s = 1 = 1\nsplit t of s salt "a \\"b\\"" {\n  control 10%\n  email 12.5%\n}\n',
        "a.seg",
    )
    yml = parse_yaml_module(
        "segments:\n  s: 1 = 1\nsplits:\n  t:\n    of: s\n    salt: 'a \"b\"'\n"
        "    groups:\n      - control: 10%\n      - email: 12.5%\n",
        "a.yml",
    )
    assert seg.definitions == yml.definitions
    split = seg.definitions[1]
    assert isinstance(split, ast.Split)
    assert split.groups[1] == ast.Group("email", Decimal("12.5"))
    assert split.salt_text == 'a "b"'


def test_salt_defaults_to_the_split_name():
    (split,) = parse_module("split t of s { a 100% }", "a.seg").definitions
    assert isinstance(split, ast.Split) and split.salt is None and split.salt_text == "t"


def test_split_of_salt_are_keywords_only_in_a_split():
    module = parse_module("segment split = 1 = 1\nsegment b = split and of and salt\n", "a.seg")
    assert [d.name for d in module.definitions] == ["split", "b"]


# ------------------------------------------------------------------ groups on DuckDB


def test_members_get_their_hash_group_and_non_members_null():
    text = (
        "segment adults = age >= 18\n"
        'split test of adults salt "cart-2024-spring" { control 10% email 45% sms 45% }\n'
    )
    got, sql = members(text, customers(300), as_of=AS_OF)
    groups = [("control", 10), ("email", 45), ("sms", 45)]
    want = expected(range(1, 301), "cart-2024-spring", groups, lambda k: k % 50 >= 18)
    assert got == want, sql
    assert {v for v in got.values()} == {None, "control", "email", "sms"}


def test_integer_keys_hash_as_their_decimal_text():
    """42 is hashed as '42' (§13's second vector): bucket 2188 sits exactly at
    the edge of a 21.88% group."""
    text = "segment s = age >= 0\nsplit spring_test of s { lo 21.88% at 0.01% hi 78.11% }"
    data = {"customers": [{"customer_id": 42, "age": 1}]}
    got, _ = members(text, data, as_of=AS_OF)
    assert got == {42: "at"}


@pytest.mark.parametrize(("salt", "key", "bucket"), VECTORS)
def test_the_vectors_land_in_their_exact_bucket(salt, key, bucket):
    """A 0.01% group at each vector's bucket: the whole pipeline (string keys)."""
    below = f"below {Decimal(bucket) / 100}% " if bucket else ""
    text = f'segment s = 1 = 1\nsplit t of s salt "{salt}" {{ {below}at 0.01% }}'
    data = {"customers": table("customer_id VARCHAR", (key,), ("zz-other",))}
    got, sql = members(text, data, as_of=AS_OF)
    assert got[key] == "at", sql


def test_the_unassigned_rest_gets_null():
    text = "segment s = age >= 0\nsplit t of s { a 10% b 20% }"
    got, _ = members(text, customers(400), as_of=AS_OF)
    assert got == expected(range(1, 401), "t", [("a", 10), ("b", 20)])
    assert sum(v is None for v in got.values()) > 200


def test_a_split_is_a_label_other_definitions_may_compare():
    text = (
        "segment s = age >= 0\nsplit t of s { a 50% b 50% }\n"
        'segment in_a = t = "a"\nsegmentation z { x = t = "b"\n else y }\n'
    )
    got, _ = members(text, customers(100), as_of=AS_OF, segment="in_a")
    split = expected(range(1, 101), "t", [("a", 50), ("b", 50)])
    assert got == {k for k, v in split.items() if v == "a"}


# ------------------------------------------------------------------ stability


def test_a_group_added_from_the_rest_moves_no_one():
    before, _ = members(
        "segment s = age >= 0\nsplit t of s { a 10% b 20% }", customers(1000), as_of=AS_OF
    )
    after, _ = members(
        "segment s = age >= 0\nsplit t of s { a 10% b 20% c 15% }", customers(1000), as_of=AS_OF
    )
    for k, label in before.items():
        assert after[k] == label or (label is None and after[k] == "c"), k
    assert sum(v == "c" for v in after.values()) > 100


def test_changing_the_salt_reshuffles():
    text = 'segment s = age >= 0\nsplit t of s salt "{}" {{ a 50% b 50% }}'
    one, _ = members(text.format("spring"), customers(1000), as_of=AS_OF)
    two, _ = members(text.format("autumn"), customers(1000), as_of=AS_OF)
    moved = sum(one[k] != two[k] for k in one)
    assert 400 < moved < 600  # independent halves: about half move


def test_membership_changes_move_no_one_else():
    """Whether an entity is in a group depends on its own key only."""
    small, _ = members(
        "segment s = age >= 25\nsplit t of s { a 30% b 30% }", customers(500), as_of=AS_OF
    )
    large, _ = members(
        "segment s = age >= 10\nsplit t of s { a 30% b 30% }", customers(500), as_of=AS_OF
    )
    assert all(large[k] == v for k, v in small.items() if v is not None)


# ------------------------------------------------------------------ compile


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: customer_id\nprofiles: customers\n"
        "sources:\n  orders: {table: orders, time: ordered_at}\n"
    )
    (tmp_path / "a.seg").write_text(
        "segment buyers = count(orders) >= 1\n"
        'split cart_test of buyers salt "cart-2024-spring" {\n'
        "  control 10%\n  email   45%\n  sms     45%\n}\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_membership_query_has_a_split_column(project: Path):
    result = api.compile(["a.seg"], dialect="duckdb", as_of=AS_OF)
    assert [(c.name, c.role) for c in result.outputs] == [
        ("customer_id", "key"),
        ("buyers", "segment"),
        ("cart_test", "split"),
    ]
    sql = result.sql()
    assert "/* split cart_test of buyers (a.seg:2) */" in sql
    assert "MD5('cart-2024-spring' || '.' || CAST(\"customer_id\" AS TEXT))" in sql
    assert sql.count("MD5(") == 1  # hashed once, in the bucket column


def test_segmentation_option_takes_a_split(project: Path):
    result = api.compile(["a.seg"], dialect="duckdb", as_of=AS_OF, segmentation="cart_test")
    assert result.mode == "segmentation"
    assert [c.name for c in result.outputs] == ["customer_id", "cart_test"]
    with pytest.raises(SegqlError, match="'cart_test' is a split: use --segmentation cart_test"):
        api.compile(["a.seg"], dialect="duckdb", segment="cart_test")


def test_explain_shows_the_bucket_ranges(project: Path):
    text = api.explain_plan(["a.seg"], dialect="duckdb")
    assert (
        "  cart_test of buyers (a.seg:2): salt 'cart-2024-spring' on customer_id; "
        "control 0-999, email 1000-5499, sms 5500-9999"
    ) in text


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d not in ("duckdb", "postgres")])
def test_sql_parses_back_in_every_other_dialect(project: Path, dialect: str):
    sql = api.compile(["a.seg"], dialect=dialect, as_of=AS_OF).sql()
    assert sqlglot.parse_one(sql, read=DIALECTS[dialect].sqlglot) is not None
    for construct in DIALECTS[dialect].lacks:
        assert construct not in sql.upper()


@pytest.mark.parametrize(
    ("key_type", "ok"),
    [
        ("INTEGER", True),
        ("BIGINT", True),
        ("UBIGINT", True),
        ("VARCHAR", True),
        ("UUID", True),
        ("DECIMAL(18, 0)", True),
        ("DECIMAL(10, 2)", False),
        ("DOUBLE", False),
        ("DATE", False),
    ],
)
def test_key_types(tmp_path: Path, key_type: str, ok: bool):
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute(f"CREATE TABLE customers (customer_id {key_type}, age INTEGER)")
    con.execute(f"CREATE TABLE orders (customer_id {key_type}, ordered_at TIMESTAMP)")
    con.close()
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "a.seg").write_text("segment s = age > 1\nsplit t of s { a 10% }\n")
    if ok:
        api.validate([str(tmp_path / "a.seg")], str(tmp_path / "segql.yml"))
        return
    with pytest.raises(Exception) as e:
        api.validate([str(tmp_path / "a.seg")], str(tmp_path / "segql.yml"))
    assert "split 't' needs an integer or string key" in str(e.value)


# ------------------------------------------------------------------ balance


PROJECT = (
    "entity: customer\nkey: customer_id\nprofiles: customers\n"
    "sources:\n  orders: {table: orders, time: ordered_at}\ndatabase: db.duckdb\n"
)


def _p_value(chi2: float, dof: int) -> float:
    """Upper tail of the chi-square distribution by the Wilson–Hilferty normal
    approximation (accurate to ~1e-3 for thousands of degrees of freedom)."""
    z = ((chi2 / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


def test_p_value_approximation():
    assert abs(_p_value(9999, 9999) - 0.5) < 0.01
    assert _p_value(11000, 9999) < 1e-10
    assert _p_value(9000, 9999) > 0.999999


def test_one_million_keys_are_balanced(tmp_path: Path):
    """Over 1M keys every group is within 0.2 points of its share, and the 10,000
    buckets are uniform (chi-square not rejected at p > 0.001)."""
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute("CREATE TABLE customers AS SELECT range AS customer_id FROM range(1000000)")
    con.execute("CREATE TABLE orders (customer_id BIGINT, ordered_at TIMESTAMP)")
    con.close()
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "a.seg").write_text(
        "segment s = customer_id is not null\n"
        'split t of s salt "balance" { control 10% email 45% sms 44.99% tiny 0.01% }\n'
    )
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    model = api.load([str(tmp_path / "a.seg")], str(tmp_path / "segql.yml"), con=con)
    query = api.compile_model(model, "duckdb", segmentation="t").sql()
    counts = dict(con.execute(f'SELECT "t", count(*) FROM ({query}) GROUP BY 1').fetchall())
    for group, share in [("control", 10), ("email", 45), ("sms", 44.99), ("tiny", 0.01)]:
        assert abs(counts[group] / 10_000 - share) < 0.2, (group, counts[group])
    assert None not in counts
    buckets = f"SELECT b, count(*) FROM ({bucket_select('duckdb', 'balance', 'number')}) GROUP BY b"
    rows = con.execute(buckets).fetchall()
    assert len(rows) == 10_000
    chi2 = sum((n - 100) ** 2 / 100 for _, n in rows)
    assert _p_value(chi2, 9_999) > 0.001, chi2


def test_random_keys_agree_with_hashlib_on_duckdb():
    """10,000 keys (ASCII, Unicode, empty, long) through the compiled split."""
    rng = random.Random(13)
    keys = sorted(set(sample_keys(rng, 10_000)))
    data = {"customers": table("customer_id VARCHAR, age INTEGER", *((k, 1) for k in keys))}
    text = 'segment s = age = 1\nsplit t of s salt "§13 ✓" { a 33.33% b 33.33% c 33.33% }'
    got, sql = members(text, data, as_of=AS_OF)
    assert got == expected(keys, "§13 ✓", [("a", 33.33), ("b", 33.33), ("c", 33.33)]), sql


class _KeyColumn:
    """A scope whose one profile column is the key column `customer_id`."""

    def profile(self, node):
        return exp.Column(this=exp.to_identifier("customer_id", quoted=True))


def bucket_select(dialect: str, salt: str, key_type: str, table: str = "customers") -> str:
    """SELECT customer_id, b: the registry's md5_bucket of each key of a table, as
    a split computes it (a key of unknown type, "any", is cast to text)."""
    d = get_dialect(dialect)
    t = Translator(_KeyColumn(), d, FixedClock(dt.datetime(2024, 1, 1), "UTC", d), "UTC")  # type: ignore[arg-type]
    key = ProfileRef("customer_id", key_type)
    bucket = t.value(ast.Call("md5_bucket", (key, ast.String(salt))))
    q = exp.select(t.value(key), exp.alias_(bucket, "b", quoted=True))
    return q.from_(exp.to_table(table)).sql(dialect=d.sqlglot)


def sample_keys(rng: random.Random, n: int) -> list[str]:
    """Keys of every kind: the §13 vectors, empty, ASCII, Unicode (BMP and
    astral), long, and the text of integers."""
    keys = [k for _, k, _ in VECTORS] + ["", "0", "-1", " ", "a" * 5000]
    alphabets = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@ '\"\\%",
        "äöüßéèçñÄÖÜÉ€£¥©®±µ",
        "日本語中文한국어ひらがなカタカナ",
        "🙂🚀👍🏽𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ]
    while len(keys) < n:
        kind = rng.randrange(6)
        if kind == 0:
            keys.append(str(rng.randrange(-(10**12), 10**12)))
        elif kind == 1:
            keys.append("".join(rng.choice(alphabets[0]) for _ in range(rng.randrange(200, 2000))))
        else:
            alphabet = "".join(rng.sample(alphabets, rng.randrange(1, 4)))
            keys.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24))))
    return keys


# ------------------------------------------------------------------ preview


def test_preview_shows_group_sizes_and_shares(tmp_path: Path):
    from segql.ops.preview import preview
    from segql.ops.render import as_dict, to_csv

    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute("CREATE TABLE customers AS SELECT range AS customer_id FROM range(1, 2001)")
    con.execute("CREATE TABLE orders (customer_id BIGINT, ordered_at TIMESTAMP)")
    con.close()
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "a.seg").write_text(
        "segment low = customer_id <= 1000\nsplit t of low { a 10% b 40% }\n"
    )
    r = preview([str(tmp_path / "a.seg")], str(tmp_path / "segql.yml"), as_of=AS_OF)
    want = expected(range(1, 2001), "t", [("a", 10), ("b", 40)], lambda k: k <= 1000)
    (s,) = r.splits
    assert (s.name, s.segment, s.members) == ("t", "low", 1000)
    sizes = {g.group: g.members for g in s.groups}
    assert sizes == {g: sum(v == g for v in want.values()) for g in ("a", "b")}
    assert s.rest == 1000 - sum(sizes.values())
    assert [g.target for g in s.groups] == [0.1, 0.4]
    assert as_dict(r)["splits"][0]["groups"][0]["share"] == round(sizes["a"] / 1000, 6)
    assert f"group,t,a,{sizes['a']}," in to_csv(r)
    assert [x.name for x in r.segments] == ["low"]  # the split's segment, selected too


def test_split_of_salt_stay_names_outside_a_split():
    """They were names before splits: a rule label or column called so still is."""
    text = (
        "segmentation g {\n  a = x > 1\n  split = y > 2\n  of = 1 > 0\n  salt = 2 > 1\n}\n"
        "segment s = of > salt and split is null\n"
        'split t of s salt "x" { a 10% }\n'
    )
    module = parse_module(text, "a.seg")
    g, s, t = module.definitions
    assert isinstance(g, ast.Segmentation)
    assert [r.label for r in g.rules] == ["a", "split", "of", "salt"]
    assert isinstance(t, ast.Split) and t.salt == "x"
