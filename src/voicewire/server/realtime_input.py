"""`/v1/realtime` input audio: `input_audio_buffer.append` / `commit` / `clear` on a `Microphone`.

The buffer is the microphone of `/ws` (its STT slot, audio budget and utterance limit), fed
base64 pcm16 at 24 kHz. With `turn_detection` server_vad, the microphone's end-of-speech
detection commits each utterance and, unless `create_response` is false, answers it; speech
starting interrupts the running response (barge-in, as `turn.cancel`). With none, `commit` ends
the utterance and `response.create` answers it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from voicewire.protocol.messages import InputAudioStart
from voicewire.server import realtime_events as rt
from voicewire.server.realtime_items import Complain, Send
from voicewire.server.realtime_state import Config, Items
from voicewire.server.services import Services
from voicewire.server.voice_input import Microphone, OnError


class InputBuffer:
    def __init__(
        self,
        services: Services,
        config: Config,
        items: Items,
        send: Send,
        complain: Complain,
        on_error: OnError,
        *,
        respond: Callable[[], Awaitable[None]],
        interrupt: Callable[[], Awaitable[None]],
    ) -> None:
        self.config, self.items, self.send, self.complain = config, items, send, complain
        self.respond, self.interrupt = respond, interrupt
        self.mic = Microphone(
            services.stt,
            services.settings,
            on_speech=self._on_speech,
            on_transcript=self._on_transcript,
            on_error=on_error,
        )
        self.on = False
        self.committing = False
        self.utterances: dict[str, str] = {}  # utterance id → its user item's id

    async def append(self, event: rt.BufferAppend) -> None:
        """Feed the audio; raises `AudioFlood` when it comes far faster than real time."""
        try:
            pcm = base64.b64decode(event.audio, validate=True)
        except (binascii.Error, ValueError):
            self.complain(
                rt.Problem("invalid_value", "audio must be base64", event.event_id, "audio")
            )
            return
        if len(pcm) % 2:
            message = "audio must be whole 16-bit samples"
            self.complain(rt.Problem("invalid_value", message, event.event_id, "audio"))
            return
        if not self.on:
            end = "vad" if self.config.vad is not None else "manual"
            voice = self.config.modality == "audio"
            await self.mic.start(InputAudioStart(sample_rate=rt.OUTPUT_RATE, end=end, voice=voice))
            self.on = True
        await self.mic.feed(pcm)

    async def commit(self, event: rt.BufferCommit) -> None:
        if not self.on:
            message = "the input audio buffer is empty"
            self.complain(rt.Problem("input_audio_buffer_commit_empty", message, event.event_id))
            return
        self.committing = True
        try:
            await self.mic.stop()  # the final transcript comes through _on_transcript
        finally:
            self.committing = self.on = False

    async def clear(self) -> None:
        await self.close()
        self.send("input_audio_buffer.cleared")

    async def close(self) -> None:
        self.on = False
        self.utterances.clear()
        await self.mic.close()

    async def _on_speech(self, utterance_id: str) -> None:
        item_id = self.utterances.setdefault(utterance_id, rt.new_id("item"))
        self.send("input_audio_buffer.speech_started", audio_start_ms=0, item_id=item_id)
        if self.config.vad is not None and self.config.vad.interrupt_response:
            await self.interrupt()

    async def _on_transcript(self, utterance_id: str, text: str, final: bool) -> None:
        if not final:
            return
        item_id = self.utterances.pop(utterance_id, None) or rt.new_id("item")
        if not self.committing:
            self.send("input_audio_buffer.speech_stopped", audio_end_ms=0, item_id=item_id)
        item = rt.Item(item_id, "user", "input_audio", text)
        previous = self.items.add(item)
        self.send("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        self.send("conversation.item.added", previous_item_id=previous, item=item.shape())
        self.send(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=text,
        )
        self.send("conversation.item.done", previous_item_id=previous, item=item.shape())
        vad = self.config.vad
        if text and not self.committing and vad is not None and vad.create_response:
            await self.respond()
