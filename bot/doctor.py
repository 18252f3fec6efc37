"""``nemobot doctor``: check an install before running it, and say what to fix.

Each check gives ``ok``, ``FAIL`` (with what to do) or ``skip`` (not needed by these
settings). The platform checks ask each enabled adapter (:meth:`bot.adapter.AdapterFactory.check`:
Telegram ``getMe``, Discord ``GET /users/@me``), so no platform code lives here. Nothing printed
contains a token. The exit code is 1 when any check failed, else 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from bot.adapter import AdapterFactory, CheckFailed
from bot.app import open_runtime
from bot.health import http_problem
from bot.nemo.client import NemoClient
from bot.nemo.errors import NemoError
from bot.settings import Settings

CHECK_TIMEOUT_S = 15.0
"""The longest one check may take (s)."""


@dataclass(frozen=True)
class Finding:
    """One row of the report."""

    check: str
    status: str
    """``ok``, ``FAIL`` or ``skip``."""
    detail: str


async def _timed(check: Callable[[], Awaitable[str]]) -> tuple[bool, str]:
    try:
        return True, await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except CheckFailed as exc:
        return False, str(exc)
    except TimeoutError:
        return False, f"no answer within {CHECK_TIMEOUT_S:.0f} s"


async def diagnose(settings: Settings, adapters: dict[str, AdapterFactory]) -> list[Finding]:
    """Run every check for these settings.

    Args:
        settings: The loaded settings (loading them is the settings check, done by the CLI).
        adapters: Every installed adapter factory by name (only enabled ones are checked).
    """
    findings = [Finding("settings", "ok", "loaded from the environment and .env")]
    enabled = {name: f for name, f in adapters.items() if f.enabled(settings)}
    if not enabled:
        findings.append(Finding("platforms", "FAIL", "no platform token: set TELEGRAM_TOKEN or DISCORD_TOKEN"))
    for name, factory in sorted(adapters.items()):
        if name not in enabled:
            if name != "console":
                findings.append(Finding(name, "skip", "no token set"))
            continue
        factory.prepare(settings)
        ok, detail = await _timed(functools.partial(factory.check, settings))
        findings.append(Finding(name, "ok" if ok else "FAIL", f"the token works: {detail}" if ok else detail))
    findings += await _backend_and_store(settings)
    findings.append(_ffmpeg())
    return findings


async def _backend_and_store(settings: Settings) -> list[Finding]:
    """The database opens and answers; NemoVideo answers; the shared identity's credits."""
    findings: list[Finding] = []
    async with contextlib.AsyncExitStack() as stack:
        try:
            runtime = await stack.enter_async_context(open_runtime(settings))
            await runtime.store.get_conversation("doctor:probe")
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            return [Finding("database", "FAIL", f"{_where(settings.database_url)}: {type(exc).__name__}: {exc}")]
        findings.append(Finding("database", "ok", _where(settings.database_url)))
        findings.append(await _reachable(settings.nemo_api_url))
        if findings[-1].status == "ok":
            findings.append(await _credits(settings, runtime.client))
    return findings


def _where(url: str) -> str:
    return url if url.startswith("sqlite") else url.split("@")[-1]  # no password from a server URL


async def _reachable(url: str) -> Finding:
    problem = await http_problem(url, CHECK_TIMEOUT_S)
    if problem is None:
        return Finding("nemovideo", "ok", f"{url} answers")
    return Finding("nemovideo", "FAIL", f"{url} does not answer ({problem}): check NEMO_API_URL")


async def _credits(settings: Settings, client: NemoClient) -> Finding:
    if settings.identity_mode == "per_user" and settings.nemo_token is None:
        return Finding("credits", "skip", "each person has their own NemoVideo identity and credits")
    try:
        credits = await asyncio.wait_for(client.credits(), CHECK_TIMEOUT_S)
    except (NemoError, TimeoutError) as exc:
        return Finding("credits", "FAIL", f"the shared identity cannot read its credits ({type(exc).__name__})")
    status = "ok" if credits.available > 0 else "FAIL"
    hint = "" if status == "ok" else ": exports and runs will be refused until credits are added"
    return Finding("credits", status, f"{credits.available:g} available for the shared identity{hint}")


def _ffmpeg() -> Finding:
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        return Finding("ffmpeg", "skip", "only `nemobot demo` and the emulator need it (pip install 'nemobot[demo]')")
    import imageio_ffmpeg

    try:
        return Finding("ffmpeg", "ok", imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        return Finding("ffmpeg", "FAIL", f"the demo extra is installed but ffmpeg is missing: {exc}")


def report(findings: list[Finding], out: TextIO) -> int:
    """Print the findings as a table; 1 when any failed, else 0."""
    width = max(len(f.check) for f in findings)
    for f in findings:
        out.write(f"{f.check:<{width}}  {f.status:<4}  {f.detail}\n")
    failed = [f.check for f in findings if f.status == "FAIL"]
    out.write(f"\n{len(failed)} problem(s): {', '.join(failed)}\n" if failed else "\nall good\n")
    return 1 if failed else 0
