"""P6: the shared job queue (bot/shared_work.py) on a real PostgreSQL, without the engine.

N messages over K conversations are deferred as fast as one client can, with W instances
(each its own procrastinate app, pool and worker, as separate processes would have) running
them; each job "works" for ``--work-ms``. Reported: deferrals per second, jobs finished per
second, the latency from deferral to start (p50/p99), and that every conversation's jobs ran
one at a time and in order (the lock).

    python bench/p6_shared_work.py [--messages 2000] [--conversations 200] [--instances 2] [--work-ms 20]

Results go to bench/results/p6_shared_work.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.shared_work import SharedWork  # noqa: E402


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        folder = Path(tempfile.mkdtemp(prefix="nemobot-p6-"))
        server = pgserver.get_server(folder / "data", cleanup_mode="delete")
        url = server.get_uri()
    started: dict[str, list[tuple[int, float]]] = {}
    deferred_at: dict[tuple[str, int], float] = {}
    running: set[str] = set()
    overlaps = 0
    finished = asyncio.Event()
    done = 0

    async def run(context: Any, key: str, item: dict[str, Any]) -> None:
        nonlocal overlaps, done
        if key in running:
            overlaps += 1
        running.add(key)
        started.setdefault(key, []).append((int(item["n"]), time.perf_counter()))
        await asyncio.sleep(args.work_ms / 1000)
        running.discard(key)
        done += 1
        if done == args.messages:
            finished.set()

    instances = [
        SharedWork(url, run, stalled_s=30, concurrency=args.concurrency, max_queued=args.messages)
        for _ in range(args.instances)
    ]
    for shared in instances:
        await shared.open()
        shared.serve("telegram")
    try:
        t0 = time.perf_counter()
        for n in range(args.messages):
            key = f"telegram:{n % args.conversations}"
            deferred_at[(key, n)] = time.perf_counter()
            await instances[n % len(instances)].defer("telegram", key, {"n": n})
        deferring_s = time.perf_counter() - t0
        await asyncio.wait_for(finished.wait(), 600)
        total_s = time.perf_counter() - t0
    finally:
        for shared in instances:
            await shared.close()
        server.cleanup()
    latencies = sorted(at - deferred_at[(key, n)] for key, runs in started.items() for n, at in runs)
    in_order = all([n for n, _ in runs] == sorted(n for n, _ in runs) for runs in started.values())
    result = {
        "messages": args.messages,
        "conversations": args.conversations,
        "instances": args.instances,
        "work_ms": args.work_ms,
        "deferrals_per_s": round(args.messages / deferring_s, 1),
        "jobs_per_s": round(args.messages / total_s, 1),
        "start_latency_p50_s": round(statistics.median(latencies), 3),
        "start_latency_p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "overlapping_runs_of_one_conversation": overlaps,
        "every_conversation_in_order": in_order,
    }
    out = ROOT / "bench" / "results" / "p6_shared_work.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--work-ms", type=int, default=20)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
