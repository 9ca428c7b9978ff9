"""In-process check that a refused record's reason lists every problem, not only the first.

Found by mutation testing (docs/mutation.md, `validation`): stopping at the first bad value
left the rest of the record unchecked, and no test noticed.
"""

from __future__ import annotations


def test_a_bad_value_does_not_hide_the_problems_after_it(harness, sandbox):
    records = [{"domain": "not a domain", "name": " "}, {"domain": "ok.example.org", "name": "Ok"}]

    result = harness.run(harness.stream("accounts", records))

    assert [line["reason"] for line in result.failed] == [
        "domain is not a domain (expected a hostname such as example.com) (got 'not a domain'); "
        "name is required"
    ]
    assert result.counts("accounts") == {"created": 1, "refused": 1}
