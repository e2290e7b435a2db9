"""A connection's conversation: where its messages are stored, and the LLM's context.

A turn enters it twice: when it starts, with the user message it answers (stored first, and
remembered for the LLM), and when it ends, with its reply as it was heard (its text and tool
calls remembered, its row closed). `turns.TurnRunner` decides when; this is what each means.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from voicewire.llm.base import ChatMessage
from voicewire.protocol.messages import UserMessage
from voicewire.server.persist import Recorder
from voicewire.server.services import Services
from voicewire.tools.history import reply_messages
from voicewire.turn import Turn


@dataclass
class Conversation:
    """One connection's conversation: where it is stored, and the LLM's context (bounded)."""

    id: str  # "" when nothing is stored
    recorder: Recorder | None
    history: deque[ChatMessage]

    @classmethod
    def open(
        cls, services: Services, conversation_id: str, history: list[ChatMessage]
    ) -> Conversation:
        recorder = None
        if services.store is not None and conversation_id:
            recorder = Recorder(
                services.store, services.writes, conversation_id, node=services.hub.node
            )
        limit = services.settings.history_messages
        return cls(conversation_id, recorder, deque(history[-limit:], maxlen=limit))

    def ask(
        self, message: UserMessage, turn_id: int, *, spoken: bool, follow_up: bool
    ) -> asyncio.Future[None] | None:
        """Turn `turn_id` answers `message`: it is stored, its reply opened, and it joins the
        history. Returns what is done when it is committed (None: nothing is stored).

        `follow_up`: the turn goes on after tool outputs already in the history; `message`
        names them and is neither stored nor added (only the reply is opened)."""
        stored = None
        if self.recorder is not None and follow_up:
            self.recorder.follow_up(turn_id, spoken=spoken)
        elif self.recorder is not None:
            stored = self.recorder.user_message(
                message.text, client_id=message.id, turn_id=turn_id, spoken=spoken
            )
        if not follow_up:
            self.history.append(ChatMessage("user", message.text))
        return stored

    def answered(self, turn: Turn, text: str, played_ms: int | None) -> None:
        """`turn` ended and `text` of it was heard: its reply (text and tool calls) joins the
        history, and its stored row is closed with its status."""
        calls = [run.record() for run in turn.tools]
        if text or calls:
            self.history.extend(reply_messages(text, calls))
        if self.recorder is not None:
            self.recorder.finish_reply(
                turn.turn_id,
                text=text,
                status=turn.status,
                played_ms=played_ms,
                spoken=turn.options.voice,
                data=[{"kind": d.kind, "payload": d.payload} for d in turn.data],
                tools=calls,
            )
