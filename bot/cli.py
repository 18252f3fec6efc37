"""The ``nemobot`` command: ``demo``, ``chat``, ``emulator``, ``run``, ``doctor`` and ``store copy``.

The CLI is the composition root. It finds adapters through the ``nemobot.adapters``
entry points (never by importing ``adapters``), and it reports bad settings as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from bot.profiles import PROFILES

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.settings import Settings
    from store.crypto import TokenCipher


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nemobot", description="NemoVideo inside Discord, Telegram and your terminal."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="play one offline conversation against the local emulator")
    demo.add_argument("--clip", action="append", type=Path, help="clip to upload (repeat for several)")
    demo.add_argument("--skill", default="video-leaderboard", choices=sorted(PROFILES), help="skill profile")
    demo.add_argument("--prompt", help="the edit request (default: the skill's first example)")
    demo.add_argument("--out", type=Path, default=Path("nemobot-demo.mp4"), help="where to save the MP4")

    sub.add_parser("chat", help="chat with the engine in this terminal (uses NEMO_API_URL)")

    emu = sub.add_parser("emulator", help="run the local NemoVideo emulator")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8765)
    emu.add_argument("--silent-share", type=float, default=None, help="share of agent runs with no text (0-1)")
    emu.add_argument("--seed", type=int, default=None)
    faults = emu.add_argument_group("fault injection")
    faults.add_argument("--fault-rate", type=float, help="share of API calls answered 429/5xx (0-1)")
    faults.add_argument("--slow-rate", type=float, help="share of API calls delayed by --slow-s")
    faults.add_argument("--slow-s", type=float, help="delay of a slow call (s)")
    faults.add_argument("--stall-s", type=float, help="heartbeat-only stall at the start of every run (s)")
    faults.add_argument("--drop-stream-after", type=int, help="drop /run_sse streams after N events")
    faults.add_argument("--token-max-calls", type=int, help="tokens expire (1001) after N calls")
    faults.add_argument("--fail-first-render", action="store_true", default=None, help="first render per session fails")
    faults.add_argument(
        "--break-downloads", action="store_true", default=None, help="first output download breaks half-way"
    )
    faults.add_argument("--render-shape", choices=["A", "B", "C"], help="render status answer shape (contract 5)")
    faults.add_argument("--heartbeat-style", choices=["json", "empty", "comment"], help="SSE heartbeat form")

    sub.add_parser("run", help="start the platform adapters whose tokens are set (Telegram, Discord)")
    sub.add_parser("doctor", help="check the settings, tokens, NemoVideo, the database and ffmpeg; say what to fix")

    store = sub.add_parser("store", help="database maintenance")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    copy = store_sub.add_parser(
        "copy",
        help="copy everything from one database into a new, empty one (e.g. SQLite to PostgreSQL)",
        description="Copy identities, conversations, render jobs, queues, people, usage and flags from"
        " SOURCE_URL into TARGET_URL, which must hold no data, in one transaction. Stop the bot first."
        " Tokens are copied as stored: run the bot on the target with the same NEMOBOT_SECRET_KEY.",
    )
    copy.add_argument("source_url", metavar="SOURCE_URL", help="e.g. sqlite:///nemobot.db")
    copy.add_argument("target_url", metavar="TARGET_URL", help="e.g. postgresql://nemobot@db:5432/nemobot")
    copy.add_argument("--batch", type=int, default=1000, help="rows read and written at a time (default 1000)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nemobot`` console script. Returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command in ("demo", "emulator"):
        missing = _missing_demo_extra()
        if missing:
            print(
                f"nemobot: the {args.command} needs the demo extra (missing: {', '.join(missing)}); "
                "install it with: pip install 'nemobot[demo]' (in a checkout: pip install -e '.[demo]')",
                file=sys.stderr,
            )
            return 2
    if args.command == "demo":
        from bot.demo import main_demo

        return main_demo(args.clip, args.skill, args.prompt, args.out)
    if args.command == "emulator":
        return _emulator(args)
    if args.command == "store":
        return _store_copy(args)

    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        if args.command == "doctor":
            print(f"settings  FAIL  {exc}\n\n1 problem(s): settings")
            return 1
        print(f"nemobot: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings, to_file=args.command == "chat")
    from bot.redact import install, register_secrets

    register_secrets(settings.secrets())
    install()  # every root handler masks every known secret, at every level
    if args.command == "chat":
        return asyncio.run(_chat(settings))
    if args.command == "doctor":
        return asyncio.run(_doctor(settings))
    return asyncio.run(_run(settings))


LOG_LINE = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_logging(settings: Settings, *, to_file: bool) -> None:
    """The root handler: stderr (``nemobot run``) or ``CHAT_LOG_FILE`` (``nemobot chat``, whose
    terminal is the conversation), as text lines or JSON objects (``LOG_FORMAT``)."""
    file = logging.FileHandler(settings.chat_log_file, encoding="utf-8") if to_file else None
    handler: logging.Handler = file or logging.StreamHandler()
    if settings.log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
        )
    else:
        handler.setFormatter(logging.Formatter(LOG_LINE))
    logging.basicConfig(level=settings.log_level, handlers=[handler])


# What the emulator cannot work without, from the ``demo`` extra (import names). The extra's
# font (``fontpkg-noto-sans``) is not listed: without it overlays fall back to DejaVu Sans.
_DEMO_EXTRA_MODULES = ("av", "imageio_ffmpeg")


def _missing_demo_extra() -> list[str]:
    """The modules of the ``demo`` extra that cannot be imported, found without importing them.

    Returns:
        Import names of the missing modules, in :data:`_DEMO_EXTRA_MODULES` order; empty when
        the extra is installed.
    """
    missing = []
    for name in _DEMO_EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _emulator(args: argparse.Namespace) -> int:
    from emulator.app import serve
    from emulator.config import EmulatorConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = (
        "silent_share",
        "seed",
        "fault_rate",
        "slow_rate",
        "slow_s",
        "stall_s",
        "drop_stream_after",
        "token_max_calls",
        "fail_first_render",
        "break_downloads",
        "render_shape",
        "heartbeat_style",
    )
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, EmulatorConfig(**overrides)))
    return 0


@contextlib.asynccontextmanager
async def _health(runtime: Runtime, platforms: list[str]) -> AsyncIterator[None]:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` on ``HEALTH_PORT`` while the bot runs
    (a taken port is logged, not fatal: the bot itself still works)."""
    from bot.health import HealthServer

    listen = runtime.settings.health_listen()
    server = HealthServer(runtime, lambda: {name: name in runtime.connected for name in platforms})
    if listen is not None:
        try:
            await server.start(*listen)
        except OSError as exc:
            logging.getLogger("nemobot").warning("no health server on %s:%s: %s", *listen, exc.strerror)
    try:
        yield
    finally:
        await server.stop()


