"""Smoke tests of the benchmark suites: tiny runs on the fake TTS, checking the result's shape.

No timing is asserted here: the suites measure timings, they do not judge them in CI.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from voicewire.bench import concurrency, idle, plots, poisson, serverproc, tables, wire

SHORT = "Sure, this is a short reply. It has two sentences, and a clause."


def test_playback_counts_an_underrun_each_time_the_audio_runs_dry() -> None:
    frames = [(0.0, 0.2), (0.1, 0.2), (0.5, 0.2), (0.6, 0.2), (1.5, 0.0), (1.6, 0.2)]
    events, silence = concurrency.playback(frames)
    # Plays 0.0–0.4, dry until 0.5, plays 0.5–0.9, dry until 1.6 (the empty frame is no audio).
    assert events == 2
    assert math.isclose(silence, 0.1 + 0.7)


def test_playback_of_audio_that_arrives_faster_than_real_time_never_underruns() -> None:
    assert concurrency.playback([(i * 0.01, 0.2) for i in range(50)]) == (0, 0.0)


def fake_speech_s(text: str, rate: int = 22050) -> float:
    """How long FakeToneTTS (defaults: 60 ms a letter, 40 ms after each word) speaks `text`."""
    samples = sum(int(rate * 0.06 * len(word)) + int(rate * 0.04) for word in text.split())
    return samples / rate


def strict_json(text: str) -> Any:
    """Parse a suite's JSON file, refusing NaN and infinities (not JSON, and not a result)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON results")

    return json.loads(text, parse_constant=refuse)


def test_the_concurrency_suite_reports_every_level_and_writes_json(tmp_path: Path) -> None:
    path = tmp_path / "concurrency.json"
    out = concurrency.run(
        sessions=(1, 2), tts="fake", tps=200.0, reply=SHORT, json_path=path, quiet=True
    )
    assert [lv["sessions"] for lv in out["levels"]] == [1, 2]
    for level in out["levels"]:
        clients = level["clients"]
        assert len(clients) == level["sessions"]
        # Every session's turn ended, complete, with the whole reply spoken.
        assert level["incomplete"] == 0
        for c in clients:
            assert c["status"] == "complete" and c["errors"] == []
            assert c["frames"] > 0
            assert c["audio_s"] == pytest.approx(fake_speech_s(SHORT), abs=0.001)
            assert c["ttfa_ms"] is not None and 0 < c["ttfa_ms"] <= c["turn_ms"]
            assert c["underruns"] == len(c["underrun_at"])
            assert c["underrun_ms"] == pytest.approx(
                sum(ms for _, ms in c["underrun_at"]), abs=0.1 * c["underruns"]
            )
        assert level["audio_s"] == pytest.approx(fake_speech_s(SHORT), abs=0.001)
        # The level's figures are its sessions' figures, added up.
        assert level["underruns"] == sum(c["underruns"] for c in clients)
        assert level["sessions_with_underruns"] == sum(1 for c in clients if c["underruns"])
        assert level["underrun_ms"] == pytest.approx(sum(c["underrun_ms"] for c in clients))
        ttfa = sorted(c["ttfa_ms"] for c in clients)
        assert ttfa[0] <= level["ttfa_p50_ms"] <= level["ttfa_p95_ms"] <= level["ttfa_max_ms"]
        assert level["ttfa_max_ms"] == ttfa[-1]
        assert 0 < level["turn_p50_ms"] <= level["turn_max_ms"]
        assert level["wall_s"] * 1000 >= level["turn_max_ms"]  # the level outlasts its turns
        # CPU is measured in clock ticks: a short level may honestly read 0.
        assert level["server_cpu_pct"] >= 0 and level["client_cpu_pct"] >= 0
    summary = out["summary"]
    assert summary["ttfa_1_session_ms"] == out["levels"][0]["ttfa_p50_ms"]
    clean = [lv["sessions"] for lv in out["levels"] if lv.get("clean")]
    assert summary["max_clean_sessions"] == max(clean, default=0)
    assert 0 <= summary["max_clean_sessions_within_ttfa"] <= summary["max_clean_sessions"]
    assert strict_json(path.read_text()) == json.loads(json.dumps(out))
    rows = concurrency.markdown(out).splitlines()
    assert len(rows) == 2 + 2  # header, rule, a row per level
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["1", "2"]


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
    assert out["connections"] == 20 and out["still_open"] == 20
    assert out["rss_before"] > 0 and out["rss_after"] > 0
    assert out["rss_per_connection"] == (out["rss_after"] - out["rss_before"]) / 20
    assert out["open_s"] > 0
    for phase in ("lag_before", "lag_idle"):
        lag = out[phase]
        assert lag["pings"] > 0 and len(lag["series"]) == lag["pings"]
        rtts = [rtt for _, rtt in lag["series"]]
        assert all(rtt > 0 for rtt in rtts)
        assert 0 < lag["rtt_p50_ms"] <= lag["rtt_p99_ms"] <= lag["rtt_max_ms"]
        assert lag["rtt_max_ms"] == pytest.approx(max(rtts), abs=0.001)
        sent_at = [t for t, _ in lag["series"]]
        assert sent_at == sorted(sent_at) and sent_at[-1] <= out["window_s"]  # rounded
        assert lag["speaking_turns"] >= 1  # the speaking session finished at least one turn
        assert lag["server_cpu_pct"] >= 0
    assert strict_json(json.dumps(out)) == out
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
            assert 0 < run["open_to_resumed_ms"] <= run["open_to_first_replayed_ms"]
            assert run["reconnect_to_first_replayed_ms"] == pytest.approx(
                run["connect_ms"] + run["open_to_first_replayed_ms"]
            )
        assert len(hub["ttfa_ms"]) > 0 and all(ms > 0 for ms in hub["ttfa_ms"])
        summary = hub["summary"]
        assert summary["ttfa_p50_ms"] == pytest.approx(statistics.median(hub["ttfa_ms"]))
        for key, value in summary.items():
            assert math.isfinite(value) and value > 0, key
    assert out["redis_append"]["us_per_frame"] > 0
    assert out["redis_append"]["redis_bytes_per_frame"] > resume.FRAME_BYTES  # payload + entry
    assert strict_json(path.read_text()) == json.loads(json.dumps(out))


