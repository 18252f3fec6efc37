"""Discord split across processes by shard (``DISCORD_SHARD_COUNT``, ``DISCORD_SHARD_IDS``):
the sharding formula, which conversations a process owns, two ``nemobot run`` processes on
the fake gateway, and a restart that resumes only a process's own conversations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import discord
import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.runner import NemoDiscordClient, NemoShardedClient, apply_endpoints
from adapters.discord.shards import IDENTIFY_WINDOW_S, IdentifyPacer, shard_of, shard_of_key
from bot.adapter import running
from bot.app import open_runtime
from bot.boundary import ConversationKey, IncomingMessage, Scope
from bot.recovery import queue_items
from bot.settings import Settings, load_settings
from store import Conversation, JobStatus, RenderJob, open_store
from tests.conftest import fast_settings
from tests.fakes.discord import FakeDiscord

TOKEN = "MTIz.fake-discord.token-for-tests"
SHARDS = 4
GUILDS = {**{shard: ((170_000_000_000 + shard) << 22) + 1 for shard in range(SHARDS)}, 4: (170_000_000_006 << 22) + 5}
"""One guild on each of 4 shards (``(guild_id >> 22) % 4``), and a second one on shard 2."""
CHANNELS = {n: guild + 10 for n, guild in GUILDS.items()}
DM_USER = 600000000000000006
ANA = 100000000000000001
"""The fake's default user, who writes in the guilds."""
SKILL, SWITCHED = "game-music", "🎛️ Switched to"
"""A command that answers in the channel and records the conversation in the store."""


def owner_shard(n: int) -> int:
    return (GUILDS[n] >> 22) % SHARDS


# ---------------------------------------------------------------------- the formula


@pytest.mark.parametrize(
    ("guild_id", "count", "shard"),
    [
        (81384788765712384, 1, 0),
        (81384788765712384, 3, 1),
        (81384788765712384, 4, 2),
        (81384788765712384, 16, 2),
        (613425648685547541, 4, 0),
        (613425648685547541, 16, 8),
        (175928847299117063, 3, 2),
        (175928847299117063, 16, 4),
        (222078108977594368, 3, 1),
        (4194303, 4, 0),  # the low 22 bits (worker, process, increment) do not count
        (4194304, 4, 1),
    ],
)
def test_shard_of_known_guild_ids(guild_id: int, count: int, shard: int) -> None:
    assert shard_of(guild_id, count) == shard
    assert shard_of(guild_id, count) == (guild_id >> 22) % count  # Discord docs, "Sharding Formula"


def test_shard_of_dms_and_bad_counts() -> None:
    assert [shard_of(None, n) for n in (1, 2, 16)] == [0, 0, 0]  # DMs only on shard 0
    assert [shard_of(GUILDS[n], SHARDS) for n in range(SHARDS)] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="at least 1"):
        shard_of(GUILDS[0], 0)


def test_shard_of_key() -> None:
    def key(text: str) -> ConversationKey:
        return ConversationKey.parse(text)

    g2 = GUILDS[2]
    assert shard_of_key(key(f"discord:{g2}/{CHANNELS[2]}"), SHARDS) == 2
    assert shard_of_key(key(f"discord:{g2}/{CHANNELS[2]}/123"), SHARDS) == 2  # a thread
    assert shard_of_key(key(f"discord:{g2}/{CHANNELS[2]}~42"), SHARDS) == 2  # one user's project
    assert shard_of_key(key("discord:dm/77"), SHARDS) == 0
    assert shard_of_key(key("discord:nope/77"), SHARDS) is None


# ---------------------------------------------------------------------- what a process owns


def shard_settings(**values: Any) -> Settings:
    return load_settings(discord_token=TOKEN, **values)


