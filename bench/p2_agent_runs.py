"""Benchmark P2, many agent runs at once: 1,000 chats each send an edit request while the
backend holds every run open, and the bot must stay responsive, small and quick to stop.

Each trial starts the NemoVideo emulator (through :mod:`harness`'s launcher, which counts the
``POST /run_sse`` requests in flight) with a long heartbeat-only stall at the start of every run
(``--stall-s``, default 1800 s) and a heartbeat every ``--heartbeat-s`` seconds (default 5 s:
the contract, ``/work/shared/nemovideo-api.md`` section 3, states no cadence), a fresh fake
Telegram, and ``nemobot run`` (fresh SQLite database) with ``MAX_CONCURRENT_RUNS`` = the runs,
``RATE_LIMIT_PER_MINUTE`` high, the SSE timeouts above the stall, and PTB's rate limiter on (as
deployed). Then, in order:

1. idle baseline: ``--probes`` (50) ``/help`` from new chats, ``--probe-rate`` (5) per second;
   latency = queueing to the bot's first ``sendMessage`` in the chat;
2. ``--runs`` (1,000) new chats each send "add a ranked leaderboard overlay" at once; the open
   ``/run_sse`` streams at the emulator are sampled until all are open, or none opened for
   ``--settle-s``, or ``--open-timeout-s`` passed;
3. the same probes while the runs are open;
4. SIGTERM with the runs open: time to exit; afterwards the database (read-only ``sqlite3``)
   must hold a run marker (``conversations.data["run"]``, which ``bot/recovery.py`` resumes
   from) for every run that was open.

The bot's peak RSS is sampled over the whole trial. Medians of ``--repeat`` trials.

Targets: all runs open at once; peak RSS <= 300 MB; ``/help`` p99 < 1 s while the runs are open;
exit < 10 s; every open run left resumable.

Usage: ``python bench/p2_agent_runs.py [--runs 1000] [--repeat 3] [--out bench/results/p2_agent_runs.json]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    RESULTS,
    BenchTelegram,
    BotProc,
    EmulatorProc,
    machine_info,
    median,
    now_utc,
    percentile,
    print_table,
    probe_help,
    rnd,
    start_bot,
    start_emulator,
    write_result,
)

EDIT_REQUEST = "add a ranked leaderboard overlay"
RSS_MAX_MB = 300
HELP_P99_MAX_S = 1.0
EXIT_MAX_S = 10.0


def run_markers(database: Path, chat_ids: set[int]) -> dict[str, int]:
    """After the bot exited: among the conversations of ``chat_ids`` (``telegram:<chat>``), how
    many keep a run marker and how many messages are queued, read-only."""
    uri = f"file:{database}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        rows = db.execute("SELECT key, data FROM conversations WHERE key LIKE 'telegram:%'").fetchall()
    markers = queued = conversations = 0
    for key, data in rows:
        chat = key.removeprefix("telegram:").split("/")[0].split("~")[0]
        if not chat.lstrip("-").isdigit() or int(chat) not in chat_ids:
            continue
        conversations += 1
        value = json.loads(data or "{}")
        markers += isinstance(value.get("run"), dict)
        queue = value.get("queue")
        queued += len(queue) if isinstance(queue, list) else 0
    return {"conversations": conversations, "run_markers": markers, "queued_messages": queued}


async def wait_open(
    emu: EmulatorProc, bot: BotProc, target: int, settle_s: float, timeout_s: float
) -> tuple[int, float | None, list[tuple[float, int]]]:
    """Sample the open runs until ``target`` are open, none opened for ``settle_s``, or ``timeout_s``.

    Returns:
        The peak of open runs, seconds until it was reached, and ``(seconds, open)`` once a second.
    """
    t0 = time.monotonic()
    peak, peak_at, last_growth = 0, None, t0
    timeline: list[tuple[float, int]] = []
    next_sample = t0
    while True:
        now = time.monotonic()
        open_now = (await emu.runs())["open"]
        if open_now > peak:
            peak, peak_at, last_growth = open_now, now - t0, now
        if now >= next_sample:
            timeline.append((round(now - t0, 1), open_now))
            next_sample += 1.0
        if open_now >= target or now - last_growth > settle_s or now - t0 > timeout_s or not bot.alive():
            return peak, peak_at, timeline
        await asyncio.sleep(0.25)


async def trial(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One trial of :mod:`p2_agent_runs` (the steps of the module docstring)."""
    emu = await start_emulator(workdir / "emulator", stall_s=args.stall_s, heartbeat_interval_s=args.heartbeat_s)
    try:
        async with BenchTelegram(files_dir=workdir / "tg") as tg:
            env = {
                "MAX_CONCURRENT_RUNS": str(args.runs),
                "RATE_LIMIT_PER_MINUTE": "100000",
                "SSE_IDLE_TIMEOUT_S": str(args.stall_s + 600),
                "SSE_HARD_TIMEOUT_S": str(args.stall_s + 900),
            }
            if args.nemo_max_connections:
                env["NEMO_MAX_CONNECTIONS"] = str(args.nemo_max_connections)
            bot = await start_bot("nemobot", tg, workdir / "bot", emulator_url=emu.url, env=env)
            try:
                idle = await probe(tg, bot, args)
                chats = tg.new_chats(args.runs)
                calls_before = len(tg.calls)
                cpu_before = bot.cpu_seconds()
                tg.queue_text(chats, EDIT_REQUEST)
                peak, peak_at, timeline = await wait_open(emu, bot, args.runs, args.settle_s, args.open_timeout_s)
                busy = await probe(tg, bot, args)
                held = (await emu.runs())["open"]
                cpu_after = bot.cpu_seconds()
                requests = tg.requests_since(calls_before)
                sample = [(m.text or m.caption or "")[:120] for m in tg.bot_messages(chats[0]["id"])]
                calls_at_sigterm = len(tg.calls)
                exit_s = await bot.stop(args.exit_timeout_s)
                requests_exit = tg.requests_since(calls_at_sigterm)
                # not confirmed by the bot: Telegram would deliver them again to the next process
                pending = sum(1 for u in tg.pending_updates if (u.get("message") or {}).get("text") == EDIT_REQUEST)
            finally:
                await bot.stop(args.exit_timeout_s)
    finally:
        await emu.stop()
    assert bot.database is not None
    left = run_markers(bot.database, {c["id"] for c in chats})
    cpu_s = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    return {
        "runs": args.runs,
        "peak_open_runs": peak,
        "all_open": peak >= args.runs,
        "peak_reached_s": rnd(peak_at, 1),
        "open_at_sigterm": held,
        "rss_peak_mb": rnd(bot.stats.rss_peak_mb, 1),
        "help_idle_p50_s": rnd(percentile(idle, 50)),
        "help_idle_p99_s": rnd(percentile(idle, 99)),
        "help_busy_p50_s": rnd(percentile(busy, 50)),
        "help_busy_p99_s": rnd(percentile(busy, 99)),
        "help_busy_unanswered": sum(1 for x in busy if x is None),
        "exit_s": rnd(exit_s, 2),
        "killed": exit_s is None,
        **left,
        "edit_updates_unconfirmed": pending,
        # edit requests with no trace after exit (no marker, not queued, not to be redelivered): lost
        "edit_requests_unaccounted": max(0, args.runs - left["run_markers"] - left["queued_messages"] - pending),
        "all_left_resumable": held > 0 and left["run_markers"] >= held,
        "cpu_s_runs_phase": rnd(cpu_s, 2),
        "requests_runs_phase": dict(sorted(requests.items())),
        "requests_during_exit": dict(sorted(requests_exit.items())),
        "first_edit_chat_bot_messages": sample,
        "open_runs_timeline": timeline,
        "help_idle_latencies_s": [rnd(x) for x in idle],
        "help_busy_latencies_s": [rnd(x) for x in busy],
    }


