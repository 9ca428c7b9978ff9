"""The one base stream for the Recotap External API.

URL, auth, paging and request shaping live here; the error and retry policy is delegated to
`recotap_client` (shared with target-recotap), so this module holds no HTTP policy of its own.
The page loop and the record path come from `FastRESTStream` (one page fetched ahead).
"""

from __future__ import annotations

import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from singer_sdk.authenticators import APIKeyAuthenticator

from recotap_client.answers import raise_for_response
from recotap_client.paging import require_paging
from recotap_client.retry import RetryPolicy, retry_policy_from_config
from recotap_client.session import read_environment_once
from recotap_client.settings import API_KEY_HEADER, check_api_url, clean_api_key
from tap_recotap.fast_stream import FastRESTStream
from tap_recotap.pagination import PageToken, RecotapPaginator, read_page
from tap_recotap.transport import TapTransportAdapter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context, RequestFunc


class RecotapStream(FastRESTStream[PageToken]):
    """Base class of every Recotap stream: one GET list endpoint under `api_url`."""

    #: False for the bare-array endpoints (§4.4, §4.6), which take no `cursor`.
    paginated: ClassVar[bool] = True

    # A redirect is an error (recotap_client.answers.raise_for_response): followed, it would
    # carry the key header to wherever it points.
    allow_redirects = False

    @cached_property
    @override
    def url_base(self) -> str:
        return check_api_url(self.config["api_url"])

    @override
    def get_url(self, context: Context | None) -> str:
        # Recotap paths hold no `{placeholders}` (and the config cannot change during a run):
        # skip the SDK's search for every config value in the URL, done for every page.
        return self.url_base + (self.path or "")

    @property
    @override
    def requests_session(self) -> requests.Session:
        # The SDK's session re-reads every environment variable on each request (a tenth of the
        # tap's per-page CPU); read the proxy and CA-bundle environment once instead.
        session = super().requests_session
        if session.trust_env:  # not set up yet (read_environment_once turns it off)
            session.verify = read_environment_once(session, self.url_base)
            # Page hand-over right after the next request is sent, one pool lookup per host.
            for prefix in ("https://", "http://"):
                session.mount(prefix, TapTransportAdapter())
        return session

    @property
    @override
    def authenticator(self) -> APIKeyAuthenticator:
        # §2.2: the key travels only in this header; no message of ours prints headers.
        return APIKeyAuthenticator(key=API_KEY_HEADER, value=clean_api_key(self.config["api_key"]))

    @property
    @override
    def timeout(self) -> float:  # type: ignore[override]  # the SDK types it int; seconds may be fractional
        return float(self.config["request_timeout"])

    @property
    def page_size(self) -> int:
        """The `limit` sent to paginated endpoints (the tap refuses values above 500)."""
        return int(self.config["page_size"])

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """Retry settings shared with target-recotap (recotap_client.retry)."""
        return retry_policy_from_config(self.config)

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        return self.retry_policy.wrap(func, self.logger)

    @override
    def validate_response(self, response: requests.Response) -> None:
        raise_for_response(response)
        # Decoding here, inside the retried call, makes a truncated or non-JSON 2xx body a
        # retriable failure (recotap_client.envelope) instead of a crash after the retry loop.
        page = read_page(response)
        if self.paginated:
            require_paging(page, response)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        yield from read_page(response).records

    @override
    def page_has_records(self, response: requests.Response) -> bool:
        return not read_page(response).is_empty

    @override
    def get_new_paginator(self) -> RecotapPaginator | None:
        return RecotapPaginator() if self.paginated else None

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        if not self.paginated:
            return {}
        cursor = next_page_token.cursor if next_page_token else None
        # §2.5: omit `cursor` on the first page (None values are left out of the query).
        return {"limit": self.page_size, "cursor": cursor}
