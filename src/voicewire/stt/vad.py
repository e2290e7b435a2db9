"""End-of-speech detection on microphone PCM: when the user starts talking, and when they stop.

`EndOfSpeech.feed` cuts the audio into fixed frames, classifies each as voiced or not, and
reports "speech_started" once `start_ms` of voice has accumulated (for barge-in: a cough or a
click is shorter) and "speech_ended" after `silence_ms` without voice following speech.

Frames are classified by WebRTC's VAD (a GMM on band energies; `aggressiveness` 0..3, higher
rejects more noise) when `webrtcvad` imports. Otherwise, or with `backend="energy"`, a frame
is voiced when its RMS level is above `threshold_dbfs` (-40 dBFS by default, well above a quiet
room and well below speech at normal microphone gain): cruder, since any steady loud noise
counts as voice, but dependency-free. Pure and synchronous: call it from anywhere.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

try:
    # No stubs: through import_module mypy sees a plain module, with no per-line ignores to rot.
    _webrtcvad: Any = importlib.import_module("webrtcvad")
except ImportError:  # pragma: no cover - depends on the install
    _webrtcvad = None

EventKind = Literal["speech_started", "speech_ended"]
WEBRTC_RATES = (8000, 16000, 32000, 48000)
# WebRTC keeps flagging voice for a few frames after it stops (its hangover, kOverHangMax1 in
# vad_core.c, frames per 10/20/30 ms frame by mode; after long speech it may hold a little
# longer). Counting it as silence keeps "speech_ended" `silence_ms` after the voice, not later.
_HANGOVER_FRAMES = {0: (8, 4, 3), 1: (8, 4, 3), 2: (6, 3, 2), 3: (6, 3, 2)}
# Voice may pause this long (between words, on a plosive) before a start-in-progress resets.
_GAP_MS = 90


@dataclass(frozen=True, slots=True)
class VADEvent:
    """`at_ms`: stream time (audio fed so far) when decided; `edge_ms`: where speech began/ended."""

    kind: EventKind
    at_ms: int
    edge_ms: int


class EndOfSpeech:
    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        aggressiveness: int = 2,
        frame_ms: int = 20,
        start_ms: int = 200,
        silence_ms: int = 700,
        backend: Literal["auto", "webrtc", "energy", "silero"] = "auto",
        threshold_dbfs: float = -40.0,
    ) -> None:
        self._silero: Any = None
        if backend == "silero":  # 16 kHz only, in its own 32 ms frames
            if sample_rate != 16000:
                raise ValueError(f"the silero backend needs 16000 Hz, got {sample_rate}")
            from voicewire.stt.silero import SileroFrames

            self._silero, frame_ms = SileroFrames(), 32
        elif frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        if backend == "webrtc" and _webrtcvad is None:
            raise ValueError("webrtcvad is not installed: pip install webrtcvad-wheels")
        self.backend = "webrtc" if backend != "energy" and _webrtcvad is not None else "energy"
        if self._silero is not None:
            self.backend = "silero"
        if self.backend == "webrtc" and sample_rate not in WEBRTC_RATES:
            raise ValueError(f"webrtcvad needs a rate in {WEBRTC_RATES}, got {sample_rate}")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.start_ms = start_ms
        self.silence_ms = silence_ms
        self._frame_bytes = sample_rate * frame_ms // 1000 * 2
        self._vad = _webrtcvad.Vad(aggressiveness) if self.backend == "webrtc" else None
        hangover = _HANGOVER_FRAMES[aggressiveness][min(3, frame_ms // 10) - 1] * frame_ms
        self._hangover = hangover if self._vad is not None else 0
        # Full scale is 32768; compare squared levels so frames need no square root.
        self._threshold_sq = (32768.0 * 10 ** (threshold_dbfs / 20)) ** 2
        self._buffer = bytearray()
        self.reset()

    def reset(self) -> None:
        """Forget buffered audio and any speech in progress; the clock restarts at zero."""
        self._buffer.clear()
        if self._silero is not None:
            self._silero.reset()
        self.in_speech = False
        self._pos = 0  # ms of audio classified so far
        self._voiced = 0  # idle: ms of voice gathered toward a start
        self._onset = 0  # idle: where that voice began
        self._quiet = 0  # ms since the last voiced frame
        self._last_voice = 0  # where the last voiced frame ended

    @property
    def quiet_ms(self) -> int:
        """How long since the voice was last heard (WebRTC's hangover frames after it, which
        it flags as voiced, count as quiet); the whole stream if no voice yet."""
        gap = self._pos - self._last_voice
        return gap + self._hangover if gap else 0

    def is_voiced(self, frame: bytes) -> bool:
        if self._silero is not None:
            return bool(self._silero.is_voiced(frame))
        if self._vad is not None:
            return bool(self._vad.is_speech(frame, self.sample_rate))
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        return float(np.mean(samples * samples)) > self._threshold_sq

    def feed(self, pcm: bytes) -> list[VADEvent]:
        """Classify the whole frames now available; return what changed, in order."""
        self._buffer += pcm
        events: list[VADEvent] = []
        size = self._frame_bytes
        whole = len(self._buffer) - len(self._buffer) % size
        for i in range(0, whole, size):
            event = self._step(self.is_voiced(bytes(self._buffer[i : i + size])))
            if event is not None:
                events.append(event)
        del self._buffer[:whole]
        return events

    def _step(self, voiced: bool) -> VADEvent | None:
        start = self._pos
        self._pos += self.frame_ms
        if voiced:
            if not self.in_speech and self._voiced == 0:
                self._onset = start
            self._voiced += self.frame_ms
            self._quiet = 0
            self._last_voice = self._pos
        else:
            self._quiet += self.frame_ms
        if not self.in_speech:
            if self._quiet > _GAP_MS:
                self._voiced = 0
            if self._voiced >= self.start_ms:
                self.in_speech, self._voiced = True, 0
                return VADEvent("speech_started", self._pos, self._onset)
        elif self._quiet and self._quiet + self._hangover >= self.silence_ms:
            self.in_speech = False
            return VADEvent("speech_ended", self._pos, self._last_voice - self._hangover)
        return None
