"""The outside world: OCPP, database, cameras, barrier I/O. Each behind a small port."""
