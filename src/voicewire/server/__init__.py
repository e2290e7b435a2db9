"""The ASGI server: `create_app()` builds the FastAPI app."""

from voicewire.server.app import Engines, create_app

__all__ = ["Engines", "create_app"]
