"""recotap_sandbox: a local, deterministic stand-in for the Recotap External API (newer generation).

Run it with ``recotap-sandbox`` or ``python -m recotap_sandbox``; drive it from tests with
:mod:`recotap_sandbox.control`. Behaviour and every choice on the reference's open questions are
documented in ``docs/sandbox.md``.
"""
