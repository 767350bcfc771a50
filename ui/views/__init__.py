"""Widgets of the console: the bay map and the main window."""
