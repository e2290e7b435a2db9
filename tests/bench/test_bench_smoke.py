"""Smoke tests of the benchmark suites: tiny runs on the fake TTS, checking the result's shape.

No timing is asserted here: the suites measure timings, they do not judge them in CI.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from voicewire.bench import concurrency, idle, plots, wire

SHORT = "Sure, this is a short reply. It has two sentences, and a clause."


def test_playback_counts_an_underrun_each_time_the_audio_runs_dry() -> None:
    frames = [(0.0, 0.2), (0.1, 0.2), (0.5, 0.2), (0.6, 0.2), (1.5, 0.0), (1.6, 0.2)]
    events, silence = concurrency.playback(frames)
    # Plays 0.0–0.4, dry until 0.5, plays 0.5–0.9, dry until 1.6 (the empty frame is no audio).
    assert events == 2
    assert math.isclose(silence, 0.1 + 0.7)


def test_playback_of_audio_that_arrives_faster_than_real_time_never_underruns() -> None:
    assert concurrency.playback([(i * 0.01, 0.2) for i in range(50)]) == (0, 0.0)


def test_the_concurrency_suite_reports_every_level_and_writes_json(tmp_path: Path) -> None:
    path = tmp_path / "concurrency.json"
    out = concurrency.run(
        sessions=(1, 2), tts="fake", tps=200.0, reply=SHORT, json_path=path, quiet=True
    )
    assert [lv["sessions"] for lv in out["levels"]] == [1, 2]
    for level in out["levels"]:
        assert len(level["clients"]) == level["sessions"]
        assert level["incomplete"] == 0
        assert level["ttfa_p50_ms"] > 0 and level["ttfa_p95_ms"] >= level["ttfa_p50_ms"]
        assert level["underruns"] >= 0 and level["underrun_ms"] >= 0
        assert level["server_cpu_pct"] >= 0
        assert all(c["audio_s"] > 0 for c in level["clients"])
    assert "max_clean_sessions" in out["summary"]
    assert json.loads(path.read_text())["levels"][1]["sessions"] == 2
    assert len(concurrency.markdown(out).splitlines()) == 2 + 2  # header, rule, a row per level


def test_the_bytes_suite_counts_pcm16_as_slightly_more_than_raw_pcm(tmp_path: Path) -> None:
    out = wire.run(
        codecs=("pcm16",), compat=False, deflate=False, tts="fake", reply=SHORT, quiet=True
    )
    (row,) = out["rows"]
    assert row["endpoint"] == "/ws pcm16" and row["speech_s"] > 0
    assert row["counted_bytes"] == row["tcp_bytes"]  # the count is what the socket received
    assert row["audio_bytes"] == round(row["speech_s"] * row["voice_rate"]) * 2
    assert 1.0 < row["ratio_to_pcm"] < 1.5
    assert "| /ws pcm16 | no |" in wire.markdown(out)


def test_the_idle_suite_keeps_every_idle_connection_open_and_measures_them() -> None:
    out = idle.run(connections=20, window_s=0.5, tps=200.0, reply=SHORT, quiet=True)
    assert out["still_open"] == 20
    assert out["rss_after"] > 0 and isinstance(out["rss_per_connection"], float)
    for phase in ("lag_before", "lag_idle"):
        assert out[phase]["pings"] > 0
        assert out[phase]["rtt_p99_ms"] >= out[phase]["rtt_p50_ms"] > 0
        assert out[phase]["speaking_turns"] >= 1
    assert "RSS per idle connection" in idle.markdown(out)


def test_the_plots_are_written_as_png_files(tmp_path: Path) -> None:
    data = {
        "tts": "fake",
        "tps": 30.0,
        "words": 9,
        "cpus": 2,
        "levels": [
            {
                "sessions": n,
                "ttfa_p50_ms": 10.0 * n,
                "ttfa_p95_ms": 12.0 * n,
                "underruns": n - 1,
                "underrun_ms": 100.0 * (n - 1),
            }
            for n in (1, 2, 4)
        ],
        "summary": {"ttfa_1_session_ms": 10.0, "max_clean_sessions": 1},
    }
    source = tmp_path / "concurrency.json"
    source.write_text(json.dumps(data))
    out = plots.run(
        timeline_png=tmp_path / "timeline.png",
        concurrency_json=source,
        concurrency_png=tmp_path / "concurrency.png",
        tts="fake",
        tps=200.0,
        reply=SHORT,
    )
    assert out["timeline"]["measured"]["ttfa_ms"] > 0
    for name in ("timeline.png", "concurrency.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_resume_suite_measures_both_hubs_and_the_redis_cost_per_frame(tmp_path: Path) -> None:
    from tests.resume.conftest import require_redis
    from voicewire.bench import resume

    path = tmp_path / "resume.json"
    out = resume.run(
        runs=2, tts="fake", redis_url=require_redis(), frames=50, json_path=path, quiet=True
    )
    assert set(out["hubs"]) == {"memory", "redis"}
    for hub in out["hubs"].values():
        assert len(hub["runs"]) == 2
        for run in hub["runs"]:
            assert 0 <= run["open_to_resumed_ms"] <= run["open_to_first_replayed_ms"]
            assert run["reconnect_to_first_replayed_ms"] >= run["open_to_first_replayed_ms"]
    assert out["redis_append"]["us_per_frame"] > 0
    assert out["redis_append"]["redis_bytes_per_frame"] > resume.FRAME_BYTES  # payload + entry
    assert json.loads(path.read_text())["hubs"]["redis"]["summary"]["ttfa_p50_ms"] > 0
