"""The RFM segmentation of benchmarks/project/segments/rfm.seg, the pandas way.

Written the way a data-team script does it: read the tables into DataFrames,
filter, groupby/agg, rank, then a row-wise apply for the labels. It follows
segql's semantics exactly (LANGUAGE.md §5–§8) so that its labels can be
compared with segql's, entity by entity:

- universe: customers with is_test = false;
- recency = whole days from the last order to as_of; frequency and monetary over
  the last 365 days (as_of − 365 days < time ≤ as_of), 0 without orders;
- score(x, 5) = ceil(5 × share of universe entities with x not null whose x ≤ this
  one), computed exactly on integers, as segql does;
- labels by priority, first true rule wins; a null score makes its rule false.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np


def load_frames(con) -> tuple:
    """The DataFrames a script would start from (only the columns it needs)."""
    customers = con.execute("SELECT customer_id, is_test FROM customers").df()
    orders = con.execute("SELECT customer_id, ordered_at, amount FROM orders").df()
    return customers, orders


def _score(x, n: int = 5):
    """ceil(n × percentile(x)); NaN where x is missing."""
    le = x.rank(method="max")  # how many non-null values are <= this one (ties share)
    count = x.notna().sum()
    # ceil(n * le / count) on integers: no floating error at the bin edges
    return le.apply(lambda v: math.nan if math.isnan(v) else -((-n * int(v)) // int(count)))


def _label(row) -> str:
    r, f, m = row["r_score"], row["f_score"], row["m_score"]
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if f >= 4 and m >= 3:
        return "loyal"
    if r >= 4 and f >= 2:
        return "potential_loyal"
    if r == 5 and f == 1:
        return "new_rfm"
    if r == 3 and f >= 3:
        return "needs_attention"
    if r <= 2 and f >= 3:
        return "at_risk_rfm"
    if r <= 2:
        return "hibernating"
    return "others"  # comparisons with NaN are False, as in segql


def rfm(customers, orders, as_of: dt.datetime):
    """DataFrame indexed by customer_id with recency, frequency, monetary, the
    three scores and the rfm label, for every universe customer."""
    import pandas as pd

    as_of_ts = pd.Timestamp(as_of)
    universe = customers.loc[customers["is_test"] == False, ["customer_id"]]  # noqa: E712
    visible = orders[orders["ordered_at"] <= as_of_ts]
    last = visible.groupby("customer_id").agg(last_order=("ordered_at", "max"))
    year = visible[visible["ordered_at"] > as_of_ts - pd.Timedelta(days=365)]
    fm = year.groupby("customer_id").agg(
        frequency=("ordered_at", "count"), monetary=("amount", "sum")
    )
    df = universe.set_index("customer_id").join(last).join(fm)
    df["frequency"] = df["frequency"].fillna(0)
    # amounts are DECIMAL(12, 2) in the database but float64 here: float sums of the same
    # cents differ in the last bit with the summation order, and at a quintile edge that
    # changes a score (2 of 989,979 customers at scale 10). Round back to cents.
    df["monetary"] = df["monetary"].fillna(0).round(2)
    df["recency"] = (as_of_ts - df["last_order"]).dt.floor("D").dt.days
    df["r_score"] = _score(-df["recency"])
    df["f_score"] = _score(df["frequency"])
    df["m_score"] = _score(df["monetary"])
    df["rfm"] = df.apply(_label, axis=1)
    return df


def run_rfm_package(orders, as_of: dt.datetime):
    """The PyPI `rfm` package on the same orders (its own recency base and binning,
    so its labels are not comparable; timed for reference)."""
    from rfm import RFM

    frame = (
        orders[orders["ordered_at"] <= as_of]
        .rename(columns={"ordered_at": "order_date"})[["customer_id", "order_date", "amount"]]
        .copy()
    )
    frame["amount"] = frame["amount"].astype(np.float64)
    model = RFM(
        frame,
        customer_id="customer_id",
        transaction_date="order_date",
        amount="amount",
        automated=True,
    )
    return model.rfm_table
