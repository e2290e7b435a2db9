"""Silero VAD v6 (MIT; the ONNX model that ships inside faster-whisper), frame by frame.

A small recurrent network over 32 ms frames (512 samples at 16 kHz, with the previous frame's
last 64 samples as context): it says how likely a frame is speech, whatever its loudness, where
WebRTC's VAD compares band energies with noise estimates. One onnxruntime session per process,
shared by every stream (its `run` is thread-safe); each stream carries its own state.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16000
FRAME = 512  # samples: 32 ms at 16 kHz
_CONTEXT = 64


_broken: str | None = None  # why the model failed to load or run, once it has


def available() -> bool:
    """Whether the model is installed (with the whisper extra) and onnxruntime too, and has
    not failed in this process (`disable`)."""
    return _broken is None and _installed()


def disable(reason: str) -> None:
    """The model failed: from now on `available()` is False, and callers use WebRTC's VAD."""
    global _broken
    _broken = reason


@cache
def _installed() -> bool:
    """Found without importing faster-whisper, whose import takes a while."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None and model_path().is_file()
    except ImportError:
        return False


def model_path() -> Path:
    """The model file inside faster-whisper (ImportError when it is not installed)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("faster-whisper is not installed", name="faster_whisper")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "silero_vad_v6.onnx"


def load() -> None:
    """Load the model now (blocking: call it in a thread); streams made later share it."""
    _session()


@cache
def _session() -> Any:
    ort = importlib.import_module("onnxruntime")
    options = ort.SessionOptions()
    options.inter_op_num_threads = options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return ort.InferenceSession(
        str(model_path()), providers=["CPUExecutionProvider"], sess_options=options
    )


class SileroFrames:
    """Speech probability of consecutive 512-sample frames of 16 kHz pcm16, with hysteresis:
    a frame is voiced above `threshold`, and stays so down to `threshold - 0.15`."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._session = _session()
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._voiced = False

    def probability(self, frame: bytes) -> float:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        batch = np.concatenate([self._context, samples])[None, :]
        self._context = samples[-_CONTEXT:]
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        return float(np.asarray(out).reshape(-1)[0])

    def is_voiced(self, frame: bytes) -> bool:
        p = self.probability(frame)
        self._voiced = p > (self.threshold - 0.15 if self._voiced else self.threshold)
        return self._voiced
