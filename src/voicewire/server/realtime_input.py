"""`/v1/realtime` input audio: `input_audio_buffer.append` / `commit` / `clear` on a `Microphone`.

The buffer is the microphone of `/ws` (its STT slot, audio budget and utterance limit), fed
base64 pcm16 at 24 kHz. With `turn_detection` server_vad, the microphone's end-of-speech
detection commits each utterance and, unless `create_response` is false, answers it; speech
starting interrupts the running response (barge-in, as `turn.cancel`). With none, `commit` ends
the utterance and `response.create` answers it.

The STT's interim transcripts become `conversation.item.input_audio_transcription.delta`
events (`interim_delta`): the words of each interim but its last, while they extend what
was sent; the final transcript is `….completed`, with the utterance's audio seconds as usage.
`speech_started` / `speech_stopped` say where, in ms of all the audio appended in the
session, the detector heard the voice begin and decided it had ended.
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
        self.said: dict[str, str] = {}  # utterance id → its transcript sent as deltas
        self.heard_bytes = 0  # audio appended since the last utterance ended
        self.appended_ms = 0.0  # all audio appended in the session: the offsets' clock

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
        self.heard_bytes += len(pcm)
        self.appended_ms += len(pcm) * 500 / rt.OUTPUT_RATE
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
        self.said.clear()
        self.heard_bytes = 0
        await self.mic.close()

    async def _on_speech(self, utterance_id: str) -> None:
        item_id = self.utterances.setdefault(utterance_id, rt.new_id("item"))
        start = self._offset("speech_started")
        self.send("input_audio_buffer.speech_started", audio_start_ms=start, item_id=item_id)
        if self.config.vad is not None and self.config.vad.interrupt_response:
            await self.interrupt()

    def _offset(self, kind: str) -> int:
        """Where the detector's `kind` event falls, in ms of the session's input audio (the
        end of the audio appended so far, if the detector did not decide it)."""
        ago = self.mic.vad_ago_ms(kind) or 0
        return max(0, round(self.appended_ms) - ago)

    def _delta(self, item_id: str, utterance_id: str, heard: str) -> None:
        said = self.said.get(utterance_id, "")
        delta = interim_delta(said, heard)
        if delta:
            self.said[utterance_id] = said + delta
            self.send(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=delta,
            )

    async def _on_transcript(self, utterance_id: str, text: str, final: bool) -> None:
        item_id = self.utterances.setdefault(utterance_id, rt.new_id("item"))
        if not final:
            self._delta(item_id, utterance_id, text.lstrip())
            return
        said = self.said.pop(utterance_id, "")
        if said and text.startswith(said) and text != said:  # the deltas add up to the text
            self.send(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=text[len(said) :],
            )
        del self.utterances[utterance_id]
        seconds = self.heard_bytes / (2 * rt.OUTPUT_RATE)
        self.heard_bytes = 0
        if not self.committing:
            end = self._offset("speech_ended")
            self.send("input_audio_buffer.speech_stopped", audio_end_ms=end, item_id=item_id)
        item = rt.Item(item_id, "user", "input_audio", text)
        previous = self.items.add(item)
        self.send("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        self.send("conversation.item.added", previous_item_id=previous, item=item.shape())
        self.send(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )
        self.send("conversation.item.done", previous_item_id=previous, item=item.shape())
        vad = self.config.vad
        if text and not self.committing and vad is not None and vad.create_response:
            await self.respond()


def interim_delta(said: str, heard: str) -> str:
    """What an interim transcript `heard` adds to `said` (the deltas sent so far): its words
    but the last (still being spoken, the likeliest to change), if they extend `said`.
    Nothing when the STT revised what was sent: a delta cannot take words back, and the
    completed transcript is the one that counts."""
    stable = heard[: heard.rstrip().rfind(" ") + 1]
    return stable[len(said) :] if stable.startswith(said) else ""
