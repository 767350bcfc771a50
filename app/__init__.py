"""Gatehouse core: Qt-free. Runs headless; the UI is one adapter of many."""

import sys
from importlib.metadata import PackageNotFoundError, version


def _find_version() -> str:
    # A frozen build (PyInstaller) has no package metadata: packaging/build.py writes
    # app/_version.py from pyproject.toml for the build and removes it afterwards.
    if getattr(sys, "frozen", False):
        try:
            from app._version import VERSION  # type: ignore[import-not-found]

            return str(VERSION)
        except ImportError:
            pass
    try:
        return version("gatehouse")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+src"


__version__ = _find_version()
