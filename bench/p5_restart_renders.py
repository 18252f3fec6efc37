"""Benchmark P5: a restart with 10,000 unfinished render jobs.

A previous process left ``--jobs`` render jobs ``processing``. This measures how long after
the restarted bot is up every job's render has been polled once, and how much the bot's
RSS grows meanwhile, against a bare aiohttp client doing the same two requests per job.

Set-up (all on this machine):

* the emulator runs in a subprocess (``bench/p5_emulator.py``) seeded with one user and
  token, ``--jobs`` sessions and as many renders that stay ``processing`` (no ffmpeg); it
  records when each render's status was first answered (``GET /bench/p5/polled``);
* a SQLite store is seeded once through the store API (``store.open_store``): conversations
  ``telegram:<chat>`` (owner ``None``, session and task ids) and ``processing``
  :class:`store.RenderJob` rows with a status message; every bot trial gets a fresh copy;
* a fake Telegram Bot API (``tests.fakes.telegram.FakeTelegram``) runs in this process,
  fresh per bot trial, with each chat and its status message, so the status edits succeed.

Bot trial: ``python -m bot.cli run`` (i.e. ``nemobot run``) in a subprocess with
``NEMO_TOKEN`` (shared identity), ``NEMO_API_URL``, ``DATABASE_URL``, ``TELEGRAM_TOKEN``,
``TELEGRAM_API_URL`` and ``NEMO_MAX_CONNECTIONS``. t0 is the time its log line "Telegram long
polling started" carries (resume starts right after it); the trial's figure is the time of
the last first poll the emulator saw minus t0. RSS of the bot process is sampled every
20 ms: growth is the peak from t0 to all-polled plus ``--hold-s`` minus the RSS at t0. Then
the bot gets SIGTERM.

Bare trial: a bare aiohttp client in a subprocess (this file with ``--bare-client``) with
``TCPConnector(limit=NEMO_MAX_CONNECTIONS)`` launches, all at once, per job ``GET
/api/state/nemo_agent/me/<sid>/latest`` then ``GET /api/render/proxy/lambda/<rid>`` (the
calls nemobot makes on resume); its figure is the last first poll minus its start.

Trials are interleaved (bot, bare, bot, bare, ...) ``--repeat`` times; medians are reported.
Each trial also records when 10/25/50/75/90/100% of the renders were first polled, the
requests the emulator got, and CPU seconds (the bot's ``cpu_share`` near 1.0 means its event
loop was CPU-bound). A trial not done within ``--timeout-s`` is reported as incomplete.

Targets (issue figure P5): every render polled within 5 s of the restart; at most 1.5x the
bare client's time; bot RSS growth at most 100 MB.

Usage: ``python bench/p5_restart_renders.py [--jobs 10000] [--repeat 3]
[--out bench/results/p5_restart_renders.json]`` (develop with ``--jobs 300 --repeat 1``).
Diagnostics: ``--keep DIR`` keeps the databases and bot logs, ``--profile-bot`` runs the bot
under cProfile (``DIR/bot-<n>/bot.prof``), ``--bot-env NAME=VALUE`` adds a bot setting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from p5_emulator import DEFAULT_TOKEN, READY_LINE, RENDER_PREFIX, STATE_PREFIX, render_id, session_id, task_id

from bot.conversations import SCOPE_KEY
from bot.settings import Settings
from store import Conversation, JobStatus, RenderJob, open_store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_S = 5.0
TARGET_RATIO = 1.5
TARGET_RSS_MB = 100.0
TG_TOKEN = "123456:P5-bench-token"
CHAT_BASE = 500_000_000
"""Job ``i`` lives in the private chat ``CHAT_BASE + i``."""
STATUS_TEXT = "🎬 Rendering..."
"""The status message each job left in its chat (message id 1), edited by the restarted bot."""
POLLING_LINE = "Telegram long polling started"
RESUME_LINE = "unfinished job"
ATTRIBUTION = {"X-Skill-Source": "video-leaderboard", "X-Skill-Version": "1.0", "X-Skill-Platform": "telegram"}
MB = 2**20


# ---------------------------------------------------------------------- measuring


class RSSSampler:
    """Samples another process's RSS every ``interval_s`` in a thread, as ``(time.time(), bytes)``."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss
            except psutil.Error:  # the process is gone
                return
            self.samples.append((time.time(), rss))
            time.sleep(self.interval_s)

    def start(self) -> RSSSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, t: float) -> int:
        """The last sample taken at or before ``t`` (the first one if none was)."""
        before = [rss for ts, rss in self.samples if ts <= t]
        return before[-1] if before else self.samples[0][1]

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        """The largest sample taken between ``start`` and ``end``."""
        return max((rss for ts, rss in self.samples if start <= ts <= end), default=self.at(start))


