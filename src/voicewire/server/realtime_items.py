"""`/v1/realtime` conversation items: create, retrieve, delete, truncate (barge-in's cut).

A truncate cuts an assistant's spoken item to the words whose audio had started by
`audio_end_ms`, from the turn's word timings (`heard_text`, as `turn.cancel` with
`played_ms` does on `/ws`); later responses see only the cut text (`Items.context`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from voicewire.server import realtime_events as rt
from voicewire.server.realtime_state import Items

Send = Callable[..., None]  # (type, **fields): a server event
Complain = Callable[[rt.Problem], None]  # an error event
Cut = Callable[[int, int], Awaitable[None]]  # (turn_id, audio_end_ms): cancel the running turn
Amend = Callable[[rt.Item, int], None]  # an ended reply was cut at audio_end_ms: store it

ItemEvent = rt.ItemCreate | rt.ItemRetrieve | rt.ItemDelete | rt.ItemTruncate


class ItemEvents:
    def __init__(
        self,
        items: Items,
        send: Send,
        complain: Complain,
        cut: Cut,
        amend: Amend,
        *,
        max_chars: int,
    ) -> None:
        self.items, self.send, self.complain, self.cut = items, send, complain, cut
        self.amend = amend
        self.max_chars = max_chars

    async def handle(self, event: ItemEvent) -> None:
        if isinstance(event, rt.ItemCreate):
            self._create(event)
            return
        item = self.items.find(event.item_id)
        if item is None:
            message = f"no item {event.item_id!r} in the conversation"
            self.complain(rt.Problem("item_not_found", message, event.event_id, "item_id"))
        elif isinstance(event, rt.ItemRetrieve):
            self.send("conversation.item.retrieved", item=item.shape())
        elif isinstance(event, rt.ItemDelete):
            if item.status == "in_progress":
                message = "the item is being generated: cancel its response first"
                self.complain(rt.Problem("item_in_progress", message, event.event_id, "item_id"))
                return
            self.items.delete(item)
            self.send("conversation.item.deleted", item_id=item.id)
        else:
            await self._truncate(item, event)

    def _create(self, event: rt.ItemCreate) -> None:
        asked = event.item
        if not self.items.placeable(event.previous_item_id):
            message = f"no item {event.previous_item_id!r} in the conversation"
            self.complain(rt.Problem("item_not_found", message, event.event_id, "previous_item_id"))
            return
        if asked.id is not None and self.items.find(asked.id) is not None:
            message = f"an item {asked.id!r} exists already"
            self.complain(rt.Problem("item_exists", message, event.event_id, "item.id"))
            return
        if not isinstance(asked, rt.ItemIn):
            size = len(
                asked.output if isinstance(asked, rt.FunctionCallOutputIn) else asked.arguments
            )
            if size > self.max_chars:
                message = f"the item is longer than {self.max_chars} characters"
                self.complain(rt.Problem("invalid_value", message, event.event_id, "item"))
                return
            if isinstance(asked, rt.FunctionCallOutputIn) and not any(
                i.kind == "function_call" and i.call_id == asked.call_id for i in self.items.items
            ):  # an output of no call could not be given to the model: say so now
                message = (
                    f"no function_call item with call_id {asked.call_id!r} in the conversation"
                )
                self.complain(rt.Problem("invalid_value", message, event.event_id, "item.call_id"))
                return
            self._add(self._function(asked), event.previous_item_id)
            return
        texts = []
        for content in asked.content:
            if content.type == "input_audio" and content.transcript is None:
                message = (
                    "input_audio content needs a transcript; send audio through input_audio_buffer"
                )
                self.complain(rt.Problem("unsupported", message, event.event_id, "item.content"))
                return
            texts.append(content.text or content.transcript or "")
        text = "".join(texts)
        if len(text) > self.max_chars:
            message = f"the item's text is longer than {self.max_chars} characters"
            self.complain(rt.Problem("invalid_value", message, event.event_id, "item.content"))
            return
        audio = any(c.type == "input_audio" for c in asked.content)
        kind: rt.ItemKind = "output_text" if asked.role == "assistant" else "input_text"
        if audio and asked.role == "user":
            kind = "input_audio"
        self._add(
            rt.Item(asked.id or rt.new_id("item"), asked.role, kind, text), event.previous_item_id
        )

    def _function(self, asked: rt.FunctionCallIn | rt.FunctionCallOutputIn) -> rt.Item:
        """A function's output (what the client's function returned), or a call."""
        id_ = asked.id or rt.new_id("item")
        if isinstance(asked, rt.FunctionCallOutputIn):
            return rt.Item(id_, "user", "function_call_output", asked.output, call_id=asked.call_id)
        call = rt.Item(id_, "assistant", "function_call", asked.arguments, call_id=asked.call_id)
        call.name = asked.name
        return call

    def _add(self, item: rt.Item, after: str | None) -> None:
        previous = self.items.add(item, after)
        self.send("conversation.item.added", previous_item_id=previous, item=item.shape())
        self.send("conversation.item.done", previous_item_id=previous, item=item.shape())

    async def _truncate(self, item: rt.Item, event: rt.ItemTruncate) -> None:
        def refuse(message: str, param: str) -> None:
            self.complain(rt.Problem("invalid_value", message, event.event_id, param))

        if item.kind != "output_audio":
            refuse("only an assistant's audio item can be truncated", "item_id")
        elif event.content_index != 0:
            refuse("the item has one content part (index 0)", "content_index")
        elif event.audio_end_ms > item.sent_ms:
            refuse(
                f"audio_end_ms {event.audio_end_ms} is past the {item.sent_ms} ms of audio sent",
                "audio_end_ms",
            )
        else:
            if item.status == "in_progress" and item.turn_id is not None:
                # Still speaking: stop it; its end is cut to what was heard.
                await self.cut(item.turn_id, event.audio_end_ms)
            elif item.heard is not None:
                item.text = item.heard(event.audio_end_ms)
                item.status = "incomplete"
                self.amend(item, event.audio_end_ms)
            self.send(
                "conversation.item.truncated",
                item_id=item.id,
                content_index=0,
                audio_end_ms=event.audio_end_ms,
            )
