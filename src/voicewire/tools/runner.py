"""Running one tool call: arguments checked, the function run with a timeout, the outcome told.

Whatever happens, the model is told something it can act on: the result as JSON, or an error
that says what went wrong (an unknown tool lists the real ones; bad arguments say which). The
call is never the end of the turn. A sync tool runs in a worker thread of the tools' own pool:
on a timeout or a barge-in the turn goes on without it, but the thread itself cannot be stopped
and finishes in the background. The pool is not the event loop's default executor, which encodes
audio and loads voices: tools that hang hold only threads meant for tools.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from functools import partial
from typing import Any

from pydantic import ValidationError

from voicewire.llm.base import ToolCallRequest
from voicewire.responder import DataItem
from voicewire.tools.events import ToolRun
from voicewire.tools.registry import Tool, Toolbox

log = logging.getLogger(__name__)
_ERROR_CHARS = 300
_TOOL_THREADS = 8  # sync tools running at once, across the server; more calls wait their turn
_pool: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_TOOL_THREADS, thread_name_prefix="voicewire-tool")
    return _pool


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _error(message: str) -> str:
    return _json({"error": message[:_ERROR_CHARS]})


async def execute(run: ToolRun, toolbox: Toolbox, send: Callable[[DataItem], None]) -> ToolRun:
    """Run `run`'s call; its DataItems go to `send` as they come. Returns `run`, finished."""
    call = run.call
    tool = toolbox.tools.get(call.name)
    if tool is None:
        names = ", ".join(sorted(toolbox.tools)) or "none"
        run.finish("error", _error(f"there is no tool named {call.name!r}; the tools are: {names}"))
        return run
    run.visible = tool.visible
    try:
        raw = json.loads(call.arguments or "{}")
        if not isinstance(raw, dict):
            raise ValueError("the arguments must be a JSON object")
        args, kwargs = tool.arguments(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        run.finish("error", _error(f"invalid arguments for {call.name}: {problems}"))
        return run
    except ValueError as exc:
        run.finish("error", _error(f"invalid arguments for {call.name}: {exc}"))
        return run
    timeout = time_limit(call, toolbox)
    try:
        async with asyncio.timeout(timeout):
            result = await _call(tool, args, kwargs, send)
    except TimeoutError:
        log.warning("tool %s timed out after %g s", call.name, timeout)
        time_out(run, timeout)
        return run
    except Exception as exc:
        log.warning("tool %s failed: %r", call.name, exc)
        run.finish("error", _error(f"{call.name} failed: {type(exc).__name__}: {exc}"))
        return run
    content = result if isinstance(result, str) else _json(result)
    run.finish("ok", _cut(content, toolbox.max_result_chars), result)
    return run


def time_limit(call: ToolCallRequest, toolbox: Toolbox) -> float:
    """How long `call` may run: its tool's `timeout_s`, else the toolbox's."""
    tool = toolbox.tools.get(call.name)
    return tool.timeout_s if tool and tool.timeout_s is not None else toolbox.timeout_s


def time_out(run: ToolRun, timeout: float) -> None:
    run.finish("timeout", _error(f"{run.call.name} did not answer within {timeout:g} s"))


def _cut(content: str, limit: int) -> str:
    """`content` within `limit` chars: what the model reads, stored with the reply each turn."""
    if len(content) <= limit:
        return content
    return f"{content[:limit]} [cut: the result has {len(content)} characters, this is the start]"


async def _call(
    tool: Tool, args: tuple[Any, ...], kwargs: dict[str, Any], send: Callable[[DataItem], None]
) -> Any:
    fn = tool.fn
    if inspect.isasyncgenfunction(fn):
        result: Any = None
        gen: AsyncGenerator[Any, None] = fn(*args, **kwargs)
        async with aclosing(gen) as items:
            async for item in items:
                if isinstance(item, DataItem):
                    send(item)
                else:
                    result = item
        return result
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    # As asyncio.to_thread does, with the context; a call still queued is dropped on cancel.
    call = partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_threads(), call)
