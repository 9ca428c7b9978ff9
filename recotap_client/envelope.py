"""The response envelope: the `data` member of a successful answer.

A 2xx body that is not the JSON envelope (a proxy's error page, a truncated body) is a
retriable failure, not an empty result.

Reference: docs/recotap-api.md §2.4 (envelope).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from recotap_client.errors import RecotapRetriableError
from recotap_client.failures import describe_request

if TYPE_CHECKING:
    import requests

_T = TypeVar("_T")
_Data = TypeVar("_Data")


class Envelope(msgspec.Struct, Generic[_Data]):
    """The response envelope (§2.4), as far as a client reads it: `data`, typed as asked."""

    data: _Data


_raw_data_decoder = msgspec.json.Decoder(Envelope[msgspec.Raw])
_data_decoder = msgspec.json.Decoder(Envelope[Any])


def envelope_data_json(response: requests.Response) -> msgspec.Raw:
    """The `data` member of a successful response's envelope (§2.4), still JSON text.

    The whole body is checked to be JSON, but only the envelope is built: what `data` holds is
    decoded by the caller, when and where it needs it.
    """
    return _envelope_data(response, _raw_data_decoder)


def envelope_data(response: requests.Response) -> Any:
    """The `data` member of a successful response's envelope (§2.4), decoded."""
    return _envelope_data(response, _data_decoder)


def _envelope_data(response: requests.Response, decoder: msgspec.json.Decoder[Envelope[_T]]) -> _T:
    try:
        return decoder.decode(response.content).data
    except msgspec.ValidationError as exc:  # JSON, but no object with `data`
        raise RecotapRetriableError(
            f"Recotap sent a body without the response envelope to {describe_request(response)}",
            response,
        ) from exc
    except msgspec.DecodeError as exc:
        raise RecotapRetriableError(
            f"Recotap sent an unreadable body to {describe_request(response)}", response
        ) from exc
