"""What compile returns (LANGUAGE.md §9, DESIGN.md "Return trees, not text"):
the sqlglot tree, and its output columns taken from the plan — in the order and
under the names the tree projects, with the definition and where it is written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp
from sqlglot.errors import UnsupportedError

from segql import api
from segql.errors import SegqlError
from segql.sql.dialects import DIALECTS
from segql.sql.result import CompileResult, OutputColumn

AS_OF = "2025-07-01"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "segments"

PROJECT = """\
entity: customer
key: customer_id
profiles: customers
sources:
  orders: {table: orders, time: ordered_at}
database: data.duckdb
"""

# line numbers matter: the spans below point at them
A_SEG = """\
trait spend = sum(orders.amount)
segment big = spend > 100

segmentation tier by priority {
  gold = spend > 300
  else plain
}
"""
B_SEG = """\
segment `has orders` = count(orders) >= 1
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("result")
    (root / "segql.yml").write_text(PROJECT)
    (root / "a.seg").write_text(A_SEG)
    (root / "b.seg").write_text(B_SEG)
    con = duckdb.connect(str(root / "data.duckdb"))
    con.execute("CREATE TABLE customers (customer_id INTEGER)")
    con.execute("INSERT INTO customers VALUES (1), (2), (3)")
    con.execute("CREATE TABLE orders (customer_id INTEGER, ordered_at TIMESTAMP, amount DOUBLE)")
    con.execute("INSERT INTO orders VALUES (1, '2025-06-01', 400), (2, '2025-06-01', 150)")
    con.close()
    return root


def compile_in(project: Path, **kw) -> CompileResult:
    paths = [str(project / "a.seg"), str(project / "b.seg")]
    return api.compile(paths, project=str(project / "segql.yml"), as_of=AS_OF, **kw)


def where(c: OutputColumn) -> tuple[str, int] | None:
    return None if c.span is None else (Path(c.span.file).name, c.span.line)


def run(project: Path, result: CompileResult) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(str(project / "data.duckdb"), read_only=True)
    try:
        cur = con.execute(result.sql())
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def projected(result: CompileResult) -> list[str]:
    return result.tree.named_selects


def test_a_segment_outputs_the_key_only(project: Path) -> None:
    r = compile_in(project, segment="big")
    assert r.mode == "segment" and r.dialect.name == "duckdb"
    assert r.outputs == (OutputColumn("customer_id", "key", None, None),)
    assert projected(r) == ["customer_id"]
    assert run(project, r) == (["customer_id"], [(1,), (2,)])


def test_a_segmentation_outputs_key_and_label(project: Path) -> None:
    r = compile_in(project, segmentation="tier")
    assert r.mode == "segmentation"
    assert [(c.name, c.role, c.definition) for c in r.outputs] == [
        ("customer_id", "key", None),
        ("tier", "label", "tier"),
    ]
    assert where(r.outputs[1]) == ("a.seg", 4)
    assert projected(r) == [c.name for c in r.outputs]
    assert run(project, r)[1] == [(1, "gold"), (2, "plain"), (3, "plain")]


def test_the_membership_query_outputs_key_segments_and_labels_in_order(project: Path) -> None:
    r = compile_in(project)
    assert r.mode == "membership"
    # traits are not output; a name that needs quoting is the column's name as written
    assert [(c.name, c.role, c.definition, where(c)) for c in r.outputs] == [
        ("customer_id", "key", None, None),
        ("big", "segment", "big", ("a.seg", 2)),
        ("tier", "label", "tier", ("a.seg", 4)),
        ("has orders", "segment", "has orders", ("b.seg", 1)),
    ]
    assert projected(r) == [c.name for c in r.outputs]
    columns, rows = run(project, r)
    assert columns == [c.name for c in r.outputs]
    assert rows == [(1, True, "gold", True), (2, True, "plain", True), (3, False, "plain", False)]


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_outputs_match_the_projected_columns_of_every_example(dialect: str) -> None:
    model = api.load([str(EXAMPLES)], project=str(EXAMPLES))
    r = api.compile_model(model, dialect, api.parse_as_of(AS_OF, "UTC"))
    assert [c.name for c in r.outputs] == [model.project.key, *model.selected]
    assert projected(r) == [c.name for c in r.outputs]
    for name in model.selected:
        option = "segmentation" if model.kind(name) == "split" else model.kind(name)
        alone = api.compile_model(model, dialect, None, **{option: name})
        assert projected(alone) == [c.name for c in alone.outputs]


def test_sql_has_no_semicolon_unless_a_script(project: Path) -> None:
    r = compile_in(project)
    text = r.sql()
    assert text.endswith("\n") and not text.rstrip().endswith(";")
    assert r.sql(script=True) == text[:-1] + ";\n"
    assert r.sql() == text  # asking again gives the same bytes
    assert r.sql() == compile_in(project).sql()


def test_the_tree_is_wrapped_not_the_text(project: Path) -> None:
    r = compile_in(project)
    big = next(c for c in r.outputs if c.definition == "big")
    outer = exp.select(exp.Count(this=exp.Star())).from_(r.tree.subquery("m")).where(big.name)
    con = duckdb.connect(str(project / "data.duckdb"), read_only=True)
    try:
        assert con.execute(outer.sql(dialect="duckdb")).fetchone() == (2,)
    finally:
        con.close()


def test_what_a_dialect_cannot_express_is_an_error(project: Path) -> None:
    class Unsupported(exp.Select):
        def sql(self, *args, **kwargs) -> str:
            raise UnsupportedError("no such construct")

    r = dataclasses.replace(compile_in(project, dialect="bigquery"), tree=Unsupported())
    with pytest.raises(SegqlError, match="cannot express this on bigquery: no such construct"):
        r.sql()
