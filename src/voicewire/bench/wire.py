"""`python -m voicewire.bench.wire` (the `bytes` suite): bytes on the wire per second of speech.

One turn per codec (voicewire.v1 with pcm16, opus, mp3) and one on the seed-compat endpoint
(`/ws/voice-chat/`: base64 MP3 inside JSON text frames), same reply, same voice. Everything the
server sends for the turn counts: every binary frame (20-byte header + payload), every JSON
event from `turn.start` to `turn.end` (compat: every message up to `end`), and each one's
WebSocket frame header (server → client, unmasked: 2 bytes, +2 for 126–65,535 bytes, +8 above).
The ratio is wire bytes / raw PCM at the voice's rate (22,050 Hz s16 → 44,100 B/s of speech).

The main columns are without permessage-deflate, where the count above is exactly what the
socket carries (checked against the bytes the client's TCP socket received). With deflate —
what browsers negotiate, and uvicorn accepts — the frames are compressed and the count is what
the TCP socket received (WebSocket stream bytes; TCP/IP headers are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from voicewire.bench import write_json
from voicewire.config import Settings
from voicewire.llm.scripted import DEFAULT_REPLY
from voicewire.protocol.frames import HEADER_SIZE
from voicewire.protocol.messages import PROTOCOL_VERSION
from voicewire.server.app import create_app
from voicewire.server.runner import serve_in_thread

CODECS = ("pcm16", "opus", "mp3")
COMPAT = "/ws/voice-chat/ (base64 mp3)"
Compression = Literal["deflate"] | None


def ws_header(length: int) -> int:
    """Bytes of a server → client WebSocket frame header (unmasked) for a `length` payload."""
    return 2 + (0 if length < 126 else 2 if length <= 65535 else 8)


def _count_received(ws: ClientConnection) -> list[int]:
    """A counter of the bytes the connection's TCP socket receives from now on (one cell)."""
    counter = [0]
    original = ws.data_received

    def data_received(data: bytes) -> None:
        counter[0] += len(data)
        original(data)

    ws.data_received = data_received  # type: ignore[method-assign]
    return counter


def _empty(endpoint: str, compression: Compression) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "deflate": compression is not None,
        "frames": 0,
        "audio_bytes": 0,
        "header_bytes": 0,  # 20-byte voicewire headers
        "json_bytes": 0,
        "ws_header_bytes": 0,
        "binary_ws_header_bytes": 0,  # the part of ws_header_bytes that frames audio
        "json_by_type": {},  # uncompressed JSON bytes per event type
        "speech_s": 0.0,
    }


def _finish(row: dict[str, Any], tcp: int, voice_rate: int) -> dict[str, Any]:
    counted = row["audio_bytes"] + row["header_bytes"] + row["json_bytes"] + row["ws_header_bytes"]
    row["counted_bytes"] = counted
    row["tcp_bytes"] = tcp
    # Without compression the count is exact (and equals what TCP delivered); with deflate
    # only the socket's count means anything.
    wire = tcp if row["deflate"] else counted
    raw = row["speech_s"] * voice_rate * 2
    row["wire_bytes"] = wire
    row["voice_rate"] = voice_rate
    row["bytes_per_speech_s"] = wire / row["speech_s"] if row["speech_s"] else float("nan")
    row["kbit_s"] = row["bytes_per_speech_s"] * 8 / 1000
    row["ratio_to_pcm"] = wire / raw if raw else float("nan")
    row["json_share"] = row["json_bytes"] / counted if counted else float("nan")
    # The audio's own cost: binary frames (header + payload) and their WebSocket headers.
    audio = row["audio_bytes"] + row["header_bytes"] + row["binary_ws_header_bytes"]
    binary = raw and row["header_bytes"] and not row["deflate"]  # compat sends no binary frames
    row["audio_ratio_to_pcm"] = audio / raw if binary else float("nan")
    return row


