"""Fixtures of the reliability suite (the secret guard and figures summary are in tests/conftest.py)."""
