"""The turns of a session: the ids it hands out and what each running turn started with. No I/O.

A turn runs from `start` until its `turn.end` is sent (`end`). Its codec and settings are
captured when it starts: its frame headers say that codec, whatever `session.update` changed
since (a change applies from the next turn).
"""

from __future__ import annotations

from voicewire.protocol.messages import Codec
from voicewire.protocol.state import SpeechSettings


class RunningTurns:
    def __init__(self) -> None:
        self.next_turn = 1
        self._codecs: dict[int, Codec] = {}  # running turns and the codec each started with
        self._settings: dict[int, SpeechSettings] = {}  # and the settings each started with

    def start(self, settings: SpeechSettings) -> int:
        """Allocate the next turn id; the turn runs with `settings` until `end`."""
        turn_id = self.next_turn
        self.next_turn += 1
        self._codecs[turn_id] = settings.audio.codec
        self._settings[turn_id] = settings
        return turn_id

    def end(self, turn_id: int) -> None:
        self.check(turn_id, "end")
        del self._codecs[turn_id]
        self._settings.pop(turn_id, None)

    def started(self, turn_id: int) -> bool:
        """True once `turn_id` was handed out, running or ended."""
        return turn_id < self.next_turn

    def is_running(self, turn_id: int) -> bool:
        return turn_id in self._codecs

    def codec(self, turn_id: int, action: str) -> Codec:
        self.check(turn_id, action)
        return self._codecs[turn_id]

    def settings(self, turn_id: int, default: SpeechSettings) -> SpeechSettings:
        """The settings `turn_id` started with; `default` for one restored from a snapshot,
        which keeps only its codec."""
        self.check(turn_id, "look up the settings of")
        return self._settings.get(turn_id, default)

    def check(self, turn_id: int, action: str) -> None:
        """Local misuse, named: acting on a turn that is not running."""
        if turn_id not in self._codecs:
            raise RuntimeError(f"cannot {action} turn {turn_id}: it is not running")

    def running(self) -> tuple[tuple[int, Codec], ...]:
        return tuple(self._codecs.items())

    def restore(self, next_turn: int, running: tuple[tuple[int, Codec], ...]) -> None:
        self.next_turn = next_turn
        self._codecs = dict(running)
        self._settings = {}  # a running turn's own voice is not kept: its frames say its codec

    def clear(self) -> None:
        self._codecs.clear()
        self._settings.clear()