async def _v1(base: str, codec: str, compression: Compression) -> dict[str, Any]:
    row = _empty(f"/ws {codec}", compression)
    row["codec"] = codec
    async with connect(
        base + "/ws",
        subprotocols=[PROTOCOL_VERSION],  # type: ignore[list-item]
        compression=compression,
        max_size=None,
        ping_interval=None,
    ) as ws:
        tcp = _count_received(ws)
        ready = json.loads(await ws.recv())
        voice_rate: int = ready["audio"]["sample_rate"]
        out_rate = voice_rate
        if codec != "pcm16":
            await ws.send(json.dumps({"type": "session.update", "codec": codec}))
            answer = json.loads(await ws.recv())
            if answer["type"] == "error":
                row["error"] = answer["code"]
                return row
            out_rate = answer["audio"]["sample_rate"]
        await ws.send(json.dumps({"type": "user.message", "id": "m1", "text": "bytes?"}))
        tcp[0] = 0
        speech_ms = 0
        while True:
            data = await ws.recv()
            if isinstance(data, bytes):
                size = len(data)
                row["frames"] += 1
                row["header_bytes"] += HEADER_SIZE
                row["audio_bytes"] += size - HEADER_SIZE
                row["binary_ws_header_bytes"] += ws_header(size)
            else:
                size = len(data.encode())
                row["json_bytes"] += size
                event = json.loads(data)
                by_type = row["json_by_type"]
                by_type[event["type"]] = by_type.get(event["type"], 0) + size
                if event["type"] == "segment.end":
                    # duration_ms, not samples: it is at the voice's rate whatever the codec.
                    speech_ms += event["duration_ms"]
                elif event["type"] == "error":
                    row.setdefault("errors", []).append(event["code"])
            row["ws_header_bytes"] += ws_header(size)
            if not isinstance(data, bytes) and event["type"] == "turn.end":
                break
        row["speech_s"] = speech_ms / 1000
        row["session_sample_rate"] = out_rate
        return _finish(row, tcp[0], voice_rate)


def mp3_seconds(data: bytes) -> float:
    """Seconds of audio in one MP3 file (FFmpeg drops the encoder delay and padding)."""
    import av

    seconds = 0.0
    with av.open(io.BytesIO(data), mode="r", format="mp3") as container:
        for frame in container.decode(audio=0):
            seconds += frame.samples / frame.sample_rate
    return seconds


async def _compat(base: str, compression: Compression, voice_rate: int) -> dict[str, Any]:
    row = _empty(COMPAT, compression)
    row["codec"] = "mp3 (base64 JSON)"
    async with connect(
        base + "/ws/voice-chat/", compression=compression, max_size=None, ping_interval=None
    ) as ws:
        tcp = _count_received(ws)
        await ws.send(json.dumps({"usr_query": "bytes?", "is_voice": True}))
        while True:
            data = await ws.recv()
            text = data.decode() if isinstance(data, bytes) else data
            size = len(data) if isinstance(data, bytes) else len(text.encode())
            row["json_bytes"] += size
            row["ws_header_bytes"] += ws_header(size)
            message = json.loads(text)
            by_type = row["json_by_type"]
            kind = str(message.get("type"))
            by_type[kind] = by_type.get(kind, 0) + size
            if message.get("type") == "voice":
                row["frames"] += 1
                mp3 = base64.b64decode(message["audio"])
                row["mp3_bytes"] = row.get("mp3_bytes", 0) + len(mp3)
                row["speech_s"] += mp3_seconds(mp3)
            elif message.get("type") == "error":
                row.setdefault("errors", []).append(message.get("message"))
            if message.get("type") == "end":
                break
        return _finish(row, tcp[0], voice_rate)


