"""The client session, in-process over loopback HTTP: what each request carries and where it
goes, how long an answer may take, a 429's pause, TLS and the environment (§2.2, §6).

tests/hostile/ checks most of this through the plugins' command lines; here it is checked on
`recotap_client.session` itself. Times are asserted only as generous bounds: a lower bound that
a sleep guarantees, or an upper bound far from what a broken deadline would take.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from recotap_client.errors import AnswerTooSlowError, RecotapRedirectError, RecotapUnavailableError
from recotap_client.retry import RetryPolicy
from recotap_client.session import RecotapSession, read_body_by, session_from_config
from recotap_client.settings import DEFAULT_API_URL, DEFAULT_REQUEST_TIMEOUT
from tests.client.conftest import API_KEY
from tests.hostile.hostile_server import HostileServer, Reply

DOWN_ADVICE = "The API may be down or overloaded; try again later."
RATE_LIMIT_ADVICE = (
    "Recotap is rate-limiting this key: run less often, or raise max_retries / retry_base_delay."
)
DATA = {"segments": [{"id": 1, "name": "Tier 1 accounts"}]}
# A body long enough to trickle for many seconds, one byte at a time.
LONG_BODY = json.dumps({"data": "x" * 200}).encode()


def headers_of(request) -> CaseInsensitiveDict:
    """A request's headers as HTTP reads them: names are case-insensitive."""
    return CaseInsensitiveDict(request.headers)


def one_try(hostile: HostileServer, timeout: float, **policy: float) -> RecotapSession:
    return RecotapSession(
        hostile.api_url, API_KEY, retry=RetryPolicy(max_tries=1, **policy), timeout=timeout
    )


def final_error(session: RecotapSession, path: str = "/segments") -> str:
    with pytest.raises(RecotapUnavailableError) as failure:
        session.get(path)
    return str(failure.value)


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_a_session_from_config_sends_the_key_user_agent_and_query_and_logs_each_request(
    hostile, caplog
):
    page = {"data": [{"id": 1}], "hasNextPage": False, "nextCursor": None}
    hostile.always("GET", "/segments", Reply.envelope(page))
    config = {"api_url": hostile.api_url + "/", "api_key": f" {API_KEY}\n", "max_retries": 1}
    logger = logging.getLogger("tap-recotap.client-test")
    session = session_from_config(config, user_agent="tap-recotap", logger=logger)

    with caplog.at_level(logging.DEBUG, logger="tap-recotap.client-test"):
        assert session.get("/segments", {"limit": 1}) == page
        assert session.get_page("/segments", {"limit": 1})[0].records == [{"id": 1}]

    sent = hostile.requests_to("GET", "/segments")
    assert len(sent) == 2
    for request in sent:
        assert request.query == {"limit": ["1"]}
        headers = headers_of(request)
        assert (headers["X-Api-Key"], headers["User-Agent"]) == (API_KEY, "tap-recotap")
        assert headers["Accept"].lower() == "application/json"
        assert "Content-Type" not in headers
        assert request.body == b""
    lines = [r.getMessage() for r in caplog.records if r.name == "tap-recotap.client-test"]
    assert len(lines) == 2  # one per request, a page's too
    for line in lines:
        took = re.fullmatch(r"GET /segments -> 200 in (\d+\.\d{3}) s", line)
        assert took is not None, line
        assert float(took.group(1)) < 60  # the time the request took, not a clock reading
    session.close()


def test_request_timeout_from_the_config_bounds_an_answer(hostile):
    hostile.always("GET", "/segments", Reply.envelope(DATA, delay=3))
    config = {"api_url": hostile.api_url, "api_key": API_KEY, "max_retries": 1}
    session = session_from_config(
        {**config, "request_timeout": 0.4}, user_agent="t", logger=logging.getLogger("t")
    )

    assert final_error(session) == (
        f"Recotap still failing after 1 attempts: {hostile.origin.removeprefix('http://')} "
        f"sent no answer to GET /api/v1/segments within request_timeout. {DOWN_ADVICE}"
    )


