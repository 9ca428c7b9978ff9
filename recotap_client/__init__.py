"""The Recotap External API client both plugins share, free of singer-sdk.

One module per job: `settings` (connection defaults, the api_url and api_key rules), `errors`
(what a request can end in), `failures` (describing a failure without the key), `answers`
(which error a non-2xx answer is), `envelope` (the `data` of a 2xx answer), `retry` (the one
retry decision and its waits), `session` (the HTTP session: transport, the 429 pause),
`paging` (the one paging rule) and `endpoints` (the write endpoints and their caps).

Reference: docs/recotap-api.md.
"""
