"""How a session speaks: its voice, speaking rate and audio format, and each turn's. No I/O.

The rate audio is sent at has three inputs: the rate the client asked for (`session.update`
`sample_rate`), the rate of the voice speaking, and the codec (opus is always 48000). A turn is
sent at the client's rate once the client chose one ("pinned": every voice is resampled to it),
else at its voice's own rate; the codec then has the last word. The requested rate is kept apart
from the rate sent, so switching back from opus to pcm16 gets it again.
"""

from __future__ import annotations

from collections.abc import Callable

from voicewire.protocol.messages import (
    AudioFormat,
    Codec,
    SessionUpdate,
    UserMessage,
    VoiceEntry,
)
from voicewire.protocol.state import SpeechSettings, Violation
from voicewire.protocol.validation import unavailable, unknown_voice


class Voicing:
    def __init__(
        self,
        *,
        audio: AudioFormat | None = None,
        voices: tuple[str, ...] = (),
        voice_info: tuple[VoiceEntry, ...] = (),
        codecs: frozenset[str] = frozenset({"pcm16"}),
        sample_rates: frozenset[int] | None = None,
        output_rate: Callable[[Codec, int], int] | None = None,
    ) -> None:
        self.voices = voices
        self.voice_info = voice_info
        self.codecs = codecs
        fmt = audio or AudioFormat()
        self.sample_rates = sample_rates or frozenset({fmt.sample_rate})
        self._voice_rates = {v.name: v.sample_rate for v in voice_info}
        # The rate a codec is really sent at for a requested rate (opus: always 48000).
        self._output_rate = output_rate or (lambda codec, rate: rate)
        self.requested_rate = fmt.sample_rate
        self.pinned_rate = False  # the client chose the sample rate
        self.settings = SpeechSettings(
            voice=True,
            voice_name=voices[0] if voices else None,
            rate=1.0,
            audio=fmt,
        )

    def check_voice(self, name: str | None) -> Violation | None:
        """A violation when `name` is set and not one of the voices offered."""
        return None if name is None or name in self.voices else unknown_voice(name, self.voices)

    def update(self, message: SessionUpdate) -> Violation | None:
        """Apply `session.update` from the next turn, or say why it cannot be."""
        if message.voice_name is not None and message.voice_name not in self.voices:
            return unknown_voice(message.voice_name, self.voices)
        for what, value, offered in (
            ("sample rate", message.sample_rate, sorted(self.sample_rates)),
            ("codec", message.codec, sorted(self.codecs)),
        ):
            if value is not None and value not in offered:
                return unavailable(what, value, offered)
        s = self.settings
        audio = s.audio
        voice_name = message.voice_name or s.voice_name
        if message.codec or message.sample_rate or voice_name != s.voice_name:
            self.pinned_rate = self.pinned_rate or message.sample_rate is not None
            self.requested_rate = message.sample_rate or self.requested_rate
            audio = self._audio_for(message.codec or s.audio.codec, voice_name)
        # A new value, never a change in place: a running turn keeps the settings it started
        # with (its options were built from them).
        self.settings = SpeechSettings(
            voice=s.voice if message.voice is None else message.voice,
            voice_name=voice_name,
            rate=s.rate if message.rate is None else message.rate,
            audio=audio,
        )
        return None

    def for_turn(self, message: UserMessage | None) -> SpeechSettings:
        """The session's settings, or the voice and rate `message` asks for its reply alone."""
        s = self.settings
        if message is None or not (message.voice_name or message.rate is not None):
            return s
        voice_name = message.voice_name or s.voice_name
        audio = s.audio
        if voice_name != s.voice_name:
            audio = self._audio_for(s.audio.codec, voice_name)
        rate = s.rate if message.rate is None else message.rate
        return SpeechSettings(voice=s.voice, voice_name=voice_name, rate=rate, audio=audio)

    def restore(self, settings: SpeechSettings, requested_rate: int, pinned_rate: bool) -> None:
        self.settings = settings
        self.requested_rate = requested_rate
        self.pinned_rate = pinned_rate

    def _audio_for(self, codec: Codec, voice_name: str | None) -> AudioFormat:
        """How a turn in `voice_name` is sent: at the rate the client chose, else the voice's."""
        native = self._voice_rates.get(voice_name or "")
        requested = self.requested_rate if self.pinned_rate or native is None else native
        return AudioFormat(codec=codec, sample_rate=self._output_rate(codec, requested))
