"""Load benchmarks for chatd: `python -m bench SCENARIO [options]` (see bench/RESULTS.md and README.md)."""
