"""Shared harness of the chat-bot benchmarks (figures P1, :mod:`p1_cheap_commands`, and P2,
:mod:`p2_agent_runs`).

Every measured bot runs in its own subprocess, so its CPU time (user + system) and its RSS are
its own, read with psutil: nemobot through its public entry point ``nemobot run`` configured by
environment variables (or, without PTB's rate limiter, through :data:`NO_LIMITER_WRAPPER`), and
the baseline, :mod:`bare_ptb_bot`. The fake Telegram Bot API (:class:`BenchTelegram`, a
:class:`tests.fakes.telegram.FakeTelegram` that timestamps each chat's first ``sendMessage``)
runs in the orchestrating process; the NemoVideo emulator runs in a subprocess started by
:func:`start_emulator`.

This module is also the emulator's launcher::

    python bench/harness.py emulator --port P [--stall-s S] [--heartbeat-interval-s H]

runs :class:`emulator.app.Emulator` with a middleware counting the ``POST /run_sse`` requests in
flight (the agent runs open at once), readable at ``GET /__bench/runs`` as
``{"open": n, "peak": n, "total": n}``; ``nemobot emulator`` has no ``--heartbeat-interval-s``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

HARNESS = Path(__file__).resolve()
BENCH = HARNESS.parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.fakes is not an installed package

from tests.fakes.base import UploadedFile  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

TOKEN = "123456:BENCH-token"
"""The bot token the fake accepts."""
RUNS_ROUTE = "/__bench/runs"
"""The launcher's route reporting the ``/run_sse`` requests in flight."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""
FIRST_CHAT_ID = 100_001
"""Chat ids of the fake's private chats are allocated upwards from here."""

NO_LIMITER_WRAPPER = """\
import os, sys
os.environ.setdefault("PTB_TIMEDELTA", "true")
from telegram.ext import ExtBot
_init = ExtBot.__init__
def _init_without_limiter(self, *args, **kwargs):
    kwargs["rate_limiter"] = None
    _init(self, *args, **kwargs)
ExtBot.__init__ = _init_without_limiter
from bot.cli import main
sys.exit(main(["run"]))
"""
"""``python -c`` code that runs ``nemobot run`` without PTB's rate limiter.

nemobot hard-codes ``AIORateLimiter(max_retries=5)`` for its bot (``adapters/telegram/runner.py``);
every PTB bot is an ``ExtBot``, so dropping the ``rate_limiter`` argument there removes the
limiter however the adapter builds its bot."""


# ---------------------------------------------------------------------------------------- numbers


def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPUs, Python, the libraries."""
    import telegram

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "python_telegram_bot": telegram.__version__,
        "aiohttp": aiohttp.__version__,
    }


def rnd(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded, ``None`` for ``None`` and infinities (JSON has no infinity)."""
    if value is None or math.isinf(value) or math.isnan(value):
        return None
    return round(value, digits)


def percentile(values: Sequence[float | None], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100); ``None`` values (no answer) count as infinitely
    late, so a percentile that falls on one is ``None``. ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else v for v in values)
    value = ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
    return None if math.isinf(value) else value


