"""The ASGI server: `create_app()` builds the FastAPI app."""

from voicewire.server.app import Services, create_app

__all__ = ["Services", "create_app"]
