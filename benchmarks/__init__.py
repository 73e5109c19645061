"""segql benchmarks: `python -m benchmarks.run --scale 1` (see docs/performance.md)."""
