"""What the bad-input catalogs share: one emulator per module, a spy on what NemoVideo is asked
to fetch or receive, the expected sentences, and the "nothing leaked" and "no error logged"
checks."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio

from bot.commands import help_text
from bot.nemo.client import NemoClient
from bot.profiles import get_profile
from bot.settings import load_settings
from bot.texts import t
from emulator.app import Emulator
from tests.conftest import fast_emulator_config

PROFILE = get_profile(load_settings().default_skill)
EXAMPLE = PROFILE.examples_in("en")[0]
"""The default profile's first example, which the catalog's sentences quote."""
HELP = help_text(SimpleNamespace(profile=PROFILE, lang="en"))  # type: ignore[arg-type]
"""The whole ``/help`` answer a bystander gets."""

EMPTY = t("empty_message", "en", example=EXAMPLE)
NOT_MEDIA = t("not_media", "en", example=EXAMPLE)
VOICE = t("voice_message", "en", example=EXAMPLE)
NOT_READY = t("not_ready", "en", example=EXAMPLE)
NEED_SESSION = t("need_session", "en")
INTERNAL_ERROR = t("internal_error", "en")

BACKEND_WORDS = (
    "internal error:",  # the emulator's 500 body
    "unsupported file type:",  # the emulator's 4001 message
    "injected failure",
    "session not found",
    "ses_",  # session ids
    "Bearer",
)
"""Bits of backend error text and identifiers that must never reach a chat."""
TRACE_WORDS = ("Traceback", 'File "', "Error(", "Exception")
"""What a traceback or a repr of an exception looks like."""


def leaks(texts: Iterable[str], *secrets: str) -> list[str]:
    """The leak markers (tracebacks, backend text, the internal-error sentence, ``secrets``)
    found in what the bot wrote."""
    joined = "\n".join(texts)
    markers = (*TRACE_WORDS, *BACKEND_WORDS, INTERNAL_ERROR, *(s for s in secrets if s))
    return [m for m in markers if m in joined]


OUR_LOGGERS = ("bot", "adapters", "store", "telegram", "discord")
"""Loggers whose errors count: ours and the platform libraries' (PTB's and discord.py's
handler errors end there); the emulator and aiohttp's server are not the bot."""


def logged_errors(records: Iterable[logging.LogRecord]) -> list[str]:
    """ERROR (or worse) records, and records carrying a traceback, from :data:`OUR_LOGGERS`."""
    found = []
    for r in records:
        ours = r.name.split(".", 1)[0] in OUR_LOGGERS
        if ours and (r.levelno >= logging.ERROR or r.exc_info):
            found.append(f"{r.levelname} {r.name}: {r.getMessage()[:300]}")
    return found


@dataclass
class Spy:
    """What the bot asked NemoVideo to fetch (``upload_urls``) and the file names it streamed
    (``upload_files``), across the module."""

    urls: list[str] = field(default_factory=list)
    filenames: list[str] = field(default_factory=list)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def emu(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One fast emulator for the whole module."""
    async with Emulator(fast_emulator_config(), data_dir=tmp_path_factory.mktemp("emulator")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def spy() -> Any:
    """Wraps ``NemoClient.upload_urls`` / ``upload_files`` for the module, recording what they got."""
    record = Spy()
    original_urls, original_files = NemoClient.upload_urls, NemoClient.upload_files

    async def upload_urls(self: NemoClient, sid: str, urls: Any, **kwargs: Any) -> Any:
        record.urls.extend(urls)
        return await original_urls(self, sid, urls, **kwargs)

    async def upload_files(self: NemoClient, sid: str, sources: Any, **kwargs: Any) -> Any:
        record.filenames.extend(s.filename for s in sources)
        return await original_files(self, sid, sources, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NemoClient, "upload_urls", upload_urls)
        mp.setattr(NemoClient, "upload_files", upload_files)
        yield record


def total_runs(emulator: Emulator) -> int:
    """``/run_sse`` runs the emulator accepted so far."""
    return sum(emulator.state.runs_per_session.values())


ONBOARDING = ("⚙️ Setting things up...", "✅ Ready!")
"""The first session of a conversation is announced (tests/bot/test_onboarding.py); these
catalogs judge the reply to the bad input, so the announcement is set aside."""


def without_onboarding(replies: list[str]) -> list[str]:
    """``replies`` without the first-session announcement."""
    return [r for r in replies if not r.startswith(ONBOARDING)]