def test_the_connection_settings_have_their_documented_defaults(hostile, caplog):
    session = session_from_config({"api_key": API_KEY}, user_agent="t", logger=logging.getLogger())
    assert (session.api_url, session.timeout) == (DEFAULT_API_URL, DEFAULT_REQUEST_TIMEOUT)

    hostile.always("GET", "/segments", Reply.envelope(DATA))
    bare = RecotapSession(hostile.api_url, API_KEY)
    with caplog.at_level(logging.DEBUG, logger="recotap"):
        assert bare.get("/segments") == DATA
    assert headers_of(hostile.requests[0])["User-Agent"] == "recotap-singer"
    (line,) = [r.getMessage() for r in caplog.records if r.name == "recotap"]
    assert line.startswith("GET /segments -> 200 in ")


def test_each_request_has_its_own_method_path_query_and_json_body(hostile, session):
    for method, path in [("POST", "/accounts"), ("GET", "/accounts"), ("PATCH", "/accounts")]:
        hostile.always(method, path, Reply.envelope({"method": method}))
    hostile.always("GET", "/segments", Reply.envelope(DATA))

    assert session.request("POST", "/accounts", params={"dry": "1"}, json={"n": Decimal("1.5")})
    assert session.get("/accounts", {"limit": 2}) == {"method": "GET"}
    assert session.request("POST", "/accounts", json=[{"domain": "a.com"}]) == {"method": "POST"}
    assert session.request("PATCH", "/accounts", json={}) == {"method": "PATCH"}
    assert session.get("/segments") == DATA
    assert session.get("/accounts") == {"method": "GET"}

    sent = [(r.method, r.path, r.query, r.json()) for r in hostile.requests]
    prefix = "/api/v1"
    assert sent == [
        ("POST", f"{prefix}/accounts", {"dry": ["1"]}, {"n": 1.5}),  # a decimal as a number
        ("GET", f"{prefix}/accounts", {"limit": ["2"]}, None),
        ("POST", f"{prefix}/accounts", {}, [{"domain": "a.com"}]),
        ("PATCH", f"{prefix}/accounts", {}, {}),
        ("GET", f"{prefix}/segments", {}, None),
        ("GET", f"{prefix}/accounts", {}, None),
    ]
    content_types = [headers_of(r).get("Content-Type", "").lower() for r in hostile.requests]
    assert content_types == ["application/json", "", "application/json", "application/json", "", ""]


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_never_followed(hostile, elsewhere, session, status):
    hostile.always("POST", "/accounts", Reply.redirect(f"{elsewhere.api_url}/accounts", status))

    with pytest.raises(RecotapRedirectError):
        session.request("POST", "/accounts", json={"accounts": [{"domain": "a.com"}]})
    assert elsewhere.requests == []
    assert len(hostile.requests) == 1


def test_a_success_holds_nothing_back_and_logs_nothing(hostile, session, caplog):
    hostile.always("GET", "/segments", Reply.envelope(DATA))

    with caplog.at_level(logging.INFO):
        assert [session.get("/segments") for _ in range(3)] == [DATA] * 3
    assert caplog.records == []


def test_a_429_holds_every_request_back_for_its_retry_after(hostile, caplog):
    session = one_try(hostile, 5, base_delay=0.2)
    hostile.sequence(
        "GET", "/segments", [Reply.error(429, headers={"Retry-After": "1"}), Reply.envelope(DATA)]
    )

    with caplog.at_level(logging.INFO, logger="recotap"):
        assert final_error(session).endswith(RATE_LIMIT_ADVICE)
        assert session.get("/segments") == DATA

    first, second = hostile.requests
    # The pause starts once the 429 has arrived: the next request cannot come sooner.
    assert second.received_at - first.received_at >= 1.0
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "Recotap asked to slow down: holding every request for 1.00 s"
    ]


