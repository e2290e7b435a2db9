"""OpenAISTT — any OpenAI-compatible `/audio/transcriptions` server (Whisper and friends).

These servers transcribe whole files, so the stream buffers the utterance (resampled to
16 kHz: Whisper works at that rate, and it keeps 48 kHz microphones from tripling the upload)
and `finish` posts it as a WAV. There are no partials.
"""

from __future__ import annotations

import httpx

from voicewire.stt.audio import Resampler, wav_bytes
from voicewire.stt.base import STTError, Transcript, check_rate

_REASON_CHARS = 200


class OpenAISTT:
    name = "openai"
    sample_rate = 16000

    def __init__(
        self,
        base_url: str,
        model: str = "whisper-1",
        api_key: str | None = None,
        *,
        language: str | None = None,
        max_seconds: float = 300.0,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self.language = language
        self.max_seconds = max_seconds
        self.timeout = timeout
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    def stream(self, *, sample_rate: int) -> _Stream:
        return _Stream(self, check_rate(sample_rate))

    def error(self, message: str) -> STTError:
        # Servers sometimes echo the rejected credential in their error body.
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return STTError(f"{self.name} STT at {self.url}: {message}")

    async def transcribe(self, wav: bytes) -> str:
        data = {"model": self.model, "response_format": "json"}
        if self.language:
            data["language"] = self.language
        files = {"file": ("speech.wav", wav, "audio/wav")}
        try:
            response = await self._client.post(self.url, data=data, files=files)
        except httpx.TimeoutException as exc:
            raise self.error(f"timed out after {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise self.error(f"request failed: {type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            try:
                reason = str(body["error"]["message"])
            except (KeyError, TypeError):
                reason = response.text or response.reason_phrase
            reason = " ".join(reason.split())[:_REASON_CHARS]
            raise self.error(f"HTTP {response.status_code}: {reason}")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise self.error(f"no text in the reply: {response.text[:_REASON_CHARS]!r}")
        return " ".join(body["text"].split())


class _Stream:
    def __init__(self, engine: OpenAISTT, sample_rate: int) -> None:
        self._engine = engine
        self._resampler = Resampler(sample_rate, engine.sample_rate)
        self._buffer = bytearray()
        self._limit = int(engine.max_seconds * engine.sample_rate) * 2
        self._done = False

    async def feed(self, pcm: bytes) -> Transcript | None:
        if self._done:
            raise STTError("the utterance is already finished")
        self._buffer += self._resampler.push(pcm)
        if len(self._buffer) > self._limit:
            await self.aclose()
            raise self._engine.error(f"utterance longer than {self._engine.max_seconds:g}s")
        return None

    async def finish(self) -> Transcript:
        if self._done:
            raise STTError("the utterance is already finished")
        self._done = True
        pcm = bytes(self._buffer + self._resampler.flush())
        self._buffer.clear()
        if not pcm:
            return Transcript("", final=True)
        text = await self._engine.transcribe(wav_bytes(pcm, self._engine.sample_rate))
        return Transcript(text, final=True)

    async def aclose(self) -> None:
        self._done = True
        self._buffer.clear()
