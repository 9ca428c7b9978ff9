"""target-recotap's only reach into singer-sdk's private parts, quarantined here.

singer-sdk 0.54 emits the tap's latest STATE from `Target.drain_all` (at the end of the input,
every 5 minutes, and when a schema change retires a sink), right after it drained the sinks.
Draining here hands each batch to a worker thread (`in_flight.py`), so a drained batch may not
be confirmed by the API yet, and a STATE emitted then would pass records that were never
stored. `drain_all` is `@final` and offers no public hook between the drain and the STATE, so
the one private use is an override of `Target._write_state_message`, the step that writes it.

The seam that would replace it: a public hook that `drain_all` calls between the drain and
the STATE (or a way for a sink to say its batches are not yet confirmed). Upstream, the nearest
threads are meltano/sdk#3775 (a STATE acknowledging a batch not yet committed, after a signal
during a drain) and meltano/sdk#3000 / #3040 (when `_write_state_message` should write); none
offers the hook yet, so ask for it there before the next SDK upgrade.
`tests/test_sdk_private_pins.py` fails when the SDK renames the step, changes its signature or
stops calling it after the drain.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk.target_base import Target

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class StateAfterConfirmation(Target):
    """A Target that asks `state_may_pass` before it passes a STATE on."""

    def state_may_pass(self) -> bool:
        """Called right before each STATE is written: wait, raise or say no (default: yes)."""
        return True

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        if self.state_may_pass():
            super()._write_state_message(state)
