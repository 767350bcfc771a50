"""A bare OCPP-J client that sends exactly the frames a test writes (quirks included)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class RawCharger:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, charger_id: str, subprotocol: str = "ocpp1.6",
                   **kwargs: Any) -> RawCharger:
        ws = await connect(f"{url.rstrip('/')}/{charger_id}", subprotocols=[subprotocol],
                           open_timeout=5, **kwargs)
        return cls(ws)

    async def call(self, action: str, payload: Any, *, within: float = 5.0) -> list:
        """Send a CALL and return the CALLRESULT/CALLERROR frame answering it."""
        unique_id = str(uuid.uuid4())
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        return await self.reply_to(unique_id, within=within)

    async def reply_to(self, unique_id: str, *, within: float = 5.0) -> list:
        async with asyncio.timeout(within):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame[0] in (3, 4) and frame[1] == unique_id:
                    return frame

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def close(self) -> None:
        await self.ws.close()
