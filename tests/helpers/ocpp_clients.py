"""Foreign OCPP clients built on the ocpp library (not the app's simulator)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ocpp.v16 import ChargePoint as CP16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as CP201
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect


class Client16(CP16):
    async def boot(self, vendor="TestVendor", model="TestModel"):
        return await self.call(call16.BootNotification(
            charge_point_model=model, charge_point_vendor=vendor,
            charge_point_serial_number="SN-1", firmware_version="1.0.0"), suppress=False)

    async def status(self, connector_id, status, error_code="NoError"):
        return await self.call(call16.StatusNotification(
            connector_id=connector_id, error_code=error_code, status=status,
            timestamp="2026-11-21T10:00:00Z"), suppress=False)

    async def heartbeat(self):
        return await self.call(call16.Heartbeat(), suppress=False)


class Client201(CP201):
    async def boot(self, vendor="TestVendor", model="TestModel"):
        return await self.call(call201.BootNotification(
            charging_station={"model": model, "vendor_name": vendor,
                              "serial_number": "SN-2", "firmware_version": "2.0"},
            reason="PowerUp"), suppress=False)

    async def status(self, evse_id, status):
        return await self.call(call201.StatusNotification(
            timestamp="2026-11-21T10:00:00Z", connector_status=status, evse_id=evse_id,
            connector_id=1), suppress=False)

    async def heartbeat(self):
        return await self.call(call201.Heartbeat(), suppress=False)


@contextlib.asynccontextmanager
async def charge_point(url: str, charger_id: str, subprotocol: str | None = "ocpp1.6",
                       cls=None) -> AsyncIterator:
    """Connect, run the client's receive loop, and always clean up."""
    protocols = [subprotocol] if subprotocol else None
    ws = await connect(f"{url.rstrip('/')}/{charger_id}", subprotocols=protocols,
                       open_timeout=5)
    if cls is None:
        is_201 = subprotocol and subprotocol.lower() == "ocpp2.0.1"
        cls = Client201 if is_201 else Client16
    cp = cls(charger_id, ws, response_timeout=5)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await ws.close()
