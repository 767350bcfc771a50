"""In-process event bus. Dispatch is synchronous on the loop thread that publishes."""

from __future__ import annotations

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
