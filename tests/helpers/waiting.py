"""Polling for conditions a user would see change (a label, a charger state)."""

from __future__ import annotations

import asyncio


async def wait_for(predicate, within: float = 5.0, interval: float = 0.02) -> None:
    """Poll until predicate() is truthy; fail with a clear message otherwise."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s: {predicate}")
        await asyncio.sleep(interval)