async def probe(tg: BenchTelegram, bot: BotProc, args: argparse.Namespace) -> list[float | None]:
    """``--probes`` ``/help`` at ``--probe-rate`` per second; latencies (``None``: unanswered)."""
    return await probe_help(tg, args.probes, args.probe_rate, args.probe_timeout_s, bot.alive)


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    trials = []
    for r in range(args.repeat):
        result = await trial(args, workdir / str(r))
        trials.append(result)
        print(
            f"trial {r + 1}/{args.repeat}: {result['peak_open_runs']}/{args.runs} runs open at once, "
            f"RSS {result['rss_peak_mb']} MB, /help p99 idle {result['help_idle_p99_s']} s / busy "
            f"{result['help_busy_p99_s']} s ({result['help_busy_unanswered']} unanswered), exit {result['exit_s']} s, "
            f"{result['run_markers']} run markers",
            flush=True,
        )
    keys = (
        "peak_open_runs",
        "peak_reached_s",
        "open_at_sigterm",
        "rss_peak_mb",
        "help_idle_p50_s",
        "help_idle_p99_s",
        "help_busy_p50_s",
        "help_busy_p99_s",
        "help_busy_unanswered",
        "exit_s",
        "run_markers",
        "queued_messages",
        "edit_updates_unconfirmed",
        "edit_requests_unaccounted",
        "cpu_s_runs_phase",
    )
    medians = {k: rnd(median(t[k] for t in trials)) for k in keys}
    checks = {
        "all_open": all(t["all_open"] for t in trials),
        "rss_ok": medians["rss_peak_mb"] is not None and medians["rss_peak_mb"] <= RSS_MAX_MB,
        "help_p99_ok": medians["help_busy_p99_s"] is not None and medians["help_busy_p99_s"] < HELP_P99_MAX_S,
        "exit_ok": medians["exit_s"] is not None and medians["exit_s"] < EXIT_MAX_S,
        "resumable": all(t["all_left_resumable"] for t in trials),
    }
    return {
        "figure": "P2 agent runs",
        "runs": args.runs,
        "repeat": args.repeat,
        "setup": {
            "stall_s": args.stall_s,
            "heartbeat_s": args.heartbeat_s,
            "probes": args.probes,
            "probe_rate_per_s": args.probe_rate,
            "probe_timeout_s": args.probe_timeout_s,
            "edit_request": EDIT_REQUEST,
            "limiter": "AIORateLimiter as deployed",
        },
        "method": (
            "per trial: fresh emulator (heartbeat-only stall per run), fake Telegram and nemobot; /help probes "
            "from new chats with the bot idle; N new chats send an edit request at once; open /run_sse streams "
            "counted at the emulator; the same probes while the runs are open; SIGTERM with the runs open; run "
            "markers read from the database afterwards. Latency = queueing to the bot's first sendMessage in "
            "the chat; an unanswered probe counts as infinitely late (its percentile is null). Medians over trials."
        ),
        "medians": medians,
        "targets": {
            "all_open": True,
            "rss_peak_mb_max": RSS_MAX_MB,
            "help_p99_s_max": HELP_P99_MAX_S,
            "exit_s_max": EXIT_MAX_S,
            "resumable": True,
        },
        "checks": checks,
        "pass": all(checks.values()),
        "trials": trials,
        "machine": machine_info(),
        "when": now_utc(),
    }


