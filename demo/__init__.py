"""The demo: CRM → Recotap → warehouse on one machine (`python3 run.py demo`)."""
