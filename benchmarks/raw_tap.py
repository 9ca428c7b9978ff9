"""The baseline for the tap: a minimal hand-written Recotap accounts extractor.

Only `requests` and `json`: page through `GET /accounts` (same page size as the tap), stop on
`hasNextPage` (docs/recotap-api.md §2.5: `nextCursor` may stay set on the last page), write
SCHEMA once, a RECORD with `time_extracted` per account, and STATE (the first page's
`syncTimestamp`, §2.6 and §8 question 4) at the end.
No retries, no validation, no type conformance: this is the floor the tap is compared with.

    python -m benchmarks.raw_tap --config config.json [--fetch-only]

`--fetch-only` (the `fetch_only` program) requests and decodes the pages but writes nothing:
what fetching alone costs.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import requests

SCHEMA = {
    "type": "object",
    "properties": {
        "rtp_aid": {"type": "string"},
        "externalId": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "domain": {"type": ["string", "null"]},
        "rtp_account_score": {"type": ["number", "null"]},
        "rtp_journey_stage": {"type": ["string", "null"]},
        "rtp_advertising_activity_score": {"type": ["number", "null"]},
        "rtp_website_intent_score": {"type": ["number", "null"]},
        "rtp_g2_intent_score": {"type": ["number", "null"]},
        "rtp_bombora_intent_score": {"type": ["number", "null"]},
        "rtp_last_account_date": {"type": ["string", "null"], "format": "date-time"},
        "customFields": {"type": ["object", "null"]},
    },
}


def pages(config: dict[str, Any]) -> Any:
    """Yield the `data` member of every `GET /accounts` page, in order."""
    session = requests.Session()
    session.headers["X-Api-Key"] = config["api_key"]
    url = f"{config['api_url'].rstrip('/')}/accounts"
    params: dict[str, Any] = {"limit": config.get("page_size", 100)}
    while True:
        response = session.get(url, params=params, timeout=60)
        response.raise_for_status()
        page = response.json()["data"]
        yield page
        if not page["hasNextPage"]:
            return
        params["cursor"] = page["nextCursor"]


def extract(config: dict[str, Any], out: TextIO) -> None:
    """Write the accounts stream as Singer messages to `out`."""
    write = out.write
    write(
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "accounts",
                "schema": SCHEMA,
                "key_properties": ["rtp_aid"],
            }
        )
        + "\n"
    )
    bookmark = None
    for page in pages(config):
        bookmark = bookmark or page.get("syncTimestamp")
        extracted = datetime.now(UTC).isoformat()
        for account in page["data"]:
            write(
                json.dumps(
                    {
                        "type": "RECORD",
                        "stream": "accounts",
                        "record": account,
                        "time_extracted": extracted,
                    }
                )
                + "\n"
            )
    state = {
        "bookmarks": {
            "accounts": {"replication_key": "syncTimestamp", "replication_key_value": bookmark}
        }
    }
    write(json.dumps({"type": "STATE", "value": state}) + "\n")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--fetch-only", action="store_true")
    args = parser.parse_args()
    config = json.loads(Path(args.config).read_text(encoding="utf-8"))
    if args.fetch_only:
        for _ in pages(config):
            pass
    else:
        extract(config, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