async def test_channel_for_refuses_other_shards_keys_without_asking_discord() -> None:
    adapter = DiscordAdapter(cast(Any, None), shard_settings(discord_shard_count=SHARDS, discord_shard_ids="0,1"))
    asked: list[int] = []

    async def fetch_channel(channel_id: int) -> Any:
        asked.append(channel_id)
        raise discord.NotFound(cast(Any, type("R", (), {"status": 404, "reason": "Not Found"})()), "gone")

    adapter.client.fetch_channel = fetch_channel  # type: ignore[method-assign]
    try:
        assert isinstance(adapter.client, NemoShardedClient)
        assert adapter.client.shard_count == SHARDS and adapter.client.shard_ids == [0, 1]
        theirs = [f"discord:{GUILDS[n]}/{CHANNELS[n]}" for n in GUILDS if owner_shard(n) in (2, 3)]
        ours = [f"discord:{GUILDS[n]}/{CHANNELS[n]}" for n in GUILDS if owner_shard(n) in (0, 1)]
        assert len(theirs) == 3 and len(ours) == 2
        for text in [*theirs, f"{theirs[0]}/999", f"{theirs[0]}~5", "discord:nope/5"]:
            key = ConversationKey.parse(text)
            assert not adapter.owns(key) and await adapter.channel_for(key) is None
        assert asked == []  # nothing about another process's conversations reaches Discord
        for text in [*ours, "discord:dm/5"]:
            key = ConversationKey.parse(text)
            assert adapter.owns(key)
            assert await adapter.channel_for(key) is None  # unknown to Discord here, but asked
        assert len(asked) == 3
        assert adapter.owns_guild(None) and not adapter.owns_guild(GUILDS[2])
    finally:
        await adapter.stop()


async def test_without_shard_settings_the_process_owns_everything() -> None:
    adapter = DiscordAdapter(cast(Any, None), shard_settings())
    try:
        assert type(adapter.client) is NemoDiscordClient and adapter.client.shard_count is None
        assert adapter.owns(ConversationKey.parse(f"discord:{GUILDS[2]}/{CHANNELS[2]}"))
        assert adapter.owns_guild(GUILDS[3]) and adapter.owns_guild(None)
    finally:
        await adapter.stop()
    other = DiscordAdapter(cast(Any, None), shard_settings(discord_shard_count=2, discord_shard_ids="1"))
    try:
        assert not other.owns(ConversationKey.parse("discord:dm/5"))  # DMs are shard 0's
    finally:
        await other.stop()


async def test_identify_pacer_spaces_shards_of_one_bucket() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = IdentifyPacer(2, clock=lambda: now[0], sleep=sleep)
    for shard in (0, 1):  # two buckets: both at once
        await pacer.wait(shard)
    assert slept == []
    now[0] += 1.0
    await pacer.wait(2)  # bucket 0 again: the rest of shard 0's 5 s
    assert slept == [pytest.approx(IDENTIFY_WINDOW_S - 1.0)]
    now[0] += 10.0
    await pacer.wait(3)
    assert len(slept) == 1
    one = IdentifyPacer(1, clock=lambda: now[0], sleep=sleep)  # most bots: one IDENTIFY per 5 s
    await one.wait(0)
    await one.wait(1)
    assert slept[-1] == pytest.approx(IDENTIFY_WINDOW_S)


# ---------------------------------------------------------------------- two processes


def sharded_world(dc: FakeDiscord) -> None:
    for n, guild in GUILDS.items():
        dc.add_guild(guild, name=f"guild {n}", channels=[CHANNELS[n]])


def bot_texts(dc: FakeDiscord, channel_id: int) -> list[str]:
    return [m.get("content") or "" for m in dc.bot_messages(channel_id)]


async def conversations(db: Path) -> list[str]:
    async with open_store(f"sqlite:///{db}") as store:
        return [c.key for c in await store.list_conversations(prefix="discord:")]


