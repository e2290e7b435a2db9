"""The speech that `voicewire bench stt` scores recognizers on, and word error rate.

- `REQUESTS`: everyday requests to a voice assistant, spoken by Piper's joe voice (noise off, so
  every run hears the same audio). No test uses them: they measure, they do not tune.
  No digits, no contractions: a recognizer's choice between "5" and "five" is not an error.
- `human_set()`: people reading, from recordings shipped inside the `moonshine-voice` package
  (MIT; installed with voicewire[bench]): the opening of *A Tale of Two Cities* (public-domain
  text, 44 s) and a line of Beckett (10 s), with their texts. Only the files are read: the
  package is not imported (its import wants an audio device library).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import wave
from pathlib import Path

from voicewire.codecs.resample import StreamResampler, frames_to_pcm

RATE = 16000

REQUESTS = (
    "set a timer for ten minutes",
    "remind me to call my sister tomorrow morning",
    "what is the capital of australia",
    "play some quiet music for dinner",
    "how long does it take to boil an egg",
    "turn off the lights in the kitchen",
    "can you translate good morning into spanish",
    "add milk and bread to my shopping list",
    "what time does the pharmacy close today",
    "tell me a short story about a brave little mouse",
    "how far is the moon from the earth",
    "book a table for two at an italian restaurant",
    "what should I wear if it rains this afternoon",
    "send a message to john saying I will be late",
    "explain how a rainbow is made",
    "which planet is the largest in our solar system",
    "find me a recipe for vegetable soup",
    "wake me up at seven tomorrow",
    "how do you say thank you in japanese",
    "what are the opening hours of the city museum",
    "please read me the latest news headlines",
    "is it going to snow in the mountains this weekend",
    "give me three ideas for a birthday present",
    "how many hours of sleep does a teenager need",
)

_HUMAN = {
    "two_cities.wav": (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it "
        "was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity, it was the season of Light, it was the season of Darkness, it was the "
        "spring of hope, it was the winter of despair, we had everything before us, we had "
        "nothing before us, we were all going direct to Heaven, we were all going direct the "
        "other way, in short, the period was so far like the present period, that some of its "
        "noisiest authorities insisted on its being received, for good or for evil, in the "
        "superlative degree of comparison only."
    ),
    "beckett.wav": "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.",
}


_NUMBERS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen", "twenty"),
)


def _spelled(number: str) -> str:
    return _NUMBERS[int(number)] if int(number) < len(_NUMBERS) else number


def words(text: str) -> list[str]:
    """Lower case, small numbers spelled out, punctuation and dashes gone: what a WER counts
    (writing "10" for "ten" is not an error)."""
    text = re.sub(r"\b\d+\b", lambda m: _spelled(m.group()), text.lower())
    return re.sub(r"[^a-z0-9' ]+", " ", text.replace("-", " ")).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(pairs: list[tuple[str, str]]) -> float:
    """Word error rate over (reference, hypothesis) pairs: edits over reference words."""
    errors = sum(edit_distance(words(r), words(h)) for r, h in pairs)
    return errors / max(1, sum(len(words(r)) for r, _ in pairs))


def to_16k(pcm: bytes, rate: int) -> bytes:
    if rate == RATE:
        return pcm
    resampler = StreamResampler(rate, RATE)
    return frames_to_pcm(resampler.push(pcm) + resampler.flush())


def speak(texts: tuple[str, ...] | list[str]) -> list[bytes]:
    """Piper's joe voice saying each text (noise off: the same audio every run), at 16 kHz."""
    from voicewire.tts.piper import PiperTTS

    async def run() -> list[bytes]:
        tts = PiperTTS()
        tts.noise_scale = tts.noise_w = 0.0
        try:
            out = []
            for text in texts:
                pcm = b"".join([c.pcm async for c in tts.synthesize(text)])
                out.append(to_16k(pcm, tts.sample_rate))
            return out
        finally:
            tts.close()

    return asyncio.run(run())


def human_set() -> list[tuple[str, bytes, str]]:
    """(name, 16 kHz pcm, text) of each human recording; empty without moonshine-voice."""
    spec = importlib.util.find_spec("moonshine_voice")
    if spec is None or not spec.submodule_search_locations:
        return []
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    out = []
    for name, text in _HUMAN.items():
        with wave.open(str(assets / name), "rb") as w:
            pcm, rate = w.readframes(w.getnframes()), w.getframerate()
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                continue
        out.append((name, to_16k(pcm, rate), text))
    return out
