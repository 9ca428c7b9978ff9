"""What tap-recotap and target-recotap share on singer-sdk's side: the connection settings as
the plugins declare them (`settings`) and the settings check both run at start-up
(`settings_check`). The HTTP client itself is `recotap_client`, which knows nothing of the SDK.
"""
