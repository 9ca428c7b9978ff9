"""Domain normalisation (§2.8), applied to every domain the API receives."""

from __future__ import annotations

import re

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")


def normalise_domain(raw: str) -> str:
    """Clean a domain the way Recotap does on account create (§2.8).

    §2.8 documents: scheme removed, leading ``www.`` removed, path removed, lower-cased. Our
    choices for the edge cases of §8 question 12: any scheme (``http://`` too), query and
    fragment, a port, user-info and a trailing dot are removed as well; other subdomains are
    kept. The result may be empty (e.g. ``"https://"``); callers reject that.
    """
    text = raw.strip().lower()
    text = _SCHEME_RE.sub("", text)
    for stop in "/?#":
        text = text.split(stop, 1)[0]
    text = text.rsplit("@", 1)[-1]
    text = text.split(":", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    return text
