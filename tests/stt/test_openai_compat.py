"""OpenAISTT against FakeTranscriber, an httpx.MockTransport that reads the multipart upload."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import httpx
import pytest

from tests.stt.speech import silence
from voicewire.stt import STTError, Transcript
from voicewire.stt.openai_compat import OpenAISTT

KEY = "sk-test-not-a-real-key-789"


@dataclass
class FakeTranscriber:
    requests: list[httpx.Request] = field(default_factory=list)
    status: int = 200
    reply: object = field(default_factory=lambda: {"text": " What is the weather? "})

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            auth = request.headers.get("authorization", "")
            return httpx.Response(self.status, json={"error": {"message": f"broke for {auth}"}})
        return httpx.Response(200, json=self.reply)

    def fields(self) -> dict[str, Message]:
        """The last request's multipart form fields, by name."""
        request = self.requests[-1]
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        form = message_from_bytes(head + request.content)
        parts = form.get_payload()
        assert isinstance(parts, list)
        named = {}
        for part in parts:
            assert isinstance(part, Message)
            named[str(part.get_param("name", header="content-disposition"))] = part
        return named


@pytest.fixture
def server() -> FakeTranscriber:
    return FakeTranscriber()


@pytest.fixture
async def stt(server: FakeTranscriber) -> AsyncIterator[OpenAISTT]:
    transport = httpx.MockTransport(server.handle)
    engine = OpenAISTT("http://stt.test/v1/", api_key=KEY, language="en", transport=transport)
    yield engine
    await engine.aclose()


async def say(stt: OpenAISTT, pcm: bytes, rate: int) -> Transcript:
    stream = stt.stream(sample_rate=rate)
    for i in range(0, len(pcm), 2 * rate // 50):
        assert await stream.feed(pcm[i : i + 2 * rate // 50]) is None  # no partials
    return await stream.finish()


async def test_the_utterance_is_posted_as_a_16_khz_wav_in_a_multipart_form(
    stt: OpenAISTT, server: FakeTranscriber
) -> None:
    final = await say(stt, silence(1.0, 48000), 48000)
    assert final == Transcript("What is the weather?", final=True)
    request = server.requests[-1]
    assert request.url == "http://stt.test/v1/audio/transcriptions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    fields = server.fields()
    assert fields["model"].get_payload() == "whisper-1"
    assert fields["language"].get_payload() == "en"
    wav = fields["file"].get_payload(decode=True)
    assert isinstance(wav, bytes)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    with wave.open(io.BytesIO(wav)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (16000, 1, 2)
        assert abs(audio.getnframes() - 16000) <= 1


async def test_a_server_error_is_an_stt_error_without_the_api_key(
    stt: OpenAISTT, server: FakeTranscriber
) -> None:
    server.status = 500
    with pytest.raises(STTError, match="HTTP 500") as info:
        await say(stt, silence(0.2), 16000)
    assert KEY not in str(info.value)
    assert "***" in str(info.value)


async def test_a_reply_without_text_is_an_stt_error(
    stt: OpenAISTT, server: FakeTranscriber
) -> None:
    server.reply = {"words": []}
    with pytest.raises(STTError, match="no text"):
        await say(stt, silence(0.2), 16000)


async def test_an_unreachable_server_is_an_stt_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    stt = OpenAISTT("http://stt.test/v1", api_key=KEY, transport=httpx.MockTransport(refuse))
    with pytest.raises(STTError, match="ConnectError"):
        await say(stt, silence(0.2), 16000)
    await stt.aclose()


async def test_an_empty_utterance_is_not_sent(stt: OpenAISTT, server: FakeTranscriber) -> None:
    assert await stt.stream(sample_rate=16000).finish() == Transcript("", final=True)
    assert server.requests == []


async def test_an_utterance_over_the_length_limit_is_an_stt_error(
    server: FakeTranscriber,
) -> None:
    stt = OpenAISTT("http://stt.test/v1", max_seconds=1.0)
    stream = stt.stream(sample_rate=16000)
    await stream.feed(silence(0.9))
    with pytest.raises(STTError, match="longer than 1s"):
        await stream.feed(silence(0.2))
    with pytest.raises(STTError, match="already finished"):
        await stream.finish()
    await stt.aclose()
