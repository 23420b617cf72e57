"""Benchmarks of Grove (run as modules, e.g. `python -m bench.sdk`); they print figures."""