def cpu_seconds(proc: psutil.Process) -> float:
    """User plus system CPU time of ``proc`` so far (s)."""
    t = proc.cpu_times()
    return float(t.user + t.system)


def log_time(line: str) -> float | None:
    """The ``time.time()`` of a nemobot log line (``2026-01-02 03:04:05,678 INFO ...``, local time)."""
    try:
        stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    except ValueError:
        return None
    return stamp.timestamp()


@dataclass
class BotLog:
    """What the bot wrote on stderr: milestone times (log time and receipt time) and problems."""

    path: Path
    t0: float | None = None
    t0_received: float | None = None
    t_resumed: float | None = None
    warnings: int = 0
    errors: int = 0
    first_problems: list[str] = field(default_factory=list)
    up: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, line: str) -> None:
        now = time.time()
        if POLLING_LINE in line and self.t0 is None:
            self.t0, self.t0_received = log_time(line) or now, now
            self.up.set()
        elif RESUME_LINE in line and self.t_resumed is None:
            self.t_resumed = log_time(line) or now
        level = line[24:32]
        if level.startswith(("WARNING", "ERROR", "CRITICAL")) or line.startswith("Traceback"):
            if level.startswith("WARNING"):
                self.warnings += 1
            else:
                self.errors += 1
            if len(self.first_problems) < 5:
                self.first_problems.append(line[:300])

    async def follow(self, stream: asyncio.StreamReader) -> None:
        with self.path.open("w", encoding="utf-8") as fh:
            while raw := await stream.readline():
                line = raw.decode("utf-8", "replace").rstrip("\n")
                fh.write(line + "\n")
                self.note(line)


# ---------------------------------------------------------------------- the world


async def seed_store(path: Path, jobs: int) -> float:
    """Conversations and ``processing`` render jobs, through the store API. Returns seconds taken."""
    t = time.perf_counter()
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        start = datetime.now(UTC) - timedelta(hours=1)
        for i in range(jobs):
            key = f"telegram:{CHAT_BASE + i}"
            made = start + timedelta(milliseconds=i)
            await store.save_conversation(
                Conversation(
                    key=key,
                    skill="video-leaderboard",
                    session_id=session_id(i),
                    task_id=task_id(i),
                    data={SCOPE_KEY: "private"},
                    created_at=made,
                    updated_at=made,
                    owner=None,
                )
            )
            await store.save_render(
                RenderJob(
                    render_id=render_id(i),
                    conversation_key=key,
                    session_id=session_id(i),
                    status=JobStatus.PROCESSING,
                    progress=40.0,
                    status_message="1",
                    created_at=made,
                    updated_at=made,
                )
            )
    finally:
        await store.close()
    return time.perf_counter() - t


def remove_db(path: Path) -> None:
    """Delete a SQLite database and its WAL files."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_store(src: Path, dst: Path) -> None:
    """A fresh copy of the seeded database (with its WAL files, if any were left)."""
    remove_db(dst)
    for suffix in ("", "-wal", "-shm"):
        s, d = Path(f"{src}{suffix}"), Path(f"{dst}{suffix}")
        if s.exists():
            shutil.copyfile(s, d)
            d.chmod(0o600)  # as the store keeps it (it holds tokens)


def fake_telegram_class() -> Any:
    """``tests.fakes.telegram.FakeTelegram`` (the repo root is not on ``sys.path`` when a script runs)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fakes.telegram import FakeTelegram

    return FakeTelegram


