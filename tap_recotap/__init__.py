"""Singer tap for the Recotap External API."""
