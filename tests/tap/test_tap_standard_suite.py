"""The Singer SDK's standard tap tests, pointed at a sandbox.

The SDK builds its per-stream and per-property tests while the module is collected (it
discovers the streams then), before any fixture runs, so this module starts its own sandbox at
import time instead of using the `sandbox` fixture, and stops it at exit.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from recotap_sandbox.control import SandboxProcess
from tap_recotap.tap import TapRecotap

_SANDBOX = SandboxProcess(
    api_key="standard-suite-key", args=["--seed-accounts", "250", "--seed", "7"]
).start()
atexit.register(_SANDBOX.stop)

_CONFIG = {
    "api_key": _SANDBOX.api_key,
    "api_url": _SANDBOX.api_url,
    "page_size": 60,  # several pages of accounts
    "retry_base_delay": 0.01,
}

# No record limit: a full sync of every stream is small here, and the primary-key and
# attribute tests then see every record, not the first page.
_SUITE = SuiteConfig(max_records_limit=None)

StandardTapTests = get_tap_test_class(TapRecotap, config=_CONFIG, suite_config=_SUITE)


class TestTapRecotapStandard(StandardTapTests):
    """SDK standard tests: CLI, discovery, stream connections, schemas, keys, attributes."""
