"""Run a scenario on a qasync loop, as the app does: slots then see a running loop."""

from __future__ import annotations

import asyncio
import gc

import qasync


def run_on_qasync(qapp, coro, timeout: float = 60):
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout=timeout))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        # Collect the loop's Qt timers now, on this thread; left to a later collection they
        # may be destroyed elsewhere and Qt warns (which fails whichever test runs next).
        gc.collect()
