"""Live metrics for Prometheus at `/metrics`: sessions, turns, latency, synthesis queue."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from voicewire.server.speech_load import SpeechLoad
from voicewire.tts.base import TTS, Scheduled

_LATENCY_BUCKETS = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self, tts: TTS) -> None:
        self.registry = r = CollectorRegistry()
        self.sessions = Gauge("voicewire_sessions", "Open WebSocket sessions", registry=r)
        self.turns = Counter("voicewire_turns", "Turns by final status", ["status"], registry=r)
        self.ttft = Histogram(
            "voicewire_ttft_seconds",
            "User message to the first text.delta sent",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttfa = Histogram(
            "voicewire_ttfa_seconds",
            "User message to the first audio frame sent",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.resumes = Counter(
            "voicewire_resumes",
            "Resume requests by outcome (resumed, unavailable)",
            ["outcome"],
            registry=r,
        )
        self.errors = Counter(
            "voicewire_errors", "error events sent, by code", ["code"], registry=r
        )
        if isinstance(tts, Scheduled):  # (Piper's worker pool)
            pool = tts.scheduler
            depth = Gauge(
                "voicewire_tts_queue_depth", "Synthesis jobs waiting for a worker", registry=r
            )
            depth.set_function(lambda: pool.depth)
            wait = Gauge(
                "voicewire_tts_queue_wait_seconds_total",
                "Total time synthesis jobs waited for a worker",
                registry=r,
            )
            wait.set_function(lambda: pool.waited_s)
        # Playback underruns the clients report (`playback.underrun`): stutter as heard.
        self.underruns = Counter(
            "voicewire_client_underruns", "Playback underruns clients reported", registry=r
        )
        self.underrun_seconds = Counter(
            "voicewire_client_underrun_seconds",
            "Silence clients reported while speech was due",
            registry=r,
        )

    def watch_speech(self, load: SpeechLoad) -> None:
        """Capacity, demand and degraded turns of the process's speech (`speech_load`)."""
        gauges: list[tuple[str, str, Callable[[], float]]] = [
            (
                "voicewire_speech_capacity",
                "Seconds of speech synthesized per second, every worker busy (NaN: unknown)",
                lambda: load.capacity or float("nan"),
            ),
            (
                "voicewire_speech_demand",
                "Spoken turns in flight: seconds of speech per second they need",
                lambda: load.demand,
            ),
            (
                "voicewire_speech_admits",
                "Spoken turns admitted at once (speech_load_limit x capacity; +Inf: unbounded)",
                lambda: float(load.admits),
            ),
            (
                "voicewire_speech_starting",
                "Spoken turns in flight still starting (under speech_start_ahead_s of audio ahead)",
                lambda: load.starting,
            ),
            (
                "voicewire_speech_admits_starting",
                "Spoken turns that may be starting at once (speech_start_limit x capacity)",
                lambda: float(load.admits_starting),
            ),
            (
                "voicewire_speech_degraded_turns_total",
                "Turns answered as text only because speech was at capacity",
                lambda: load.degraded,
            ),
        ]
        for name, doc, value in gauges:
            Gauge(name, doc, registry=self.registry).set_function(value)

    def underran(self, silence_ms: int) -> None:
        self.underruns.inc()
        self.underrun_seconds.inc(silence_ms / 1000)
