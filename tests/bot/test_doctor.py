"""``nemobot doctor`` against the fake platforms and the emulator: good tokens, a refused token, a dead backend."""

from __future__ import annotations

import io
import socket

import discord
import pytest

from bot.app import all_adapters
from bot.doctor import diagnose, report
from tests.conftest import fast_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def dc(tmp_path):
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord(files_dir=tmp_path / "dc") as fake:
        yield fake
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


async def doctor(settings) -> tuple[int, dict[str, tuple[str, str]], str]:
    out = io.StringIO()
    findings = await diagnose(settings, all_adapters())
    code = report(findings, out)
    return code, {f.check: (f.status, f.detail) for f in findings}, out.getvalue()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_everything_fine(emulator, dc, tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg") as tg:
        settings = fast_settings(
            emulator.url,
            tmp_path,
            telegram_token=tg.token,
            telegram_api_url=tg.url,
            discord_token="MTIz.doctor.token",
            discord_api_url=dc.url,
            nemo_identity="shared",
        )
        code, rows, text = await doctor(settings)
    assert code == 0 and text.rstrip().endswith("all good"), text
    assert rows["telegram"] == ("ok", f"the token works: @{tg.bot_username}")
    assert rows["discord"][0] == "ok" and rows["discord"][1].startswith("the token works: @")
    assert rows["database"][0] == rows["nemovideo"][0] == rows["credits"][0] == "ok"
    assert "100 available" in rows["credits"][1]
    assert tg.token not in text and "MTIz.doctor.token" not in text


async def test_a_refused_token_and_a_dead_backend_are_named_with_the_fix(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg") as tg:
        settings = fast_settings(
            f"http://127.0.0.1:{closed_port()}",
            tmp_path,
            telegram_token="123456:not-the-token-the-fake-knows-0000000000",
            telegram_api_url=tg.url,
        )
        code, rows, text = await doctor(settings)
    assert code == 1
    assert rows["telegram"][0] == "FAIL" and "@BotFather" in rows["telegram"][1]
    assert rows["nemovideo"][0] == "FAIL" and "NEMO_API_URL" in rows["nemovideo"][1]
    assert rows["discord"][0] == "skip" and rows["database"][0] == "ok"
    assert "2 problem(s): telegram, nemovideo" in text
    assert "not-the-token" not in text
