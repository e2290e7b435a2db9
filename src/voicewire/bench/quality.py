"""`voicewire bench quality`: does the LLM answer everyday questions the way a listener wants?

Each question of `QUESTIONS` is asked alone (no history) through the engine's `stream()`, the
call a turn makes, and the whole reply is judged as a listener would hear it:

* english: at least 95% of its letters are ASCII, at least a fifth of its words are common
  English words (`_ENGLISH`), and at most a tenth are common French, Spanish, Italian or German
  ones (`_FOREIGN`) — so "La monnaie est la monnaie, je ne sapere pas." is not English;
* no loop: no 4-word phrase said three times and no sentence said twice;
* short: at most `MAX_WORDS` words;
* ends: the last word is followed by sentence punctuation, not cut mid-sentence.

A reply passes when all four hold. Each run asks every question once; the sampling is random
(no fixed seed), so runs differ. The flags override the settings (`VOICEWIRE_LLM_*`), which is
how one measures other defaults; e.g. those before issue 19:
`--temperature 0.7 --top-p 0.95 --repeat-penalty 1.0 --max-tokens 256 --max-sentences 0
--system-prompt "You are a helpful voice assistant. Answer in a few short, plain sentences."`
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from voicewire.bench import write_json
from voicewire.config import Settings
from voicewire.llm.base import LLM, ChatMessage
from voicewire.llm.sentences import ends_sentence

MAX_WORDS = 100
QUESTIONS = (
    "What can I do in Paris on a rainy day?",
    "How do I boil an egg?",
    "What is a good way to fall asleep faster?",
    "Can you suggest a quick dinner for two?",
    "How do I keep my houseplants alive?",
    "What should I pack for a weekend at the beach?",
    "How can I save money on groceries?",
    "What is the weather usually like in London in spring?",
    "How do I make a good cup of coffee?",
    "What are some fun things to do with kids at home?",
    "How long should I walk each day to stay healthy?",
    "What is the capital of Japan?",
    "How do I get a coffee stain out of a shirt?",
    "Can you tell me a fun fact about space?",
    "What is a polite way to decline an invitation?",
    "How do I start learning to play the guitar?",
    "What should I do if I lose my wallet?",
    "Why is the sky blue?",
)
CHECKS = ("english", "no_loop", "short", "ends")

_ENGLISH_WORDS = """
    a an the and or but if so of to in on at by for with from as into about than then is are
    was were be been being am do does did have has had can could will would should may might must
    i you he she it we they me him her us them my your his its our their this that these those
    there here what which who when where why how not no yes all some any more most very just also
    only too up out get go make take see like one two you'll it's don't you're there's"""
_FOREIGN_WORDS = """
    le la les un une des est et je ne pas du que qui vous nous il elle sont avec pour dans
    mais très el los las es y por con una para pero muy está il lo gli di che è sono der die das
    und ist nicht ich sie ein eine mit auf"""
