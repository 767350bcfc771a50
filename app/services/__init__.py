"""Use cases on the asyncio loop. They reach the outside world only through ports."""
