"""Which error each answer of the API becomes, in-process over loopback HTTP (§2.2, §5, §6).

What the plugins' users read (the message, word for word) and what the target's refusal logic
reads (status code, `customMessage`, the validation list), for answers the sandbox never gives:
redirects, a 300, a 401 with or without a reason, error bodies that are not the API's.
"""

from __future__ import annotations

import pytest

from recotap_client.answers import AUTH_HELP
from recotap_client.errors import RecotapAPIError, RecotapAuthError, RecotapRedirectError
from tests.hostile.hostile_server import Reply


def refusal(hostile, session, reply: Reply) -> RecotapAPIError:
    hostile.always("POST", "/accounts", reply)
    with pytest.raises(RecotapAPIError) as failure:
        session.request("POST", "/accounts", json={"accounts": []})
    return failure.value


def auth_help(detail: str) -> str:
    return AUTH_HELP.format(detail=detail)


@pytest.mark.parametrize("status", [300, 302, 307, 399])
def test_a_redirect_is_refused_naming_where_it_pointed(hostile, session, status):
    reply = Reply(status, b"", {"Location": "http://127.0.0.1:9/elsewhere?key=1"})

    error = refusal(hostile, session, reply)

    assert type(error) is RecotapRedirectError
    assert error.status_code == status
    assert str(error) == (
        f"Recotap answered POST /api/v1/accounts with a redirect (HTTP {status}) to "
        "http://127.0.0.1:9/elsewhere; it was not followed, so neither the API key nor any data "
        "went there. The API documents no redirects: check api_url (scheme, host and the "
        "/api/v1 path) and any proxy in between."
    )


def test_the_last_success_status_is_a_success(hostile, session):
    hostile.always("POST", "/accounts", Reply.envelope({"created": 1}, status=299))

    assert session.request("POST", "/accounts", json={}) == {"created": 1}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # The API's own words: customMessage first, else its message.
        ({"message": "Unauthorized", "data": None}, ': "Unauthorized"'),
        ({"customMessage": "Key revoked", "data": None}, ': "Key revoked"'),
        ({"customMessage": "Key revoked", "message": "Unauthorized"}, ': "Key revoked"'),
        ({"statusCode": 401}, ""),
        ([{"message": "Unauthorized"}], ""),
        ("Unauthorized", ""),
    ],
)
def test_a_401_explains_both_causes_with_the_apis_reason_when_it_gives_one(
    hostile, session, body, detail
):
    error = refusal(hostile, session, Reply.json(body, status=401))

    assert type(error) is RecotapAuthError
    assert error.status_code == 401
    assert str(error) == auth_help(detail)
    assert str(error).startswith(f"Recotap rejected the API key (HTTP 401{detail}). Either")


@pytest.mark.parametrize("body", [b"", b"<html>Unauthorized</html>"])
def test_a_401_without_a_json_body_still_explains_both_causes(hostile, session, body):
    error = refusal(hostile, session, Reply(401, body))

    assert (type(error), error.status_code, str(error)) == (RecotapAuthError, 401, auth_help(""))


def test_a_refusal_carries_the_custom_message_and_the_validation_list(hostile, session):
    details = [
        {
            "property": "domain",
            "constraints": {"isFqdn": "domain must be a domain", "max": "too long"},
        },
        {"constraints": {"isDefined": "must be defined"}},
        {"property": "name", "constraints": {}},
        "accounts must not be empty",
    ]
    body = {"statusCode": 400, "message": "Bad Request", "data": details}

    error = refusal(hostile, session, Reply.json(body, status=400))

    assert (type(error), error.status_code) == (RecotapAPIError, 400)
    assert (error.custom_message, error.details) == (None, details)
    assert str(error) == (
        "Recotap refused POST /api/v1/accounts with HTTP 400: domain: domain must be a domain, "
        "too long; ?: must be defined; name: invalid; accounts must not be empty"
    )

    body = {"customMessage": "Segment name taken", "data": details}
    error = refusal(hostile, session, Reply.json(body, status=409))
    assert (error.status_code, error.custom_message, error.details) == (
        409,
        "Segment name taken",
        details,
    )
    assert str(error) == "Recotap refused POST /api/v1/accounts with HTTP 409: Segment name taken"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"message": "Not Found", "data": {"property": "id"}}',
        b'{"data": []}',
        b'["a list"]',
    ],
)
def test_a_refusal_without_explanation_falls_back_to_the_reason_phrase(hostile, session, body):
    error = refusal(hostile, session, Reply(404, body))

    assert (error.status_code, error.custom_message, error.details) == (404, None, [])
    assert str(error) == "Recotap refused POST /api/v1/accounts with HTTP 404: Not Found"


def test_a_refusal_without_explanation_nor_reason_phrase_says_so(hostile, session):
    # 499 is in no table of reason phrases: the status line carries none.
    error = refusal(hostile, session, Reply(499, b""))

    assert str(error) == "Recotap refused POST /api/v1/accounts with HTTP 499: no detail"
