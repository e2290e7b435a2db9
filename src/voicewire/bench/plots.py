"""`python -m voicewire.bench.plots`: the benchmark pictures (PNG, matplotlib's Agg backend).

- `timeline`: one turn on one time axis, as the client saw it — text deltas, each segment's
  synthesis span (its text complete → its first audio frame), the audio frames and real-time
  playback — against the seed's naive pipeline on the same engines (the whole reply, then
  synthesis of all of it, then one base64 JSON message).
- `concurrency`: TTFA p50/p95 and underruns against the number of concurrent sessions, from
  the JSON that `python -m voicewire.bench.concurrency --json FILE` writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from voicewire.bench import write_json
from voicewire.bench.timeline import capture
from voicewire.llm.scripted import DEFAULT_REPLY

COLORS = ("#4C72B0", "#DD8452", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974")
TTFA_TICKS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)


def _figure(size: tuple[float, float]) -> Figure:
    """A figure drawn by Agg, without pyplot (no global state, no display needed)."""
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


# --- timeline ---------------------------------------------------------------------------------


def _ticks(ax: Axes, xs: Sequence[float], y: float, color: str, height: float = 0.6) -> None:
    if xs:
        ax.vlines(xs, y - height / 2, y + height / 2, color=color, linewidth=0.8)


def _draw_timeline(ax: Axes, tl: dict[str, Any]) -> None:
    vw, nv = tl["voicewire"], tl["naive"]
    rows = [
        "text.delta sent",
        "synthesis\n(text complete → 1st frame)",
        "audio frames",
        "playback (real time)",
        "naive: LLM text (held)",
        "naive: synthesis of all",
        "naive: one base64 JSON",
        "naive: playback",
    ]
    y = {name: len(rows) - i for i, name in enumerate(rows)}
    _ticks(ax, vw["deltas"], y[rows[0]], "#333333")
    for seg in vw["segments"]:
        color = COLORS[seg["id"] % len(COLORS)]
        width = max(seg["first_audio"] - seg["text_complete"], 1e-3)
        # Even segments above odd ones: a segment's text may complete while the previous one
        # is still being synthesized, and the spans overlap.
        lane = y[rows[1]] + (0.17 if seg["id"] % 2 == 0 else -0.17)
        ax.barh(lane, width, left=seg["text_complete"], height=0.3, color=color)
        _ticks(ax, [t for t, i in vw["frames"] if i == seg["id"]], y[rows[2]], color)
    for begin, end in vw["playback"]:
        ax.barh(y[rows[3]], end - begin, left=begin, height=0.6, color="#55A868")
    _ticks(ax, nv["tokens"], y[rows[4]], "#999999")
    ax.barh(
        y[rows[5]],
        nv["synth_done"] - nv["text_done"],
        left=nv["text_done"],
        height=0.6,
        color="#C44E52",
    )
    _ticks(ax, [nv["sent"]], y[rows[6]], "#C44E52", height=0.8)
    ax.barh(y[rows[7]], nv["audio_s"], left=nv["sent"], height=0.6, color="#55A868")
    ax.axvline(tl["measured"]["ttfa_ms"] / 1000, color="#4C72B0", linestyle=":", linewidth=1)
    ax.axvline(nv["sent"], color="#C44E52", linestyle=":", linewidth=1)
    ax.set_yticks(list(y.values()), list(y))
    ax.axhline(y[rows[3]] - 0.5, color="#cccccc", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)


def plot_timeline(tl: dict[str, Any], path: Path) -> Path:
    fig = _figure((13, 5))
    full, zoom = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    _draw_timeline(full, tl)
    _draw_timeline(zoom, tl)
    naive_end = tl["naive"]["sent"]
    full.set_xlim(0, max(naive_end, tl["voicewire"]["turn_end"]) * 1.15 + 0.5)
    zoom_end = max(0.4, tl["measured"]["ttfa_ms"] / 1000 * 3)
    zoom.set_xlim(0, zoom_end)
    full.set_xlabel("seconds since the user's message")
    zoom.set_xlabel(f"first {zoom_end * 1000:.0f} ms")
    m = tl["measured"]
    full.set_title(
        f"one turn: {tl['words']}-word reply at {tl['tps']:g} tok/s, tts={tl['tts']} — "
        f"first audio {m['ttfa_ms']:.0f} ms (floor {m['floor_ms']:.0f} ms), "
        f"naive {naive_end * 1000:.0f} ms; playback runs on to "
        f"{tl['voicewire']['playback'][-1][1]:.0f} s",
        fontsize=10,
        loc="left",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


# --- concurrency ------------------------------------------------------------------------------


def plot_concurrency(data: dict[str, Any], path: Path) -> Path:
    levels = sorted(data["levels"], key=lambda lv: lv["sessions"])
    n = [lv["sessions"] for lv in levels]
    fig = _figure((8, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(n, [lv["ttfa_p50_ms"] for lv in levels], "o-", label="TTFA p50")
    top.plot(n, [lv["ttfa_p95_ms"] for lv in levels], "s--", label="TTFA p95")
    target = data["summary"].get("ttfa_target_ms", 400.0)
    top.axhline(target, color="#999999", linestyle=":", label=f"TTFA target ({target:g} ms)")
    top.set_ylabel("time to first audio (ms)")
    top.set_yscale("log")
    top.yaxis.set_major_locator(FixedLocator(TTFA_TICKS))
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    top.yaxis.set_minor_formatter(NullFormatter())
    top.grid(alpha=0.3, which="both")
    top.legend()
    bottom.bar(n, [lv["underruns"] for lv in levels], width=1.5, color="#C44E52", label="events")
    bottom.set_ylabel("underrun events (all sessions)")
    silence = bottom.twinx()
    silence.plot(
        n, [lv["underrun_ms"] / 1000 for lv in levels], "k.-", label="silence (s, all sessions)"
    )
    silence.set_ylabel("silence (s, all sessions)")
    bottom.set_ylim(bottom=0)
    silence.set_ylim(bottom=0)
    bottom.set_xlabel("concurrent speaking sessions")
    bottom.set_xticks(n)
    bottom.grid(alpha=0.3)
    handles = bottom.get_legend_handles_labels()[0] + silence.get_legend_handles_labels()[0]
    bottom.legend(handles, [str(h.get_label()) for h in handles], loc="upper left")
    top.set_title(
        f"{data['words']}-word reply at {data['tps']:g} tok/s, tts={data['tts']}, "
        f"{data['cpus']} CPUs\nmost sessions with no underrun, every session spoken: "
        f"{data['summary']['max_clean_sessions']}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def run(
    *,
    timeline_png: Path | None = None,
    concurrency_json: Path | None = None,
    concurrency_png: Path | None = None,
    tts: str = "piper",
    tps: float = 30.0,
    reply: str = DEFAULT_REPLY,
    json_path: Path | None = None,
) -> dict[str, Any]:
    """Draw what is asked for; returns the written paths and the timeline's numbers."""
    out: dict[str, Any] = {"suite": "plots", "written": []}
    if timeline_png is not None:
        tl = capture(tts=tts, tps=tps, reply=reply)
        out["timeline"] = tl
        out["written"].append(str(plot_timeline(tl, timeline_png)))
    if concurrency_json is not None and concurrency_png is not None:
        data = json.loads(concurrency_json.read_text())
        out["written"].append(str(plot_concurrency(data, concurrency_png)))
    if json_path:
        write_json(json_path, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("timeline", help="one turn, voicewire against the naive pipeline")
    t.add_argument("--out", type=Path, default=Path("docs/img/timeline.png"))
    t.add_argument("--tts", default="piper")
    t.add_argument("--tps", type=float, default=30.0)
    t.add_argument("--json", type=Path, default=None, help="write the timeline's data here")
    t.add_argument("--from-json", type=Path, default=None, help="redraw a --json file's turn")
    c = sub.add_parser("concurrency", help="TTFA and underruns against sessions")
    c.add_argument("json_in", type=Path, help="the concurrency suite's JSON")
    c.add_argument("--out", type=Path, default=Path("docs/img/concurrency.png"))
    args = parser.parse_args(argv)
    if args.what == "timeline":
        if args.from_json is not None:  # measures nothing: draws the turn stored there
            out = json.loads(args.from_json.read_text())
            out["written"] = [str(plot_timeline(out["timeline"], args.out))]
        else:
            out = run(timeline_png=args.out, tts=args.tts, tps=args.tps, json_path=args.json)
        m = out["timeline"]["measured"]
        print(
            f"TTFA {m['ttfa_ms']:.0f} ms (floor {m['floor_ms']:.0f} ms), naive "
            f"{out['timeline']['naive']['sent'] * 1000:.0f} ms"
        )
    else:
        out = run(concurrency_json=args.json_in, concurrency_png=args.out)
    for path in out["written"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
