"""The real `target-recotap` command: start-up checks, exit codes, dry run, secrets."""

from __future__ import annotations

import pytest


def _segment(sandbox, kind: str, status: str) -> str:
    segments = sandbox.admin.dump()["segments"]
    return next(s["segmentId"] for s in segments if (s["type"], s["status"]) == (kind, status))


def _writes(sandbox) -> dict[str, int]:
    requests = sandbox.admin.stats()["requests"]
    return {route: n for route, n in requests.items() if not route.startswith("GET ")}


ACCOUNT = {"domain": "startup.example.org", "name": "Start-up"}


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param(lambda sb: "000000000000000000000000", id="unknown"),
        pytest.param(lambda sb: _segment(sb, "dynamic", "active"), id="dynamic"),
        pytest.param(lambda sb: _segment(sb, "static", "archived"), id="archived"),
    ],
)
def test_an_unusable_segment_stops_the_run_before_any_input_is_read(harness, sandbox, segment):
    segment_id = segment(sandbox)

    result = harness.cli(harness.stream("accounts", [ACCOUNT]), segment_id=segment_id)

    assert result.exit_code == 1
    assert f"segment_id {segment_id!r} cannot receive accounts" in result.stderr
    assert "Reader 'target-recotap' completed processing" not in result.stderr
    assert "Traceback" not in result.stderr
    assert _writes(sandbox) == {}


def test_too_many_failed_records_exit_1_at_the_end_with_a_clear_last_line(harness, sandbox):
    records = [{"domain": "", "name": "x"}, {"domain": "fine.example.org", "name": "Fine"}]
    messages = [*harness.stream("accounts", records), harness.state({"bookmarks": {"a": 1}})]

    result = harness.cli(messages)

    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "1 record(s) were refused or failed, more than max_failed_records=0" in last
    assert str(harness.failed_path) in last
    assert "Traceback" not in result.stderr
    assert "Summary accounts: 1 created, 1 refused (1 write requests)" in result.stderr
    assert result.states == [{"bookmarks": {"a": 1}}]
    assert {a["domain"] for a in sandbox.admin.dump()["accounts"]} >= {"fine.example.org"}


def test_failures_within_max_failed_records_exit_0(harness, sandbox):
    records = [{"domain": "", "name": "x"}, {"name": "no domain"}, ACCOUNT]

    result = harness.cli(harness.stream("accounts", records), max_failed_records=2)

    assert result.exit_code == 0
    assert "2 record(s) were refused or failed (allowed: max_failed_records=2)" in result.stderr
    assert len(result.failed) == 2


def test_dry_run_validates_and_counts_but_writes_nothing(harness, sandbox):
    messages = [
        *harness.stream("custom_fields", [{"label": "Dry Field", "labelType": "number"}]),
        *harness.stream(
            "accounts",
            [{"domain": "dry.example.org", "name": "Dry", "DRY_FIELD_C": 3}, {"name": "bad"}],
        ),
        harness.state({"bookmarks": {"accounts": 1}}),
    ]

    result = harness.cli(messages, dry_run=True)

    assert _writes(sandbox) == {}
    assert "would send 1 item(s) to POST /accounts, keys: dry.example.org" in result.stderr
    assert "Summary accounts: 1 refused, 1 would_send" in result.stderr
    assert "dropping column" not in result.stderr  # the new field's key was routed
    assert result.states == []  # nothing written: the tap's state must not move on
    assert result.exit_code == 1  # the refused record still counts


def test_meltano_config_test_stream_only_checks_the_connection(harness, sandbox):
    messages = [
        harness.schema("meltano_test_stream", {"id": {"type": "integer"}}, ["id"]),
        {"type": "RECORD", "stream": "meltano_test_stream", "record": {"id": 1}},
        harness.state({"bookmarks": {"meltano_test_stream": {}}}),
    ]

    result = harness.cli(messages)

    assert result.exit_code == 0
    assert sandbox.admin.stats()["requests"] == {"GET /api/v1/segments": 1}
    assert "connection check only" in result.stderr


