"""The hostile server itself answers as scripted (so a failing attack test blames the plugin)."""

from __future__ import annotations

import requests
from hostile_server import HostileServer, Reply


def test_a_scripted_route_answers_and_the_request_is_recorded(hostile: HostileServer) -> None:
    hostile.sequence("GET", "/segments", [Reply.envelope([1]), Reply.error(500)])
    first = requests.get(
        f"{hostile.api_url}/segments?limit=1", headers={"X-Api-Key": "k"}, timeout=5
    )
    second = requests.get(f"{hostile.api_url}/segments", timeout=5)
    assert first.json()["data"] == [1]
    assert second.status_code == 500
    assert hostile.requests[0].headers["X-Api-Key"] == "k"
    assert hostile.requests[0].query == {"limit": ["1"]}


def test_an_unscripted_route_is_a_404(hostile: HostileServer) -> None:
    assert requests.get(f"{hostile.api_url}/nothing", timeout=5).status_code == 404
