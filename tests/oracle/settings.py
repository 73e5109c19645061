"""Run sizes and Hypothesis settings of the differential tests.

Default (CI): a few hundred cases per engine, derandomized so that CI is
stable. Long mode (`SEGQL_LONG=1`, tests marked `slow`): at least 20,000 cases
on DuckDB and 2,000 on each other engine, with fresh random seeds each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

LONG = os.environ.get("SEGQL_LONG", "") == "1"

# minimum cases (one output at one as_of, compared for every universe entity)
CI_MIN_CASES = 500
LONG_MIN_CASES = {"duckdb": 20_000, "postgres": 2_000, "spark": 2_000, "bigquery": 2_000}


def hypothesis_settings(examples: int, derandomize: bool) -> settings:
    # No Hypothesis shrinking: a failing case is minimised by harness.minimise,
    # which knows how to drop definitions and rows and is much faster here.
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
