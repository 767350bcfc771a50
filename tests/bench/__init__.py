"""Benchmarks: scripts that print figures (not collected by pytest)."""
