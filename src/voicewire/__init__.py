"""voicewire: stream a chatbot's reply as text and speech together over one WebSocket."""

__version__ = "0.1.0"
__all__ = ["__version__"]
