"""Which error an answer of the API is: the classification of non-2xx statuses.

A redirect is never followed (the key would go with it), 429 and 5xx are retriable, 401 gets
the help text for a wrong key or a workspace without API access, and any other refusal is
explained by the API's `customMessage` or validation list.

Reference: docs/recotap-api.md §2.2 (auth), §5 (errors), §6 (retries).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec

from recotap_client.errors import (
    RecotapAPIError,
    RecotapAuthError,
    RecotapRedirectError,
    RecotapRetriableError,
)
from recotap_client.failures import describe_location, describe_request
from recotap_client.retry import retry_after_seconds

if TYPE_CHECKING:
    import requests

# 401 for a missing key, a wrong key, or a workspace whose API access the account manager has
# not enabled yet (§2.2, §5.2: the text for the last case is not documented).
AUTH_HELP = (
    "Recotap rejected the API key (HTTP 401{detail}). Either the key is wrong or was "
    "regenerated (a new key invalidates the old one: Settings > Workspace > Tech Settings > "
    "API Access Key), or API access is not enabled for this workspace yet (ask your Recotap "
    "account manager to enable it)."
)


def raise_for_response(response: requests.Response) -> None:
    """Raise the right exception for a non-2xx response; return for success."""
    status = response.status_code
    if status < HTTPStatus.MULTIPLE_CHOICES:
        return
    where = describe_request(response)
    if status < HTTPStatus.BAD_REQUEST:
        # The API documents no redirects (§2.1, §5). Following one would send the key header, and a
        # write's body, to wherever it points (requests keeps custom headers across hosts).
        raise RecotapRedirectError(
            f"Recotap answered {where} with a redirect (HTTP {status}) to "
            f"{describe_location(response)}; it was not followed, so neither the API key nor "
            "any data went there. The API documents no redirects: check api_url (scheme, host "
            "and the /api/v1 path) and any proxy in between.",
            status_code=status,
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        error = RecotapRetriableError(f"Recotap answered {status} to {where}", response)
        error.retry_after = retry_after_seconds(response)
        raise error
    try:
        body = msgspec.json.decode(response.content) if response.content else None
    except msgspec.DecodeError:
        body = None
    custom, details = _error_explanation(body)
    if status == HTTPStatus.UNAUTHORIZED:
        said = (body or {}).get("message") if isinstance(body, dict) else None
        detail = f': "{custom or said}"' if (custom or said) else ""
        raise RecotapAuthError(AUTH_HELP.format(detail=detail), status_code=status)
    explanation = custom or format_validation_details(details) or response.reason or "no detail"
    raise RecotapAPIError(
        f"Recotap refused {where} with HTTP {status}: {explanation}",
        status_code=status,
        custom_message=custom,
        details=details,
    )


def _error_explanation(body: Any) -> tuple[str | None, list[Any]]:
    """Pull `customMessage` and the validation list out of an error body (§5.1).

    Parsed defensively: `data` may be a list of class-validator errors or null, and
    `customMessage` is optional.
    """
    if not isinstance(body, dict):
        return None, []
    custom = body.get("customMessage")
    data = body.get("data")
    details = data if isinstance(data, list) else []
    return (str(custom) if custom else None), details


def format_validation_details(details: list[Any]) -> str:
    """Render class-validator errors as `property: rule text; ...`."""
    parts = []
    for item in details:
        if isinstance(item, dict):
            constraints = item.get("constraints") or {}
            texts = ", ".join(str(v) for v in constraints.values()) or "invalid"
            parts.append(f"{item.get('property', '?')}: {texts}")
        else:
            parts.append(str(item))
    return "; ".join(parts)
