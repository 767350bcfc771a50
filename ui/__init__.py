"""Gatehouse desktop UI (PySide6 only). The core in `app` never imports this package."""