def test_an_unknown_stream_is_refused_at_its_schema_with_the_fix(harness, sandbox):
    messages = harness.stream("users", [{"id": 1}])

    result = harness.cli(messages)

    assert result.exit_code != 0
    assert "no destination for stream 'users'" in result.stderr
    assert "accounts, deals, sales_activities, custom_fields" in result.stderr
    assert '"__alias__": "accounts"' in result.stderr
    assert _writes(sandbox) == {}


def test_a_stream_renamed_by_a_stream_map_is_loaded(harness, sandbox):
    messages = harness.stream("companies", [{"domain": "mapped.example.org", "name": "Mapped"}])

    result = harness.cli(messages, stream_maps={"companies": {"__alias__": "accounts"}})

    assert result.exit_code == 0
    assert "mapped.example.org" in {a["domain"] for a in sandbox.admin.dump()["accounts"]}


def test_plain_http_to_a_remote_host_is_refused(harness):
    result = harness.cli("", api_url="http://recotap.example.com/api/v1")

    assert result.exit_code == 1
    assert "api_url must use https" in result.stderr


def test_the_api_key_never_appears_in_output(harness, sandbox):
    sandbox.admin.set_faults(retry_after=0, script=[429, 429])
    records = [{"domain": "", "name": "x"}, ACCOUNT, {"domain": "y.example.org", "name": None}]
    env = {
        "TARGET_RECOTAP_API_KEY": sandbox.api_key,
        "TARGET_RECOTAP_API_URL": sandbox.api_url,
        "TARGET_RECOTAP_MAX_FAILED_RECORDS": "0",
        "TARGET_RECOTAP_FAILED_RECORDS_PATH": str(harness.failed_path),
        "TARGET_RECOTAP_LOGLEVEL": "DEBUG",  # the variable the SDK reads (not _LOG_LEVEL)
    }

    result = harness.cli(harness.stream("accounts", records), env=env, config_file=False)

    assert "| DEBUG " in result.stderr  # DEBUG really was on: the most there is to leak
    assert result.exit_code == 1  # two refused records
    assert len(result.failed) == 2
    file_text = harness.failed_path.read_text()
    for text in (result.stdout, result.stderr, file_text):
        assert sandbox.api_key not in text


def test_a_wrong_api_key_fails_clearly_without_echoing_it(harness, sandbox):
    result = harness.cli(harness.stream("accounts", [ACCOUNT]), api_key="wrong-key-123456")

    assert result.exit_code != 0
    assert "Recotap rejected the API key (HTTP 401" in result.stderr
    assert "wrong-key-123456" not in result.stderr + result.stdout
    assert result.states == []


def test_with_validate_records_a_record_its_schema_refuses_is_one_refused_record(harness, sandbox):
    string = {"type": "string"}
    schema = {"properties": {"domain": string, "name": string}}
    messages = [
        {"type": "SCHEMA", "stream": "accounts", "schema": schema, "key_properties": ["domain"]},
        {"type": "RECORD", "stream": "accounts", "record": {"domain": "a.example", "name": "A"}},
        {"type": "RECORD", "stream": "accounts", "record": {"domain": "b.example", "name": 123}},
        {"type": "RECORD", "stream": "accounts", "record": {"domain": "c.example", "name": "C"}},
        {"type": "STATE", "value": {"bookmarks": {"src": 1}}},
    ]

    result = harness.cli(messages, validate_records=True)

    assert result.exit_code == 1  # max_failed_records 0, reported at the end
    assert {a["domain"] for a in sandbox.admin.dump()["accounts"]} >= {"a.example", "c.example"}
    assert "b.example" not in {a["domain"] for a in sandbox.admin.dump()["accounts"]}
    [refused] = result.failed
    assert refused["record"]["domain"] == "b.example"
    assert "does not match its SCHEMA" in refused["reason"]
    assert "123 is not of type 'string'" in refused["reason"]
    assert '"bookmarks": {"src": 1}' in result.stdout  # the good records were confirmed
    assert "Traceback" not in result.stderr
