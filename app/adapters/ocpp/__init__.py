"""OCPP-J central system: websockets server plus 1.6 and 2.0.1 handlers."""