class BotProcess:
    """``nemobot run`` in a subprocess, its log (stderr) read as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.lines.append(line.decode(errors="replace"))

    async def wait_log(self, needle: str, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while needle not in self.log:
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"nemobot run ended ({self.proc.returncode}):\n{self.log[-3000:]}")
                await asyncio.sleep(0.05)

    async def stop(self) -> int:
        """SIGTERM, and the exit code (killed after 30 s)."""
        assert self.proc is not None and self._reader is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            await self._reader
        return self.proc.returncode


async def test_two_processes_with_two_shards_each_split_the_guilds(emulator, tmp_path):
    """The issue's test: ``nemobot run`` twice, shards 0,1 and 2,3 of 4, on one fake Discord;
    each guild's messages are answered by exactly one process, the one running its shard,
    and the DM by the one with shard 0."""
    async with FakeDiscord(files_dir=tmp_path / "dc", recommended_shards=SHARDS, max_concurrency=16) as dc:
        sharded_world(dc)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "TELEGRAM_", "DISCORD_"))}
        env.update(
            NEMO_API_URL=emulator.url,
            LOG_LEVEL="DEBUG",
            HEALTH_PORT="off",
            PYTHONWARNINGS="error,ignore:'audioop' is deprecated:DeprecationWarning",
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_URL=dc.url,
            DISCORD_GATEWAY_URL=dc.ws_url,
            DISCORD_GUILD_IDS=",".join(map(str, GUILDS.values())),
            DISCORD_SHARD_COUNT=str(SHARDS),
        )
        dbs = {ids: tmp_path / f"shards-{ids.replace(',', '-')}.db" for ids in ("0,1", "2,3")}
        bots = {
            ids: BotProcess({**env, "DISCORD_SHARD_IDS": ids, "DATABASE_URL": f"sqlite:///{db}"}, tmp_path)
            for ids, db in dbs.items()
        }
        codes: dict[str, int] = {}
        try:
            for bot in bots.values():
                await bot.start()
            for ids, bot in bots.items():  # connected, and leftovers resumed (none here)
                await bot.wait_log(f"(shards {ids} of {SHARDS})")
            assert dc.ready_shards == set(range(SHARDS))
            for n in GUILDS:
                await dc.message_create(CHANNELS[n], f"/skill {SKILL}", mentions_bot=True)
            dm = await dc.dm_message(DM_USER, f"/skill {SKILL}")
            dm_channel = int(dm["channel_id"])
            answered = [*CHANNELS.values(), dm_channel]
            await dc.wait_until(lambda: all(any(SWITCHED in t for t in bot_texts(dc, c)) for c in answered), timeout=30)
            await asyncio.sleep(0.3)  # a second answer, if one were coming, would be here by now
        finally:
            for ids, bot in bots.items():
                if bot.proc is not None:
                    codes[ids] = await bot.stop()

    for ids, bot in bots.items():
        log = bot.log
        assert codes[ids] == 0, log[-3000:]
        assert "Traceback" not in log and "ERROR" not in log and "WARNING" not in log, log[-3000:]
        assert TOKEN not in log
        mine = [int(s) for s in ids.split(",")]
        connected = {s for s in range(SHARDS) if f"Shard ID {s} has connected to Gateway" in log}
        assert connected == set(mine), log[-3000:]
    assert sorted(i["shard"] for i in dc.identifies) == [[s, SHARDS] for s in range(SHARDS)]
    for channel in answered:  # answered once, by one process
        assert len([t for t in bot_texts(dc, channel) if SWITCHED in t]) == 1, bot_texts(dc, channel)
    # which process handled what: the conversations each one's store recorded
    recorded = {ids: await conversations(db) for ids, db in dbs.items()}
    for n, guild in GUILDS.items():
        owner = "0,1" if owner_shard(n) in (0, 1) else "2,3"
        holders = [ids for ids, keys in recorded.items() if any(k.startswith(f"discord:{guild}/") for k in keys)]
        assert holders == [owner], (n, recorded)
    assert [ids for ids, keys in recorded.items() if f"discord:dm/{dm_channel}" in keys] == ["0,1"]
    # slash commands: each process synced its own guilds, once each, and nobody synced globally
    synced = sorted(int(c.path.split("/")[4]) for c in dc.calls_to("PUT", "/applications/{a}/guilds/{g}/commands"))
    assert synced == sorted(GUILDS.values()) and not dc.calls_to("PUT", "/applications/{a}/commands")
    # which process synced which guild: its log says how many
    assert "slash commands synced to 2 guild(s)" in bots["0,1"].log
    assert "slash commands synced to 3 guild(s)" in bots["2,3"].log


# ---------------------------------------------------------------------- a restart


@pytest.fixture
async def dc(tmp_path: Path) -> AsyncIterator[FakeDiscord]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord(files_dir=tmp_path / "dc", recommended_shards=SHARDS, max_concurrency=16) as fake:
        sharded_world(fake)
        yield fake
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@contextlib.asynccontextmanager
async def process(settings: Settings) -> AsyncIterator[Any]:
    """One process's runtime and Discord adapter on ``settings``, resumed as ``nemobot run`` does."""
    async with open_runtime(settings, platform="discord") as runtime:
        apply_endpoints(settings)  # the dc fixture puts discord.py's endpoints back afterwards
        adapter = DiscordAdapter(runtime.engine, settings, guild_ready_timeout=0.05, ready_timeout_s=20)
        async with running(runtime, adapter):
            yield runtime, adapter


