"""Shared fixtures: the real clips, a fast emulator, settings and a running core."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_runtime
from bot.boundary import Attachment, ConversationKey, IncomingMessage
from bot.settings import Settings, load_settings
from emulator.app import Emulator
from emulator.config import EmulatorConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUNNY = FIXTURES / "bigbuckbunny.mp4"
BIKES = FIXTURES / "bikes.mp4"


def clip(path: Path = BIKES) -> Attachment:
    """A fixture clip as a local-file attachment."""
    return Attachment(filename=path.name, size=path.stat().st_size, path=path, content_type="video/mp4")


def chat_message(key: ConversationKey, text: str = "", *attachments: Attachment, **fields: Any) -> IncomingMessage:
    """A message from user ``u1`` in ``key``'s conversation (``fields``: any other field)."""
    return IncomingMessage(conversation=key, sender="u", sender_id="u1", text=text, attachments=attachments, **fields)


async def until(condition: Callable[[], bool], timeout: float = 1.0) -> bool:
    """Let the loop run until ``condition()`` holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


def fast_emulator_config(**overrides: object) -> EmulatorConfig:
    """An emulator that answers quickly and never stays silent unless told to."""
    values: dict[str, object] = {
        "step_delay_s": 0.0,
        "heartbeat_interval_s": 0.05,
        "silent_share": 0.0,
        "render_pending_s": 0.05,
        "render_preset": "ultrafast",
        "thought_share": 0.0,
    }
    values.update(overrides)
    return EmulatorConfig(**values)


def fast_settings(url: str, tmp_path: Path, **overrides: object) -> Settings:
    """Settings for tests: the emulator's URL, a temp database, short timings."""
    values: dict[str, object] = {
        "nemo_api_url": url,
        "nemo_token": None,
        "nemo_client_id": None,
        "database_url": f"sqlite:///{tmp_path / 'nemobot.db'}",
        "progress_edit_interval_s": 0.0,
        "heartbeat_interval_s": 5.0,
        "render_poll_initial_s": 0.1,
        "render_poll_max_s": 0.3,
        "render_timeout_s": 120.0,
        "rate_limit_wait_s": 0.05,
        "drop_first_check_s": 0.2,
        "drop_check_every_s": 0.2,
        "drop_max_unchanged_reads": 25,
        "downloads_dir": tmp_path / "downloads",
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session", autouse=True)
def _prepared_adapters() -> None:
    """What the CLI does once per process (``AdapterFactory.prepare``): PTB's timedelta
    durations, the Telegram logger floors that keep the bot token out of the log, and
    discord.py without voice warnings (no endpoint overrides: those are per test)."""
    from adapters.discord import DiscordAdapterFactory
    from adapters.telegram import TelegramAdapterFactory

    settings = load_settings()
    TelegramAdapterFactory().prepare(settings)
    DiscordAdapterFactory().prepare(settings)


@pytest.fixture
async def emulator(tmp_path):
    async with Emulator(fast_emulator_config(), data_dir=tmp_path / "emulator") as emu:
        yield emu


@pytest.fixture
def settings(emulator, tmp_path) -> Settings:
    return fast_settings(emulator.url, tmp_path)


@pytest.fixture
async def runtime(settings):
    async with open_runtime(settings, platform="console") as rt:
        yield rt
