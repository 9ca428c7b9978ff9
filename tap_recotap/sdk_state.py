"""The tap's only reach into singer-sdk's private state helpers, quarantined here.

singer-sdk 0.54 gives a stream no public accessor for two entries of its own state: the
progress markers (what it promotes to the bookmark at the end of a complete sync) and the
replication-key signpost (the ceiling of that promotion). `AccountsStream` reads both, to keep
the bookmark where it was after an untrusted first page and to set the signpost from the
server's clock. Replace these with the SDK's public API once it has one (singer-sdk's state
handling lives in `singer_sdk/helpers/_state.py` and `singer_sdk/streams/_state.py`; the
signpost's meaning as a ceiling of the promotion is meltano/sdk#179 / #516, and
meltano/sdk#2753 proposes letting a stream shape how bookmarks are compared there);
`tests/test_sdk_private_pins.py` fails when the names or their meaning change.
"""

from singer_sdk.helpers._state import PROGRESS_MARKERS, SIGNPOST_MARKER

__all__ = ["PROGRESS_MARKERS", "SIGNPOST_MARKER"]
