"""Singer target for the Recotap External API."""
