"""The Python client: `async with Client("ws://host:8000/ws") as c: await c.ask("hi")`."""

from voicewire.client.connection import Client
from voicewire.client.turn_result import Event, TurnResult

__all__ = ["Client", "Event", "TurnResult"]