def seed_telegram(tg: Any, jobs: int) -> None:
    """Each job's private chat, with the status message (id 1) the previous process left."""
    for i in range(jobs):
        chat_id = CHAT_BASE + i
        tg.private_chat(chat_id, first_name=f"P5 {i}")
        params = {"chat_id": chat_id, "text": STATUS_TEXT}
        tg._new_bot_message(params, "text", {"text": STATUS_TEXT})  # as if sent by the previous process


async def start_emulator(jobs: int, token: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "p5_emulator.py"),
        "--jobs",
        str(jobs),
        "--token",
        token,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(120):
        while line := (await proc.stdout.readline()).decode():
            if line.startswith(READY_LINE):
                return proc, line.removeprefix(READY_LINE).strip()
    raise RuntimeError(f"the P5 emulator did not start (exit code {await proc.wait()})")


async def stop_process(proc: asyncio.subprocess.Process, timeout_s: float = 30.0) -> float:
    """SIGTERM, then SIGKILL after ``timeout_s``. Returns the seconds it took to exit."""
    t = time.perf_counter()
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return time.perf_counter() - t


async def polled(http: aiohttp.ClientSession, url: str, *, times: bool = False) -> dict[str, Any]:
    async with http.get(f"{url}/bench/p5/polled", params={"times": "1"} if times else None) as resp:
        return dict(await resp.json())


