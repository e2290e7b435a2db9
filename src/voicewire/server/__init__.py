"""The ASGI server: `create_app()` builds the FastAPI app."""

from voicewire.server.app import create_app
from voicewire.server.services import Services

__all__ = ["Services", "create_app"]
