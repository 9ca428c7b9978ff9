"""tap-recotap: settings, the stream list, and discovery of the account custom fields."""

from __future__ import annotations

import gc
import logging
import sys
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from recotap_client.errors import RecotapAPIError
from recotap_client.session import RecotapSession, session_from_config
from recotap_client.settings import InvalidAPIKeyError
from recotap_plugin_common.settings import CONNECTION_SETTINGS
from recotap_plugin_common.settings_check import SettingsCheck
from tap_recotap.output import RecordBlockWriter
from tap_recotap.schemas import account_schema
from tap_recotap.streams import (
    MAX_LIMIT,
    AccountsStream,
    CustomFieldsStream,
    SegmentsStream,
    UnmappedAccountsStream,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterator

    import click
    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from singer_sdk.io_base import GenericSingerWriter
    from singer_sdk.streams import Stream

_logger = logging.getLogger("tap-recotap")


class TapRecotap(SettingsCheck, Tap):
    """Singer tap for the Recotap External API."""

    name = "tap-recotap"
    package_name = "recotap-singer"  # the distribution, for --version and --about
    # The accounts schema comes from the workspace's custom fields (§4.6): re-discover after
    # creating fields (Meltano caches catalogs: `--refresh-catalog`).
    dynamic_catalog = True
    # The SDK's msgspec writer, RECORD lines written in blocks (tap_recotap/output.py).
    message_writer_class: type[GenericSingerWriter[Any, Any]] = RecordBlockWriter

    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.DISCOVER,
        TapCapabilities.STATE,
        TapCapabilities.TEST,  # not among the SDK defaults although --test works
        # With `emit_activate_version_messages`, the SDK sends ACTIVATE_VERSION before each
        # full-table stream's records; a loader that supports it drops what was not re-sent.
        TapCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        # Meltano then shows our log levels as such: a WARNING reaches a scheduled job's alerts.
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema: ClassVar[dict[str, Any]] = th.PropertiesList(
        *CONNECTION_SETTINGS,
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="First run only: accounts updated since this time (sent as lastSync). "
            "Ignored once the accounts stream has a bookmark. Unset: every account.",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=MAX_LIMIT),
            default=100,
            title="Page size",
            description=f"Records per request (limit) for accounts and segments, 1 to "
            f"{MAX_LIMIT} (the API maximum).",
        ),
        th.Property(
            "domains",
            th.ArrayType(th.StringType),
            title="Domains",
            description="Only read these accounts (by domain, normalised by Recotap). Longer "
            "lists are sent 100 per request. Unset or empty: all accounts. Changing it? Clear "
            "the accounts bookmark so newly listed accounts are read in full.",
        ),
        th.Property(
            "lookback_seconds",
            th.IntegerType(minimum=0),
            default=5,
            title="Look-back",
            description="Seconds before the first page's server time (syncTimestamp) that the "
            "accounts bookmark is set to, and so the next run's lastSync starts from. Covers "
            "writes the API stamps around the moment it reads; costs only repeats of accounts "
            "changed in that window.",
        ),
        th.Property(
            # The SDK reads this key but, for taps, declares no setting for it (0.54).
            "emit_activate_version_messages",
            th.BooleanType,
            default=False,
            title="Emit ACTIVATE_VERSION",
            description="Send ACTIVATE_VERSION for the full-table streams (segments, "
            "custom_fields, unmapped_accounts), so that a loader supporting it (e.g. "
            "target-postgres, target-snowflake) removes rows Recotap no longer returns: "
            "archived segments, deactivated fields, accounts mapped since. Leave off for "
            "loaders without activate-version support.",
        ),
    ).to_dict()

    @classmethod
    @override
    def invoke(cls, **kwargs: Any) -> None:
        """Run the tap from the command line, its start-up objects out of the collector's sight.

        The SDK's imports leave some 50,000 long-lived objects. Every full garbage collection
        during the sync walks them again, and so do the interpreter's collections at exit: 0.1 s
        of every run, 0.02 s once frozen (measured). Nothing made so far is garbage we need back
        (as in target-recotap; command line only, so tests' processes are left alone).
        """
        gc.freeze()
        with _recotap_errors_in_one_line():
            super().invoke(**kwargs)

    @classmethod
    @override
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        with _recotap_errors_in_one_line():
            super().cb_discover(ctx, param, value)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        with _recotap_errors_in_one_line():
            super().cb_test(ctx, param, value)

    @cached_property
    def session(self) -> RecotapSession:
        """The run's one Recotap session (discovery and every stream): a 429 holds them all."""
        return session_from_config(self.config, user_agent=self.name, logger=_logger)

    def discover_streams(self) -> list[Stream]:
        """The four streams; the accounts schema is typed from the custom fields."""
        session = self.session
        return [
            AccountsStream(self, session, schema=self._accounts_schema()),
            SegmentsStream(self, session),
            CustomFieldsStream(self, session),
            UnmappedAccountsStream(self, session),
        ]

    def _accounts_schema(self) -> dict[str, Any]:
        # With a catalog (a sync), its schema wins: no need to ask the API again.
        entry = self.input_catalog.get_stream("accounts") if self.input_catalog else None
        if entry is not None and entry.schema is not None:
            return entry.schema.to_dict()
        fields = self.session.get("/accounts/custom-fields")
        return account_schema(fields if isinstance(fields, list) else [])


@contextmanager
def _recotap_errors_in_one_line() -> Iterator[None]:
    """Report a Recotap error (a refusal, an outage, an unusable key) as its message and exit 1.

    The message says what failed and what to do; the traceback of the HTTP stack (five chained
    ones for a refused connection) only buried it. It is still logged at DEBUG level.
    """
    try:
        yield
    except (RecotapAPIError, InvalidAPIKeyError) as exc:
        _logger.error("%s", exc)  # noqa: TRY400 (the traceback is the noise removed here)
        _logger.debug("Where it failed:", exc_info=True)
        sys.exit(1)
