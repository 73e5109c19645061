"""`segql init [DIR]`: a new project that validates, previews on the built-in
sample (`segql preview . --sample`) and passes its own test at once."""

from __future__ import annotations

from pathlib import Path

from segql.errors import SegqlError
from segql.ops.files import replacing

PROJECT = """\
# The segql project file (docs/language.md, Project file). The tables are those
# of the built-in sample: try `segql preview . --sample`, then point the project
# at your own data (`database:`, or `targets:`, docs/targets.md).
entity: customer
key: customer_id
profiles: customers                 # one row per customer: its columns are attributes
sources:
  orders: {table: orders, time: ordered_at}
  events: {table: web_events, time: occurred_at}
universe: consent_marketing = true  # who may be segmented at all
timezone: UTC
"""

DEFINITIONS = """\
# Your first segments (docs/language.md). `segql validate .` checks them,
# `segql preview . --sample` runs them, `segql test` runs tests/.
trait recency = days_since(last(orders.ordered_at))

segment recent_buyers = count(orders, last 30 days) >= 1

segment cart_abandoners =
  did(events where name = "add_to_cart" then not orders within 1 day, last 7 days)

segmentation lifecycle by priority {
  active = recent_buyers
  lapsed = recency > 90
  else prospects
}
"""

TESTS = """\
# Unit tests (`segql test`, docs/workbench.md): given rows, expected members and labels.
tests:
  - name: an order in the last 30 days makes an active buyer
    as_of: 2024-06-01T00:00:00
    given:
      customers:
        - {customer_id: 1, consent_marketing: true}
        - {customer_id: 2, consent_marketing: true}
      orders:
        - {order_id: 1, customer_id: 1, ordered_at: 2024-05-20T12:00:00, amount: 40}
        - {order_id: 2, customer_id: 2, ordered_at: 2024-01-02T12:00:00, amount: 40}
    expect:
      recent_buyers: [1]
      lifecycle: {1: active, 2: lapsed}
"""


def init(folder: Path) -> list[Path]:
    """Write the project's files into `folder`; nothing is overwritten."""
    from segql.semantic import schema_file

    files = {
        folder / "segql.yml": PROJECT,
        folder / schema_file.SCHEMA_FILE: _sample_schema(),
        folder / "segments.seg": DEFINITIONS,
        folder / "tests" / "segments.yml": TESTS,
    }
    there = [str(p) for p in files if p.exists()]
    if there:
        raise SegqlError(
            f"not overwriting {', '.join(there)}", None, ("run segql init in an empty folder",)
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as f:
            f.write(text)
    return list(files)


def _sample_schema() -> str:
    """schema.yml of the sample tables, so that compile and test know their types."""
    from segql.ops.sample import SAMPLE_TABLES, sample_database
    from segql.semantic import schema_file

    con = sample_database(scale=0.0001)
    try:
        tables = {
            t: {str(r[0]): str(r[1]) for r in con.execute(f'DESCRIBE "{t}"').fetchall()}
            for t in SAMPLE_TABLES
        }
    finally:
        con.close()
    return schema_file.render("duckdb", tables, "duckdb")