def queued(key: str, text: str) -> list[dict[str, Any]]:
    """``key``'s queue in the store, as a process stopped with one message waiting leaves it."""
    conversation = ConversationKey.parse(key)
    scope = Scope.PRIVATE if conversation.chat_id.startswith("dm/") else Scope.GROUP
    msg = IncomingMessage(conversation=conversation, sender="ana", sender_id=str(ANA), text=text, scope=scope)
    return queue_items([msg])


async def test_a_restarted_process_resumes_only_its_own_shards_conversations(emulator, dc, tmp_path):
    """Leftovers of a guild on shard 2 (a queued message and a render) and of a DM, in one
    store: the process running shards 0,1 resumes the DM and leaves shard 2's alone, untouched;
    then the process running shards 2,3 resumes shard 2's, and not the DM."""
    common = {
        "discord_token": TOKEN,
        "discord_api_url": dc.url,
        "discord_gateway_url": dc.ws_url,
        "discord_edit_interval_s": 0.05,
        "discord_shard_count": SHARDS,
    }
    low = fast_settings(emulator.url, tmp_path, discord_shard_ids="0,1", **common)
    high = fast_settings(emulator.url, tmp_path, discord_shard_ids="2,3", **common)  # the same store file
    dm_channel = int(dc.dm_channel(DM_USER)["id"])
    theirs, dm_key = f"discord:{GUILDS[2]}/{CHANNELS[2]}~{ANA}", f"discord:dm/{dm_channel}"  # ana's project
    render = RenderJob("render_left_on_shard_2", theirs, "session_gone", status=JobStatus.PROCESSING)
    async with open_store(low.database_url) as store:
        await store.save_conversation(Conversation(theirs, "video-leaderboard", data={"queue": queued(theirs, "help")}))
        await store.save_conversation(
            Conversation(dm_key, "video-leaderboard", data={"queue": queued(dm_key, "credits")})
        )
        await store.save_render(render)

    async with process(low) as (runtime, adapter):
        assert adapter.client.pacer.max_concurrency == 16  # from GET /gateway/bot
        await dc.wait_until(lambda: any("💳 Credits" in t for t in bot_texts(dc, dm_channel)), timeout=30)
        await runtime.engine.wait_idle()
        untouched = await runtime.store.get_conversation(theirs)
        job = await runtime.store.get_render(render.render_id)
    assert untouched is not None and untouched.data["queue"] == queued(theirs, "help")
    assert job == render  # not polled, not failed, not delivered: another process's
    assert not bot_texts(dc, CHANNELS[2]) and not dc.calls_to("*", f"/channels/{CHANNELS[2]}")
    assert not dc.calls_to("*", f"/channels/{CHANNELS[2]}/{{x}}")

    dm_answers = len(bot_texts(dc, dm_channel))
    async with process(high) as (runtime, _adapter):
        await dc.wait_until(lambda: any("Try saying" in t for t in bot_texts(dc, CHANNELS[2])), timeout=30)
        await runtime.engine.wait_idle()
        resumed = await runtime.store.get_conversation(theirs)
        job = await runtime.store.get_render(render.render_id)
    assert resumed is not None and "queue" not in resumed.data
    assert job is not None and job.status != JobStatus.PROCESSING  # followed by the process that owns it
    assert len(bot_texts(dc, dm_channel)) == dm_answers  # the DM was not resumed twice
    assert any("NemoVideo had a problem" in t for t in bot_texts(dc, CHANNELS[2]))  # the render, followed
    assert len(dc.calls_to("PUT", "/applications/{a}/commands")) == 1  # a global sync by shard 0's process only


async def test_without_a_session_start_limit_discord_py_paces_the_identifies(emulator, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with FakeDiscord(files_dir=tmp_path / "dc") as fake:  # GET /gateway/bot: 404
        sharded_world(fake)
        base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        values = {"discord_token": TOKEN, "discord_api_url": fake.url, "discord_gateway_url": fake.ws_url}
        settings = fast_settings(emulator.url, tmp_path, **values, discord_shard_count=2, discord_shard_ids="1")
        try:
            async with process(settings) as (_runtime, adapter):
                assert adapter.client.pacer is None
                assert fake.ready_shards == {1}
                assert sorted(g.id for g in adapter.client.guilds) == [GUILDS[1], GUILDS[3]]
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
    assert "no session start limit from Discord (GatewayNotFound)" in caplog.text
