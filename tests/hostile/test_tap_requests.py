"""What tap-recotap sends while paging, read ahead, and how it stops: seen by the server.

The bookmark and `start_date` go out as `lastSync` on every request of a run, cursors go back
exactly as received, a cursor the API repeats or forgets stops the run after the pages before
it, and a terminated run does not wait for the request it has in flight.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from hostile_server import Reply, Request
from plugin_cli import (
    API_KEY,
    BIN,
    accounts_catalog,
    accounts_page,
    base_config,
    bookmark,
    previous_state,
    run_plugin,
)

PREVIOUS = "2025-11-01T08:30:15.123999+00:00"


def _cursors_sent(hostile) -> list[str | None]:
    return [(r.query.get("cursor") or [None])[0] for r in hostile.requests_to("GET", "/accounts")]


def test_the_bookmark_goes_out_as_last_sync_verbatim_on_every_page(hostile, tmp_path):
    hostile.sequence(
        "GET",
        "/accounts",
        [accounts_page(range(2), cursor="c1", more=True), accounts_page(range(2, 4))],
    )

    run = run_plugin(
        "tap-recotap",
        base_config(hostile),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
        state=previous_state(PREVIOUS),
    )

    assert run.returncode == 0, run.stderr
    sent = hostile.requests_to("GET", "/accounts")
    # Milliseconds, truncated (never later than the bookmark), UTC with a Z.
    assert [r.query["lastSync"] for r in sent] == [["2025-11-01T08:30:15.123Z"]] * 2
    assert _cursors_sent(hostile) == [None, "c1"]
    assert len(run.records()) == 4


def test_start_date_goes_out_as_last_sync_when_there_is_no_bookmark(hostile, tmp_path):
    hostile.always("GET", "/accounts", accounts_page(range(1)))
    config = base_config(hostile, start_date="2026-01-02T03:04:05Z")

    run = run_plugin("tap-recotap", config, tmp_path=tmp_path, catalog=accounts_catalog())

    assert run.returncode == 0, run.stderr
    assert hostile.requests_to("GET", "/accounts")[0].query["lastSync"] == [
        "2026-01-02T03:04:05.000Z"
    ]


def test_each_chunk_of_domains_is_paged_from_its_first_page(hostile, tmp_path):
    def answer(request: Request) -> Reply:
        listed = json.loads(request.query["domains"][0])
        first = not request.query.get("cursor")
        # Each chunk: two pages, the second with the cursor the first gave.
        if first:
            return accounts_page(range(len(listed)), cursor=f"after-{listed[0]}", more=True)
        return accounts_page([], cursor=f"after-{listed[0]}")

    hostile.route("GET", "/accounts", answer)
    domains = [f"d{n}.example.com" for n in range(150)]

    run = run_plugin(
        "tap-recotap",
        base_config(hostile, domains=domains),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
    )

    assert run.returncode == 0, run.stderr
    sent = hostile.requests_to("GET", "/accounts")
    chunks = [json.loads(r.query["domains"][0]) for r in sent]
    assert chunks == [domains[:100], domains[:100], domains[100:], domains[100:]]
    assert _cursors_sent(hostile) == [None, "after-d0.example.com", None, "after-d100.example.com"]
    assert len(run.records()) == 150


@pytest.mark.parametrize(
    "cursor", ["eyJpZCI6MTIzfQ==", "a b&c=d/e?f#g", "100%+ünï€😀", "~-._!*'();:@,$[]"]
)
def test_a_cursor_goes_back_exactly_as_the_api_sent_it(hostile, tmp_path, cursor):
    hostile.sequence(
        "GET",
        "/accounts",
        [accounts_page(range(1), cursor=cursor, more=True), accounts_page(range(1, 2))],
    )

    run = run_plugin(
        "tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=accounts_catalog()
    )

    assert run.returncode == 0, run.stderr
    assert _cursors_sent(hostile) == [None, cursor]


def test_a_repeated_cursor_stops_the_run_after_that_pages_records(hostile, tmp_path):
    hostile.sequence(
        "GET",
        "/accounts",
        [
            accounts_page(range(2), cursor="c1", more=True),
            accounts_page(range(2, 4), cursor="c2", more=True),
            accounts_page(range(4, 6), cursor="c1", more=True),
            accounts_page(range(6, 8)),
        ],
    )

    run = run_plugin(
        "tap-recotap",
        base_config(hostile),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
        state=previous_state(PREVIOUS),
    )

    assert run.returncode == 1
    assert "repeated the cursor 'c1' for GET /api/v1/accounts after 3 pages" in run.last_line
    assert "Traceback" not in run.stderr
    assert len(run.records()) == 6  # the third page's records too, then nothing
    assert len(hostile.requests) == 3
    assert bookmark(run.last_state) == PREVIOUS


def test_more_pages_without_a_cursor_stops_the_run(hostile, tmp_path):
    hostile.sequence(
        "GET",
        "/accounts",
        [accounts_page(range(2), cursor=None, more=True), accounts_page(range(2, 4))],
    )

    run = run_plugin(
        "tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=accounts_catalog()
    )

    assert run.returncode == 1
    assert "said hasNextPage but sent no nextCursor" in run.last_line
    assert len(run.records()) == 2
    assert len(hostile.requests) == 1


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_does_not_wait_for_the_request_in_flight(hostile, tmp_path, how):
    # Page 2 is answered after 60 s; while the tap waits for it, it is told to stop.
    slow = accounts_page(range(3, 6))
    slow.delay = 60
    hostile.sequence("GET", "/accounts", [accounts_page(range(3), cursor="c1", more=True), slow])
    config, catalog = tmp_path / "config.json", tmp_path / "catalog.json"
    config.write_text(json.dumps(base_config(hostile)))
    catalog.write_text(json.dumps(accounts_catalog()))
    out = tmp_path / "stdout"
    with out.open("w") as stdout:
        tap = subprocess.Popen(
            [str(BIN / "tap-recotap"), "--config", str(config), "--catalog", str(catalog)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
    deadline = time.monotonic() + 30
    while (len(hostile.requests) < 2 or _records(out) < 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(hostile.requests) == 2  # page 2's request is in flight
    assert _records(out) == 3  # page 1 is written

    tap.send_signal(how)
    _, stderr = tap.communicate(timeout=30)  # far less than the 60 s answer

    assert "Gracefully shutting down" in stderr
    assert len(hostile.requests) == 2
    assert API_KEY not in out.read_text() + stderr


def _records(path) -> int:
    return sum('"type":"RECORD"' in line for line in path.read_text().splitlines())


@pytest.mark.parametrize("count", [499, 500])
def test_unmapped_accounts_ask_for_500_and_warn_when_that_many_come(hostile, tmp_path, count):
    unmapped = [{"domain": f"u{n}.example.com", "name": f"U {n}"} for n in range(count)]
    hostile.always("GET", "/accounts/missing-external-ids", Reply.envelope(unmapped))
    catalog = accounts_catalog()
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "unmapped_accounts"

    run = run_plugin("tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=catalog)

    assert run.returncode == 0, run.stderr
    assert [r.query for r in hostile.requests] == [{"limit": ["500"]}]
    assert len(run.records("unmapped_accounts")) == count
    warned = "unmapped_accounts: 500 read, the most one call returns" in run.stderr
    assert warned == (count == 500)
