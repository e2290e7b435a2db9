"""`voicewire chat`: talk to a server from a terminal, hearing the reply as it streams."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from voicewire.client import Client, Event, TurnResult
from voicewire.protocol.frames import AudioFrame
from voicewire.protocol.messages import AudioFormat, TextDelta, ToolCall, TurnStart

# Raw s16le mono on stdin, so speech plays while the turn is still arriving.
PLAYERS = {
    "aplay": "aplay -q -t raw -f S16_LE -c 1 -r {rate} -",
    "paplay": "paplay --raw --format=s16le --channels=1 --rate={rate}",
    "ffplay": "ffplay -nodisp -autoexit -loglevel quiet -f s16le -ar {rate} -i pipe:0",
}
CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake, InvalidURI)

out = Console(soft_wrap=True, highlight=False, markup=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def chat(
    url: Annotated[str, typer.Argument(help="The server's socket, e.g. ws://127.0.0.1:8000/ws")],
    once: Annotated[
        str | None, typer.Option(help="Send this one message, print the reply, exit.")
    ] = None,
    save_audio: Annotated[
        Path | None, typer.Option(help="Write each reply's speech to DIR/turn-<id>.wav.")
    ] = None,
    no_voice: Annotated[bool, typer.Option("--no-voice", help="Text only.")] = False,
    token: Annotated[
        str | None, typer.Option(help="Connect as this user (voicewire token).")
    ] = None,
    voice_name: Annotated[
        str | None, typer.Option(help="Speak in this voice, one of the server's voices.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.5, max=2.0, help="Speech rate, 2 = twice as fast.")
    ] = None,
) -> None:
    """Chat with a voicewire server: the reply prints as it streams and plays as it arrives."""
    if save_audio is not None:
        save_audio.mkdir(parents=True, exist_ok=True)
    session = Chat(
        url,
        token=token,
        voice=not no_voice,
        save_dir=save_audio,
        voice_name=voice_name,
        rate=rate,
    )
    try:
        code = asyncio.run(session.once(once) if once is not None else session.interactive())
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


def player_command(rate: int) -> list[str] | None:
    """The first audio player found on PATH, as a command reading raw audio on stdin."""
    for name, command in PLAYERS.items():
        if shutil.which(name):
            return command.format(rate=rate).split()
    return None


class Playback:
    """Feeds a turn's audio to a player process without ever blocking the socket reader."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def feed(self, pcm: bytes) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._play())
        self.queue.put_nowait(pcm)

    async def finish(self) -> None:
        """Wait until everything fed has been heard."""
        if self.task is not None:
            self.queue.put_nowait(None)
            await self.task

    async def _play(self) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert process.stdin is not None
        try:
            while (pcm := await self.queue.get()) is not None:
                process.stdin.write(pcm)
                await process.stdin.drain()
            process.stdin.close()
            await process.wait()
        except ConnectionError:
            pass  # the player quit early: the rest of this reply goes unheard
        finally:
            if process.returncode is None:
                process.kill()  # interrupted: stop the sound now
                await process.wait()