def test_the_stt_suite_decodes_every_stream_and_reports_its_real_time_factor(
    tmp_path: Path,
) -> None:
    from voicewire.bench import stt

    path = tmp_path / "stt.json"
    out = stt.run(streams=(1, 2), json_path=path, quiet=True)
    assert [lv["streams"] for lv in out["levels"]] == [1, 2]
    assert out["cold"]["streams"] == 1
    for level in [out["cold"], *out["levels"]]:
        # Every stream heard the question, whatever the load (a reused decoder's adaptation
        # may change a word elsewhere).
        assert level["transcripts"]
        for text in level["transcripts"]:
            assert "weather" in text and "paris" in text
        assert level["audio_s"] > 2
        assert level["wall_s"] > 0 and level["rtf"] > 0
        assert level["realtime_streams"] == pytest.approx(level["streams"] / level["rtf"])
        assert 0 < level["first_piece_ms_max"] <= level["rtf"] * level["audio_s"] * 1000
    assert strict_json(path.read_text()) == json.loads(json.dumps(out))


def test_the_poisson_suite_runs_conversations_and_reports_the_load_it_held(
    tmp_path: Path,
) -> None:
    path = tmp_path / "poisson.json"
    # A conversation starts at a random point of its cycle (reply + think): with a reply of
    # about a second (the suite's floor), a level of 1.5 s asks questions.
    out = poisson.run(
        loads=(0.5,),
        duration_s=1.5,
        think_s=0.2,
        tts="fake",
        tps=200.0,
        reply="Sure, it is.",
        capacity=4.0,
        json_path=path,
        quiet=True,
        load_limit=1.0,
        speech_capacity=5.0,
    )
    (level,) = out["levels"]
    assert level["conversations"] >= 1 and level["turns"] >= 1 and level["incomplete"] == 0
    assert level["mean_load"] > 0 and out["capacity"] == 4.0
    # The server ran with the speech settings given: its capacity is the fixed one (the load's
    # denominator is still the one asked for), and its places (5 in flight, 2 starting at
    # once) hold the 2 conversations.
    assert out["capacity_at_end"] == 5.0 and level["conversations"] == 2
    assert level["text_only"] == 0
    assert (out["load_limit"], out["speech_capacity"]) == (1.0, 5.0)
    assert "speech limit 1 × capacity 5 s/s" in str(poisson.table(out).title)
    # Every reply was stored, complete; the server's memory was sampled.
    assert level["stored"] == {"complete": level["turns"]} and level["rss_mb"]
    assert strict_json(path.read_text())["suite"] == "poisson"
    assert poisson.markdown(out).count("\n") == 2


