"""Benchmark P1, cheap commands: 2,000 ``/help`` from 2,000 private chats, nemobot vs a bare PTB bot.

Each trial starts one bot in a subprocess (``nemobot run``, or :mod:`bare_ptb_bot`, the baseline)
on a fresh fake Telegram (and, for nemobot, a fresh SQLite database; one NemoVideo emulator
serves every trial). Once the bot is up and has answered one warm-up ``/help``, the N
``/help`` updates are queued at once, from N chats never seen before, and the bot drains them
by long polling. A chat is answered at the bot's first ``sendMessage`` in it.

Measured per trial: replies/s from the first reply to the last and from queueing to the last,
first-reply latency, per-chat latency p50/p99, the bot's CPU seconds (user + system) from
queueing to the last reply divided by the replies, its peak RSS, the Bot API requests it made
per update (by method; ``getUpdates`` separately) and its time to exit after SIGTERM.

Two modes: ``limited`` (PTB's ``AIORateLimiter``, 30 messages/s, as deployed: the throughput
figure) and ``unlimited`` (limiter removed, for nemobot by :data:`harness.NO_LIMITER_WRAPPER`:
the CPU-per-reply figure). Trials are interleaved (nemobot, bare, nemobot, bare...); medians of
``--repeat`` trials and the ratios nemobot/bare are reported.

Targets: throughput ratio (replies/s from queueing to the last, limited) >= 0.8; CPU-per-reply
ratio (unlimited) <= 2.0. At 30 messages/s 2,000 replies take about 67 s per limited trial.

Usage: ``python bench/p1_cheap_commands.py [--updates 2000] [--repeat 3] [--modes limited,unlimited]
[--out bench/results/p1_cheap_commands.json]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    RESULTS,
    BenchTelegram,
    machine_info,
    median,
    now_utc,
    percentile,
    print_table,
    ratio,
    rnd,
    start_bot,
    start_emulator,
    write_result,
)

KINDS = ("nemobot", "bare")
MODES = {"limited": True, "unlimited": False}
THROUGHPUT_RATIO_MIN = 0.8
CPU_RATIO_MAX = 2.0
RPS = "replies_per_s_queue_to_last"
"""The throughput figure: replies over the time from queueing to the last reply."""


async def trial(kind: str, limiter: bool, n: int, emulator_url: str, workdir: Path, timeout_s: float) -> dict[str, Any]:
    """One bot, N ``/help`` queued at once; the figures of :mod:`p1_cheap_commands`."""
    async with BenchTelegram(files_dir=workdir / "tg") as tg:
        bot = await start_bot(kind, tg, workdir / "bot", emulator_url=emulator_url, limiter=limiter)
        try:
            chats = tg.new_chats(n)
            calls_before, polls_before = len(tg.calls), tg.get_updates_calls
            cpu_before = bot.cpu_seconds()
            t0 = time.monotonic()
            tg.queue_text(chats, "/help")
            ids = [c["id"] for c in chats]
            complete = await tg.wait_replies(ids, timeout_s, bot.alive)
            cpu_after = bot.cpu_seconds()
            await asyncio.sleep(0.5)  # requests still in flight (a late chat action) are counted too
            requests = tg.requests_since(calls_before)
            polls = tg.get_updates_calls - polls_before
            texts = [str(c.params.get("text", "")) for c in tg.calls[calls_before:] if c.method == "sendMessage"]
        finally:
            exit_s = await bot.stop()
    replies = sorted(tg.first_reply[c] for c in ids if c in tg.first_reply)
    latencies = [tg.first_reply[c] - t0 if c in tg.first_reply else None for c in ids]
    cpu_s = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    first, last = (replies[0], replies[-1]) if replies else (None, None)
    return {
        "bot": kind,
        "limiter": limiter,
        "updates": n,
        "replied": len(replies),
        "complete": complete,
        "first_reply_s": rnd(first - t0 if first is not None else None),
        "last_reply_s": rnd(last - t0 if last is not None else None),
        "replies_per_s_queue_to_last": rnd(len(replies) / (last - t0) if last is not None else None, 2),
        "replies_per_s_first_to_last": rnd(
            (len(replies) - 1) / (last - first) if first is not None and last is not None and last > first else None, 2
        ),
        "latency_p50_s": rnd(percentile(latencies, 50)),
        "latency_p99_s": rnd(percentile(latencies, 99)),
        "cpu_s": rnd(cpu_s),
        "cpu_per_reply_ms": rnd(cpu_s / len(replies) * 1000 if cpu_s is not None and replies else None),
        "rss_peak_mb": rnd(bot.stats.rss_peak_mb, 1),
        "requests_per_update": {m: round(k / n, 3) for m, k in sorted(requests.items())},
        "get_updates_calls": polls,
        "reply_chars_mean": rnd(sum(map(len, texts)) / len(texts) if texts else None, 1),
        "exit_s": rnd(exit_s),
    }


def summarize(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per (mode, bot) and the ratios nemobot/bare."""
    keys = (
        "replies_per_s_queue_to_last",
        "replies_per_s_first_to_last",
        "first_reply_s",
        "latency_p50_s",
        "latency_p99_s",
        "cpu_per_reply_ms",
        "rss_peak_mb",
        "exit_s",
    )
    medians: dict[str, dict[str, Any]] = {}
    for mode, limiter in MODES.items():
        for kind in KINDS:
            runs = [t for t in trials if t["bot"] == kind and t["limiter"] is limiter]
            if not runs:
                continue
            entry: dict[str, Any] = {k: rnd(median(t[k] for t in runs), 3) for k in keys}
            methods = sorted({m for t in runs for m in t["requests_per_update"]})
            entry["requests_per_update"] = {
                m: rnd(median(t["requests_per_update"].get(m, 0.0) for t in runs)) for m in methods
            }
            entry["trials"] = len(runs)
            entry["all_complete"] = all(t["complete"] for t in runs)
            medians[f"{mode}/{kind}"] = entry

    def of(mode: str, kind: str, key: str) -> float | None:
        value = medians.get(f"{mode}/{kind}", {}).get(key)
        return value if isinstance(value, float | int) else None

    ratios = {
        "throughput_queue_to_last": rnd(ratio(of("limited", "nemobot", RPS), of("limited", "bare", RPS)), 2),
        "throughput_first_to_last": rnd(
            ratio(
                of("limited", "nemobot", "replies_per_s_first_to_last"),
                of("limited", "bare", "replies_per_s_first_to_last"),
            ),
            2,
        ),
        "cpu_per_reply": rnd(
            ratio(of("unlimited", "nemobot", "cpu_per_reply_ms"), of("unlimited", "bare", "cpu_per_reply_ms")), 2
        ),
        "cpu_per_reply_limited": rnd(
            ratio(of("limited", "nemobot", "cpu_per_reply_ms"), of("limited", "bare", "cpu_per_reply_ms")), 2
        ),
        "throughput_unlimited": rnd(ratio(of("unlimited", "nemobot", RPS), of("unlimited", "bare", RPS)), 2),
    }
    return {"medians": medians, "ratios_nemobot_vs_bare": ratios}


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    emu = await start_emulator(workdir / "emulator")
    trials: list[dict[str, Any]] = []
    try:
        for r in range(args.repeat):
            for mode in modes:
                for kind in KINDS:  # interleaved: nemobot, bare, nemobot, bare...
                    where = workdir / f"{r}-{mode}-{kind}"
                    result = await trial(kind, MODES[mode], args.updates, emu.url, where, args.timeout_s)
                    result["round"] = r
                    trials.append(result)
                    print(
                        f"round {r + 1}/{args.repeat} {mode:9} {kind:7}: {result['replied']}/{args.updates} replies, "
                        f"{result['replies_per_s_queue_to_last']} replies/s, "
                        f"{result['cpu_per_reply_ms']} ms CPU/reply, {result['requests_per_update']}",
                        flush=True,
                    )
    finally:
        await emu.stop()
    summary = summarize(trials)
    ratios = summary["ratios_nemobot_vs_bare"]
    checks = {}
    if ratios["throughput_queue_to_last"] is not None:
        checks["throughput_ratio_ok"] = ratios["throughput_queue_to_last"] >= THROUGHPUT_RATIO_MIN
    if ratios["cpu_per_reply"] is not None:
        checks["cpu_ratio_ok"] = ratios["cpu_per_reply"] <= CPU_RATIO_MAX
    return {
        "figure": "P1 cheap commands",
        "updates": args.updates,
        "repeat": args.repeat,
        "modes": modes,
        "method": (
            "per trial: a fresh fake Telegram and bot subprocess; after one warm-up /help is answered, "
            f"{args.updates} /help updates from as many new private chats are queued at once while the bot "
            "long-polls; a chat is answered at the bot's first sendMessage in it. CPU = user+system seconds "
            "of the bot process from queueing to the last reply. limited = PTB AIORateLimiter (30 msg/s); "
            "unlimited = limiter removed. Values are medians over trials."
        ),
        **summary,
        "targets": {"throughput_ratio_min": THROUGHPUT_RATIO_MIN, "cpu_per_reply_ratio_max": CPU_RATIO_MAX},
        "checks": checks,
        "pass": bool(checks) and all(checks.values()),
        "trials": trials,
        "machine": machine_info(),
        "when": now_utc(),
    }


