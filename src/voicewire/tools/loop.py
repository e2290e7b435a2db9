"""A reply with tools: the model writes, calls tools, reads their results and writes on.

    step    the model streams text (yielded at once) and tool-call pieces (assembled)
    calls   the calls of the step run at the same time (up to `max_calls_per_step`; the
            model is told the others were not run); a bridge is said if they are slow
    again   the calls and their results join the messages, and the model takes the next step

Closing the generator (a barge-in cancels the turn) cancels the tools still running; their
results are discarded and their runs say `cancelled`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from voicewire.llm.base import ChatMessage, ToolCallDelta, ToolCallRequest, ToolLLM
from voicewire.responder import DataItem
from voicewire.tools.events import Pause, ToolEvent, ToolFinished, ToolRun, ToolStarted
from voicewire.tools.registry import Toolbox
from voicewire.tools.runner import execute, time_limit, time_out

log = logging.getLogger(__name__)
ReplyItem = str | DataItem | ToolEvent


class CallAssembler:
    """Joins streamed tool-call pieces into calls, by index, in the order they began.

    A piece bringing an id other than its index's call starts a new call: some servers
    (Ollama) stream every call of a parallel batch at index 0, each with its own id.
    """

    def __init__(self) -> None:
        self._parts: list[list[str]] = []  # [id, name, arguments], in the order they began
        self._at: dict[int, list[str]] = {}  # index → its call being streamed

    def add(self, delta: ToolCallDelta) -> None:
        part = self._at.get(delta.index)
        if part is None or (delta.id and part[0] and delta.id != part[0]):
            part = self._at[delta.index] = ["", "", ""]
            self._parts.append(part)
        if delta.id:
            part[0] = delta.id
        if delta.name:
            part[1] += delta.name  # some servers stream the name in pieces too
        part[2] += delta.arguments

    def calls(self) -> list[ToolCallRequest]:
        return [
            ToolCallRequest(id or f"call_{uuid.uuid4().hex[:24]}", name, arguments)
            for id, name, arguments in self._parts
        ]


async def tool_reply(
    llm: ToolLLM, messages: Sequence[ChatMessage], toolbox: Toolbox
) -> AsyncGenerator[ReplyItem, None]:
    """The model's reply to `messages`, calling `toolbox`'s tools as it asks."""
    messages = list(messages)
    schemas = toolbox.schemas()
    bridged = False  # the last thing said was a bridge: never two in a row
    spaced = True  # the reply so far is empty or ends in a space
    for step in range(toolbox.max_steps + 1):
        text, calls = "", CallAssembler()
        offer = schemas if step < toolbox.max_steps else []
        async with aclosing(llm.stream_tools(messages, offer)) as items:
            async for item in items:
                if isinstance(item, ToolCallDelta):
                    calls.add(item)
                elif item:
                    text += item
                    bridged = bridged and not item.strip()
                    spaced = item[-1].isspace()
                    yield item
        requests = calls.calls()
        if not requests or step == toolbox.max_steps:
            return  # (calls made when none were offered any more are not run)
        messages.append(ChatMessage("assistant", text, tool_calls=tuple(requests)))
        bound = toolbox.max_calls_per_step
        runs = [ToolRun(call) for call in requests[:bound]]
        refused = [_refuse(call, bound) for call in requests[bound:]]
        if refused:
            log.warning("%d tool calls of one step not run: the bound is %d", len(refused), bound)
        for run in runs:
            yield ToolStarted(run)
        # Words the model said before its calls are a bridge of its own ("Let me look.").
        bridged = bridged or bool(text.strip())
        async with aclosing(_run_step(runs, toolbox, bridged, spaced)) as outcomes:
            async for out in outcomes:
                if out is _BRIDGED:
                    bridged = spaced = True
                    continue
                yield out
        messages += [ChatMessage("tool", r.content, tool_call_id=r.call.id) for r in runs]
        messages += refused


def _refuse(call: ToolCallRequest, bound: int) -> ChatMessage:
    """The answer to a call past the step's bound: not run, nor shown, nor stored; the model
    is told (every call of its message needs an answer)."""
    error = f"not run: at most {bound} calls are run at once; make the others in your next step"
    return ChatMessage("tool", json.dumps({"error": error}), tool_call_id=call.id)


_BRIDGED = Pause()  # marks, for tool_reply, that a bridge was said


async def _run_step(
    runs: list[ToolRun], toolbox: Toolbox, bridged: bool, spaced: bool
) -> AsyncGenerator[ReplyItem, None]:
    """Run the calls of one step together; yield their data, a bridge if slow, their ends."""
    out: asyncio.Queue[DataItem | ToolRun] = asyncio.Queue()

    async def one(run: ToolRun) -> None:
        try:
            await execute(run, toolbox, out.put_nowait)
        except Exception:  # execute tells the model every tool failure; this is a bug of ours
            log.exception("tool %s: running it failed", run.call.name)
            run.finish("error", '{"error": "the tool could not be run"}')
        out.put_nowait(run)

    tasks = [asyncio.create_task(one(run), name=f"tool {run.call.name}") for run in runs]
    loop = asyncio.get_running_loop()
    bridge_at = None if bridged or not toolbox.bridge else loop.time() + toolbox.bridge_after_s
    # A tool that swallows the cancel of its own timeout is given up on a grace later.
    limits = {run: time_limit(run.call, toolbox) for run in runs}
    give_up_at = loop.time() + max(limits.values(), default=0.0) + toolbox.cancel_grace_s
    pending = len(runs)
    try:
        # The turn does not bound this wait by llm_timeout_s while its tools run (turn/writer.py):
        # each tool is bounded by its own timeout_s.
        while pending:
            bridging = bridge_at is not None and bridge_at < give_up_at
            try:
                async with asyncio.timeout_at(bridge_at if bridging else give_up_at):
                    item = await out.get()
            except TimeoutError:
                if not bridging:
                    for run in runs:
                        if run.status == "running":
                            time_out(run, limits[run])
                            yield ToolFinished(run)
                    return  # their tasks are abandoned below
                assert toolbox.bridge is not None
                bridge_at = None
                yield ("" if spaced else " ") + toolbox.bridge + " "
                yield Pause()
                yield _BRIDGED
                continue
            if isinstance(item, DataItem):
                yield item
            else:
                pending -= 1
                yield ToolFinished(item)
    finally:
        for task in tasks:
            task.cancel()
        try:
            await _wind_down(tasks, toolbox.cancel_grace_s)
        finally:
            for run in runs:
                if run.status == "running":
                    run.finish("cancelled", '{"error": "cancelled: the user interrupted"}')


_abandoned: set[asyncio.Task[None]] = set()  # referenced until they end, as asyncio asks


async def _wind_down(tasks: list[asyncio.Task[None]], grace_s: float) -> None:
    """Wait for the cancelled `tasks` to end, up to `grace_s`: a tool that swallows its cancel
    must not hold the turn (a barge-in) without bound. The rest are left to end on their own."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        log.warning(
            "%s did not stop within %g s of its cancel: abandoned, it ends in the background",
            task.get_name(),
            grace_s,
        )
        _abandoned.add(task)
        task.add_done_callback(_abandoned.discard)
