"""Whisper behind VoiceInput (`end: "vad"`): the pause hint, and a 60 s monologue cut into its
sentences, none lost, in order."""

from __future__ import annotations

import pytest

from tests.stt.fake import FakeStream, FakeSTT, Heard
from tests.stt.speech import CHUNK, RATE, pieces, silence
from voicewire.bench.stt_set import speak
from voicewire.stt.utterances import VoiceInput
from voicewire.stt.whisper import WhisperSTT

# Sentence, and a word of it the transcript must have. The pause after each is longer than the
# silence window; inside the fourth there is a shorter one, which must not cut it.
MONOLOGUE = (
    ("I would like to plan a trip to the seaside next month", "seaside"),
    ("we could take the train early in the morning and arrive before lunch", "train"),
    ("my brother says the hotel near the harbour has a lovely garden", "garden"),
    ("please check whether the museum is open on sundays", "museum"),
    ("and find out how much the tickets cost for a family of four", "tickets"),
    ("also remind me to pack an umbrella because it often rains there", "umbrella"),
    ("I think we should book everything by friday at the latest", "book"),
    ("the children want to go swimming every single day", "swimming"),
    ("so we need a place with a pool that is not too far from the beach", "pool"),
    ("my mother would rather have a quiet room with a view of the water", "quiet"),
    ("if the weather is bad we can visit the old castle instead", "castle"),
    ("we might also hire bicycles and ride along the coast to the lighthouse", "lighthouse"),
    ("in the evening I would love to eat fresh fish at a small restaurant", "fish"),
    ("thank you for helping me with all of this", "helping"),
)


class PausingStream(FakeStream):
    def __init__(self, engine: FakeSTT) -> None:
        super().__init__(engine)
        self.hints: list[bool] = []

    def pause(self, paused: bool) -> None:
        self.hints.append(paused)


class PausingSTT(FakeSTT):
    def stream(self, *, sample_rate: int) -> PausingStream:
        stream = PausingStream(self)
        self.streams.append(stream)
        return stream


@pytest.fixture(scope="module")
def monologue() -> list[bytes]:
    return speak([text for text, _ in MONOLOGUE])


async def test_the_stream_is_told_when_the_voice_pauses_before_the_utterance_ends(
    question_16k: bytes,
) -> None:
    engine, heard = PausingSTT(), Heard()
    voice = VoiceInput(
        engine,
        sample_rate=RATE,
        end_by_vad=True,
        on_speech=heard.speech,
        on_transcript=heard.transcript,
    )
    for piece in pieces(question_16k + silence(1.0), CHUNK):
        await voice.feed(piece)
    first = engine.streams[0]
    assert isinstance(first, PausingStream)
    assert first.hints and first.hints[-1] is True  # told before it finished
    assert first.finished
    assert heard.finals() == ["hello world"]


async def test_a_60_s_monologue_in_vad_mode_yields_its_sentences_in_order(
    whisper: WhisperSTT, monologue: list[bytes]
) -> None:
    audio = bytearray(silence(0.5))
    for i, pcm in enumerate(monologue):
        if i == 3:  # "please check whether | the museum is open on sundays": a 0.4 s pause
            half = len(pcm) // 2 - len(pcm) // 2 % 2
            pcm = pcm[:half] + silence(0.4) + pcm[half:]
        audio += pcm + silence(1.2)
    assert len(audio) / 2 / RATE >= 55
    heard = Heard()
    voice = VoiceInput(
        whisper,
        sample_rate=RATE,
        end_by_vad=True,
        on_speech=heard.speech,
        on_transcript=heard.transcript,
    )
    for piece in pieces(bytes(audio), CHUNK):
        await voice.feed(piece)
    finals = [text for text in heard.finals() if text]
    assert len(finals) == len(MONOLOGUE)
    for (_, word), text in zip(MONOLOGUE, finals, strict=True):
        assert word in text.lower()