SHUTDOWN_GRACE_S = 9.0
"""How long an orderly stop may take (s) before the process exits anyway. Everything a restart
needs is already in the store by then (render jobs, run markers, queues: docs/reliability.md),
and supervisors (systemd, Docker) kill a process that does not exit within 10 s of SIGTERM."""


def _exit_after(seconds: float, log: logging.Logger) -> None:
    """Start a watchdog that ends the process if the orderly stop hangs (what still runs is logged)."""

    loop = asyncio.get_running_loop()

    done = threading.Event()

    def report() -> None:  # on the loop's thread: the tasks can be read safely
        for task in asyncio.all_tasks(loop):
            frames = task.get_stack(limit=8)
            where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
            log.warning("still running at exit: %s: %s", task.get_name(), where[:400])
        done.set()

    def fire() -> None:
        log.warning("stopping took over %.0f s; exiting now", seconds)
        loop.call_soon_threadsafe(report)
        done.wait(1.0)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def _store_copy(args: argparse.Namespace) -> int:
    """``nemobot store copy``: counts per table on stdout; one line on stderr and exit 1 on failure."""
    from store.copy import copy_store, describe, scrub

    logging.basicConfig(level=logging.WARNING, format=LOG_LINE)  # the stores' warnings (a file's mode...)
    source, target = args.source_url, args.target_url
    cipher = _configured_cipher()
    print(f"copying {describe(source)} into {describe(target)}...", flush=True)
    try:
        report = asyncio.run(copy_store(source, target, batch=args.batch, cipher=cipher))
    except Exception as exc:  # noqa: BLE001 - every failure is one line, without the URLs' passwords
        print(f"nemobot: store copy failed: {scrub(str(exc) or type(exc).__name__, source, target)}", file=sys.stderr)
        return 1
    width = max(len(table) for table in report.counts)
    for table, count in report.counts.items():
        print(f"  {table:<{width}}  {count:>9,}")
    print(f"copied {sum(report.counts.values()):,} rows in {report.seconds:.1f} s")
    if report.encrypted_tokens:
        print(
            f"{report.encrypted_tokens} token(s) copied encrypted, as they were: start the bot on the target"
            " with the same NEMOBOT_SECRET_KEY"
        )
    if report.unreadable_tokens:
        print(f"warning: {report.unreadable_tokens} of them cannot be opened with the NEMOBOT_SECRET_KEY set here")
    if report.plaintext_tokens:
        print(f"{report.plaintext_tokens} token(s) copied unencrypted (the source had no key)")
    return 0


