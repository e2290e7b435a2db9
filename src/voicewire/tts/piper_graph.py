"""A Piper voice's VITS graph cut in three, so a sentence can be decoded to audio piece by piece.

VITS runs a text encoder and a duration predictor over the whole sentence (they need its
context, and they decide its prosody), expands the phonemes to latent frames, maps them through
a flow, and a HiFi-GAN decoder turns the frames into audio, `hop` samples per frame. Flow and
decoder are convolutional: a frame depends only on the frames near it. So the graph is cut
twice, with `onnx.utils.Extractor`: the *encoder* (phoneme ids → the flow's input and mask, and
the frames of every phoneme id — the `Ceil` of the durations, as piper's alignment patch reads
them) runs once per sentence; the *flow* and the *decoder* (the input of its first convolution,
the masked latent `z * y_mask`) run on windows of frames. A window decoded with `margin` frames
of context per side, trimmed back to its own frames, matches a one-shot decode: with joe-medium,
10 frames of decoder context give a largest difference under one 16-bit step (8 give ~100).

The flow is cut out of the encoder because it is half of it (measured: ~50% of the encoder's
time for a 25-word sentence), and it is run piece by piece too: each window extends the flow's
output as far as it needs (at least `_FLOW_STEP` frames at a time, so the margins are paid
rarely), with `_FLOW_MARGIN` frames of context per side. So the listener waits for the text
encoder, the duration predictor and one small window, and no window pays for the flow of the
whole sentence: a long sentence's flow was one ~100 ms piece of work that every other session
waited behind.

The cut is made when the voice loads (~0.2 s) and cached, keyed by the voice file's SHA-256. A
graph that cannot be cut (another architecture, or a multi-speaker voice, whose decoder also
takes the speaker) is run whole: one window per sentence, as before.
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

# Bump when the cut or the metadata changes, so stale cached parts are not reused.
_FORMAT = 2
_ENCODER_INPUTS = ("input", "input_lengths", "scales")
_PARTS = ("enc", "flow", "dec")
# Frames of context past a prefix for its flow output to match the whole sentence's: joe-medium
# is exact at 32, and 24 leaves a largest error of ~1e-4 in the latent, ~2e-7 of peak in audio.
_FLOW_MARGIN = 24
# The flow's output is extended by at least this many frames at a time (~1.5 s of audio).
_FLOW_STEP = 128


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


@dataclass(slots=True)
class Latent:
    """A sentence past the encoder: the flow's input and mask (or, for a whole graph, the
    audio), the frames of each phoneme id, and the flow's output as far as windows needed it."""

    prior: np.ndarray
    mask: np.ndarray | None
    frames_per_id: np.ndarray | None
    z: np.ndarray | None = None  # the flow's output of frames [0, z.shape[-1])


def next_window(start: int, frames: int, *, size: int, margin: int, tail: int) -> Window:
    """The window of up to `size` frames from `start`, with `margin` frames of context per
    side; a remainder shorter than `tail` joins it rather than paying for a seam of its own."""
    end = min(frames, start + max(1, size))
    if frames - end < max(1, tail):
        end = frames
    return Window(start, end, max(0, start - margin), min(frames, end + margin))