def test_the_concurrency_suite_measures_capacity_and_says_what_fraction_it_held(
    tmp_path: Path,
) -> None:
    out = concurrency.run(sessions=(1, 2), tts="fake", tps=200.0, reply=SHORT, quiet=True)
    assert all(lv["throughput"] > 0 and lv["text_only"] == 0 for lv in out["levels"])
    summary = out["summary"]
    assert summary["capacity"] == max(lv["throughput"] for lv in out["levels"])
    assert summary["fraction_of_capacity"] == summary["max_clean_sessions"] / summary["capacity"]
    assert out["capacity"]["probe"] is None  # the fake engine does not measure itself


def test_a_concurrency_run_with_a_speech_capacity_and_load_limit_answers_the_rest_as_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "concurrency.json"
    # Each turn waits 1 s for its first token: the three, asked at once, are in flight at once.
    argv = ["--sessions", "1,3", "--tts", "fake", "--tps", "200", "--reply", SHORT]
    argv += ["--first-token-ms", "1000", "--json", str(path)]
    assert concurrency.main([*argv, "--speech-capacity", "2", "--load-limit", "0.5"]) == 0
    out = strict_json(path.read_text())
    assert (out["load_limit"], out["speech_capacity"]) == (0.5, 2.0)
    assert out["capacity"]["server"] == 2.0  # the server's capacity is the one given
    # max(1, floor(0.5 × 2)) = 1 turn spoken at once: alone, it speaks; of three at once, two
    # answer as text only.
    single, level = out["levels"]
    assert single["text_only"] == 0 and single["clients"][0]["audio_s"] > 0
    assert level["text_only"] == 2 and level["incomplete"] == 0
    spoken = [c for c in level["clients"] if not c["text_only"]]
    assert len(spoken) == 1 and spoken[0]["audio_s"] > 0
    assert all(c["frames"] == 0 for c in level["clients"] if c["text_only"])
    assert "speech limit 0.5 × capacity 2 s/s" in str(concurrency.table(out).title)


def test_a_suite_run_without_speech_settings_leaves_the_servers_defaults() -> None:
    assert serverproc.speech_env(None, None) == {}
    assert serverproc.speech_env(0.5, 0.0) == {
        "VOICEWIRE_SPEECH_LOAD_LIMIT": "0.5",
        "VOICEWIRE_SPEECH_CAPACITY": "0.0",
    }
    assert tables.speech_title({"load_limit": None, "speech_capacity": None}) == (
        "speech limit default × capacity measured"
    )
    assert "capacity unbounded" in tables.speech_title({"speech_capacity": 0.0})


def test_a_suite_run_can_set_the_servers_start_limit() -> None:
    assert serverproc.speech_env(None, None, 0.5) == {"VOICEWIRE_SPEECH_START_LIMIT": "0.5"}
    title = tables.speech_title({"load_limit": None, "speech_capacity": None, "start_limit": 0.5})
    assert title.endswith(", start limit 0.5")


def test_a_summary_table_names_each_metric_on_the_left_and_aligns_its_values_right() -> None:
    rows = [("ttfa_ms", "250.0"), ("bridge_rate", "75%")]
    assert tables.summary_markdown("latency: 3 turns", rows) == (
        "| latency: 3 turns | |\n|---|---:|\n| ttfa_ms | 250.0 |\n| bridge_rate | 75% |"
    )
    table = tables.summary_table("resume", [("gap_ms", "1.00", "2.00")], values=("a", "b"))
    assert [(c.header, c.justify) for c in table.columns] == [
        ("metric", "left"),
        ("a", "right"),
        ("b", "right"),
    ]
    assert [list(c.cells) for c in table.columns] == [["gap_ms"], ["1.00"], ["2.00"]]


def test_the_tool_latency_scenario_times_the_answer_after_the_result_and_counts_bridges(
    tmp_path: Path,
) -> None:
    from voicewire.bench import tool_latency

    out = tmp_path / "tool.json"
    # The first turn warms up; then a slow call (a bridge) and a quick one (none).
    summary = tool_latency.run(
        turns=2, tps=200, tts="fake", json_path=out, tool_ms=(0.0, 900.0, 0.0), first_token_ms=0
    )
    assert summary["bridge_rate"] == 0.5
    assert summary["after_result_ms"] >= summary["llm_clause_ms"] > 0
    written = json.loads(out.read_text())
    assert [r["bridge"] for r in written["turns"]] == [1.0, 0.0]
    assert "| bridge_rate | 50% |" in tool_latency.markdown(written)
