"""Addressing of common Modbus TCP relay I/O modules, channel 0 of each, 0-based.

Modbus manuals number points from 1 (00017 = coil address 16 on the wire); these are wire
addresses. `inputs` says how the limit switches are read: "discrete" is function 02 (read
discrete inputs, 1xxxx), "coils" is function 01 (read coils, 0xxxx).

- ADAM-6050 (12 DI, 6 DO), Advantech ADAM-6000 user manual, Modbus mapping appendix:
  DI 00001-00012 (0..11), DO 00017-00022 (16..21). Advantech lists the DI in the 0X table,
  so they are read with function 01.
- ADAM-6060 (6 DI, 6 relays), same manual: DI 00001-00006 (0..5), relays 00017-00022
  (16..21), DI read with function 01.
- Moxa ioLogik E1214 (6 DI, 6 relays), ioLogik E1200 user manual, "E1214 Modbus Mapping":
  RLY_status coils 00001-00006 (0..5, functions 1/5/15), DI_status input status
  10001-10006 (0..5, function 02).

The wiring is the installer's choice; the presets assume: relay channel 0 pulses the
barrier controller's open input, DI 0 is the open limit switch, DI 1 the closed limit.
Any of coil / open_input / closed_input can be overridden in the barrier's settings.
"""

from __future__ import annotations

from typing import TypedDict


class Preset(TypedDict):
    coil: int
    open_input: int
    closed_input: int
    inputs: str  # "discrete" (function 02) or "coils" (function 01)


PRESETS: dict[str, Preset] = {
    "adam-6050": {"coil": 16, "open_input": 0, "closed_input": 1, "inputs": "coils"},
    "adam-6060": {"coil": 16, "open_input": 0, "closed_input": 1, "inputs": "coils"},
    "moxa-e1214": {"coil": 0, "open_input": 0, "closed_input": 1, "inputs": "discrete"},
}


def preset(name: str) -> Preset:
    key = name.strip().lower().replace(" ", "-").replace("iologik-", "")
    key = {"e1214": "moxa-e1214", "moxa-iologik-e1214": "moxa-e1214"}.get(key, key)
    try:
        return PRESETS[key]
    except KeyError:
        raise ValueError(f"unknown Modbus I/O preset {name!r}; "
                         f"known: {', '.join(sorted(PRESETS))}") from None
