"""A Piper voice's VITS graph cut in two, so a sentence can be decoded to audio piece by piece.

VITS runs text encoder, duration predictor and flow over the whole sentence (they need its
context, and they decide its prosody), then a HiFi-GAN decoder turns the latent frames into
audio, `hop` samples per frame. The decoder is convolutional: an output sample depends only on
the latent frames near it. So the graph is cut where the decoder starts (the input of its first
convolution, the masked latent `z * y_mask`): the *encoder* half runs once per sentence and also
returns the frames of every phoneme id (the `Ceil` of the durations, as piper's alignment patch
reads them); the *decoder* half runs on any window of frames. A window decoded with `margin`
frames of context on each side, trimmed back to its own frames, matches a one-shot decode: with
joe-medium, 10 frames give a largest difference under one 16-bit step (8 give ~100 steps).

The cut is made with `onnx.utils.Extractor` when the voice loads (~0.2 s) and cached, keyed by
the voice file's SHA-256. A graph that cannot be cut (another architecture, or a multi-speaker
voice, whose decoder also takes the speaker) is run whole: one window per sentence, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Bump when the cut or the metadata changes, so stale cached halves are not reused.
_FORMAT = 1
_ENCODER_INPUTS = ("input", "input_lengths", "scales")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voicewire" / "piper"


@dataclass(frozen=True, slots=True)
class Window:
    """Decode latent frames [lo, hi) and keep the audio of frames [start, end)."""

    start: int
    end: int
    lo: int
    hi: int


def windows(frames: int, *, first: int, largest: int, margin: int) -> list[Window]:
    """Cover `frames` with windows that grow from `first` to `largest` frames.

    The first is small because the listener waits for it; later ones are larger because every
    seam costs 2 × `margin` frames of extra decoding. A remainder shorter than half the first
    window joins the window before it rather than paying for a seam of its own.
    """
    out: list[Window] = []
    start, size = 0, max(1, first)
    while start < frames:
        end = min(frames, start + size)
        if frames - end < max(1, first // 2):
            end = frames
        out.append(Window(start, end, max(0, start - margin), min(frames, end + margin)))
        start, size = end, max(size, min(largest, size * 2))
    return out


def _cut_tensors(model: Any) -> tuple[str, str]:
    """(the decoder's input, the per-phoneme-id frame counts) of a Piper VITS graph."""
    ceil = [out for node in model.graph.node if node.op_type == "Ceil" for out in node.output]
    entry = [
        node.input[0]
        for node in model.graph.node
        if node.op_type == "Conv" and node.name.startswith("/dec/") and "conv_pre" in node.name
    ]
    if len(ceil) != 1 or len(entry) != 1:
        raise ValueError(f"not a Piper VITS graph (Ceil: {len(ceil)}, dec conv_pre: {len(entry)})")
    return entry[0], ceil[0]


def _atomic_write(path: Path, data: bytes) -> None:
    # Several server processes may load the voice at once: none may read a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class VitsGraph:
    """onnxruntime sessions for a voice's encoder and decoder halves (or the whole graph)."""

    def __init__(
        self, model_path: Path, *, hop: int, threads: int, cache_dir: Path | None = None
    ) -> None:
        self.hop = hop
        self._threads = threads
        self._meta_path: Path | None = None
        self.meta: dict[str, Any] = {}
        cache = default_cache_dir() if cache_dir is None else cache_dir
        encoder, decoder = self._halves(Path(model_path), cache)
        self.encoder = self._session(encoder)
        self._decoder = None if decoder is None else self._session(decoder)
        self.streams = self._decoder is not None
        self._cut = "" if self._decoder is None else self._decoder.get_inputs()[0].name

    def _session(self, model: bytes | Path) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        source = model if isinstance(model, bytes) else str(model)
        return onnxruntime.InferenceSession(
            source, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _halves(self, model_path: Path, cache: Path) -> tuple[bytes | Path, bytes | Path | None]:
        with model_path.open("rb") as f:
            key = f"{hashlib.file_digest(f, 'sha256').hexdigest()[:32]}-v{_FORMAT}"
        encoder, decoder, meta = (
            cache / f"{key}.{part}" for part in ("enc.onnx", "dec.onnx", "json")
        )
        self._meta_path = meta
        if meta.is_file():
            self.meta = json.loads(meta.read_text(encoding="utf-8"))
            if not self.meta.get("split"):
                return self._whole(model_path), None
            if encoder.is_file() and decoder.is_file():
                return encoder, decoder
        import onnx
        import onnx.utils

        model = onnx.load(str(model_path))
        try:
            if any(i.name not in _ENCODER_INPUTS for i in model.graph.input):
                raise ValueError("the decoder of a multi-speaker voice also takes the speaker")
            cut, frames = _cut_tensors(model)
        except ValueError as exc:
            log.warning("Piper voice %s is spoken a sentence at a time: %s", model_path, exc)
            self.meta = {"split": False}
            self.save_meta()
            return self._whole(model_path, model), None
        extractor = onnx.utils.Extractor(model)
        halves = (
            extractor.extract_model(list(_ENCODER_INPUTS), [cut, frames]).SerializeToString(),
            extractor.extract_model([cut], [model.graph.output[0].name]).SerializeToString(),
        )
        self.meta = {"split": True}
        try:
            cache.mkdir(parents=True, exist_ok=True)
            _atomic_write(encoder, halves[0])
            _atomic_write(decoder, halves[1])
            self.save_meta()
        except OSError as exc:
            log.warning("cannot cache the split Piper voice in %s: %s", cache, exc)
        return halves

    @staticmethod
    def _whole(model_path: Path, model: Any = None) -> bytes:
        """The whole graph, with the frame counts as a second output (piper's alignment patch)."""
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        model = model or onnx.load(str(model_path))
        with contextlib.suppress(ValueError):  # already patched, or no Ceil: no word timings
            add_alignment_output(model)
        data: bytes = model.SerializeToString()
        return data

    def save_meta(self) -> None:
        """Keep `meta` next to the cached halves (best effort: the cache may be read-only)."""
        if self._meta_path is None:
            return
        try:
            self._meta_path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(self._meta_path, json.dumps(self.meta).encode())
        except OSError as exc:
            log.warning("cannot write %s: %s", self._meta_path, exc)

    def encode(self, ids: list[int], scales: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(latent [1, C, frames] — or, for a whole graph, the audio —, frames per phoneme id)."""
        feed = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        }
        out = self.encoder.run(None, feed)
        frames = out[1].reshape(-1).astype(np.int64) if len(out) > 1 else None
        return out[0], frames

    def frames(self, latent: np.ndarray) -> int:
        return int(latent.shape[-1]) if self.streams else -(-latent.size // self.hop)

    def samples(self, latent: np.ndarray) -> int:
        return self.frames(latent) * self.hop if self.streams else int(latent.size)

    def decode(self, latent: np.ndarray, window: Window) -> np.ndarray:
        """Float audio of the window's own frames."""
        if self._decoder is None:
            return latent.reshape(-1)[window.start * self.hop : window.end * self.hop]
        (out,) = self._decoder.run(None, {self._cut: latent[..., window.lo : window.hi]})
        audio: np.ndarray = np.asarray(out).reshape(-1)
        return audio[(window.start - window.lo) * self.hop : (window.end - window.lo) * self.hop]
