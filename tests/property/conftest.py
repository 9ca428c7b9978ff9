"""Property-based tests (Hypothesis): random Singer streams through target-recotap.

One Hypothesis profile for every property test: a bounded number of examples, no deadline (a
run talks to a real sandbox over HTTP), derandomized and without an example database, so CI
and every machine run the very same examples (a failure reproduces anywhere). Raise the
number of examples for a deeper local search: `HYPOTHESIS_MAX_EXAMPLES=500 pytest tests/property`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# `run.py mutate` needs a failure fast, not its smallest example: shrinking could outlast the
# time mutmut allows a test run, and a failure would count as a time-out, not as a kill.
PHASES = [p for p in Phase if p is not Phase.shrink or not os.environ.get("HYPOTHESIS_NO_SHRINK")]

settings.register_profile(
    "recotap",
    phases=PHASES,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "50")),
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # The session sandbox is reset inside each example, not by a per-test fixture.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("recotap")