@pytest.mark.parametrize(
    ("retry_after", "pause"), [(None, "0.20"), ("0", "0.20"), ("5", "3.00"), ("soon", "0.20")]
)
def test_a_429_pause_is_at_least_the_first_backoff_wait_and_at_most_the_cap(
    hostile, caplog, retry_after, pause
):
    session = one_try(hostile, 5, base_delay=0.2, max_delay=3.0)
    headers = {"Retry-After": retry_after} if retry_after else {}
    hostile.always("GET", "/segments", Reply.error(429, headers=headers))

    with caplog.at_level(logging.INFO, logger="recotap"):
        final_error(session)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        f"Recotap asked to slow down: holding every request for {pause} s"
    ]


def test_a_body_in_many_pieces_arrives_whole(hostile, session):
    body = json.dumps({"data": DATA}).encode()
    hostile.always("GET", "/segments", Reply(200, body, trickle=0.002))

    assert session.get("/segments") == DATA


def test_a_compressed_body_is_decompressed(hostile, session):
    body = gzip.compress(json.dumps({"data": DATA}).encode())
    hostile.always("GET", "/segments", Reply(200, body, {"Content-Encoding": "gzip"}))

    assert session.get("/segments") == DATA


def test_a_body_that_trickles_fails_when_request_timeout_runs_out(hostile):
    session = one_try(hostile, 0.5)
    hostile.always("GET", "/segments", Reply(200, LONG_BODY, trickle=0.1))

    assert final_error(session) == (
        "Recotap still failing after 1 attempts: the answer to GET /api/v1/segments was still "
        f"incomplete after request_timeout (0.5 s). {DOWN_ADVICE}"
    )


def test_a_429_whose_body_trickles_past_the_timeout_is_still_a_rate_limit(hostile):
    session = one_try(hostile, 0.5)
    hostile.always("GET", "/segments", Reply(429, LONG_BODY, trickle=0.1))

    assert final_error(session).endswith(RATE_LIMIT_ADVICE)


def _streamed(hostile: HostileServer, reply: Reply) -> requests.Response:
    """An answer whose body is still to read (each socket read may wait 30 s)."""
    hostile.always("GET", "/segments", reply)
    return requests.get(f"{hostile.api_url}/segments", stream=True, timeout=30)


def test_a_body_is_read_whole_while_its_deadline_is_ahead(hostile):
    response = _streamed(hostile, Reply.envelope(DATA))

    # Under a second left is still time left.
    assert json.loads(read_body_by(response, time.monotonic() + 0.5, 0.5)) == {
        "statusCode": 200,
        "message": "Success",
        "data": DATA,
    }


def test_a_body_is_not_read_once_its_deadline_has_passed(hostile):
    response = _streamed(hostile, Reply.envelope(DATA))

    with pytest.raises(AnswerTooSlowError) as failure:
        read_body_by(response, time.monotonic() - 1, 0.25)
    assert str(failure.value) == (
        "the answer to GET /api/v1/segments was still incomplete after request_timeout (0.25 s)"
    )
    assert (failure.value.response, failure.value.request) == (response, response.request)
    response.close()


def test_a_silence_in_a_body_is_cut_at_the_deadline_not_at_a_reads_timeout(hostile):
    # One byte, then five seconds of silence: each read may wait 30 s, the deadline is 0.3 s.
    response = _streamed(hostile, Reply(200, LONG_BODY, trickle=5))

    started = time.monotonic()
    with pytest.raises(AnswerTooSlowError) as failure:
        read_body_by(response, started + 0.3, 0.3)
    assert time.monotonic() - started < 3  # well before the second byte
    assert str(failure.value) == (
        "the answer to GET /api/v1/segments was still incomplete after request_timeout (0.3 s)"
    )
    assert failure.value.response is response
    response.close()


def test_a_body_that_cannot_be_decompressed_is_retried_then_named(hostile):
    session = one_try(hostile, 5)
    hostile.always("GET", "/segments", Reply(200, b"not gzip", {"Content-Encoding": "gzip"}))

    assert final_error(session).startswith(
        "Recotap still failing after 1 attempts: the connection to "
        f"{hostile.origin.removeprefix('http://')} broke during GET /api/v1/segments: "
    )


