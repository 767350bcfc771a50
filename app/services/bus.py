"""In-process event bus. Dispatch is synchronous on the loop thread that publishes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class EventBus:
    """Subscribers get every event of a type (or all events with `None`).

    A failing subscriber is logged and skipped: one broken view must not stop the
    charger handlers that publish.
    """

    def __init__(self) -> None:
        self._subs: list[tuple[type | None, Handler]] = []

    def subscribe(self, handler: Handler, event_type: type | None = None) -> Callable[[], None]:
        entry = (event_type, handler)
        self._subs.append(entry)

        def unsubscribe() -> None:
            if entry in self._subs:
                self._subs.remove(entry)

        return unsubscribe

    def publish(self, event: Any) -> None:
        for event_type, handler in list(self._subs):
            if event_type is not None and not isinstance(event, event_type):
                continue
            try:
                handler(event)
            except Exception:
                log.exception("event subscriber %r failed on %r", handler, event)


def handed_to_loop(loop: asyncio.AbstractEventLoop | None, handler: Callable[[Any], None],
                   event: Any) -> bool:
    """An event published off the loop thread (a camera's, the recognizer's) is handed to
    the services' loop, where their state lives. True when it was: the caller returns."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is None or running is loop:
        return False
    loop.call_soon_threadsafe(handler, event)
    return True
