"""OpenAITTS — any OpenAI-compatible `/audio/speech` server, streamed as raw 16-bit PCM.

The server gives no word timings, so chunks carry none and the turn engine estimates them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import httpx

from voicewire.tts.base import SpeechChunk, TTSError

_REASON_CHARS = 200


class OpenAITTS:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str = "tts-1",
        api_key: str | None = None,
        *,
        voice: str = "alloy",
        voices: tuple[str, ...] = ("alloy",),
        sample_rate: int = 24000,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/audio/speech"
        self.model = model
        self.voice = voice
        self.voices = voices
        self.sample_rate = sample_rate
        self.timeout = timeout
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _error(self, message: str) -> TTSError:
        # Servers sometimes echo the rejected credential in their error body.
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return TTSError(f"{self.name} TTS at {self.url}: {message}")

    async def synthesize(
        self, text: str, *, voice: str | None = None, rate: float = 1.0
    ) -> AsyncGenerator[SpeechChunk, None]:
        if not text.strip():
            return
        body = {
            "model": self.model,
            "input": text,
            "voice": voice or self.voice,
            "response_format": "pcm",
            "speed": rate,
        }
        try:
            async with self._client.stream("POST", self.url, json=body) as response:
                if response.is_error:
                    raw = (await response.aread()).decode("utf-8", "replace")
                    try:
                        reason = str(json.loads(raw)["error"]["message"])
                    except (ValueError, KeyError, TypeError):
                        reason = raw or response.reason_phrase
                    reason = " ".join(reason.split())[:_REASON_CHARS]
                    raise self._error(f"HTTP {response.status_code}: {reason}")
                odd = b""
                async for data in response.aiter_bytes():
                    data = odd + data
                    # A 16-bit sample split across network reads waits for its second byte.
                    cut = len(data) - len(data) % 2
                    odd = data[cut:]
                    if cut:
                        yield SpeechChunk(data[:cut])
        except httpx.TimeoutException as exc:
            raise self._error(f"timed out after {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise self._error(f"request failed: {type(exc).__name__}: {exc}") from exc