_ENGLISH = frozenset(_ENGLISH_WORDS.split())
_FOREIGN = frozenset(_FOREIGN_WORDS.split())
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def is_english(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    found = words(text)
    if not letters or not found:
        return False
    ascii_share = sum(c.isascii() for c in letters) / len(letters)
    english = sum(w in _ENGLISH for w in found) / len(found)
    foreign = sum(w in _FOREIGN for w in found) / len(found)
    return ascii_share >= 0.95 and english >= 0.2 and foreign <= 0.1


def repeated(text: str) -> str | None:
    """The phrase a looping reply repeats (a 4-word phrase 3 times, a sentence twice), or None."""
    found = words(text)
    grams = Counter(tuple(found[i : i + 4]) for i in range(len(found) - 3))
    if grams and (top := grams.most_common(1)[0])[1] >= 3:
        return " ".join(top[0])
    sentences = Counter(
        " ".join(words(s)) for s in re.split(r"(?<=[.!?…])\s+|\n+", text) if words(s)
    )
    if sentences and (line := sentences.most_common(1)[0])[1] >= 2:
        return line[0]
    return None


def judge(reply: str) -> dict[str, Any]:
    """The listener's verdict on one reply: each check, the repeated phrase, the word count."""
    loop = repeated(reply)
    count = len(reply.split())
    checks = {
        "english": is_english(reply),
        "no_loop": loop is None,
        "short": 0 < count <= MAX_WORDS,
        "ends": ends_sentence(reply),
    }
    return {**checks, "ok": all(checks.values()), "words": count, "repeated": loop}


async def _close(llm: LLM) -> None:
    if (aclose := getattr(llm, "aclose", None)) is not None:
        await aclose()
    elif (close := getattr(llm, "close", None)) is not None:
        close()


async def _ask(llm: LLM, question: str) -> tuple[str, float]:
    started = time.perf_counter()
    reply = "".join([d async for d in llm.stream([ChatMessage("user", question)])])
    return reply.strip(), time.perf_counter() - started


def run(
    llm: LLM,
    *,
    runs: int = 3,
    questions: Sequence[str] = QUESTIONS,
    json_path: Path | None = None,
    quiet: bool = False,
    close: bool = False,
) -> dict[str, Any]:
    """Ask every question `runs` times; print a table per run and the failures; return all.

    `close`: close the engine afterwards, in the event loop it ran in (an HTTP client needs that).
    """

    progress = Console(stderr=True)

    async def ask_all() -> list[list[dict[str, Any]]]:
        out: list[list[dict[str, Any]]] = []
        try:
            for _ in range(runs):
                rows = []
                for question in questions:
                    reply, seconds = await _ask(llm, question)
                    verdict = judge(reply)
                    rows.append({"question": question, "reply": reply, "s": seconds, **verdict})
                    if not quiet:  # a run takes minutes on a small machine: show it moving
                        mark = "ok" if verdict["ok"] else "FAIL"
                        progress.print(f"run {len(out) + 1} {len(rows)}/{len(questions)} {mark}")
                out.append(rows)
        finally:
            if close:
                await _close(llm)
        return out

    results = asyncio.run(ask_all())
    summary = [_summary(i + 1, rows) for i, rows in enumerate(results)]
    out = {"suite": "quality", "llm": llm.name, "runs": results, "summary": summary}
    if not quiet:
        _print(out)
    if json_path:
        write_json(json_path, out)
    return out


def _summary(run: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run": run,
        "questions": len(rows),
        "ok": sum(r["ok"] for r in rows),
        **{check: sum(r[check] for r in rows) for check in CHECKS},
        "words_p50": statistics.median(r["words"] for r in rows),
        "seconds_p50": statistics.median(r["s"] for r in rows),
    }


def _print(out: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"quality: {out['llm']}, replies that pass each check")
    for column in ("run", "ok", *CHECKS, "words p50", "s p50"):
        table.add_column(column, justify="right")
    for s in out["summary"]:
        n = s["questions"]
        counts = [f"{s[k]}/{n}" for k in ("ok", *CHECKS)]
        table.add_row(str(s["run"]), *counts, f"{s['words_p50']:g}", f"{s['seconds_p50']:.1f}")
    console.print(table)
    for i, rows in enumerate(out["runs"], 1):
        for r in rows:
            if not r["ok"]:
                failed = ", ".join(c for c in CHECKS if not r[c])
                console.print(f"run {i} ✗ {failed}: {r['question']!r} → {r['reply'][:120]!r}")


def markdown(out: dict[str, Any]) -> str:
    head = f"| quality: {out['llm']} | ok | " + " | ".join(CHECKS) + " | words p50 |"
    rows = [
        f"| run {s['run']} | {s['ok']}/{s['questions']} | "
        + " | ".join(str(s[c]) for c in CHECKS)
        + f" | {s['words_p50']:g} |"
        for s in out["summary"]
    ]
    return "\n".join([head, "|---" + "|---:" * (len(CHECKS) + 2) + "|", *rows])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="voicewire bench quality", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--llm", default=None, help="engine name (default: the settings')")
    for flag, kind in (
        ("temperature", float),
        ("top-p", float),
        ("min-p", float),
        ("repeat-penalty", float),
        ("max-tokens", int),
        ("max-sentences", int),
        ("system-prompt", str),
    ):
        parser.add_argument(f"--{flag}", type=kind, default=None)
    args = parser.parse_args(argv)
    names = {"temperature": "llm_temperature", "system_prompt": "system_prompt", "llm": "llm"}
    given = {k: v for k, v in vars(args).items() if v is not None}
    overrides = {names.get(k, f"llm_{k}"): v for k, v in given.items() if k not in ("runs", "json")}
    from voicewire.engines import build_llm

    run(build_llm(Settings(**overrides)), runs=args.runs, json_path=args.json, close=True)
    return 0
