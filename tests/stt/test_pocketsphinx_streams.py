"""PocketsphinxSTT streams: the decoder pool, concurrency, cancelling, closing, bad input."""

from __future__ import annotations

import asyncio

import pytest

from tests.stt.speech import CHUNK, RATE, assert_heard_the_question, pieces, silence, transcribe
from voicewire.stt import STTError
from voicewire.stt.pocketsphinx import PocketsphinxSTT


async def test_decoders_are_reused_across_utterances(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    await transcribe(stt, question_16k)
    created = stt.created
    for _ in range(2):
        await transcribe(stt, question_16k)
    assert stt.created == created


async def test_a_reused_decoder_hears_the_same_audio_the_same_way(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    # Without resetting its cepstral mean, a decoder's partials drift with each reuse.
    first = await transcribe(stt, question_16k)
    second = await transcribe(stt, question_16k)
    assert first == second


async def test_two_utterances_at_once_are_both_heard(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    results = await asyncio.gather(transcribe(stt, question_16k), transcribe(stt, question_16k))
    for _, final in results:
        assert_heard_the_question(final)


async def test_warming_makes_the_decoders_streams_will_take_up_to_keep(
    question_16k: bytes,
) -> None:
    engine = PocketsphinxSTT(keep=2)
    try:
        engine.warm(5)
        assert engine.created == 2
        streams = [engine.stream(sample_rate=RATE) for _ in range(2)]
        for stream in streams:
            await stream.feed(question_16k[:CHUNK])
        for stream in streams:
            await stream.finish()
        assert engine.created == 2
    finally:
        engine.close()


async def test_an_abandoned_utterance_gives_its_decoder_back(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    await transcribe(stt, question_16k)
    created = stt.created
    stream = stt.stream(sample_rate=RATE)
    for piece in pieces(question_16k[: len(question_16k) // 2], CHUNK):
        await stream.feed(piece)
    await stream.aclose()
    await stream.aclose()
    _, final = await transcribe(stt, question_16k)
    assert_heard_the_question(final)
    assert stt.created == created


async def test_feeding_a_finished_utterance_is_an_stt_error(stt: PocketsphinxSTT) -> None:
    stream = stt.stream(sample_rate=RATE)
    await stream.feed(silence(0.1))
    await stream.finish()
    with pytest.raises(STTError, match="already finished"):
        await stream.feed(silence(0.1))
    with pytest.raises(STTError, match="already finished"):
        await stream.finish()


async def test_closing_the_engine_fails_its_open_utterances_with_an_stt_error(
    question_16k: bytes,
) -> None:
    engine = PocketsphinxSTT(keep=1)
    stream = engine.stream(sample_rate=RATE)
    await stream.feed(question_16k[:CHUNK])
    engine.close()
    with pytest.raises(STTError, match="closed"):
        await stream.feed(question_16k[CHUNK : 2 * CHUNK])
    await stream.aclose()  # still safe


async def test_cancelling_a_feed_leaves_the_stream_usable(
    stt: PocketsphinxSTT, question_16k: bytes
) -> None:
    stream = stt.stream(sample_rate=RATE)
    half = len(question_16k) // 2
    task = asyncio.create_task(stream.feed(question_16k[:half]))
    await asyncio.sleep(0)  # submitted, and likely still queued for the pool
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The cancelled feed's audio is still decoded, so the rest of the audio follows on.
    for piece in pieces(question_16k[half:], CHUNK):
        await stream.feed(piece)
    assert_heard_the_question(await stream.finish())


@pytest.mark.parametrize("rate", [4000, 7999, 48001, 96000])
def test_a_rate_outside_8_to_48_khz_is_an_stt_error(stt: PocketsphinxSTT, rate: int) -> None:
    with pytest.raises(STTError, match=r"8000\.\.48000"):
        stt.stream(sample_rate=rate)
