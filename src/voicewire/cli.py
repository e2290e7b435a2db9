"""The `voicewire` command: serve, chat, say, token, db, bench."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicewire.bench.cli import bench_app
from voicewire.cli_chat import chat
from voicewire.config import Settings

if TYPE_CHECKING:
    from voicewire.responder import Responder

app = typer.Typer(help="Stream a chatbot's reply as text and speech over one WebSocket.")

DAY_S = 24 * 3600


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `voicewire: message` on stderr; `raise fail(...)` exits with `code`."""
    typer.echo(f"voicewire: {message}", err=True)
    return typer.Exit(code)


def load_app(spec: str) -> Responder:
    """The responder `spec` names, importable from the current directory like uvicorn's apps."""
    from voicewire.responder import load_responder

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return load_responder(spec)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise fail(f"cannot load app {spec!r}: {exc}", 2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    llm: Annotated[str | None, typer.Option(help="llamacpp | openai | scripted")] = None,
    tts: Annotated[str | None, typer.Option(help="piper | openai | fake (tests only)")] = None,
    app_spec: Annotated[
        str | None,
        typer.Option("--app", help="The app answering turns, as module:object (default: LLM)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug | info | warning")] = "info",
    workers: Annotated[
        int,
        typer.Option(min=1, help="Server processes on this port (> 1 needs VOICEWIRE_REDIS_URL)."),
    ] = 1,
    fd: Annotated[
        int | None,
        typer.Option(help="Serve on this inherited listening socket instead of --host/--port."),
    ] = None,
) -> None:
    """Run the server (defaults: the embedded SmolLM2 + Piper, http://127.0.0.1:8000)."""
    import os

    import uvicorn

    from voicewire.engines import EngineError, build_llm, build_tts
    from voicewire.llm.base import LLMError
    from voicewire.server.app import create_app
    from voicewire.server.runner import log_config
    from voicewire.tts.base import TTSError

    options: dict[str, Any] = {"host": host, "port": port, "llm": llm, "tts": tts, "app": app_spec}
    settings = Settings(**{k: v for k, v in options.items() if v})
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # The app is loaded before the engines: a typo in --app should not wait for a model load.
    responder = load_app(settings.app) if settings.app else None
    try:
        # Engines load before the server starts listening, so a missing model or extra stops
        # start-up with one clear line instead of a traceback in the middle of a turn.
        engines = build_llm(settings), build_tts(settings)
    except (EngineError, LLMError, TTSError) as exc:
        raise fail(str(exc), 2) from None
    server: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "log_config": log_config(),  # request lines without ?token= or resume= values
        # On SIGTERM, replies in flight finish into their replay logs (for a resume elsewhere)
        # for up to resume_grace_s; then the process stops.
        "timeout_graceful_shutdown": int(settings.resume_grace_s) + 5,
    }
    if fd is not None:
        server["fd"] = fd  # a socket bound by whoever started us (no port to race for)
    if workers > 1:
        # Each worker is a process of its own, with its own engines; a reconnect may land on
        # any of them, so the replay logs must be shared.
        if not settings.redis_url:
            raise fail(
                "--workers > 1 needs VOICEWIRE_REDIS_URL: a resume may land on any worker", 2
            )
        del engines
        for key, value in options.items():
            if value:
                os.environ[f"VOICEWIRE_{key.upper()}"] = str(value)
        if settings.persist:
            from voicewire.storage import upgrade_sync

            upgrade_sync(settings.resolved_database_url())  # once, before the workers start
        server |= {"workers": workers, "factory": True}
        target: Any = "voicewire.server.app:app_from_env"
    else:
        target = create_app(settings, llm=engines[0], tts=engines[1], responder=responder)
    typer.echo(
        f"voicewire: serving http://{settings.host}:{settings.port}/"
        + (f" with {workers} workers" if workers > 1 else ""),
        err=True,
    )
    uvicorn.run(
        target,
        **server,
        # Above our own limit, so the Session answers oversize frames with its error first.
        ws_max_size=4 * settings.max_text_frame_bytes,
        # Audio hardly compresses (opus, mp3) or not enough to pay for it (pcm16: -20% for a
        # deflate context of ~40 KB per connection and CPU per frame): no permessage-deflate.
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_interval_s,
    )


app.command()(chat)  # defined in cli_chat; registered here so `--help` lists it after serve


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="What to say.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The WAV file to write.")],
    voice: Annotated[str | None, typer.Option(help="A voice of the engine.")] = None,
    rate: Annotated[float, typer.Option(min=0.5, max=2.0, help="2 = twice as fast.")] = 1.0,
    tts: Annotated[str | None, typer.Option(help="piper | openai | fake")] = None,
) -> None:
    """Speak TEXT with the configured TTS engine into a mono 16-bit WAV file."""
    import asyncio
    import wave

    from voicewire.engines import EngineError, build_tts
    from voicewire.tts.base import TTS, TTSError, voice_rate

    async def synthesize(engine: TTS) -> bytes:
        pcm = bytearray()
        async for chunk in engine.synthesize(text, voice=voice, rate=rate):
            pcm += chunk.pcm
        return bytes(pcm)

    try:
        overrides: dict[str, Any] = {"tts": tts} if tts else {}
        engine = build_tts(Settings(**overrides))
    except (EngineError, TTSError) as exc:
        raise fail(str(exc), 2) from None
    try:
        pcm = asyncio.run(synthesize(engine))
    except TTSError as exc:
        raise fail(str(exc)) from None
    finally:
        close = getattr(engine, "close", None)
        if callable(close):
            close()  # Piper's worker threads
    if not pcm:
        raise fail("nothing to say: the text has no speakable words")
    sample_rate = voice_rate(engine, voice)
    try:
        with wave.open(str(output), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(pcm)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc}") from None
    seconds = len(pcm) / 2 / sample_rate
    typer.echo(f"voicewire: wrote {output} ({seconds:.2f} s at {sample_rate} Hz)", err=True)


@app.command()
def token(
    subject: Annotated[str, typer.Argument(help="The registered user's name or id.")],
    ttl_days: Annotated[int, typer.Option(min=1, help="Days until it expires.")] = 30,
) -> None:
    """Print a registered user's token, signed with this deployment's secret."""
    from voicewire.server.auth import Identity, TokenSigner, load_secret

    if not subject.strip():
        raise fail("the subject must not be empty", 2)
    settings = Settings()
    signer = TokenSigner(load_secret(settings.secret, settings.data_dir))
    typer.echo(signer.sign(Identity("user", subject), ttl_days * DAY_S))


db_app = typer.Typer(help="The conversation database.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database (VOICEWIRE_DATABASE_URL, or SQLite in the data dir) to the latest."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from voicewire.storage import upgrade_sync

    url = Settings().resolved_database_url()
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        upgrade_sync(url)
    except (SQLAlchemyError, OSError) as exc:
        raise fail(f"cannot upgrade {shown}: {exc}") from None
    typer.echo(f"voicewire: {shown} is up to date", err=True)


app.add_typer(bench_app, name="bench")  # defined in bench/cli.py, next to the suites


def main() -> None:
    app()
