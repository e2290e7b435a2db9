"""`voicewire bench SUITE`: the benchmark suites as subcommands of the `voicewire` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from voicewire.bench import MissingExtra, load_suite

bench_app = typer.Typer(help="Benchmarks: print a table, write JSON.")


@bench_app.command("latency")
def bench_latency(
    turns: Annotated[int, typer.Option(help="Turns to run.")] = 5,
    tps: Annotated[float, typer.Option(help="Scripted LLM tokens per second.")] = 30.0,
    tts: Annotated[str, typer.Option(help="TTS engine.")] = "piper",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    scenario: Annotated[
        str,
        typer.Option(
            help="plain: a reply; long: a reply whose first sentence has 25 words and no "
            "comma; tool: a reply that calls a tool first."
        ),
    ] = "plain",
) -> None:
    """Time to first text, first audio and the floor, over a real socket (and from the first
    segment's text complete to its first audio); with `--scenario tool`, the time from a
    tool's result to the first audio after it."""
    if scenario == "tool":
        from voicewire.bench import tool_latency

        tool_latency.run(turns=turns, tps=tps, tts=tts, json_path=json_path)
        return
    if scenario not in ("plain", "long"):
        raise typer.BadParameter("expected plain, long or tool", param_hint="--scenario")
    from voicewire.bench.latency import LONG_FIRST_SENTENCE, run
    from voicewire.llm.scripted import DEFAULT_REPLY

    reply = LONG_FIRST_SENTENCE if scenario == "long" else DEFAULT_REPLY
    run(turns=turns, tps=tps, tts=tts, json_path=json_path, reply=reply)


@bench_app.command("persistence")
def bench_persistence(
    turns: Annotated[int, typer.Option(help="Turns per run.")] = 30,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
) -> None:
    """Time to first text with conversations stored (SQLite) and with nothing stored."""
    import json

    from voicewire.bench.latency import run

    common: dict[str, Any] = {"turns": turns, "tps": 200.0, "tts": "fake", "naive": False}
    on = run(json_path=None, persist=True, **common)
    off = run(json_path=None, persist=False, **common)
    diff = on["ttft_ms"] - off["ttft_ms"]
    typer.echo(
        f"TTFT p50 with persistence {on['ttft_ms']:.2f} ms, without {off['ttft_ms']:.2f} ms,"
    )
    typer.echo(f"difference {diff:+.2f} ms")
    if json_path:
        json_path.write_text(json.dumps({"on": on, "off": off, "ttft_diff_ms": diff}, indent=2))


@bench_app.command("cancel")
def bench_cancel(
    runs: Annotated[int, typer.Option(help="Cancelled turns.")] = 10,
    tts: Annotated[str, typer.Option(help="TTS engine.")] = "piper",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
) -> None:
    """Barge-in: from turn.cancel to turn.end and to the last audio frame."""
    from voicewire.bench.cancel import run

    run(runs=runs, tts=tts, json_path=json_path)


# These suites parse their own options (argparse): typer hands everything after the name on.
_FORWARD: dict[str, Any] = {"allow_extra_args": True, "ignore_unknown_options": True}


def _forward(module: str, ctx: typer.Context) -> None:
    try:
        suite = load_suite(module)
    except MissingExtra as exc:
        typer.echo(f"voicewire: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(suite.main(list(ctx.args)) or 0)


@bench_app.command("resume", context_settings=_FORWARD)
def bench_resume(ctx: typer.Context) -> None:
    """Resume gap after a dropped connection, and Redis cost per audio frame (-h for options)."""
    _forward("voicewire.bench.resume", ctx)


@bench_app.command("concurrency", context_settings=_FORWARD)
def bench_concurrency(ctx: typer.Context) -> None:
    """N simultaneous speaking sessions: TTFA, underruns, CPU (-h for options)."""
    _forward("voicewire.bench.concurrency", ctx)


@bench_app.command("poisson", context_settings=_FORWARD)
def bench_poisson(ctx: typer.Context) -> None:
    """Conversations with think time at target loads: the mean load held without stutter."""
    _forward("voicewire.bench.poisson", ctx)


@bench_app.command("bytes", context_settings=_FORWARD)
def bench_bytes(ctx: typer.Context) -> None:
    """Bytes on the wire per second of speech for each codec and the compat mode."""
    _forward("voicewire.bench.wire", ctx)


@bench_app.command("idle", context_settings=_FORWARD)
def bench_idle(ctx: typer.Context) -> None:
    """1,000 idle connections: memory per connection and loop lag."""
    _forward("voicewire.bench.idle", ctx)


@bench_app.command("quality", context_settings=_FORWARD)
def bench_quality(ctx: typer.Context) -> None:
    """Everyday questions to the LLM, each reply judged as a listener would (-h for options)."""
    _forward("voicewire.bench.quality", ctx)


@bench_app.command("plots", context_settings=_FORWARD)
def bench_plots(ctx: typer.Context) -> None:
    """PNG pictures: a turn's timeline, and latency/underruns against sessions."""
    _forward("voicewire.bench.plots", ctx)


@bench_app.command("fuzz", context_settings=_FORWARD)
def bench_fuzz(ctx: typer.Context) -> None:
    """Long fuzz run of the protocol Session (--inputs N); non-zero exit on any exception."""
    _forward("voicewire.bench.fuzz", ctx)


@bench_app.command("stt", context_settings=_FORWARD)
def bench_stt(ctx: typer.Context) -> None:
    """Speech-to-text engines side by side: WER, final latency, interim cost (-h for options)."""
    _forward("voicewire.bench.stt", ctx)


@bench_app.command("vad", context_settings=_FORWARD)
def bench_vad(ctx: typer.Context) -> None:
    """WebRTC's VAD against Silero's: false barge-ins, cut sentences, late starts."""
    _forward("voicewire.bench.vad", ctx)