def windows(frames: int, *, first: int, largest: int, margin: int) -> list[Window]:
    """Cover `frames` with windows that double from `first` up to `largest` frames (the plan
    of a sentence whose listener is waiting: every seam costs 2 × `margin` frames)."""
    out: list[Window] = []
    start, size = 0, first
    while start < frames:
        out.append(next_window(start, frames, size=size, margin=margin, tail=first // 2))
        start, size = out[-1].end, max(size, min(largest, size * 2))
    return out


def _cut_tensors(model: Any) -> tuple[list[str], str, str]:
    """([the flow's input, its mask], the decoder's input, the frames per phoneme id)."""
    nodes = model.graph.node
    ceil = [out for node in nodes if node.op_type == "Ceil" for out in node.output]
    entry = [
        node.input[0]
        for node in nodes
        if node.op_type == "Conv" and node.name.startswith("/dec/") and "conv_pre" in node.name
    ]
    flow = [node for node in nodes if node.name.startswith("/flow/")]
    producer = {out: node for node in nodes for out in node.output}
    # What the flow reads from the rest of the graph (constants aside): its input and the mask.
    # (Unnamed nodes are the flow's own fused gates.)
    outside = {
        name
        for node in flow
        for name in node.input
        if name in producer
        and producer[name].name.startswith("/")
        and not producer[name].name.startswith("/flow/")
        and producer[name].op_type != "Constant"
    }
    if len(ceil) != 1 or len(entry) != 1 or len(outside) != 2 or flow[0].input[0] not in outside:
        raise ValueError(
            f"not a Piper VITS graph (Ceil: {len(ceil)}, dec conv_pre: {len(entry)}, "
            f"flow inputs: {len(outside)})"
        )
    prior = flow[0].input[0]
    return [prior, *(outside - {prior})], entry[0], ceil[0]


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
    """onnxruntime sessions for a voice's encoder, flow and decoder (or for the whole graph)."""

    def __init__(
        self, model_path: Path, *, hop: int, threads: int, cache_dir: Path | None = None
    ) -> None:
        self.hop = hop
        self._threads = threads
        self._meta_path: Path | None = None
        self.meta: dict[str, Any] = {}
        cache = default_cache_dir() if cache_dir is None else cache_dir
        parts = [self._session(part) for part in self._parts(Path(model_path), cache)]
        self.encoder = parts[0]
        self.streams = len(parts) == 3
        self._flow: Any = parts[1] if self.streams else None
        self._decoder: Any = parts[2] if self.streams else None

    def _session(self, model: bytes | Path) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        source = model if isinstance(model, bytes) else str(model)
        return onnxruntime.InferenceSession(
            source, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _parts(self, model_path: Path, cache: Path) -> list[bytes] | list[Path]:
        with model_path.open("rb") as f:
            key = f"{hashlib.file_digest(f, 'sha256').hexdigest()[:32]}-v{_FORMAT}"
        files = [cache / f"{key}.{part}.onnx" for part in _PARTS]
        self._meta_path = cache / f"{key}.json"
        if self._meta_path.is_file():
            self.meta = json.loads(self._meta_path.read_text(encoding="utf-8"))
            if not self.meta.get("split"):
                return [self._whole(model_path)]
            if all(f.is_file() for f in files):
                return files
        import onnx
        import onnx.utils

        model = onnx.load(str(model_path))
        try:
            if any(i.name not in _ENCODER_INPUTS for i in model.graph.input):
                raise ValueError("the decoder of a multi-speaker voice also takes the speaker")
            prior, latent, frames = _cut_tensors(model)
        except ValueError as exc:
            log.warning("Piper voice %s is spoken a sentence at a time: %s", model_path, exc)
            self.meta = {"split": False}
            self.save_meta()
            return [self._whole(model_path, model)]
        extractor = onnx.utils.Extractor(model)
        cuts = [
            (list(_ENCODER_INPUTS), [*prior, frames]),
            (prior, [latent]),
            ([latent], [model.graph.output[0].name]),
        ]
        parts = [extractor.extract_model(i, o).SerializeToString() for i, o in cuts]
        self.meta = {"split": True}
        try:
            cache.mkdir(parents=True, exist_ok=True)
            for file, data in zip(files, parts, strict=True):
                _atomic_write(file, data)
            self.save_meta()
        except OSError as exc:
            log.warning("cannot cache the split Piper voice in %s: %s", cache, exc)
        return parts

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
        """Keep `meta` next to the cached parts (best effort: the cache may be read-only)."""
        if self._meta_path is None:
            return
        try:
            self._meta_path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(self._meta_path, json.dumps(self.meta).encode())
        except OSError as exc:
            log.warning("cannot write %s: %s", self._meta_path, exc)

    def encode(self, ids: list[int], scales: np.ndarray) -> Latent:
        feed = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        }
        out = self.encoder.run(None, feed)
        frames = out[-1].reshape(-1).astype(np.int64) if len(out) > 1 else None
        return Latent(out[0], out[1] if self.streams else None, frames)

    def frames(self, latent: Latent) -> int:
        if self.streams:
            return int(latent.prior.shape[-1])
        return -(-latent.prior.size // self.hop)

    def samples(self, latent: Latent) -> int:
        return self.frames(latent) * self.hop if self.streams else int(latent.prior.size)

    def _flow_upto(self, latent: Latent, end: int) -> np.ndarray:
        """The flow's output of frames [0, `end`) at least, extending what earlier windows ran."""
        assert self._flow is not None and latent.mask is not None
        done = 0 if latent.z is None else int(latent.z.shape[-1])
        if end <= done:
            assert latent.z is not None
            return latent.z
        frames = self.frames(latent)
        # The first run is on the listener's wait: just what the first window needs.
        upto = min(frames, end if done == 0 else max(end, done + _FLOW_STEP))
        if frames - upto < _FLOW_STEP // 2:
            upto = frames  # a short remainder joins this run rather than paying for a margin
        lo, hi = max(0, done - _FLOW_MARGIN), min(frames, upto + _FLOW_MARGIN)
        prior, mask = self._flow.get_inputs()
        feed = {prior.name: latent.prior[..., lo:hi], mask.name: latent.mask[..., lo:hi]}
        out: np.ndarray = self._flow.run(None, feed)[0]
        new = out[..., done - lo : upto - lo]
        latent.z = new if latent.z is None else np.concatenate([latent.z, new], axis=-1)
        return latent.z

    def decode(self, latent: Latent, window: Window) -> np.ndarray:
        """Float audio of the window's own frames."""
        if self._decoder is None:
            return latent.prior.reshape(-1)[window.start * self.hop : window.end * self.hop]
        z = self._flow_upto(latent, window.hi)
        (cut,) = self._decoder.get_inputs()
        (out,) = self._decoder.run(None, {cut.name: z[..., window.lo : window.hi]})
        audio: np.ndarray = np.asarray(out).reshape(-1)
        return audio[(window.start - window.lo) * self.hop : (window.end - window.lo) * self.hop]