def _configured_cipher() -> TokenCipher | None:
    """The ``NEMOBOT_SECRET_KEY`` cipher, if the settings load and set one (only to check the
    copied tokens; the copy itself needs no settings)."""
    from bot.settings import SettingsError, load_settings
    from store.crypto import TokenCipher

    try:
        key = load_settings().nemobot_secret_key
        return TokenCipher.from_keys(key.get_secret_value()) if key else None
    except (SettingsError, ValueError):
        return None


async def _doctor(settings: Settings) -> int:
    from bot.app import all_adapters
    from bot.doctor import diagnose, report

    return report(await diagnose(settings, all_adapters()), sys.stdout)


async def _chat(settings: Settings) -> int:
    from bot.adapter import serve
    from bot.app import load_adapter, open_runtime

    factory = load_adapter("console")
    factory.prepare(settings)
    async with open_runtime(settings, platform="console") as runtime:
        await serve(runtime, factory.create(runtime))
    return 0


async def _run(settings: Settings) -> int:
    from bot.adapter import serve
    from bot.app import all_adapters, open_runtime

    factories = {name: f for name, f in all_adapters().items() if f.enabled(settings)}
    if not factories:
        print(
            "nemobot: no platform is configured (set TELEGRAM_TOKEN or DISCORD_TOKEN); "
            "try 'nemobot chat' or 'nemobot demo'",
            file=sys.stderr,
        )
        return 2
    for factory in factories.values():
        factory.prepare(settings)  # process-wide setup happens here, in the composition root
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("nemobot")
    failed = False
    async with open_runtime(settings) as runtime, _health(runtime, list(factories)):
        tasks = {
            asyncio.create_task(serve(runtime, f.create(runtime)), name=f"adapter-{n}"): n for n, f in factories.items()
        }
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        _exit_after(SHUTDOWN_GRACE_S, log)
        for task, name in tasks.items():
            if task in done and not task.cancelled():
                exc = task.exception()
                failed = True
                if exc is None:
                    log.error("the %s adapter stopped on its own", name)
                else:
                    log.error(
                        "the %s adapter failed: %s: %s",
                        name,
                        type(exc).__name__,
                        str(exc)[:300],
                        exc_info=exc if log.isEnabledFor(logging.DEBUG) else None,
                    )
        for task in tasks:
            task.cancel()
        waiter.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)
    if failed:
        print("nemobot: a platform adapter stopped; see the log above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
