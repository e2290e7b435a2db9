"""The `voicewire` command: serve, bench."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from voicewire.config import Settings

app = typer.Typer(help="Stream a chatbot's reply as text and speech over one WebSocket.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    llm: Annotated[str | None, typer.Option(help="llamacpp | openai | scripted")] = None,
    tts: Annotated[str | None, typer.Option(help="piper | openai | fake (tests only)")] = None,
    log_level: Annotated[str, typer.Option(help="debug | info | warning")] = "info",
) -> None:
    """Run the server (defaults: the embedded SmolLM2 + Piper, http://127.0.0.1:8000)."""
    import uvicorn

    from voicewire.engines import EngineError, build_llm, build_tts
    from voicewire.llm.base import LLMError
    from voicewire.server.app import create_app
    from voicewire.tts.base import TTSError

    overrides: dict[str, Any] = {
        k: v for k, v in {"host": host, "port": port, "llm": llm, "tts": tts}.items() if v
    }
    settings = Settings(**overrides)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        # Engines load before the server starts listening, so a missing model or extra stops
        # start-up with one clear line instead of a traceback in the middle of a turn.
        engines = build_llm(settings), build_tts(settings)
    except (EngineError, LLMError, TTSError) as exc:
        typer.echo(f"voicewire: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"voicewire: serving http://{settings.host}:{settings.port}/", err=True)
    uvicorn.run(
        create_app(settings, llm=engines[0], tts=engines[1]),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # Above our own limit, so the Session answers oversize frames with its error first.
        ws_max_size=4 * settings.max_text_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )


bench_app = typer.Typer(help="Benchmarks: print a table, write JSON.")
app.add_typer(bench_app, name="bench")


@bench_app.command("latency")
def bench_latency(
    turns: Annotated[int, typer.Option(help="Turns to run.")] = 5,
    tps: Annotated[float, typer.Option(help="Scripted LLM tokens per second.")] = 30.0,
    tts: Annotated[str, typer.Option(help="TTS engine.")] = "piper",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
) -> None:
    """Time to first text, first audio and the floor, over a real socket."""
    from voicewire.bench.latency import run

    run(turns=turns, tps=tps, tts=tts, json_path=json_path)


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


def main() -> None:
    app()
