"""`python -m voicewire.bench SUITE [options]`: run one benchmark suite (see docs/benchmarks.md).

Suites: latency, concurrency, poisson, bytes, idle, resume, plots, fuzz, stt, vad, quality.
`python -m voicewire.bench SUITE -h` lists a suite's options. `python -m voicewire.bench report
DIR` prints the JSON results found in DIR as Markdown tables (what docs/benchmarks.md shows).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from voicewire.bench import MissingExtra, load_suite

SUITES = {
    "concurrency": "voicewire.bench.concurrency",
    "poisson": "voicewire.bench.poisson",
    "bytes": "voicewire.bench.wire",
    "idle": "voicewire.bench.idle",
    "resume": "voicewire.bench.resume",
    "plots": "voicewire.bench.plots",
    "fuzz": "voicewire.bench.fuzz",
    "stt": "voicewire.bench.stt",
    "vad": "voicewire.bench.vad",
    "quality": "voicewire.bench.quality",
}


def latency(argv: list[str]) -> int:
    from voicewire.bench.latency import run

    parser = argparse.ArgumentParser(prog="python -m voicewire.bench latency")
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--tps", type=float, default=30.0)
    parser.add_argument("--tts", default="piper")
    parser.add_argument("--first-token-ms", type=float, default=0.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    run(
        turns=args.turns,
        tps=args.tps,
        tts=args.tts,
        json_path=args.json,
        first_token_ms=args.first_token_ms,
    )
    return 0


def latency_markdown(out: dict[str, Any]) -> str:
    from voicewire.bench.latency import summary_rows
    from voicewire.bench.tables import summary_markdown

    head = f"latency: {out['words']} words at {out['tps']:g} tok/s, tts={out['tts']} (median)"
    return summary_markdown(head, summary_rows(out["summary"]))


def report(argv: list[str]) -> int:
    concurrency, idle, wire = (load_suite(SUITES[s]) for s in ("concurrency", "idle", "bytes"))
    from voicewire.bench import quality

    parser = argparse.ArgumentParser(prog="python -m voicewire.bench report")
    parser.add_argument("dir", type=Path, help="a directory of the suites' JSON files")
    args = parser.parse_args(argv)
    for path in sorted(args.dir.glob("*.json")):
        out = json.loads(path.read_text())
        suite = out.get("suite", "latency" if "turns" in out else None)
        render = {
            "latency": latency_markdown,
            "concurrency": concurrency.markdown,
            "poisson": load_suite(SUITES["poisson"]).markdown,
            "bytes": wire.markdown,
            "idle": idle.markdown,
            "quality": quality.markdown,
            "tool_latency": load_suite("voicewire.bench.tool_latency").markdown,
        }.get(suite or "")
        if render is not None:
            print(f"<!-- {path.name} -->\n{render(out)}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = ["latency", "report", *SUITES]
    if not argv or argv[0] not in names:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    suite, rest = argv[0], argv[1:]
    try:
        if suite == "report":
            return report(rest)
        if suite == "latency":
            return latency(rest)
        code: int = load_suite(SUITES[suite]).main(rest)
    except MissingExtra as exc:
        print(f"voicewire: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
