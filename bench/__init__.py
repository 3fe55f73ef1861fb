"""Benchmarks against the real local broker: `python -m bench` (see docs/benchmarks.md)."""
