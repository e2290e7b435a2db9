"""PocketsphinxSTT with the en-us model from its wheel, listening to Piper's joe-us voice.

On this audio pocketsphinx 5.1.1 returns exactly "what is the weather in paris tomorrow"; the
tests assert only on "weather" and "paris" so a different model build may vary the rest.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.stt.speech import RATE, assert_heard_the_question, resample, silence, transcribe
from voicewire.stt import Transcript
from voicewire.stt import pocketsphinx as pocketsphinx_module
from voicewire.stt.pocketsphinx import PocketsphinxSTT


async def test_the_question_is_heard_with_partials_before_the_end(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    partials, final = await transcribe(stt, question_16k)
    assert_heard_the_question(final)
    assert len(partials) >= 3
    assert partials[0] != partials[-1]  # it grew as the words came in
    assert any("weather" in p for p in partials)


async def test_piper_audio_at_22050_hz_is_resampled_by_the_stream(
    stt: PocketsphinxSTT, spoken: tuple[bytes, int]
) -> None:
    pcm, rate = spoken
    padded = silence(0.5, rate) + pcm + silence(0.5, rate)
    _, final = await transcribe(stt, padded, rate=rate, size=2 * rate // 50)
    assert_heard_the_question(final)


async def test_audio_at_48_khz_in_odd_sized_chunks_is_still_heard(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    _, final = await transcribe(stt, resample(question_16k, RATE, 48000), 48000, size=1001)
    assert_heard_the_question(final)


async def test_silence_and_no_audio_at_all_give_empty_final_transcripts(
    stt: PocketsphinxSTT,
) -> None:
    partials, final = await transcribe(stt, silence(1.0))
    assert (partials, final) == ([], Transcript("", final=True))
    assert await stt.stream(sample_rate=RATE).finish() == Transcript("", final=True)
    half_a_sample = stt.stream(sample_rate=RATE)
    assert await half_a_sample.feed(b"\x01") is None
    assert await half_a_sample.finish() == Transcript("", final=True)


async def test_audio_reaches_the_decoder_in_pieces_of_at_most_30_ms(
    monkeypatch: pytest.MonkeyPatch, question_16k: bytes
) -> None:
    """PocketSphinx holds the GIL while decoding: small pieces give the event loop turns."""
    sizes: list[int] = []
    real = pocketsphinx_module._ps.Decoder

    class Spy:
        def __init__(self, **options: Any) -> None:
            self._decoder = real(**options)

        def process_raw(self, data: bytes, *args: Any) -> None:
            sizes.append(len(data))
            self._decoder.process_raw(data, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._decoder, name)

    monkeypatch.setattr(pocketsphinx_module._ps, "Decoder", Spy)
    engine = PocketsphinxSTT(keep=1)
    try:
        stream = engine.stream(sample_rate=RATE)
        await stream.feed(question_16k)  # three seconds at once
        assert_heard_the_question(await stream.finish())
    finally:
        engine.close()
    assert sum(sizes) == len(question_16k)
    assert max(sizes) == 960  # 30 ms at 16 kHz
