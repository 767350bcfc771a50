"""The lane's vehicle loop: an input of the barrier's Modbus I/O module (real pymodbus
server on 127.0.0.1), followed by the driver and published as VehiclePresenceChanged."""

from __future__ import annotations

from app.adapters.io.modbus_barrier import ModbusBarrier
from app.domain.events import BarrierStateChanged, VehiclePresenceChanged
from app.domain.site import Barrier
from tests.helpers.modbus_boom import FC_COILS, FC_DISCRETE, UNIT, start_server
from tests.helpers.waiting import wait_for

LOOP_DI = 2


async def set_loop(server, present: bool) -> None:
    # ADAM-6000 modules show their DI in the 0X table too (the preset reads it there).
    await server.async_setValues(UNIT, FC_DISCRETE, LOOP_DI, [present])
    await server.async_setValues(UNIT, FC_COILS, LOOP_DI, [present])


async def test_the_loop_input_is_followed_and_published():
    server = await start_server()
    events: list = []
    barrier = ModbusBarrier(Barrier("b1", "Entry barrier", "modbus"), events.append,
                            host="127.0.0.1", port=server.port, unit=UNIT,
                            preset="adam-6050", poll_s=0.02, presence_input=LOOP_DI)
    try:
        assert barrier.vehicle_present is None  # not read yet
        barrier.start()
        await wait_for(lambda: barrier.vehicle_present is False)
        await set_loop(server, True)
        await wait_for(lambda: barrier.vehicle_present is True)
        await set_loop(server, False)
        await wait_for(lambda: barrier.vehicle_present is False)
        changes = [e.present for e in events if isinstance(e, VehiclePresenceChanged)]
        assert changes == [False, True, False]
    finally:
        await barrier.stop()
        await server.shutdown()


async def test_a_lost_module_is_a_fault_and_its_return_a_recovery():
    server = await start_server()
    port = server.port
    events: list = []
    barrier = ModbusBarrier(Barrier("b1", "Entry barrier", "modbus"), events.append,
                            host="127.0.0.1", port=port, unit=UNIT, preset="adam-6050",
                            poll_s=0.02, request_timeout_s=0.3, presence_input=LOOP_DI)
    try:
        barrier.start()
        await wait_for(lambda: barrier.vehicle_present is False)
        await server.shutdown()
        await wait_for(lambda: barrier.state == "fault", 5)
        # Refused at the next connect, or the read in flight when it went gets no answer.
        assert "cannot connect" in barrier.detail or "No response" in barrier.detail
        server = await start_server(port)  # the module is back, on the same address
        await wait_for(lambda: barrier.state == "closed", 8)
        states = [e.state for e in events if isinstance(e, BarrierStateChanged)]
        assert states[-2:] == ["fault", "closed"]
    finally:
        await barrier.stop()
        await server.shutdown()
