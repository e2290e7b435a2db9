"""One text's synthesis with a Piper voice, a piece (a window of latent frames) per `step`.

Its sentences are phonemized once up front; each is encoded when its first piece is asked for,
then decoded window by window (`piper_graph`), each window sized by how soon the caller needs
it; each piece carries the word spans that start in it (`piper_words`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voicewire.tts.base import SpeechChunk, WordSpan
from voicewire.tts.piper_graph import Latent, next_window
from voicewire.tts.piper_words import Interval, alignments, spread, word_groups

if TYPE_CHECKING:
    from voicewire.tts.piper import PiperTTS

_LONG = 8  # a sentence of this many first windows (~4 s) or more is long


@dataclass(slots=True)
class Sentence:
    latent: Latent
    frames: int
    offset: int  # samples spoken before this sentence
    spans: list[WordSpan]  # not yet handed out
    done: int = 0  # frames decoded
    size: int = 0  # the next window's frames while the listener is waiting


class Synthesis:
    """One text, advanced one window per `step` by whichever worker runs it (never two at once)."""

    def __init__(self, tts: PiperTTS, text: str, rate: float) -> None:
        self._tts = tts
        self._text = text
        self._words = text.split()
        config = tts._voice.config
        self._scales = np.array(
            [tts.noise_scale, config.length_scale / rate, tts.noise_w], dtype=np.float32
        )
        self._sentences: list[list[str]] | None = None
        self._counts: list[int] = []
        self._next = 0  # the next sentence to encode
        self._word = 0  # its first word (1:1 case)
        self._offset = 0
        self._voiced: list[Interval] = []  # all words' audio (not-1:1 case)
        self._current: Sentence | None = None

    @property
    def finished(self) -> bool:
        """Every sentence is decoded: no step is left to run."""
        current = self._current
        return (
            self._sentences is not None
            and self._next == len(self._sentences)
            and (current is None or current.done == current.frames)
        )

    def step(self, due: float | None = None, produced_s: float = 0.0) -> SpeechChunk | None:
        """The next piece of audio, sized by how soon it is `due` (time.monotonic) and by the
        audio the caller's turn has `produced_s` so far."""
        if self._sentences is None:
            self._sentences = [p for p in self._tts._voice.phonemize(self._text) if p]
            self._counts = [len(word_groups((p, 0) for p in s)) for s in self._sentences]
        if self._current is None or self._current.done == self._current.frames:
            if self._next == len(self._sentences):
                return None
            self._current = self._encode(self._next)
            self._next += 1
        sentence, graph, chunking = self._current, self._tts._graph, self._tts.chunking
        # Small windows while the listener is waiting (a turn's first audio, or a session
        # about to run dry), doubling: each is about as long as the audio before it, in this
        # sentence or the turn's earlier ones, but no longer than the audio the listener still
        # has to play (a long piece would keep the workers from sessions about to run dry);
        # otherwise as few seams as possible: each costs decoding.
        slack = None if due is None or math.isinf(due) else due - time.monotonic()
        waiting = slack is None or slack < self._tts.waiting_s
        largest = chunking["largest"] if graph.streams else sentence.frames
        size = largest
        if waiting and graph.streams:  # (a graph run whole has the sentence's audio at once)
            size = max(sentence.size, self._tts.frames_of(produced_s))
            if slack is not None:
                size = min(size, max(chunking["first"], self._tts.frames_of(slack)))
        window = next_window(
            sentence.done,
            sentence.frames,
            size=min(largest, size),
            margin=chunking["margin"],
            tail=chunking["first"] // 2,
        )
        if waiting:
            sentence.size = min(largest, sentence.size * 2)
        sentence.done = window.end
        audio = graph.decode(sentence.latent, window) * self._tts.gain
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        end = sentence.offset + window.end * graph.hop
        last = sentence.done == sentence.frames
        mine = [s for s in sentence.spans if last or s.start < end]
        del sentence.spans[: len(mine)]
        if last and self._next == len(self._sentences) and sum(self._counts) != len(self._words):
            mine = spread(0, self._words, self._voiced)
        return SpeechChunk(pcm, tuple(mine))

    def _encode(self, n: int) -> Sentence:
        assert self._sentences is not None
        voice, graph = self._tts._voice, self._tts._graph
        phonemes = self._sentences[n]
        ids = voice.phonemes_to_ids(phonemes)
        latent = graph.encode(ids, self._scales)
        id_frames = latent.frames_per_id
        frames, length = graph.frames(latent), graph.samples(latent)
        aligned = (
            []
            if id_frames is None
            else alignments(phonemes, ids, id_frames * graph.hop, voice.config.phoneme_id_map)
        )
        offset = self._offset
        groups = [
            (offset + min(s, length), offset + min(e, length)) for s, e in word_groups(aligned)
        ]
        whole = [(offset, offset + length)]
        groups = groups or whole
        spans: list[WordSpan] = []
        if sum(self._counts) == len(self._words):
            count = self._counts[n]
            mine = self._words[self._word : self._word + count]
            if len(groups) == len(mine):
                spans = [WordSpan(self._word + i, s, e) for i, (s, e) in enumerate(groups)]
            else:
                spans = spread(self._word, mine, whole)
            self._word += count
        else:
            self._voiced.extend(groups)
        self._offset = offset + length
        first = self._tts.chunking["first"] if graph.streams else frames  # or the whole graph
        if graph.streams and frames >= _LONG * first:
            # A long sentence's encoder already cost its listener ~70 ms (25 words): its first
            # window is half as long, which takes ~15 ms off the rest of that wait.
            first = max(1, first // 2)
        return Sentence(latent, frames, offset, spans, size=first)
