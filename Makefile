# `make check` runs what CI runs (minus the Debian installs of .ci/run).
.PHONY: check lint test golden bench

lint:
	ruff check segql tests benchmarks

test:
	SEGQL_REQUIRE_ENGINES=1 python -m pytest -q -m "not slow or slow"

check: lint test

bench:
	python -m benchmarks.run --scale 1
