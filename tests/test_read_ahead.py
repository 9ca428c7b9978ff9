"""recotap_client.read_ahead: one page ahead, errors in order, and it stops when the consumer
leaves. In-process with page sources that record what they are asked, then over HTTP.

Waits are on events, with generous deadlines; no assertion depends on how fast anything runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from recotap_client.paging import list_pages
from recotap_client.read_ahead import ReadAhead
from recotap_client.session import RecotapSession

LONG = 10.0  # seconds: a deadline nothing correct comes near


class Source:
    """Pages 1..`count` (then `error`, if any), noting for each page how many pages the
    consumer had taken when it was asked for."""

    def __init__(self, count: int, error: Exception | None = None) -> None:
        self.count, self.error = count, error
        self.taken = 0  # updated by the consumer
        self.asked: list[tuple[int, int]] = []  # (page, pages taken by then)
        self.asked_for = {n: threading.Event() for n in range(1, count + 2)}
        self.closed = threading.Event()

    def pages(self) -> Iterator[int]:
        try:
            for number in range(1, self.count + 1):
                self._ask(number)
                yield number
            self._ask(self.count + 1)
            if self.error is not None:
                raise self.error
        finally:
            self.closed.set()

    def _ask(self, number: int) -> None:
        self.asked.append((number, self.taken))
        self.asked_for[number].set()


def _thread(name: str) -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name == name)


def test_every_page_comes_in_order_and_the_next_is_fetched_while_one_is_used():
    source = Source(5)
    seen = []
    with ReadAhead(source.pages(), name="in-order") as pages:
        for page in pages:
            source.taken += 1
            seen.append(page)
            # While the consumer holds `page`, the source is asked for the one after it.
            assert source.asked_for[page + 1].wait(LONG)
    assert seen == [1, 2, 3, 4, 5]


def test_never_more_than_one_page_ahead():
    source = Source(6)
    with ReadAhead(source.pages(), name="one-ahead") as pages:
        while True:
            source.taken += 1  # counts the pages asked for, the one being asked included
            page = next(pages, None)
            if page is None:
                break
            assert source.asked_for[page + 1].wait(LONG)
            time.sleep(0.05)  # time for a page beyond the next to be asked for, were it a bug
    # Page n is asked for only once the consumer has asked for page n - 1 (the first at once).
    assert [(n, asked) for n, asked in source.asked if asked < n - 1] == []
    assert [n for n, _ in source.asked] == [1, 2, 3, 4, 5, 6, 7]


def test_an_error_reaches_the_consumer_after_every_page_before_it():
    failure = RuntimeError("page 4 refused")
    source = Source(3, error=failure)
    seen = []
    with ReadAhead(source.pages()) as pages:
        seen.append(next(pages))
        seen.append(next(pages))
        seen.append(next(pages))
        with pytest.raises(RuntimeError) as raised:
            next(pages)
        with pytest.raises(StopIteration):
            next(pages)  # raised once; then the pages are over
    assert raised.value is failure
    assert seen == [1, 2, 3]


def test_an_error_on_the_first_page_is_raised_at_the_first_request():
    def failing() -> Iterator[int]:
        raise ValueError("no first page")
        yield 1  # pragma: no cover

    with pytest.raises(ValueError, match="no first page"), ReadAhead(failing()) as pages:
        next(pages)


@pytest.mark.parametrize("how", ["close", "exception", "generator closed"])
def test_when_the_consumer_leaves_the_thread_stops_and_asks_for_nothing_more(how):
    source = Source(100)
    name = f"leaves-{how}"

    ahead = ReadAhead(source.pages(), name=name)  # still referenced after the consumer leaves

    def consume() -> Iterator[int]:
        with ahead as pages:
            for page in pages:
                source.taken += 1
                yield page

    records = consume()
    assert next(records) == 1
    assert source.asked_for[2].wait(LONG)  # page 2 is fetched, and waits for the consumer
    thread = _thread(name)
    if how == "close":
        records.close()
    elif how == "exception":
        with pytest.raises(KeyboardInterrupt):
            records.throw(KeyboardInterrupt())
    else:
        del records  # the generator is closed as it is collected

    thread.join(LONG)
    assert not thread.is_alive()
    assert source.closed.is_set()  # the source's own clean-up ran, in the thread
    assert [n for n, _ in source.asked] == [1, 2]


def test_the_thread_is_a_daemon_so_exit_never_waits_for_a_request_in_flight():
    # A page source stuck in a request forever (a server that never answers): the consumer
    # takes page 1, then stops (as on SIGTERM); the process must end without waiting.
    script = textwrap.dedent(
        """
        import threading, sys
        from recotap_client.read_ahead import ReadAhead

        def pages():
            yield 1
            threading.Event().wait()  # the request for page 2 never gets an answer

        with ReadAhead(pages()) as ahead:
            print(next(ahead), flush=True)
        sys.exit(3)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (3, "1")


def test_over_http_the_same_pages_as_paging_alone_one_request_ahead(sandbox):
    session = RecotapSession(sandbox.api_url, sandbox.api_key)
    expected = [page.records for page in list_pages(session, "/accounts", limit=50)]
    assert len(expected) == 5
    sandbox.admin.reset(seed_accounts=250, seed=7)  # the stats start over

    seen = []
    with ReadAhead(list_pages(session, "/accounts", limit=50), name="over-http") as pages:
        seen.append(next(pages).records)
        thread = _thread("over-http")
    thread.join(LONG)  # left after page 1: page 2 was fetched, nothing after it
    assert not thread.is_alive()
    assert sandbox.admin.stats()["requests"]["GET /api/v1/accounts"] == 2

    with ReadAhead(list_pages(session, "/accounts", limit=50)) as pages:
        seen = [page.records for page in pages]
    assert seen == expected
    session.close()
