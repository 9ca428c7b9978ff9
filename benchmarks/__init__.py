"""Benchmarks of tap-recotap and target-recotap against the local sandbox (issue 17's goals).

Run with `.venv/bin/python -m benchmarks`; see docs/benchmarks.md.
"""
