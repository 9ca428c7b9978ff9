"""Benchmarks of tap-recotap and target-recotap against the local sandbox (issue 7).

Run with `.venv/bin/python -m benchmarks`; see docs/benchmarks.md.
"""
