"""Build a barrier driver from a site Barrier: driver "modbus", "isapi" or "vapix".

Settings (barrier.settings), all optional unless marked:
  modbus: host (required), port 502, unit 1, preset ("adam-6050", "adam-6060",
          "moxa-e1214") or coil + open_input (+ closed_input, -1 = none), inputs
          ("discrete"/"coils"), pulse_ms 500, open_timeout_s 10, close_timeout_s, poll_s 0.2
  isapi:  host (required), port 80, scheme "http", username, password, channel 1,
          timeout_s 3, hold_s 6
  vapix:  host (required), port 80, scheme "http", username, password, io_port 1,
          pulse_ms 500, auth "digest"/"basic", timeout_s 3, hold_s 6
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.adapters.io.base import BarrierDriver, Clock, utc_now
from app.domain.site import Barrier

DRIVERS = ("modbus", "isapi", "vapix")

_MODBUS_KEYS = ("port", "unit", "preset", "coil", "open_input", "closed_input", "inputs",
                "pulse_ms", "open_timeout_s", "close_timeout_s", "poll_s", "request_timeout_s",
                "presence_input")


def make_barrier(barrier: Barrier, publish: Callable[[Any], None],
                 clock: Clock = utc_now) -> BarrierDriver:
    """Raises ValueError for a setting an installer must fix (the message says which)."""
    s = barrier.settings
    host = str(s.get("host", "")).strip()
    if not host:
        raise ValueError(f"barrier {barrier.id}: driver {barrier.driver!r} needs a host")
    if barrier.driver == "modbus":
        from app.adapters.io.modbus_barrier import ModbusBarrier

        return ModbusBarrier(barrier, publish, clock, host=host,
                             **{k: s[k] for k in _MODBUS_KEYS if k in s})
    if barrier.driver not in ("isapi", "vapix"):
        raise ValueError(f"barrier {barrier.id}: unknown driver {barrier.driver!r}")
    http = {"base_url": f"{s.get('scheme', 'http')}://{host}:{int(s.get('port', 80))}",
            "username": str(s.get("username", "")), "password": str(s.get("password", "")),
            **{k: float(s[k]) for k in ("timeout_s", "hold_s") if k in s}}
    if barrier.driver == "isapi":
        from app.adapters.io.isapi_barrier import HikvisionBarrier

        return HikvisionBarrier(barrier, publish, clock, channel=int(s.get("channel", 1)),
                                **http)
    from app.adapters.io.vapix_barrier import AxisBarrier

    return AxisBarrier(barrier, publish, clock, port=int(s.get("io_port", 1)),
                       pulse_ms=int(s.get("pulse_ms", 500)), auth=str(s.get("auth", "digest")),
                       **http)
