"""STT engines: `pocketsphinx` (default, offline) and `openai` (any compatible server).

`build_stt` imports an engine only when it is chosen, so a server that never listens needs
neither PocketSphinx nor its 95 MB decoders.
"""

from __future__ import annotations

import importlib
from typing import Any

from voicewire.stt.base import STT, STTError, STTStream, Transcript
from voicewire.stt.vad import EndOfSpeech, VADEvent

__all__ = [
    "STT",
    "STT_NAMES",
    "EndOfSpeech",
    "STTError",
    "STTStream",
    "Transcript",
    "VADEvent",
    "build_stt",
]

# name -> (module, class, the pip requirement its third-party import needs)
_ENGINES = {
    "pocketsphinx": ("voicewire.stt.pocketsphinx", "PocketsphinxSTT", "pocketsphinx"),
    "openai": ("voicewire.stt.openai_compat", "OpenAISTT", "httpx"),
}
STT_NAMES = tuple(_ENGINES)


def build_stt(name: str = "pocketsphinx", **kwargs: Any) -> STT:
    """The engine called `name`, constructed with `kwargs`; STTError says what to install."""
    if name not in _ENGINES:
        raise STTError(f"unknown STT engine {name!r}; choose one of {', '.join(STT_NAMES)}")
    module, cls, requirement = _ENGINES[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise STTError(
            f"STT engine {name!r} needs {exc.name!r}. Install it with: pip install {requirement}"
        ) from exc
    engine: STT = getattr(mod, cls)(**kwargs)
    return engine