def median(values: Iterable[float | None]) -> float | None:
    """Median; ``None`` values count as infinitely large (a trial that missed its figure)."""
    finite = [math.inf if v is None else v for v in values]
    if not finite:
        return None
    value = statistics.median(finite)
    return None if math.isinf(value) else value


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, ``None`` when either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a plain fixed-width table (``None`` shown as ``-``)."""
    text = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in text:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def write_result(result: dict[str, Any], out: Path) -> Path:
    """Write ``result`` as indented JSON to ``out`` (folders created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return out


def now_utc() -> str:
    """The current time as ``2025-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------------------------- processes


class ProcStats:
    """A process's peak RSS (sampled in a thread) and its CPU time (user + system).

    Args:
        pid: The process.
        interval_s: RSS sampling period.
    """

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.rss_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.rss_peak = max(self.rss_peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def cpu_seconds(self) -> float | None:
        """CPU time so far (user + system, the process only), ``None`` once it has exited."""
        try:
            times = self.proc.cpu_times()
        except psutil.Error:
            return None
        return times.user + times.system

    @property
    def rss_peak_mb(self) -> float:
        """Peak RSS in MiB."""
        return self.rss_peak / 2**20


def _open_log(path: Path) -> Any:
    return path.open("wb")


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


async def _spawn(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Start ``cmd`` with stdout and stderr to ``log``."""
    with _open_log(log) as out:
        return await asyncio.create_subprocess_exec(
            *cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


async def _terminate(proc: asyncio.subprocess.Process, timeout_s: float) -> float | None:
    """SIGTERM, then wait: seconds until it exited, or ``None`` when it had to be killed."""
    if proc.returncode is not None:
        return 0.0
    t0 = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None
    return time.monotonic() - t0


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any nemobot setting (so none leaks into a bot), plus ``extra``."""
    from bot.settings import Settings

    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------------------- emulator


@dataclass
class EmulatorProc:
    """The emulator subprocess (see :func:`start_emulator`)."""

    proc: asyncio.subprocess.Process
    url: str
    log: Path
    http: aiohttp.ClientSession

    async def runs(self) -> dict[str, int]:
        """``{"open", "peak", "total"}``: ``/run_sse`` requests in flight now, at most, in all."""
        async with self.http.get(f"{self.url}{RUNS_ROUTE}") as resp:
            resp.raise_for_status()
            data: dict[str, int] = await resp.json()
            return data

    async def stop(self) -> None:
        """Stop it (SIGTERM, killed after 20 s)."""
        await self.http.close()
        await _terminate(self.proc, 20)


async def start_emulator(
    workdir: Path, *, stall_s: float | None = None, heartbeat_interval_s: float | None = None, timeout_s: float = 60
) -> EmulatorProc:
    """Start the emulator (this module's launcher) in a subprocess and wait until it answers.

    Args:
        workdir: Where its log goes.
        stall_s: Every agent run sends only heartbeats for this long first (``EmulatorConfig.stall_s``).
        heartbeat_interval_s: Seconds between two heartbeats (``EmulatorConfig.heartbeat_interval_s``).
        timeout_s: How long to wait for it to answer.
    """
    _mkdir(workdir)
    port = free_port()
    cmd = [sys.executable, str(HARNESS), "emulator", "--port", str(port)]
    if stall_s is not None:
        cmd += ["--stall-s", str(stall_s)]
    if heartbeat_interval_s is not None:
        cmd += ["--heartbeat-interval-s", str(heartbeat_interval_s)]
    log = workdir / "emulator.log"
    proc = await _spawn(cmd, cwd=workdir, env=clean_env(), log=log)
    emu = EmulatorProc(proc, f"http://127.0.0.1:{port}", log, aiohttp.ClientSession())
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await emu.runs()
            return emu
        except aiohttp.ClientError:
            if proc.returncode is not None or time.monotonic() > deadline:
                await emu.stop()
                raise RuntimeError(f"the emulator did not start:\n{tail(log)}") from None
            await asyncio.sleep(0.2)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def install_run_counter(app: web.Application) -> None:
    """Count the ``POST /run_sse`` requests in flight on ``app`` (outermost middleware) and
    report them at :data:`RUNS_ROUTE`. An agent run's request stays in flight while its
    stream is open, so ``open`` is the number of agent runs the bot has open at once."""
    counts = {"open": 0, "peak": 0, "total": 0}

    @web.middleware
    async def count_runs(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/run_sse":
            return await handler(request)
        counts["open"] += 1
        counts["total"] += 1
        counts["peak"] = max(counts["peak"], counts["open"])
        try:
            return await handler(request)
        finally:
            counts["open"] -= 1

    async def report(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app.middlewares.insert(0, count_runs)
    app.router.add_get(RUNS_ROUTE, report)


async def _serve_emulator(port: int, overrides: dict[str, Any]) -> None:
    from emulator.app import Emulator
    from emulator.config import EmulatorConfig

    emu = Emulator(EmulatorConfig(**overrides))
    install_run_counter(emu.app)
    await emu.start("127.0.0.1", port)
    print(f"bench emulator listening on {emu.url} with {overrides}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()


# ---------------------------------------------------------------------------------------- fake Telegram


class BotDiedError(RuntimeError):
    """The bot process exited while a benchmark waited for it."""


class BenchTelegram(FakeTelegram):
    """The fake Telegram Bot API, with benchmark helpers.

    Attributes:
        first_reply: ``chat_id -> time.monotonic()`` of the bot's first ``sendMessage`` in that chat.
    """

    def __init__(self, files_dir: Path | None = None) -> None:
        super().__init__(TOKEN, files_dir=files_dir)
        self.first_reply: dict[int, float] = {}
        self._next_chat = FIRST_CHAT_ID
        self._awaited: set[int] = set()
        self._all_replied = asyncio.Event()

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        result = await super()._m_sendMessage(params, files)
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id not in self.first_reply:
            self.first_reply[chat_id] = time.monotonic()
            self._awaited.discard(chat_id)
            if not self._awaited:
                self._all_replied.set()
        return result

    def new_chats(self, n: int) -> list[dict[str, Any]]:
        """``n`` private chats never used before (each with its own user)."""
        chats = [self.private_chat(user_id=self._next_chat + i, first_name=f"U{self._next_chat + i}") for i in range(n)]
        self._next_chat += n
        return chats

    def queue_text(self, chats: Iterable[dict[str, Any]], text: str) -> dict[int, float]:
        """Queue ``text`` from each chat at once; ``chat_id -> time.monotonic()`` when queued."""
        queued = {}
        for chat in chats:
            self.user_text(chat, text)
            queued[chat["id"]] = time.monotonic()
        return queued

    async def wait_replies(
        self, chat_ids: Iterable[int], timeout_s: float, alive: Callable[[], bool] | None = None
    ) -> bool:
        """Wait until the bot has sent a message in each chat.

        Returns:
            True if it did, False after ``timeout_s``.

        Raises:
            BotDiedError: ``alive()`` turned false meanwhile.
        """
        self._awaited = {c for c in chat_ids if c not in self.first_reply}
        self._all_replied = asyncio.Event()
        if not self._awaited:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._all_replied.wait(), min(remaining, 0.5))
                return True
            except TimeoutError:
                if alive is not None and not alive():
                    raise BotDiedError("the bot exited") from None

    def requests_since(self, index: int) -> Counter[str]:
        """Bot API requests by method among :attr:`calls` from ``index`` on (``getUpdates`` not included)."""
        return Counter(c.method for c in self.calls[index:])


async def probe_help(
    tg: BenchTelegram, n: int, rate_per_s: float, timeout_s: float, alive: Callable[[], bool] | None = None
) -> list[float | None]:
    """``n`` ``/help`` from new chats, one every ``1 / rate_per_s`` s; each one's latency from
    queueing to the bot's first ``sendMessage`` in its chat (``None``: none within ``timeout_s``
    after the last probe was queued)."""
    chats = tg.new_chats(n)
    queued: dict[int, float] = {}
    for chat in chats:
        queued.update(tg.queue_text([chat], "/help"))
        await asyncio.sleep(1 / rate_per_s)
    await tg.wait_replies(queued, timeout_s, alive)
    return [tg.first_reply[c] - t if c in tg.first_reply else None for c, t in queued.items()]


# ---------------------------------------------------------------------------------------- bots


@dataclass
class BotProc:
    """A bot subprocess (see :func:`start_bot`).

    Attributes:
        kind: ``nemobot`` or ``bare``.
        limiter: Whether PTB's ``AIORateLimiter`` is on.
        proc: The process.
        stats: Its RSS peak and CPU time.
        log: Its stdout and stderr.
        database: nemobot's SQLite file (``None`` for the bare bot).
        exit_s: Seconds from SIGTERM to exit once stopped (``None`` if it had to be killed).
    """

    kind: str
    limiter: bool
    proc: asyncio.subprocess.Process
    stats: ProcStats
    log: Path
    database: Path | None = None
    exit_s: float | None = field(default=None, init=False)
    _stopped: bool = field(default=False, init=False)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.returncode is None

    def cpu_seconds(self) -> float | None:
        """Its CPU time so far (user + system)."""
        return self.stats.cpu_seconds()

    async def stop(self, timeout_s: float = 60) -> float | None:
        """SIGTERM it and wait (killed after ``timeout_s``); idempotent.

        Returns:
            Seconds from SIGTERM to exit, ``None`` when it had to be killed.
        """
        if not self._stopped:
            self._stopped = True
            self.exit_s = await _terminate(self.proc, timeout_s)
            self.stats.stop()
        return self.exit_s


def nemobot_command(limiter: bool) -> list[str]:
    """``nemobot run`` (the console script next to this Python), or :data:`NO_LIMITER_WRAPPER`."""
    if not limiter:
        return [sys.executable, "-c", NO_LIMITER_WRAPPER]
    script = Path(sys.executable).parent / "nemobot"
    return [str(script), "run"] if script.exists() else [sys.executable, "-m", "bot.cli", "run"]


async def start_bot(
    kind: str,
    tg: BenchTelegram,
    workdir: Path,
    *,
    emulator_url: str,
    limiter: bool = True,
    env: dict[str, str] | None = None,
    log_level: str = "WARNING",
    ready_timeout_s: float = 120,
) -> BotProc:
    """Start a bot on the fake Telegram and wait until it has answered one ``/help``.

    Args:
        kind: ``nemobot`` (``nemobot run`` with a fresh SQLite database in ``workdir``) or
            ``bare`` (:mod:`bare_ptb_bot`).
        tg: The fake Telegram.
        workdir: The bot's working directory (database, log).
        emulator_url: ``NEMO_API_URL`` for nemobot.
        limiter: PTB's ``AIORateLimiter`` on (nemobot's default) or removed.
        env: More environment variables for nemobot (``MAX_CONCURRENT_RUNS``...).
        log_level: The bot's log level.
        ready_timeout_s: How long the warm-up ``/help`` may take.

    Raises:
        RuntimeError: The bot exited or did not answer in time (its log's tail in the message).
    """
    _mkdir(workdir)
    database: Path | None = None
    if kind == "nemobot":
        database = workdir / "nemobot.db"
        cmd = nemobot_command(limiter)
        settings = {
            "TELEGRAM_TOKEN": tg.token,
            "TELEGRAM_API_URL": tg.url,
            "NEMO_API_URL": emulator_url,
            "DATABASE_URL": f"sqlite:///{database}",
            "DOWNLOADS_DIR": str(workdir / "downloads"),
            "LOG_LEVEL": log_level,
        }
        environment = clean_env(settings | (env or {}))
    elif kind == "bare":
        cmd = [sys.executable, str(BENCH / "bare_ptb_bot.py"), "--token", tg.token, "--api-url", tg.url]
        cmd += ["--log-level", log_level] + ([] if limiter else ["--no-limiter"])
        environment = clean_env()
    else:
        raise ValueError(f"unknown bot kind {kind!r}")
    log = workdir / f"{kind}.log"
    proc = await _spawn(cmd, cwd=workdir, env=environment, log=log)
    stats = ProcStats(proc.pid)
    stats.start()
    bot = BotProc(kind, limiter, proc, stats, log, database)
    try:
        [chat] = tg.new_chats(1)
        tg.queue_text([chat], "/help")
        if not await tg.wait_replies([chat["id"]], ready_timeout_s, bot.alive):
            raise RuntimeError(f"{kind} did not answer /help within {ready_timeout_s} s:\n{tail(log)}")
    except BotDiedError:
        await bot.stop(5)
        raise RuntimeError(f"{kind} exited with code {proc.returncode}:\n{tail(log)}") from None
    except BaseException:
        await bot.stop(5)
        raise
    return bot


# ---------------------------------------------------------------------------------------- launcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bench launchers")
    sub = parser.add_subparsers(dest="command", required=True)
    emu = sub.add_parser("emulator", help="the emulator with a /run_sse counter at " + RUNS_ROUTE)
    emu.add_argument("--port", type=int, required=True)
    emu.add_argument("--stall-s", type=float, help="heartbeat-only stall at the start of every run (s)")
    emu.add_argument("--heartbeat-interval-s", type=float, help="seconds between heartbeats")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.stall_s is not None:
        overrides["stall_s"] = args.stall_s
    if args.heartbeat_interval_s is not None:
        overrides["heartbeat_interval_s"] = args.heartbeat_interval_s
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve_emulator(args.port, overrides))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
