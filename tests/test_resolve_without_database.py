"""Without a database, column names cannot be checked; near-misses of a
definition's name are still reported as typos."""

from __future__ import annotations

import pytest

from segql import api
from segql.errors import SegqlErrors

PROJECT = "key: customer_id\nprofiles: customers\nsources:\n  orders: {table: orders, time: t}\n"


def validate(tmp_path, text: str):
    (tmp_path / "segql.yml").write_text(PROJECT)
    (tmp_path / "a.seg").write_text(text)
    return api.validate([str(tmp_path / "a.seg")], project=str(tmp_path / "segql.yml"))


def test_unknown_names_are_profile_columns(tmp_path):
    model = validate(tmp_path, 'segment s = country = "US" and age > 30\n')
    assert "s" in model.definitions


def test_near_miss_of_a_definition_is_a_typo(tmp_path):
    with pytest.raises(SegqlErrors) as e:
        validate(tmp_path, "trait frequency = count(orders)\nsegment s = frequncy > 2\n")
    (err,) = e.value.errors
    assert err.message == "unknown name 'frequncy' (did you mean 'frequency'?)"
    assert (err.span.line, err.span.col) == (2, 13)
