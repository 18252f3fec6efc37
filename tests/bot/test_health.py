"""bot.health: /healthz, /readyz and /metrics of a running bot, through the fake Telegram and the emulator."""

from __future__ import annotations

import contextlib
import re

import aiohttp
import pytest

from adapters.telegram import TelegramAdapter
from bot import health
from bot.adapter import running
from bot.app import open_runtime
from bot.health import HealthServer
from emulator.app import Emulator
from tests.conftest import fast_emulator_config, fast_settings
from tests.fakes.telegram import FakeTelegram


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@contextlib.asynccontextmanager
async def bot_with_health(emulator_url, tg, tmp_path):
    settings = fast_settings(
        emulator_url, tmp_path, telegram_token=tg.token, telegram_api_url=tg.url, telegram_edit_interval_s=0.05
    )
    async with open_runtime(settings, platform="telegram") as runtime:
        server = HealthServer(runtime, lambda: {"telegram": "telegram" in runtime.connected})
        await server.start("127.0.0.1", 0)
        try:
            async with running(runtime, TelegramAdapter(runtime.engine, settings)), aiohttp.ClientSession() as http:
                yield runtime, server, http
        finally:
            await server.stop()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


async def test_metrics_move_during_a_conversation(emulator, tmp_path):
    async with (
        FakeTelegram(files_dir=tmp_path / "tg") as tg,
        bot_with_health(emulator.url, tg, tmp_path) as (
            _runtime,
            server,
            http,
        ),
    ):
        chat = tg.private_chat(user_id=4242)
        status, before = await get(http, f"{server.url}/metrics")
        assert status == 200 and "nemobot_agent_runs_in_flight" in before
        tg.user_text(chat, "/help")
        tg.user_text(chat, "add background music")
        await tg.wait_until(lambda: len(tg.bot_messages(chat["id"])) >= 3, timeout=30)
        await tg.wait_until(lambda: not _runtime.engine.is_busy(f"telegram:{chat['id']}"), timeout=60)
        _, after = await get(http, f"{server.url}/metrics")
        assert (await get(http, f"{server.url}/healthz"))[0] == 200
    updates = "nemobot_updates_total"
    assert sample(after, updates, platform="telegram") - sample(before, updates, platform="telegram") == 2
    runs = "nemobot_agent_run_seconds_count"
    assert sample(after, runs) - sample(before, runs) == 1
    assert sample(after, "nemobot_agent_runs_in_flight") == 0
    assert "token" not in after.lower()


async def test_readyz_fails_while_nemovideo_is_down_and_recovers(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "BACKEND_CACHE_S", 0.0)
    first = Emulator(fast_emulator_config(), data_dir=tmp_path / "emu")
    url = await first.start()
    port = int(url.rsplit(":", 1)[1])
    async with (
        FakeTelegram(files_dir=tmp_path / "tg") as tg,
        bot_with_health(url, tg, tmp_path) as (
            _runtime,
            server,
            http,
        ),
    ):
        status, body = await get(http, f"{server.url}/readyz")
        assert status == 200 and '"nemovideo": true' in body and '"adapter:telegram": true' in body
        await first.stop()
        status, body = await get(http, f"{server.url}/readyz")
        assert status == 503 and '"nemovideo": false' in body and '"store": true' in body
        again = Emulator(fast_emulator_config(), data_dir=tmp_path / "emu2")
        await again.start(port=port)
        try:
            status, _ = await get(http, f"{server.url}/readyz")
            assert status == 200
        finally:
            await again.stop()


def test_health_port_setting():
    from bot.settings import parse_listen

    assert parse_listen("8080") == ("127.0.0.1", 8080)
    assert parse_listen("0.0.0.0:9100") == ("0.0.0.0", 9100)
    assert parse_listen("off") is None and parse_listen("") is None
    with pytest.raises(ValueError):
        parse_listen("127.0.0.1:99999")
