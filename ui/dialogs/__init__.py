"""Dialogs. Open them with .open() (never .exec(): it would nest an event loop under qasync)."""
