"""Barrier / relay drivers: Modbus TCP relay I/O modules and HTTP camera outputs.

Every driver follows the `Barrier` port (app.services.ports): `state`, `async open(reason)`
(a pulse, never a held output) and `async stop()`. Device problems become the state "fault"
with a `detail`; they never raise to the caller. `factory.make_barrier` builds one from a
site Barrier's `driver` and `settings`.
"""