def print_summary(result: dict[str, Any]) -> None:
    rows = []
    for name, m in result["medians"].items():
        reqs = ", ".join(f"{k} {v}" for k, v in m["requests_per_update"].items())
        rows.append(
            [
                name,
                m["replies_per_s_queue_to_last"],
                m["replies_per_s_first_to_last"],
                m["first_reply_s"],
                m["latency_p99_s"],
                m["cpu_per_reply_ms"],
                m["rss_peak_mb"],
                m["exit_s"],
                reqs,
            ]
        )
    print()
    print(f"P1 cheap commands: {result['updates']} /help, medians of {result['repeat']} trial(s)")
    print_table(
        [
            "mode/bot",
            "rps(q->last)",
            "rps(1st->last)",
            "1st reply s",
            "p99 s",
            "CPU ms/reply",
            "RSS MB",
            "exit s",
            "requests/update",
        ],
        rows,
    )
    r = result["ratios_nemobot_vs_bare"]
    print(
        f"nemobot/bare: throughput {r['throughput_queue_to_last']} (target >= {THROUGHPUT_RATIO_MIN}), "
        f"CPU per reply {r['cpu_per_reply']} (target <= {CPU_RATIO_MAX}); pass: {result['pass']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000, help="/help updates (and chats) per trial")
    parser.add_argument("--repeat", type=int, default=3, help="trials per bot and mode (median reported)")
    parser.add_argument("--modes", default="limited,unlimited", help="comma-separated: limited, unlimited")
    parser.add_argument("--timeout-s", type=float, default=None, help="longest wait for all replies in a trial")
    parser.add_argument("--out", type=Path, default=RESULTS / "p1_cheap_commands.json")
    parser.add_argument("--workdir", type=Path, help="keep the bots' logs and databases here (default: a temp dir)")
    args = parser.parse_args()
    if any(m.strip() not in MODES for m in args.modes.split(",") if m.strip()):
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    if args.timeout_s is None:
        args.timeout_s = 60 + args.updates / 5  # 5 replies/s at worst, a sixth of the limiter's pace
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nemobot-bench-p1-")))
        result = asyncio.run(bench(args, workdir))
    write_result(result, args.out)
    print_summary(result)
    print(f"written to {args.out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
