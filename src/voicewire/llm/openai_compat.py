"""OpenAILLM — any OpenAI-compatible `/chat/completions` server (OpenAI, Ollama, vLLM, ...).

Error messages carry the status and a short reason but never the API key, since servers
sometimes echo the rejected credential back in their error body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from voicewire.llm.base import ChatMessage, LLMError, ToolCallDelta

_REASON_CHARS = 200


def _reason(body: bytes, fallback: str) -> str:
    """The server's own error message when it sends the usual `{"error": {"message"}}`."""
    try:
        error = json.loads(body).get("error")
        text = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace")
    return " ".join(str(text or fallback).split())[:_REASON_CHARS]


class OpenAILLM:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        timeout: float = 60.0,
        system_prompt: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.system_prompt = system_prompt
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _error(self, message: str) -> LLMError:
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return LLMError(f"{self.name} LLM at {self.url}: {message}")

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        async with aclosing(self.stream_tools(messages, [])) as items:
            async for item in items:
                if isinstance(item, str):
                    yield item

    async def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]],
        tool_choice: str | Mapping[str, Any] = "auto",
    ) -> AsyncGenerator[str | ToolCallDelta, None]:
        """The reply's text deltas and, when `tools` are offered, its tool-call pieces."""
        payload = [m.openai() for m in messages]
        if self.system_prompt and (not payload or payload[0]["role"] != "system"):
            payload.insert(0, {"role": "system", "content": self.system_prompt})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": payload,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if tools:
            body["tools"] = list(tools)
            body["tool_choice"] = tool_choice
        try:
            async with self._client.stream("POST", self.url, json=body) as response:
                if response.is_error:
                    reason = _reason(await response.aread(), response.reason_phrase)
                    raise self._error(f"HTTP {response.status_code}: {reason}")
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, `event:` and `: keep-alive` comments
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    for item in self._delta(data):
                        yield item
        except httpx.TimeoutException as exc:
            raise self._error(f"timed out after {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise self._error(f"request failed: {type(exc).__name__}: {exc}") from exc

    def _delta(self, data: str) -> list[str | ToolCallDelta]:
        try:
            event: Any = json.loads(data)
            if "error" in event:
                raise self._error(f"error in stream: {_reason(data.encode(), 'unknown')}")
            choices = event.get("choices") or [{}]
            delta = choices[0].get("delta") or {}
            content = delta.get("content")
            out: list[str | ToolCallDelta] = (
                [content] if isinstance(content, str) and content else []
            )
            for i, call in enumerate(delta.get("tool_calls") or ()):
                function = call.get("function") or {}
                out.append(
                    ToolCallDelta(
                        index=int(call.get("index", i)),
                        id=call.get("id") or None,
                        name=function.get("name") or None,
                        arguments=function.get("arguments") or "",
                    )
                )
        except (ValueError, AttributeError, TypeError) as exc:
            raise self._error(f"bad JSON in stream: {data[:80]!r}") from exc
        return out
