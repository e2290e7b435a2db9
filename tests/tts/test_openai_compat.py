"""OpenAITTS against fake_openai_server, an httpx.MockTransport that streams PCM in pieces."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.waiting import HANG_S
from voicewire.tts.base import TTSError
from voicewire.tts.openai_compat import OpenAITTS

KEY = "sk-test-not-a-real-key-456"
# Nine bytes in pieces of 3, 2 and 4: sample boundaries fall inside network chunks.
PIECES = [b"\x01\x00\x02", b"\x00\x03", b"\x00\x04\x00\x05"]


@dataclass
class FakeOpenAIServer:
    requests: list[httpx.Request] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=lambda: list(PIECES))
    status: int = 200
    gate: asyncio.Event | None = None  # when set up, holds the rest of the body until opened

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            auth = request.headers.get("authorization", "")
            error = {"error": {"message": f"voice service broke for {auth}"}}
            return httpx.Response(self.status, json=error)
        return httpx.Response(200, content=self.body())

    async def body(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self.pieces):
            if i == 1 and self.gate is not None:
                await self.gate.wait()
            yield piece


@pytest.fixture
def fake_openai_server() -> FakeOpenAIServer:
    return FakeOpenAIServer()


@pytest.fixture
async def tts(fake_openai_server: FakeOpenAIServer) -> AsyncIterator[OpenAITTS]:
    transport = httpx.MockTransport(fake_openai_server.handle)
    engine = OpenAITTS("http://tts.test/v1/", api_key=KEY, voice="nova", transport=transport)
    yield engine
    await engine.aclose()


async def test_pcm_arrives_in_order_in_whole_samples(tts: OpenAITTS) -> None:
    chunks = [chunk async for chunk in tts.synthesize("Hello there.")]
    assert all(len(c.pcm) % 2 == 0 and c.pcm for c in chunks)
    assert b"".join(c.pcm for c in chunks) == b"".join(PIECES)[:8]
    assert len(chunks) == 3
    assert all(c.words == () for c in chunks)


async def test_audio_is_yielded_before_the_body_has_finished(
    tts: OpenAITTS, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.gate = asyncio.Event()
    stream = tts.synthesize("Hello there.")
    # The body is held after its first piece: a stream that waits for the whole body hangs
    # here, and the hang guard turns that into a failure.
    first = await asyncio.wait_for(anext(stream), HANG_S)
    fake_openai_server.gate.set()
    rest = [chunk.pcm async for chunk in stream]
    assert first.pcm == b"\x01\x00"
    assert b"".join(rest) == b"\x02\x00\x03\x00\x04\x00"


async def test_the_request_asks_for_raw_pcm_with_the_bearer_key(
    tts: OpenAITTS, fake_openai_server: FakeOpenAIServer
) -> None:
    [_ async for _ in tts.synthesize("Hi there.", rate=1.5)]
    [_ async for _ in tts.synthesize("Hi again.", voice="echo")]
    first, second = fake_openai_server.requests
    assert str(first.url) == "http://tts.test/v1/audio/speech"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(first.content) == {
        "model": "tts-1",
        "input": "Hi there.",
        "voice": "nova",
        "response_format": "pcm",
        "speed": 1.5,
    }
    assert json.loads(second.content)["voice"] == "echo"


async def test_a_500_is_a_tts_error_with_the_status_but_never_the_key(
    tts: OpenAITTS, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.status = 500
    with pytest.raises(TTSError) as caught:
        [_ async for _ in tts.synthesize("Hello.")]
    assert "500" in str(caught.value)
    assert "voice service broke" in str(caught.value)
    assert KEY not in str(caught.value)


async def test_blank_text_sends_no_request(
    tts: OpenAITTS, fake_openai_server: FakeOpenAIServer
) -> None:
    assert [c async for c in tts.synthesize(" \t")] == []
    assert fake_openai_server.requests == []


async def test_a_timeout_is_a_tts_error() -> None:
    def stall(request: httpx.Request) -> Any:
        raise httpx.ReadTimeout("read timed out", request=request)

    tts = OpenAITTS("http://tts.test/v1", timeout=3, transport=httpx.MockTransport(stall))
    try:
        with pytest.raises(TTSError, match="timed out after 3s"):
            [_ async for _ in tts.synthesize("Hello.")]
    finally:
        await tts.aclose()