class Chat:
    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        voice: bool,
        save_dir: Path | None,
        voice_name: str | None = None,
        rate: float | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.voice = voice
        self.save_dir = save_dir
        self.voice_name = voice_name  # asked for with each message: its reply alone
        self.rate = rate

    async def once(self, text: str) -> int:
        """One message; the exit status says whether the reply came through whole."""
        try:
            async with Client(self.url, token=self.token) as client:
                code = self._unknown_voice(client) or self._too_long(client, text)
                if code is not None:
                    return code
                # Speech is only worth synthesizing when it is kept.
                voice = self.voice and self.save_dir is not None
                result = await self._ask(client, text, voice=voice, on_event=self._print)
        except CONNECT_ERRORS as exc:
            return self._fail(f"cannot connect to {self.url}: {_reason(exc)}")
        except ConnectionClosed as exc:
            return self._fail(f"the server closed the connection ({_reason(exc)})")
        out.print()
        return self._report(result)

    async def interactive(self) -> int:
        player = player_command(22050)  # only to know whether one exists; rate set per turn
        if self.voice and player is None and self.save_dir is None:
            self.save_dir = Path(tempfile.mkdtemp(prefix="voicewire-"))
            found = "No audio player found (aplay, paplay, ffplay)"
            err.print(f"{found}: each reply's speech is saved in {self.save_dir}")
        try:
            async with Client(self.url, token=self.token, reconnect=True) as client:
                if (code := self._unknown_voice(client)) is not None:
                    return code
                err.print(f"Connected to {self.url}. Type a message; Ctrl-D quits.", style="dim")
                while (text := await read_line()) is not None:
                    if not text.strip() or self._too_long(client, text) is not None:
                        continue
                    try:
                        await self._turn(client, text, play=player is not None)
                    except ConnectionClosed as exc:
                        err.print(f"Connection lost ({_reason(exc)}); the next message reopens it.")
        except CONNECT_ERRORS as exc:
            return self._fail(f"cannot connect to {self.url}: {_reason(exc)}")
        return 0

    async def _turn(self, client: Client, text: str, *, play: bool) -> None:
        playbacks: list[Playback] = []  # at most one, made at turn.start, at the rate it gives

        def on_event(event: Event) -> None:
            self._print(event)
            if isinstance(event, TurnStart) and play and self.voice:
                # A voice of another rate than the session's says so in turn.start.
                audio = event.audio or client.audio or AudioFormat()
                if (command := player_command(audio.sample_rate)) is not None:
                    playbacks.append(Playback(command))
            elif playbacks and isinstance(event, AudioFrame) and event.payload:
                playbacks[0].feed(event.payload)

        out.print("bot> ", end="", style="bold")
        try:
            result = await self._ask(client, text, voice=self.voice, on_event=on_event)
            out.print()
            self._report(result)
            for playback in playbacks:
                await playback.finish()
        finally:
            for playback in playbacks:
                if playback.task is not None:
                    playback.task.cancel()

    async def _ask(
        self, client: Client, text: str, *, voice: bool, on_event: Callable[[Event], None]
    ) -> TurnResult:
        return await client.ask(
            text, voice=voice, on_event=on_event, voice_name=self.voice_name, rate=self.rate
        )

    def _print(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            out.print(event.text, end="")
        elif isinstance(event, ToolCall):
            out.print(f"[{event.name}({event.arguments})]", end=" ", style="dim")

    def _report(self, result: TurnResult) -> int:
        """Say how the turn went (stderr), save its speech; 0 when it completed cleanly."""
        code = 0
        for error in result.errors:
            code = self._fail(f"server error {error.code}: {error.message}")
        status = result.end.status if result.end else "unknown"
        if status != "complete":
            code = self._fail(f"the turn ended {status}")
        segments = [end for _, end, _ in result.segments if end is not None]
        if self.save_dir is not None and segments:
            path = result.wav(self.save_dir / f"turn-{result.turn_id}.wav")
            total_ms = sum(end.duration_ms for end in segments)
            err.print(f"turn {result.turn_id}: {len(segments)} segments, {total_ms} ms → {path}")
        return code

    def _unknown_voice(self, client: Client) -> int | None:
        # The server answers an unknown voice with an error and no turn; refuse it here.
        voices = client.ready.voices if client.ready else ()
        if self.voice_name is None or self.voice_name in voices:
            return None
        offered = ", ".join(voices) if voices else "none"
        return self._fail(f"unknown voice {self.voice_name!r}; the server's voices: {offered}", 2)

    def _too_long(self, client: Client, text: str) -> int | None:
        # The server answers an oversize message with an error and no turn; refuse it here.
        limit = client.ready.limits.max_message_chars if client.ready else None
        if limit is not None and len(text) > limit:
            return self._fail(f"the message is longer than the server's {limit} characters", 2)
        return None

    def _fail(self, message: str, code: int = 1) -> int:
        err.print(f"voicewire: {message}", style="red", markup=False)
        return code


async def read_line(prompt: str = "you> ") -> str | None:
    """`input()` in a daemon thread: the socket keeps answering pings while the user types,
    and Ctrl-C is not held up by a worker thread blocked in `input()`. None at end of input."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()

    def done(value: str | None) -> None:
        if not line.done():
            line.set_result(value)

    def read() -> None:
        try:
            value: str | None = out.input(prompt)
        except EOFError:
            value = None
        with contextlib.suppress(RuntimeError):  # the loop closed while we waited
            loop.call_soon_threadsafe(done, value)

    threading.Thread(target=read, daemon=True).start()
    return await line


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        hint = " (an invalid or expired --token?)" if status == 403 else ""
        return f"the server refused the handshake with HTTP {status}{hint}"
    return str(exc) or type(exc).__name__
