"""Suite-wide guards: an unexpected ERROR log fails the test (like qutebrowser's logfail).

Qt warnings fail tests through `qt_log_level_fail` in pyproject.toml; every test has a
timeout through pytest-timeout (`timeout` in pyproject.toml).
"""

from __future__ import annotations

import logging
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _no_leftover_log_handlers():
    """A test that runs the CLI in-process installs the app's log handlers; take them off
    afterwards, or their writer thread writes into the next tests' closed capture."""
    yield
    from app.logging_setup import unconfigure

    unconfigure()


@pytest.fixture(autouse=True)
def _fail_on_error_log(request, caplog):
    caplog.set_level(logging.DEBUG)
    yield
    if request.node.get_closest_marker("allow_error_log"):
        return
    bad = [
        r for when in ("setup", "call")
        for r in caplog.get_records(when)
        if r.levelno >= logging.ERROR
    ]
    if bad:
        lines = "\n".join(f"{r.name}: {r.getMessage()}" for r in bad)
        pytest.fail(f"unexpected ERROR log records:\n{lines}", pytrace=False)
