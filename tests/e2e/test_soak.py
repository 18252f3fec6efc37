"""Soak test: 200 conversations over both fake platforms while 10% of backend calls fail.

100 Telegram DMs and 100 Discord DMs each ask for their credits, send a clip with an edit
request, and every tenth exports. The emulator meanwhile answers 10% of API calls with
429/5xx, delays some, expires tokens, drops a few sessions, fails every first render and
breaks every first output download. Afterwards: every user message got a reply, no video
was delivered twice, nothing unhandled reached the log, and every job ended in a final
state. Reproduce with ``python -m pytest tests/e2e/test_soak.py -s``; the figures are
printed and recorded in ``docs/reliability.md``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time

import discord
import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.runner import apply_endpoints
from adapters.telegram import TelegramAdapter
from bot.adapter import running
from bot.app import open_runtime
from emulator.media import make_sample_clip
from tests.conftest import fast_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.e2e
PER_PLATFORM = 100
ROUNDS = int(os.environ.get("NEMOBOT_SOAK_ROUNDS", "2"))  # more edit rounds per conversation: a longer soak
CONCURRENCY = 25
GUILD, CHANNEL = 700000000000000101, 700000000000000111


@pytest.fixture
async def world(emulator, tmp_path):
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeTelegram(files_dir=tmp_path / "tg") as tg, FakeDiscord(files_dir=tmp_path / "dc") as dc:
        dc.add_guild(GUILD, channels=[CHANNEL])
        settings = fast_settings(
            emulator.url,
            tmp_path,
            telegram_token=tg.token,
            telegram_api_url=tg.url,
            telegram_edit_interval_s=0.2,
            telegram_group_edit_interval_s=0.2,
            discord_token="MTIz.soak.token",
            discord_api_url=dc.url,
            discord_gateway_url=dc.ws_url,
            discord_guild_ids=str(GUILD),
            discord_edit_interval_s=0.2,
            progress_edit_interval_s=0.3,
            rate_limit_wait_s=0.0,
            drop_first_check_s=0.2,
        )
        async with open_runtime(settings, platform="telegram") as runtime:
            apply_endpoints(settings)  # put back below
            telegram = TelegramAdapter(runtime.engine, settings)
            disc = DiscordAdapter(runtime.engine, settings, guild_ready_timeout=0.05, ready_timeout_s=20)
            async with running(runtime, telegram), running(runtime, disc):
                yield tg, dc, runtime
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


async def test_soak_200_conversations_with_backend_faults(emulator, world, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    tg, dc, runtime = world
    engine = runtime.engine
    clip = make_sample_clip(tmp_path / "clip.mp4", duration_s=1.0, width=320, height=240)
    cfg = emulator.config
    cfg.rate_limit_retry_after_s = 0
    cfg.initial_credits = 100_000  # one bot install serves everyone: give it enough for the soak
    cfg.fault_rate, cfg.slow_rate, cfg.slow_s = 0.10, 0.05, 0.2
    cfg.token_max_calls = 400
    cfg.fail_first_render = cfg.break_downloads = True
    cfg.silent_share = 0.3
    rng = random.Random(5)
    lost: list[str] = []
    exports: dict[str, int] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def step(name: str, count, key: str, send) -> None:
        before = count()
        await send()
        try:
            deadline = time.monotonic() + 90
            while count() <= before or engine.is_busy(key):
                if time.monotonic() > deadline:
                    raise TimeoutError
                await asyncio.sleep(0.05)
        except TimeoutError:
            lost.append(f"{key}: {name}")

    async def telegram_user(i: int) -> None:
        async with gate:
            chat = tg.private_chat(user_id=50_000 + i)
            key = f"telegram:{chat['id']}"
            count = lambda: len(tg.bot_messages(chat["id"]))  # noqa: E731
            await step("credits", count, key, lambda: _call(tg.user_text, chat, "/credits"))
            file = tg.add_file(clip, file_name=f"t{i}.mp4")
            await step(
                "edit", count, key, lambda: _call(tg.user_media, chat, "video", file, caption=f"add title 'T{i}'")
            )
            for r in range(1, ROUNDS):
                await step(f"edit {r}", count, key, lambda r=r: _call(tg.user_text, chat, f"add title 'T{i}.{r}'"))
            if rng.random() < 0.15:
                conv = await runtime.store.get_conversation(key)
                if conv and conv.session_id:
                    emulator.drop_session(conv.session_id)  # the session vanishes at NemoVideo
            if i % 10 == 0:
                exports[key] = 1
                await step("export", count, key, lambda: _call(tg.user_text, chat, "/export"))

    async def discord_user(i: int) -> None:
        async with gate:
            user_id = 60_000_000_000_000_000 + i
            first = await dc.dm_message(user_id, "credits")
            dm = int(first["channel_id"])
            key = f"discord:dm/{dm}"
            count = lambda: len(dc.bot_messages(dm))  # noqa: E731
            deadline = time.monotonic() + 60
            while count() == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if count() == 0:
                lost.append(f"{key}: credits")
            att = dc.add_attachment(clip, filename=f"d{i}.mp4")
            await step("edit", count, key, lambda: dc.dm_message(user_id, f"add title 'D{i}'", attachments=[att]))
            for r in range(1, ROUNDS):
                await step(f"edit {r}", count, key, lambda r=r: dc.dm_message(user_id, f"add title 'D{i}.{r}'"))
            if i % 10 == 0:
                exports[key] = 1
                await step("export", count, key, lambda: dc.dm_message(user_id, "export"))

    started = time.monotonic()
    await asyncio.gather(
        *(telegram_user(i) for i in range(PER_PLATFORM)), *(discord_user(i) for i in range(PER_PLATFORM))
    )
    elapsed = time.monotonic() - started
    await asyncio.sleep(1.0)

    videos: dict[str, int] = {}
    for call in tg.calls_of("sendVideo"):
        key = f"telegram:{call.params['chat_id']}"
        videos[key] = videos.get(key, 0) + 1
    for channel_id, messages in dc.messages.items():
        n = sum(1 for m in messages if any(str(p).endswith(".mp4") for p in m.get("attachments") or []))
        if n:
            videos[f"discord:dm/{channel_id}"] = n
    duplicated = {k: n for k, n in videos.items() if n > 1}
    jobs = await runtime.store.list_renders()
    stuck = [j for j in jobs if j.status not in {"delivered", "failed", "cancelled"}]
    markers = [c.key for c in await runtime.store.list_conversations() if "run" in c.data]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    faults = dict(emulator.state.faults)
    print(
        f"\nsoak: {2 * PER_PLATFORM} conversations x {ROUNDS} round(s) ({PER_PLATFORM} Telegram, {PER_PLATFORM} Discord) in {elapsed:.0f} s; "
        f"{sum(emulator.state.runs_per_session.values())} agent runs, {len(jobs)} render jobs for {len(exports)} exports, "
        f"{len(videos)} videos delivered; faults injected: {sum(faults.values())} {faults}; "
        f"lost replies: {len(lost)}, duplicate deliveries: {len(duplicated)}, stuck jobs: {len(stuck)}, "
        f"unhandled errors: {len(errors)}"
    )
    assert not lost, lost[:10]
    assert not duplicated, duplicated
    assert not stuck, stuck[:5]
    assert not markers, markers[:5]
    assert not errors, [r.getMessage() for r in errors[:5]]
    assert sum(faults.values()) > 50
    assert not engine.scheduler.active()


async def _call(fn, *args, **kwargs) -> None:
    fn(*args, **kwargs)
