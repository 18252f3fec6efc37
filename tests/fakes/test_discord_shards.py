"""The fake Discord's shards against real discord.py ``AutoShardedClient``s: IDENTIFY's
``shard``, READY and GUILD_CREATE per shard, events routed by guild, DMs only to shard 0, and
``GET /gateway/bot`` (Discord docs, Gateway, "Sharding")."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakes.discord import FakeDiscord, patched_discord
from tests.fakes.discord_client import TOKEN

GUILDS = {shard: ((170_000_000_000 + shard) << 22) + 1 for shard in range(2)}
"""A guild on each shard of 2: ``(guild_id >> 22) % 2`` is the key."""
CHANNELS = {shard: guild + 10 for shard, guild in GUILDS.items()}
USER = 100000000000000101


class ShardBot(discord.AutoShardedClient):
    """An ``AutoShardedClient`` that records what reaches it."""

    def __init__(self, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)
        self.seen: list[discord.Message] = []
        self.interactions: list[discord.Interaction] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s wait between shards (the fake does not limit IDENTIFYs)."""

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.interactions.append(interaction)


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(files_dir=tmp_path / "discord", recommended_shards=2, max_concurrency=16) as dc:
        dc.add_user(USER, "ana")
        for shard, guild in GUILDS.items():
            dc.add_guild(guild, name=f"shard {shard}", channels=[CHANNELS[shard]])
        yield dc


@contextlib.asynccontextmanager
async def running(*bots: ShardBot) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(bot.start(TOKEN)) for bot in bots]
    try:
        async with asyncio.timeout(10):
            while not all(bot.is_ready() for bot in bots):
                for task in tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.01)
        yield
    finally:
        for bot in bots:
            await bot.close()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_each_shard_gets_its_own_guilds_and_only_shard_0_gets_dms(fake: FakeDiscord) -> None:
    first, second = ShardBot(shard_count=2, shard_ids=[0]), ShardBot(shard_count=2, shard_ids=[1])
    async with patched_discord(fake), running(first, second):
        assert fake.ready_shards == {0, 1}
        assert [g.id for g in first.guilds] == [GUILDS[0]] and [g.id for g in second.guilds] == [GUILDS[1]]
        await fake.message_create(CHANNELS[0], "on shard 0")
        await fake.message_create(CHANNELS[1], "on shard 1")
        await fake.dm_message(USER, "a DM")
        await fake.interaction_create(name="edit", channel_id=CHANNELS[1])
        await fake.wait_until(lambda: len(first.seen) == 2 and len(second.seen) == 1 and second.interactions)
    assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]]
    assert [m.content for m in first.seen] == ["on shard 0", "a DM"]
    assert [m.content for m in second.seen] == ["on shard 1"]
    assert [i.guild_id for i in second.interactions] == [GUILDS[1]] and not first.interactions
    readies = [d for t, d in fake.dispatched if t == "READY"]
    assert sorted((r["shard"], [g["id"] for g in r["guilds"]]) for r in readies) == [
        ([0, 2], [str(GUILDS[0])]),
        ([1, 2], [str(GUILDS[1])]),
    ]


async def test_a_guild_joined_later_goes_to_its_shard(fake: FakeDiscord) -> None:
    only_zero = ShardBot(shard_count=2, shard_ids=[0])
    async with patched_discord(fake), running(only_zero):
        later = ((170_000_000_000 + 3) << 22) + 1  # shard 1 of 2
        fake.add_guild(later, channels=[later + 10])
        also_zero = ((170_000_000_000 + 4) << 22) + 1
        fake.add_guild(also_zero, channels=[also_zero + 10])
        await fake.wait_until(lambda: only_zero.get_guild(also_zero) is not None)
        assert only_zero.get_guild(later) is None
        with pytest.raises(RuntimeError, match="no gateway client runs the shard"):
            await fake.message_create(later + 10, "nobody runs shard 1")


async def test_gateway_bot_recommends_the_shard_count(fake: FakeDiscord) -> None:
    bot = ShardBot()  # no shard_count: discord.py asks GET /gateway/bot
    async with patched_discord(fake), running(bot):
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        assert sorted(g.id for g in bot.guilds) == sorted(GUILDS.values())
        limits = await bot.fetch_session_start_limits()
    [call, *_] = fake.calls_to("GET", "/gateway/bot")
    assert call.authorized and call.response["url"] == fake.ws_url and call.response["shards"] == 2
    assert limits.max_concurrency == 16 and limits.total == 1000 and limits.remaining == 998


async def test_an_invalid_shard_is_closed_with_4010(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{fake.ws_url}?v=10&encoding=json") as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == 10
        await ws.send_str(json.dumps({"op": 2, "d": {"token": TOKEN, "intents": 513, "shard": [2, 2]}}))
        closed = await ws.receive()
    assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4010
    assert not fake.identifies
