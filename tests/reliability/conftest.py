"""Reliability suite (issue 6). Its secret guard and figures summary are in tests/conftest.py."""