async def _all(
    base: str, codecs: Sequence[str], compat: bool, modes: Sequence[Compression]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for compression in modes:
        for codec in codecs:
            rows.append(await _v1(base, codec, compression))
        if compat:
            rate = next((r["voice_rate"] for r in rows if "voice_rate" in r), 22050)
            try:
                rows.append(await _compat(base, compression, rate))
            except (InvalidStatus, OSError) as exc:
                row = _empty(COMPAT, compression)
                row["error"] = type(exc).__name__
                rows.append(row)
    return rows


def run(
    *,
    codecs: Sequence[str] = CODECS,
    compat: bool = True,
    deflate: bool = True,
    tts: str = "piper",
    tps: float = 200.0,
    reply: str = DEFAULT_REPLY,
    json_path: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Bytes per second of speech for each codec; `deflate` adds runs with permessage-deflate.

    The LLM's speed does not change the bytes, so it runs fast by default.
    """
    modes: list[Compression] = [None, "deflate"] if deflate else [None]
    with tempfile.TemporaryDirectory(prefix="voicewire-bench-") as data:
        settings = Settings(
            llm="scripted",
            tts=tts,
            scripted_reply=reply,
            scripted_tps=tps,
            scripted_first_token_ms=0.0,
            persist=False,
            data_dir=Path(data),
        )
        with serve_in_thread(create_app(settings)) as base:
            ws_base = base.replace("http", "ws", 1)
            rows = asyncio.run(_all(ws_base, codecs, compat, modes))
    out = {"suite": "bytes", "tts": tts, "words": len(reply.split()), "rows": rows}
    if not quiet:
        Console(width=max(Console().width, 140)).print(table(out))
    if json_path:
        write_json(json_path, out)
    return out


def table(out: dict[str, Any]) -> Table:
    t = Table(
        title=f"bytes on the wire per second of speech: {out['words']}-word reply, tts={out['tts']}"
    )
    for name in (
        "endpoint",
        "deflate",
        "speech s",
        "audio frames",
        "JSON % (uncompressed)",
        "wire bytes",
        "kbit/s",
    ):
        t.add_column(name, justify="left" if name == "endpoint" else "right", no_wrap=True)
    t.add_column("wire / raw PCM", justify="right")
    t.add_column("audio frames only / raw PCM", justify="right")
    for r in out["rows"]:
        flag = "yes" if r["deflate"] else "no"
        if "error" in r:
            t.add_row(r["endpoint"], flag, *(["n/a"] * 5), f"n/a ({r['error']})", "n/a")
            continue
        t.add_row(
            r["endpoint"],
            flag,
            f"{r['speech_s']:.2f}",
            str(r["frames"]),
            f"{100 * r['json_share']:.1f}",
            f"{r['wire_bytes']:,}",
            f"{r['kbit_s']:.1f}",
            f"{r['ratio_to_pcm']:.4f}",
            "—" if r["endpoint"] == COMPAT or r["deflate"] else f"{r['audio_ratio_to_pcm']:.4f}",
        )
    t.caption = (
        "raw PCM: the voice's rate, 16-bit mono (22,050 Hz → 44,100 B/s). Wire: everything the "
        "turn sent, JSON events included; audio frames only: binary frames + their WS headers"
    )
    return t


def markdown(out: dict[str, Any]) -> str:
    """The results as a Markdown table (for docs/benchmarks.md)."""
    lines = [
        "| endpoint | deflate | speech s | wire bytes | kbit/s | wire / raw PCM "
        "| audio frames only / raw PCM | JSON % |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in out["rows"]:
        flag = "yes" if r["deflate"] else "no"
        if "error" in r:
            lines.append(f"| {r['endpoint']} | {flag} | n/a ({r['error']}) | | | | | |")
            continue
        audio = r.get("audio_ratio_to_pcm", float("nan"))
        lines.append(
            f"| {r['endpoint']} | {flag} | {r['speech_s']:.1f} | {r['wire_bytes']:,} "
            f"| {r['kbit_s']:.1f} | {r['ratio_to_pcm']:.4f} "
            f"| {'—' if audio != audio else f'{audio:.4f}'} | {100 * r['json_share']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codecs", default=",".join(CODECS), help="e.g. pcm16,opus")
    parser.add_argument("--no-compat", action="store_true", help="skip /ws/voice-chat/")
    parser.add_argument("--no-deflate", action="store_true", help="skip the deflate runs")
    parser.add_argument("--tts", default="piper", help="piper | fake")
    parser.add_argument("--tps", type=float, default=200.0, help="scripted LLM tokens/s")
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    run(
        codecs=[c for c in args.codecs.split(",") if c],
        compat=not args.no_compat,
        deflate=not args.no_deflate,
        tts=args.tts,
        tps=args.tps,
        reply=args.reply,
        json_path=args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
