"""Two client additions made after their modules' mutation runs, checked in-process over loopback
HTTP (docs/mutation.md): `list_pages(filters=...)` (the tap's `domains` chunks) and the session's
`on_answer` hook (what the target's adaptive write pace learns from).
"""

from __future__ import annotations

import time

from recotap_client.paging import list_pages
from recotap_client.retry import RetryPolicy
from recotap_client.session import RecotapSession
from tests.client.conftest import API_KEY
from tests.hostile.hostile_server import Reply, Request


def test_filters_go_with_every_page_request_beside_the_limit_and_cursor(hostile, session):
    def answer(request: Request) -> Reply:
        more = "cursor" not in request.query
        body = {"data": [{"id": 1}], "hasNextPage": more, "nextCursor": "c2" if more else None}
        return Reply.envelope(body)

    hostile.route("GET", "/accounts", answer)
    filters = {"domains": "a.example,b.example", "lastSync": "2026-01-01T00:00:00Z"}

    pages = list(list_pages(session, "/accounts", limit=2, filters=filters))

    assert [p.records for p in pages] == [[{"id": 1}], [{"id": 1}]]
    first, second = (r.query for r in hostile.requests_to("GET", "/accounts"))
    chunk = {"domains": ["a.example,b.example"], "lastSync": ["2026-01-01T00:00:00Z"]}
    assert first == {**chunk, "limit": ["2"]}
    assert second == {**chunk, "limit": ["2"], "cursor": ["c2"]}
    assert filters == {"domains": "a.example,b.example", "lastSync": "2026-01-01T00:00:00Z"}


def test_without_filters_a_page_request_has_only_the_limit_and_cursor(hostile, session):
    hostile.sequence(
        "GET",
        "/segments",
        [
            Reply.envelope({"data": [], "hasNextPage": True, "nextCursor": "c2"}),
            Reply.envelope({"data": [], "hasNextPage": False, "nextCursor": None}),
        ],
    )

    assert len(list(list_pages(session, "/segments", limit=5))) == 2

    assert [r.query for r in hostile.requests_to("GET", "/segments")] == [
        {"limit": ["5"]},
        {"limit": ["5"], "cursor": ["c2"]},
    ]


def test_on_answer_hears_every_answer_with_its_status_and_duration(hostile):
    # A 429, a slow 503, then an answer: three attempts of one request, each reported.
    hostile.sequence(
        "POST",
        "/accounts",
        [
            Reply.error(429, headers={"Retry-After": "0"}),
            Reply.error(503, delay=0.3),
            Reply.envelope({"ok": True}),
        ],
    )
    session = RecotapSession(
        hostile.api_url, API_KEY, retry=RetryPolicy(max_tries=3, base_delay=0.01), timeout=5
    )
    heard: list[tuple[int, float]] = []
    session.on_answer = lambda status, seconds: heard.append((status, seconds))

    started = time.monotonic()
    assert session.request("POST", "/accounts", json={"accounts": []}) == {"ok": True}
    took = time.monotonic() - started
    session.close()

    assert [status for status, _ in heard] == [429, 503, 200]
    # Each attempt's own duration: the slow one took its delay, none more than the whole call.
    assert heard[1][1] >= 0.3
    assert all(0 <= seconds <= took for _, seconds in heard)
    assert heard[0][1] < heard[1][1]