def print_summary(result: dict[str, Any]) -> None:
    m, c, t = result["medians"], result["checks"], result["targets"]
    print()
    print(f"P2 agent runs: {result['runs']} runs held open, medians of {result['repeat']} trial(s)")
    print_table(
        ["figure", "value", "target", "ok"],
        [
            ["runs open at once (peak)", m["peak_open_runs"], f"{result['runs']}", c["all_open"]],
            ["  reached after s", m["peak_reached_s"], "", ""],
            ["peak RSS MB", m["rss_peak_mb"], f"<= {t['rss_peak_mb_max']}", c["rss_ok"]],
            ["/help p50 s, idle", m["help_idle_p50_s"], "", ""],
            ["/help p99 s, idle", m["help_idle_p99_s"], "", ""],
            ["/help p50 s, runs open", m["help_busy_p50_s"], "", ""],
            ["/help p99 s, runs open", m["help_busy_p99_s"], f"< {t['help_p99_s_max']}", c["help_p99_ok"]],
            ["  unanswered probes", m["help_busy_unanswered"], "0", ""],
            ["exit after SIGTERM s", m["exit_s"], f"< {t['exit_s_max']}", c["exit_ok"]],
            ["open runs at SIGTERM", m["open_at_sigterm"], "", ""],
            ["run markers left", m["run_markers"], ">= open at SIGTERM", c["resumable"]],
            ["queued messages left", m["queued_messages"], "", ""],
            ["edit updates unconfirmed", m["edit_updates_unconfirmed"], "", ""],
            ["edit requests lost", m["edit_requests_unaccounted"], "0", ""],
        ],
    )
    print(f"pass: {result['pass']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="chats sending an edit request at once")
    parser.add_argument("--repeat", type=int, default=3, help="trials (median reported)")
    parser.add_argument("--stall-s", type=float, default=1800.0, help="emulator: heartbeat-only stall per run (s)")
    parser.add_argument("--heartbeat-s", type=float, default=5.0, help="emulator: seconds between heartbeats")
    parser.add_argument("--probes", type=int, default=50, help="/help probes per phase")
    parser.add_argument("--probe-rate", type=float, default=5.0, help="probes per second")
    parser.add_argument("--probe-timeout-s", type=float, default=30.0, help="wait for probe answers after the last")
    parser.add_argument("--settle-s", type=float, default=30.0, help="stop waiting for runs after no growth this long")
    parser.add_argument("--open-timeout-s", type=float, default=600.0, help="longest wait for the runs to open")
    parser.add_argument("--exit-timeout-s", type=float, default=60.0, help="SIGKILL after this long")
    parser.add_argument("--nemo-max-connections", type=int, default=None, help="NEMO_MAX_CONNECTIONS (bot default)")
    parser.add_argument("--out", type=Path, default=RESULTS / "p2_agent_runs.json")
    parser.add_argument("--workdir", type=Path, help="keep the bots' logs and databases here (default: a temp dir)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nemobot-bench-p2-")))
        result = asyncio.run(bench(args, workdir))
    write_result(result, args.out)
    print_summary(result)
    print(f"written to {args.out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
