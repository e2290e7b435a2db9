"""The suites' results as tables, on the console and in Markdown: a row per level (concurrency,
poisson), or a `metric | value` summary (latency, tool_latency, idle, resume, cancel)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from rich.table import Table

# (heading, cell) of each column, shared by the console table and the Markdown one.
Columns = list[tuple[str, Callable[[dict[str, Any]], str]]]

_CONCURRENCY: Columns = [
    ("sessions", lambda lv: str(lv["sessions"])),
    ("TTFA p50 ms", lambda lv: f"{lv['ttfa_p50_ms']:.0f}"),
    ("TTFA p95 ms", lambda lv: f"{lv['ttfa_p95_ms']:.0f}"),
    ("underruns (sessions)", lambda lv: f"{lv['underruns']} ({lv['sessions_with_underruns']})"),
    ("silence ms, all", lambda lv: f"{lv['underrun_ms']:,.0f}"),
    ("silence ms, worst session", lambda lv: f"{lv['underrun_ms_max']:,.0f}"),
    ("text only", lambda lv: str(lv["text_only"])),
    ("synthesis s/s", lambda lv: f"{lv['throughput']:.1f}"),
    ("turn p50 s", lambda lv: f"{lv['turn_p50_ms'] / 1000:.1f}"),
    ("turn max s", lambda lv: f"{lv['turn_max_ms'] / 1000:.1f}"),
    ("server CPU %", lambda lv: f"{lv['server_cpu_pct']:.0f}"),
    ("other CPU %", lambda lv: f"{lv.get('other_cpu_pct', float('nan')):.0f}"),
]


def speech_title(out: dict[str, Any]) -> str:
    """How a run admitted spoken turns, for a table's title: the limit × the capacity."""
    limit, capacity = out.get("load_limit"), out.get("speech_capacity")
    fixed = "measured" if capacity is None else f"{capacity:g} s/s" if capacity else "unbounded"
    title = f"speech limit {'default' if limit is None else f'{limit:g}'} × capacity {fixed}"
    start = out.get("start_limit")
    return title if start is None else f"{title}, start limit {start:g}"


def _fill(
    table: Table, columns: Columns, levels: list[dict[str, Any]], *, labels: int = 0
) -> Table:
    """A row per level on the console. The first `labels` columns name the row (left-aligned);
    the others hold figures (right-aligned)."""
    for i, (name, _) in enumerate(columns):
        table.add_column(name, justify="left" if i < labels else "right")
    for lv in levels:
        table.add_row(*(cell(lv) for _, cell in columns))
    return table


def _markdown(
    columns: Columns,
    levels: list[dict[str, Any]],
    *,
    labels: int = 0,
    heading: str | None = None,
) -> str:
    """A row per level in Markdown (for docs/benchmarks.md), aligned as `_fill` aligns them.
    `heading`: a title in the first header cell, the others blank, instead of the names."""
    if heading is None:
        head = "| " + " | ".join(name for name, _ in columns) + " |"
    else:
        head = f"| {heading} |" + " |" * (len(columns) - 1)
    lines = [head, "|" + "---|" * labels + "---:|" * (len(columns) - labels)]
    lines += ["| " + " | ".join(cell(lv) for _, cell in columns) + " |" for lv in levels]
    return "\n".join(lines)


def _summary(
    rows: Iterable[Sequence[str]], values: Sequence[str]
) -> tuple[Columns, list[dict[str, Any]]]:
    """The columns of a summary (`metric`, then `values`) and its rows, each by column name."""
    names = ("metric", *values)
    columns: Columns = [(name, itemgetter(name)) for name in names]
    return columns, [dict(zip(names, row, strict=True)) for row in rows]


def summary_table(
    title: str, rows: Iterable[Sequence[str]], *, values: Sequence[str] = ("value",)
) -> Table:
    """A suite's summary on the console: a row per metric, its name then its formatted value
    (or one value per column of `values`: resume compares hubs)."""
    columns, levels = _summary(rows, values)
    return _fill(Table(title=title), columns, levels, labels=1)


def summary_markdown(heading: str, rows: Iterable[Sequence[str]]) -> str:
    """A suite's summary in Markdown (for `python -m voicewire.bench report`), under `heading`."""
    columns, levels = _summary(rows, ("value",))
    return _markdown(columns, levels, labels=1, heading=heading)


def _columns(out: dict[str, Any]) -> Columns:
    compared = len({lv.get("code") for lv in out["levels"]}) > 1
    return [("code", lambda lv: str(lv["code"]))] * compared + _CONCURRENCY


def concurrency_table(out: dict[str, Any]) -> Table:
    t = Table(
        title=f"concurrency: {out['words']}-word reply, scripted LLM at {out['tps']:g} tok/s, "
        f"tts={out['tts']}, {speech_title(out)}, {out['cpus']} CPUs "
        "(CPU: % of one core; other: rest of the machine)"
    )
    _fill(t, _columns(out), out["levels"])
    summaries = (
        out["summary"] if "max_clean_sessions" not in out["summary"] else {"": out["summary"]}
    )
    t.caption = "; ".join(
        f"{name + ': ' if name else ''}most sessions with zero underruns, every session "
        f"spoken: {s['max_clean_sessions']} = {s['fraction_of_capacity']:.0%} of the capacity, "
        f"{s['capacity']:.1f} s/s; and with TTFA p95 ≤ {s.get('ttfa_target_ms', 400):.0f} ms: "
        f"{s.get('max_clean_sessions_within_ttfa', '?')}"
        for name, s in summaries.items()
    )
    return t


def concurrency_markdown(out: dict[str, Any]) -> str:
    """The results as a Markdown table (for docs/benchmarks.md)."""
    return _markdown(_columns(out), out["levels"])


_POISSON: Columns = [
    ("target load", lambda lv: f"{lv['target_load']:.0%}"),
    ("conversations", lambda lv: str(lv["conversations"])),
    ("turns (text only)", lambda lv: f"{lv['turns']} ({lv['text_only']})"),
    ("mean load held", lambda lv: f"{lv['mean_load']:.0%}"),
    ("underruns (turns)", lambda lv: f"{lv['underruns']} ({lv['turns_with_underruns']})"),
    ("silence ms", lambda lv: f"{lv['underrun_ms']:,.0f}"),
    ("TTFA p50 ms", lambda lv: f"{lv['ttfa_p50_ms']:.0f}"),
    ("TTFA p95 ms", lambda lv: f"{lv['ttfa_p95_ms']:.0f}"),
    ("stored", lambda lv: ", ".join(f"{n} {k}" for k, n in sorted(lv["stored"].items()))),
    ("RSS MB (growth)", lambda lv: f"{lv['rss_mb_last']:.0f} ({lv['rss_growth']:+.0%})"),
]


def poisson_table(out: dict[str, Any]) -> Table:
    t = Table(
        title=f"poisson: think {out['think_s']:g} s, {out['duration_s']:g} s a level, "
        f"{out['reply_s']:.0f} s replies, capacity {out['capacity']:.1f} s/s, tts={out['tts']}, "
        f"{speech_title(out)}"
    )
    _fill(t, _POISSON, out["levels"])
    t.caption = (
        "highest mean load held with zero underruns: "
        f"{out['summary']['max_load_without_underruns']:.0%}"
    )
    return t


def poisson_markdown(out: dict[str, Any]) -> str:
    return _markdown(_POISSON, out["levels"])
