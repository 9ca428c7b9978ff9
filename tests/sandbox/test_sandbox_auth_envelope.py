"""Auth (§2.2), the response envelope (§2.4) and the two error shapes (§5.1)."""

from __future__ import annotations

import re

import requests

DISABLED_KEY = "disabled-key"  # what tests/sandbox/conftest.py starts flagged_process with

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _business_error(response: requests.Response, status: int, custom: str) -> None:
    body = response.json()
    assert response.status_code == status
    assert body["statusCode"] == status
    assert body["customMessage"] == custom
    assert body["data"] is None
    assert ISO_MS.match(body["timestamp"])


def test_missing_key_is_401_header_required(sandbox):
    response = requests.get(f"{sandbox.api_url}/accounts", timeout=5)
    _business_error(response, 401, "X-Api-Key header is required")
    assert response.json()["message"] == "Unauthorized"


def test_wrong_key_is_401_invalid(sandbox):
    response = requests.get(f"{sandbox.api_url}/segments", headers={"X-Api-Key": "nope"}, timeout=5)
    _business_error(response, 401, "Invalid API key")
    assert response.json()["path"] == "/api/v1/segments"


def test_disabled_workspace_key_is_401_access_not_enabled(flagged_process):
    response = requests.get(
        f"{flagged_process.api_url}/accounts", headers={"X-Api-Key": DISABLED_KEY}, timeout=5
    )
    _business_error(response, 401, "API access is not enabled for this workspace")


def test_success_envelope_has_status_timestamp_path_data(api):
    body = api.get("/accounts/custom-fields").json()
    assert list(body) == ["statusCode", "timestamp", "path", "data"]
    assert body["statusCode"] == 200
    assert body["path"] == "/api/v1/accounts/custom-fields"
    assert ISO_MS.match(body["timestamp"])


def test_validation_error_shape_is_class_validator_list(api):
    response = api.send("POST", "/accounts", {"accounts": [{"name": "No Domain"}]})
    body = response.json()
    assert response.status_code == 400
    assert body["message"] == "Bad Request"
    assert "customMessage" not in body
    assert body["data"] == [
        {
            "property": "accounts.0.domain",
            "constraints": {
                "isNotEmpty": "domain should not be empty",
                "isString": "domain must be a string",
            },
        }
    ]


def test_unknown_route_is_404_in_envelope_without_key(sandbox):
    response = requests.get(f"{sandbox.api_url}/nothing-here", timeout=5)
    _business_error(response, 404, "Cannot GET /api/v1/nothing-here")


def test_malformed_json_body_is_400(api):
    response = api.session.post(
        f"{api.url}/accounts", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["customMessage"].startswith("Request body is not valid JSON")


def test_admin_api_needs_no_key(sandbox):
    assert requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=5).status_code == 200