@pytest.fixture
def cut_short() -> Iterator[str]:
    """A server announcing a 100-byte body, sending 10 bytes and closing: its api_url."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"data": 1')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
    thread.join(timeout=5)
    listener.close()


def test_a_body_cut_short_is_retried_then_named(cut_short):
    session = RecotapSession(cut_short, API_KEY, retry=RetryPolicy(max_tries=1), timeout=5)

    message = final_error(session)
    assert message.startswith(
        "Recotap still failing after 1 attempts: the connection to "
        f"{cut_short.removeprefix('http://').removesuffix('/api/v1')} broke during GET "
        "/api/v1/segments: "
    )
    assert "IncompleteRead" in message


def test_a_certificate_no_trusted_authority_signed_is_refused(tls):
    server, api_url = tls
    server.always("GET", "/segments", Reply.envelope(DATA))
    session = RecotapSession(api_url, API_KEY, retry=RetryPolicy(max_tries=1), timeout=5)

    with pytest.raises(RecotapUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        session.get("/segments")
    assert server.requests == []


def test_requests_ca_bundle_is_the_authority_trusted(tls, certificate, monkeypatch):
    server, api_url = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    server.always("GET", "/segments", Reply.envelope(DATA))
    session = RecotapSession(api_url, API_KEY, retry=RetryPolicy(max_tries=1), timeout=5)

    assert session.get("/segments") == DATA


def test_request_timeout_bounds_an_answer_over_tls_too(tls, certificate, monkeypatch):
    server, api_url = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    server.always("GET", "/segments", Reply(200, LONG_BODY, trickle=0.1))
    session = RecotapSession(api_url, API_KEY, retry=RetryPolicy(max_tries=1), timeout=0.5)

    assert "was still incomplete after request_timeout (0.5 s)" in final_error(session)


def test_the_proxy_environment_is_used(hostile, monkeypatch):
    # Nothing listens on 127.0.0.2:9: only the proxy (the hostile server) can answer.
    monkeypatch.setenv("http_proxy", hostile.origin)
    hostile.always("GET", "/segments", Reply.envelope(DATA))
    session = RecotapSession("http://127.0.0.2:9/api/v1", API_KEY, retry=RetryPolicy(max_tries=1))

    assert session.get("/segments") == DATA
    assert headers_of(hostile.requests[0])["Host"] == "127.0.0.2:9"


def test_netrc_credentials_are_never_sent(hostile, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-for-recotap\n")
    monkeypatch.setenv("NETRC", str(netrc))
    hostile.always("GET", "/segments", Reply.envelope(DATA))
    session = RecotapSession(hostile.api_url, API_KEY, retry=RetryPolicy(max_tries=1))

    assert session.get("/segments") == DATA
    assert "Authorization" not in headers_of(hostile.requests[0])


@pytest.fixture
def tls_broken_mid_body(certificate) -> Iterator[str]:
    """A TLS server whose answer breaks off in a record that cannot be decrypted: its api_url."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with context.wrap_socket(connection, server_side=True) as tls_connection:
            tls_connection.recv(65536)
            tls_connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"da')
            # An application-data record written around TLS: its authentication fails.
            os.write(tls_connection.fileno(), b"\x17\x03\x03\x00\x20" + bytes(range(32)))
            time.sleep(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/api/v1"
    thread.join(timeout=5)
    listener.close()


def test_a_tls_error_in_the_middle_of_a_body_is_retried_then_named(
    tls_broken_mid_body, certificate, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    session = RecotapSession(
        tls_broken_mid_body, API_KEY, retry=RetryPolicy(max_tries=1), timeout=5
    )

    message = final_error(session)
    host_port = tls_broken_mid_body.removeprefix("https://").removesuffix("/api/v1")
    assert message.startswith(
        f"Recotap still failing after 1 attempts: the connection to {host_port} broke during "
        "GET /api/v1/segments: "
    ), message
    assert message.endswith(
        "Check api_url, DNS, proxy and firewall settings, or whether the API is down."
    )
