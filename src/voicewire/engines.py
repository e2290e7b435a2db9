"""Engines chosen by name. Each is imported only when chosen, with an install hint if missing."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from voicewire import errors
from voicewire.config import Settings
from voicewire.llm.base import LLM
from voicewire.tts.base import TTS

if TYPE_CHECKING:
    from voicewire.stt.base import STT

LLM_NAMES = ("llamacpp", "openai", "scripted")
TTS_NAMES = ("piper", "openai", "fake")
_EXTRAS = {"llamacpp": "llamacpp", "piper": "piper"}


class EngineError(errors.EngineError, errors.ConfigError, RuntimeError):
    """An engine could not be loaded; the message says what to do."""


def _load(family: str, name: str, module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(name)
        hint = f" Install it with: pip install 'voicewire[{extra}]'" if extra else ""
        raise EngineError(f"{family} engine {name!r} needs {exc.name!r}.{hint}") from exc


def build_llm(settings: Settings) -> LLM:
    name = settings.llm
    if name == "scripted":
        from voicewire.llm.scripted import ScriptedLLM

        return ScriptedLLM(
            settings.scripted_reply,
            tokens_per_second=settings.scripted_tps,
            first_token_ms=settings.scripted_first_token_ms,
        )
    if name == "llamacpp":
        mod = _load("LLM", name, "voicewire.llm.llamacpp")
        llm: LLM = mod.LlamaCppLLM(
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            top_p=settings.llm_top_p,
            min_p=settings.llm_min_p,
            repeat_penalty=settings.llm_repeat_penalty,
            max_sentences=settings.llm_max_sentences,
            system_prompt=settings.system_prompt,
        )
        return llm
    if name == "openai":
        mod = _load("LLM", name, "voicewire.llm.openai_compat")
        llm = mod.OpenAILLM(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            system_prompt=settings.system_prompt,
        )
        return llm
    raise EngineError(f"unknown LLM engine {name!r}; choose one of {', '.join(LLM_NAMES)}")


def build_tts(settings: Settings) -> TTS:
    name = settings.tts
    if name == "fake":
        from voicewire.tts.fake import FakeToneTTS

        return FakeToneTTS()
    if name == "piper":
        _load("TTS", name, "voicewire.tts.piper")  # the install hint when Piper is missing
        from voicewire.tts.lexicon import Lexicon, LexiconError
        from voicewire.tts.voices import PiperVoices

        try:
            lexicon = Lexicon.load(settings.lexicon) if settings.lexicon else None
        except LexiconError as exc:
            raise EngineError(str(exc)) from exc
        tts: TTS = PiperVoices(
            settings.voices_dir,
            default=settings.voice,
            max_loaded=settings.voices_loaded,
            max_workers=settings.tts_workers,
            lexicon=lexicon,
        )
        return tts
    if name == "openai":
        mod = _load("TTS", name, "voicewire.tts.openai_compat")
        tts = mod.OpenAITTS(
            settings.tts_base_url,
            settings.tts_model,
            settings.tts_api_key,
            voice=settings.tts_voice,
            voices=(settings.tts_voice,),
            sample_rate=settings.tts_sample_rate,
        )
        return tts
    raise EngineError(f"unknown TTS engine {name!r}; choose one of {', '.join(TTS_NAMES)}")


def build_stt(settings: Settings) -> STT | None:
    """The speech-to-text engine; None when speech input is off (`stt = "none"`)."""
    if settings.stt == "none":
        return None
    from voicewire.stt import build_stt as build
    from voicewire.stt import default_stt

    name = default_stt() if settings.stt == "auto" else settings.stt
    if name == "whisper":
        return build(
            "whisper",
            workers=settings.stt_workers,
            threads=settings.stt_threads,
            interim_s=settings.stt_interim_s,
        )
    if name == "openai":
        return build(
            "openai",
            base_url=settings.stt_base_url,
            model=settings.stt_model,
            api_key=settings.stt_api_key,
        )
    # Every stream of the cap keeps its decoder: creating one holds the GIL for ~0.3-0.9 s.
    return build(name, keep=settings.max_stt_streams)
