"""The scheduled rescoring step (§2.9): scores and journey stages change without the client."""

from __future__ import annotations

from recotap_sandbox.store import Store


def pick_share(store: Store, share: float) -> list[int]:
    """Rows of a seeded-random ``share`` of all accounts, in rtp_aid order."""
    count = len(store.accounts)
    take = min(count, max(0, round(share * count)))
    return sorted(store.rescore_rng.sample(range(count), take))


def rescore(store: Store, rows: list[int]) -> list[str]:
    """Give ``rows`` new scores and a journey stage; move their dates forward; return rtp_aids.

    Scores stay whole numbers 0-100 (our choice, §8 question 16). Both the internal updated-at
    (so ``lastSync`` sees the change, §8 question 3) and ``rtp_last_account_date`` move.
    """
    if not rows:
        return []
    rng = store.rescore_rng
    table = store.accounts
    stamp = store.clock.write_stamp()
    for row in rows:
        for column in table.scores.values():
            column[row] = rng.randint(0, 100)
        table.stages[row] = rng.randint(1, 5)
        table.last_dates[row] = stamp
        table.updated[row] = stamp
    return [table.aid(row) for row in rows]