def milestones(times: list[float], jobs: int, start: float) -> dict[str, float | None]:
    """Seconds after ``start`` when 10%, 25%, 50%, 75%, 90% and 100% of the jobs were first polled."""
    out: dict[str, float | None] = {}
    for pct in (10, 25, 50, 75, 90, 100):
        n = max(1, -(-jobs * pct // 100))  # ceil
        out[f"{pct}%"] = round(times[n - 1] - start, 3) if len(times) >= n else None
    return out


async def reset(http: aiohttp.ClientSession, url: str) -> None:
    async with http.post(f"{url}/bench/p5/reset") as resp:
        await resp.read()


async def wait_all_polled(
    http: aiohttp.ClientSession, url: str, jobs: int, deadline: float, proc: asyncio.subprocess.Process | None = None
) -> dict[str, Any]:
    """Poll the emulator's counters every 50 ms until every render was polled, the deadline
    (``time.monotonic()``) passes, or ``proc`` exits."""
    while True:
        seen = await polled(http, url)
        if seen["renders"] >= jobs or time.monotonic() > deadline or (proc is not None and proc.returncode is not None):
            return seen
        await asyncio.sleep(0.05)


def bot_env(
    emulator_url: str, tg_url: str, db: Path, work: Path, token: str, connections: int, extra: dict[str, str]
) -> dict[str, str]:
    """The environment of ``nemobot run``: ours plus ``extra``, minus any nemobot setting from this shell."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(
        {
            "NEMO_API_URL": emulator_url,
            "NEMO_TOKEN": token,
            "NEMO_IDENTITY": "shared",
            "NEMO_MAX_CONNECTIONS": str(connections),
            "DATABASE_URL": f"sqlite:///{db}",
            "TELEGRAM_TOKEN": TG_TOKEN,
            "TELEGRAM_API_URL": tg_url,
            "DOWNLOADS_DIR": str(work / "downloads"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


# ---------------------------------------------------------------------- trials


@dataclass
class Bench:
    """One run: the seeded emulator and store, and how bot and bare trials are made against them."""

    jobs: int
    connections: int
    timeout_s: float
    hold_s: float
    emulator_url: str
    token: str
    seeded_db: Path
    work: Path
    http: aiohttp.ClientSession
    profile_bot: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    async def bot_trial(self, n: int) -> dict[str, Any]:
        trial_dir = self.work / f"bot-{n}"
        trial_dir.mkdir(exist_ok=True)
        db = trial_dir / "nemobot.db"
        await asyncio.to_thread(copy_store, self.seeded_db, db)
        await reset(self.http, self.emulator_url)
        log = BotLog(trial_dir / "bot.log")
        async with fake_telegram_class()(token=TG_TOKEN, files_dir=trial_dir / "tg") as tg:
            seed_telegram(tg, self.jobs)
            env = bot_env(self.emulator_url, tg.url, db, trial_dir, self.token, self.connections, self.extra_env)
            profiler = ["-m", "cProfile", "-o", str(trial_dir / "bot.prof")] if self.profile_bot else []
            t_spawn = time.time()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *profiler,
                "-m",
                "bot.cli",
                "run",
                cwd=trial_dir,  # no .env from the checkout
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                limit=2**20,
            )
            assert proc.stderr is not None
            follower = asyncio.create_task(log.follow(proc.stderr))
            rss = RSSSampler(proc.pid).start()
            deadline = time.monotonic() + self.timeout_s
            try:
                waiters = {asyncio.create_task(log.up.wait()), asyncio.create_task(proc.wait())}
                await asyncio.wait(waiters, timeout=60, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
                if log.t0 is None:
                    raise RuntimeError(f"the bot did not start polling; see its log: {log.first_problems}")
                cpu_up = cpu_seconds(rss.proc)
                seen = await wait_all_polled(self.http, self.emulator_url, self.jobs, deadline, proc)
                t_seen = time.time()
                cpu_s = cpu_seconds(rss.proc) - cpu_up
                times = (await polled(self.http, self.emulator_url, times=True))["times"]
                await asyncio.sleep(self.hold_s)
                edits = sum(1 for c in tg.calls if c.method == "editMessageText")
            finally:
                t_stop = time.time()
                stop_s = await stop_process(proc)
                rss.stop()
                await follower
        t0 = log.t0
        assert t0 is not None
        complete = seen["renders"] >= self.jobs
        last = seen["last"] if complete else t_seen
        base = rss.at(t0)
        peak = rss.peak(t0, t_seen + self.hold_s)
        return {
            "kind": "bot",
            "complete": complete,
            "renders_polled": seen["renders"],
            "states_read": seen["states"],
            "api_errors": seen["errors"],
            "seconds": round(last - t0, 3),
            "first_poll_after_s": round(seen["first"] - t0, 3) if seen["first"] else None,
            "polled_after_s": milestones(times, self.jobs, t0),
            "resume_logged_after_s": round(log.t_resumed - t0, 3) if log.t_resumed else None,
            "api_requests": seen["requests"],
            "cpu_s": round(cpu_s, 2),
            "cpu_share": round(cpu_s / max(t_seen - (log.t0_received or t0), 1e-3), 2),
            "startup_s": round(t0 - t_spawn, 3),
            "t0_log_vs_received_s": round((log.t0_received or t0) - t0, 3),
            "rss_at_t0_mb": round(base / MB, 1),
            "rss_growth_mb": round((peak - base) / MB, 1),
            "rss_peak_mb": round(rss.peak(0, t_stop) / MB, 1),
            "status_edits_until_hold_end": edits,
            "shutdown_s": round(stop_s, 2),
            "exit_code": proc.returncode,
            "log_warnings": log.warnings,
            "log_errors": log.errors,
            "log_first_problems": log.first_problems,
        }

    async def bare_trial(self) -> dict[str, Any]:
        await reset(self.http, self.emulator_url)
        args = ["--bare-client", self.emulator_url, "--jobs", str(self.jobs), "--connections", str(self.connections)]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / Path(__file__).name),
            *args,
            "--token",
            self.token,
            stdout=asyncio.subprocess.PIPE,
        )
        rss = RSSSampler(proc.pid).start()
        try:
            async with asyncio.timeout(self.timeout_s):
                out, _ = await proc.communicate()
        finally:
            rss.stop()
            await stop_process(proc)
        report = json.loads(out.decode().strip().splitlines()[-1])
        seen = await polled(self.http, self.emulator_url, times=True)
        t_start = report["t_start"]
        complete = seen["renders"] >= self.jobs
        base = rss.at(t_start)
        return {
            "kind": "bare",
            "complete": complete,
            "renders_polled": seen["renders"],
            "states_read": seen["states"],
            "api_errors": seen["errors"],
            "client_errors": report["errors"],
            "client_first_error": report["first_error"],
            "seconds": round((seen["last"] or report["t_end"]) - t_start, 3),
            "client_wall_s": round(report["t_end"] - t_start, 3),
            "polled_after_s": milestones(seen["times"], self.jobs, t_start),
            "api_requests": seen["requests"],
            "cpu_s": round(report["cpu_s"], 2),
            "rss_at_start_mb": round(base / MB, 1),
            "rss_growth_mb": round((rss.peak(t_start) - base) / MB, 1),
            "rss_peak_mb": round(rss.peak() / MB, 1),
        }


async def bare_client(url: str, jobs: int, token: str, connections: int) -> dict[str, Any]:
    """All jobs at once: GET the session state, then GET the render status (what nemobot does per job)."""
    headers = {"Authorization": f"Bearer {token}", **ATTRIBUTION}
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)  # as nemobot's transport
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:

        async def one(i: int) -> None:
            async with http.get(f"{url}{STATE_PREFIX}{session_id(i)}/latest") as resp:
                await resp.json()
            async with http.get(f"{url}{RENDER_PREFIX}{render_id(i)}") as resp:
                await resp.json()

        me = psutil.Process()
        cpu_start, t_start = cpu_seconds(me), time.time()
        results = await asyncio.gather(*(one(i) for i in range(jobs)), return_exceptions=True)
        t_end, cpu_s = time.time(), cpu_seconds(me) - cpu_start
    errors = [r for r in results if isinstance(r, BaseException)]
    return {
        "t_start": t_start,
        "t_end": t_end,
        "cpu_s": cpu_s,
        "errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
    }


# ---------------------------------------------------------------------- the run


def median(trials: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(t[key] for t in trials), 3)


async def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    seeded = work / "seeded.db"
    await asyncio.to_thread(remove_db, seeded)  # a --keep folder may hold an older one
    seed_s = await seed_store(seeded, args.jobs)
    print(f"store seeded with {args.jobs} jobs in {seed_s:.1f} s", file=sys.stderr)
    emulator, url = await start_emulator(args.jobs, args.token)
    trials: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as http:
            b = Bench(
                jobs=args.jobs,
                connections=args.connections,
                timeout_s=args.timeout_s,
                hold_s=args.hold_s,
                emulator_url=url,
                token=args.token,
                seeded_db=seeded,
                work=work,
                http=http,
                profile_bot=args.profile_bot,
                extra_env=dict(item.split("=", 1) for item in args.bot_env),
            )
            for n in range(args.repeat):
                for trial in (b.bot_trial(n), b.bare_trial()):
                    result = await trial
                    trials.append(result)
                    print(
                        f"trial {n + 1}/{args.repeat} {result['kind']:4}: {result['seconds']:.2f} s"
                        f" ({result['renders_polled']}/{args.jobs} polled), RSS +{result['rss_growth_mb']} MB",
                        file=sys.stderr,
                    )
    finally:
        await stop_process(emulator)
    bots = [t for t in trials if t["kind"] == "bot"]
    bares = [t for t in trials if t["kind"] == "bare"]
    bot_s, bare_s = median(bots, "seconds"), median(bares, "seconds")
    rss_growth = median(bots, "rss_growth_mb")
    ratio = round(bot_s / bare_s, 2) if bare_s else None
    complete = all(t["complete"] for t in trials)
    met = {
        "all_polled_within_s": complete and bot_s <= TARGET_S,
        "ratio_bot_vs_bare": complete and ratio is not None and ratio <= TARGET_RATIO,
        "rss_growth_mb": rss_growth <= TARGET_RSS_MB,
    }
    return {
        "figure": "P5: restart with unfinished render jobs, time until every render is polled once",
        "jobs": args.jobs,
        "repeat": args.repeat,
        "nemo_max_connections": args.connections,
        "hold_s": args.hold_s,
        "all_trials_complete": complete,
        "bot_profiled": args.profile_bot,
        "bot_env": args.bot_env,
        "store_seed_s": round(seed_s, 1),
        "medians": {
            "bot_s": bot_s,
            "bare_s": bare_s,
            "bot_rss_growth_mb": rss_growth,
            "bot_rss_peak_mb": median(bots, "rss_peak_mb"),
            "bot_startup_s": median(bots, "startup_s"),
            "bare_rss_growth_mb": median(bares, "rss_growth_mb"),
        },
        "ratio_bot_vs_bare": ratio,
        "targets": {"all_polled_within_s": TARGET_S, "ratio_bot_vs_bare_max": TARGET_RATIO, "rss_growth_mb_max": 100},
        "met": met,
        "pass": all(met.values()),
        "trials": trials,
        "notes": (
            "bot seconds: t0 = time of its 'Telegram long polling started' log line, end = the emulator's time of the"
            " last first render-status poll; bare seconds: from the client's start to the same; the bare client runs"
            " in its own process; RSS growth: peak from t0 to all-polled + hold_s, minus RSS at t0; cpu_share: the"
            " bot's CPU seconds over the same window"
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_mb": psutil.virtual_memory().total // MB,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "psutil": psutil.__version__,
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def summary(result: dict[str, Any]) -> str:
    m, met = result["medians"], result["met"]

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = [f"P5 restart with {result['jobs']} unfinished renders (median of {result['repeat']}):"]
    for t in result["trials"]:
        if not t["complete"]:
            lines.append(
                f"  INCOMPLETE {t['kind']} trial: {t['renders_polled']}/{result['jobs']} polled"
                f" after {t['seconds']:.1f} s (--timeout-s); its seconds are a lower bound"
            )
    return "\n".join(
        [
            *lines,
            f"  bot : all polled {m['bot_s']:.2f} s after polling started (target <= {TARGET_S:g} s:"
            f" {mark(met['all_polled_within_s'])}); startup {m['bot_startup_s']:.2f} s",
            f"  bare: all polled {m['bare_s']:.2f} s; ratio bot/bare {result['ratio_bot_vs_bare']}"
            f" (target <= {TARGET_RATIO:g}: {mark(met['ratio_bot_vs_bare'])})",
            f"  bot RSS growth {m['bot_rss_growth_mb']:.1f} MB (target <= {TARGET_RSS_MB:g} MB:"
            f" {mark(met['rss_growth_mb'])}), peak {m['bot_rss_peak_mb']:.1f} MB;"
            f" bare growth {m['bare_rss_growth_mb']:.1f} MB",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="unfinished render jobs")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved bot/bare trial pairs (medians reported)")
    parser.add_argument(
        "--connections", type=int, default=1000, help="NEMO_MAX_CONNECTIONS and the bare client's limit"
    )
    parser.add_argument("--timeout-s", type=float, default=180.0, help="give up on a trial after this long")
    parser.add_argument("--hold-s", type=float, default=1.0, help="RSS is still sampled this long after all-polled")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "p5_restart_renders.json")
    parser.add_argument("--keep", type=Path, help="keep the work folder (databases, bot logs) here")
    parser.add_argument(
        "--profile-bot", action="store_true", help="run the bot under cProfile (bot-<n>/bot.prof; use with --keep)"
    )
    parser.add_argument(
        "--bot-env", action="append", default=[], metavar="NAME=VALUE", help="an extra setting for the bot (repeatable)"
    )
    parser.add_argument("--bare-client", metavar="URL", help=argparse.SUPPRESS)  # the baseline's subprocess
    args = parser.parse_args()
    if args.bare_client:
        report = asyncio.run(bare_client(args.bare_client, args.jobs, args.token, args.connections))
        print(json.dumps(report), flush=True)
        return 0
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(bench(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="nemobot-p5-") as tmp:
            result = asyncio.run(bench(args, Path(tmp)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(summary(result))
    print(f"results: {args.out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
