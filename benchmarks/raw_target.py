"""The baseline for the target: a minimal hand-written Singer-to-Recotap accounts loop.

Reads Singer messages from stdin with `json`, posts the accounts in batches of 100 (§2.7) to
`POST /accounts` with `upsert: true`, one request after another, and checks every item's
`status` (§4.2/§5.3: per-item failures come back with HTTP 200). No retries, no validation, no
concurrency: this is the floor the target is compared with.

    python -m benchmarks.raw_target --config config.json < input.singer
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import requests

BATCH = 100


class Pusher:
    """Posts full batches of accounts and fails loudly on any item Recotap did not store."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = config["api_key"]
        self.url = f"{config['api_url'].rstrip('/')}/accounts"
        self.pushed = 0

    def push(self, accounts: list[dict[str, Any]]) -> None:
        """POST one batch and check each result item."""
        response = self.session.post(
            self.url, json={"accounts": accounts, "upsert": True}, timeout=60
        )
        response.raise_for_status()
        results = response.json()["data"]["results"]
        failed = [item for item in results if item["status"] not in ("created", "updated")]
        if failed or len(results) != len(accounts):
            sys.exit(f"raw_target: {len(failed)} of {len(accounts)} accounts failed: {failed[:3]}")
        self.pushed += len(accounts)


def load(config: dict[str, Any]) -> None:
    """Push every RECORD from stdin; echo the last STATE once everything before it is stored."""
    pusher = Pusher(config)
    batch: list[dict[str, Any]] = []
    state = None
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] == "RECORD":
            batch.append(message["record"])
            if len(batch) == BATCH:
                pusher.push(batch)
                batch = []
        elif message["type"] == "STATE":
            state = message["value"]
    if batch:
        pusher.push(batch)
    if state is not None:
        sys.stdout.write(json.dumps({"type": "STATE", "value": state}) + "\n")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    load(json.loads(Path(args.config).read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
