"""Bad inputs on Discord, through the real discord.py ``Client``, the fake Discord (gateway,
REST, CDN), the real engine and the emulator: one bot for the whole module, one fresh user
per input, and a bystander whose ``/help`` (a DM) is answered meanwhile.

Each row of :data:`CASES` is one input and what the bot must answer where the user sent it
(their DM, the guild channel, or the interaction's responses): the exact sentence (``str``),
every needle of :class:`Has`, or nothing (``None``). Every row also checks that nothing
leaked, that no agent run or URL fetch happened unless the row says so, that nothing was
logged as an error, and that the bystander got the whole ``/help`` text.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
import pytest
import pytest_asyncio

from adapters.discord import DiscordAdapter
from adapters.discord.runner import apply_endpoints
from bot.adapter import running
from bot.app import Runtime, open_runtime
from bot.profiles import PROFILES
from bot.texts import FORMATS_LINE, t
from emulator.app import Emulator
from tests.adapters.test_discord_e2e import (
    CHANNEL,
    GUILD,
    OTHER_CHANNEL,
    TOKEN,
    contents,
    dc_settings,
    interaction_texts,
)
from tests.bad_inputs.conftest import (
    EMPTY,
    HELP,
    NEED_SESSION,
    NOT_MEDIA,
    NOT_READY,
    VOICE,
    Spy,
    leaks,
    logged_errors,
    total_runs,
    without_onboarding,
)
from tests.fakes.discord import FakeDiscord, poll_payload, sticker_item_payload, thread_payload, user_payload
from tests.fakes.discord.constants import FLAG_IS_VOICE_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS_THREAD = 700000000000000021
"""A thread a user opened in the guild (not one of the bot's project threads)."""


@dataclass
class Sent:
    """Where the bot answers an input: a channel's messages from index ``since`` on, or an
    interaction's responses."""

    channel_id: int | None = None
    since: int = 0
    interaction_id: int | None = None


@dataclass(frozen=True)
class Has:
    """The replies, together, contain every needle (several messages)."""

    needles: tuple[str, ...]


Send = Callable[["World", dict[str, Any]], Awaitable[Sent]]
"""Injects the input as ``user``: ``(world, user) -> where the bot answers``."""


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        id: Readable test id.
        send: Injects it.
        expect: The one reply (exact), :class:`Has` needles, or ``None`` (no reply, and for an
            interaction no response at all).
        runs: Agent runs it may start.
    """

    id: str
    send: Send
    expect: str | Has | None
    runs: int = 0


# ---------------------------------------------------------------------- how inputs are sent


def dm(content: str, *, attachment: Callable[[FakeDiscord], dict[str, Any]] | None = None, **extra: Any) -> Send:
    """A direct message (``extra``: ``stickers``, ``poll``, ``flags``)."""

    async def send(w: World, user: dict[str, Any]) -> Sent:
        atts = [attachment(w.dc)] if attachment else []
        msg = await w.dc.dm_message(int(user["id"]), content, atts, **extra)
        return Sent(int(msg["channel_id"]))  # a fresh user: the DM starts empty

    return send


def in_channel(content: str, *, mention: bool = False, channel_id: int = CHANNEL) -> Send:
    """A message in a guild channel (or thread), mentioning the bot or not."""

    async def send(w: World, user: dict[str, Any]) -> Sent:
        since = len(contents(w.dc, channel_id))
        await w.dc.message_create(channel_id, content, author=user, mentions_bot=mention)
        return Sent(channel_id, since)

    return send


def slash(name: str, *, options: list[dict[str, Any]] | None = None, clip: dict[str, Any] | None = None) -> Send:
    """A slash command in the shared channel; ``clip`` adds an attachment option ``clip``."""

    async def send(w: World, user: dict[str, Any]) -> Sent:
        opts = list(options or [])
        resolved = None
        if clip is not None:
            att = w.dc.add_attachment(clip["data"], filename=clip["name"], content_type=clip["type"])
            opts.append({"name": "clip", "type": 11, "value": str(att["id"])})
            resolved = [att]
        inter = await w.dc.interaction_create(
            name=name, channel_id=OTHER_CHANNEL, options=opts, user=user, resolved_attachments=resolved
        )
        return Sent(interaction_id=int(inter["id"]))

    return send


def press(custom_id: str) -> Send:
    """The user gets a plain bot message in their DM (``/help``), then presses a button with
    ``custom_id`` on it (a client can send any custom id)."""

    async def send(w: World, user: dict[str, Any]) -> Sent:
        uid = int(user["id"])
        msg = await w.dc.dm_message(uid, "/help")
        dm_id = int(msg["channel_id"])
        await w.dc.wait_until(lambda: bool(w.dc.bot_messages(dm_id)), timeout=20)
        target = w.dc.bot_messages(dm_id)[-1]
        inter = await w.dc.button_press(custom_id=custom_id, message_id=target["id"], channel_id=dm_id, user=user)
        return Sent(interaction_id=int(inter["id"]))

    return send


def from_bot(content: str) -> Send:
    """Another bot (a webhook relay, a spam bot) mentions ours in the channel."""

    async def send(w: World, user: dict[str, Any]) -> Sent:
        spam = user_payload(int(user["id"]) + 1, "spam-bot", bot=True)
        since = len(contents(w.dc, CHANNEL))
        await w.dc.message_create(CHANNEL, content, author=spam, mentions_bot=True)
        return Sent(CHANNEL, since)

    return send


def file(data: bytes, name: str, content_type: str | None) -> Callable[[FakeDiscord], dict[str, Any]]:
    return lambda dc: dc.add_attachment(data, filename=name, content_type=content_type)


def voice(dc: FakeDiscord) -> dict[str, Any]:
    return dc.add_voice_attachment(b"OggS\0\2" + bytes(3000))


def unsupported(name: str) -> str:
    return t("unsupported_files", "en", names=name, formats=FORMATS_LINE)


def link_refused(name: str) -> str:
    return t("link_refused", "en", name=name)


AGENT_CHAT = Has(("✅ Done in", "What would you like?"))
SKILLS = ", ".join(PROFILES)
ELEVEN_LINKS = " ".join(f"https://cdn{i}.example.org/{i}.mp4" for i in range(11))
EXE = {"data": b"MZ\x90\0" + bytes(500), "name": "setup.exe", "type": "application/x-msdownload"}

CASES = [
    # -- nothing in it
    Case("whitespace-only-dm", dm("   \t  "), EMPTY),
    Case("zero-width-only-dm", dm("\u200b\u2060\ufeff"), EMPTY),
    Case("bare-mention-in-channel", in_channel("", mention=True), EMPTY),
    Case("slash-edit-blank-prompt", slash("edit", options=[{"name": "prompt", "type": 3, "value": "   "}]), EMPTY),
    # -- things that are not media
    Case("sticker", dm("", stickers=[sticker_item_payload(749054660769218631, "Wave")]), NOT_MEDIA),
    Case("poll", dm("", poll=poll_payload("Lunch?", ("yes", "no"))), NOT_MEDIA),
    Case("voice-message", dm("", attachment=voice, flags=FLAG_IS_VOICE_MESSAGE), VOICE),
    # -- files nemobot cannot use
    Case("exe-attachment", dm("", attachment=file(EXE["data"], "setup.exe", EXE["type"])), unsupported("setup.exe")),
    Case("txt-attachment", dm("", attachment=file(b"my notes\n", "notes.txt", "text/plain")), unsupported("notes.txt")),
    Case(
        "zero-byte-attachment",
        dm("", attachment=file(b"", "empty.mp4", "video/mp4")),
        t("empty_file", "en", name="empty.mp4"),
    ),
    Case(
        "slash-edit-with-exe-clip",
        slash("edit", options=[{"name": "prompt", "type": 3, "value": "add music"}], clip=EXE),
        unsupported("setup.exe"),
    ),
    # -- links NemoVideo must never be asked to fetch
    Case("link-cloud-metadata", dm("http://169.254.169.254/latest/x.mp4"), link_refused("x.mp4")),
    Case("link-localhost", dm("http://localhost/x.mp4"), link_refused("x.mp4")),
    Case("link-ftp", dm("ftp://example.com/x.mp4"), link_refused("x.mp4")),
    Case("eleven-links", dm(ELEVEN_LINKS), t("too_many_links", "en", count=11, max=10)),
    # -- commands and text
    Case("unknown-command", dm("/foo"), t("unknown_command", "en", name="foo")),
    Case("export-text-before-any-clip", dm("/export"), NOT_READY),
    Case("slash-export-before-any-clip", slash("export"), NOT_READY),
    Case("slash-status-before-any-clip", slash("status"), NEED_SESSION),
    Case("skill-garbage-200-chars", dm("/skill " + "Z" * 200), t("skill_unknown", "en", name="Z" * 50, names=SKILLS)),
    Case(
        "slash-skill-outside-the-choices",
        slash("skill", options=[{"name": "name", "type": 3, "value": "rm -rf"}]),
        t("bad_option", "en"),
    ),
    Case("emoji-only", dm("🎬🔥💯🤖"), AGENT_CHAT, runs=1),
    # -- not for the bot
    Case("channel-chatter-without-mention", in_channel("anyone seen my charger?"), None),
    Case("chatter-in-a-users-own-thread", in_channel("/export", channel_id=USERS_THREAD), None),
    Case("another-bot-mentions-us", from_bot("/export"), None),
    # -- forged buttons
    Case("forged-custom-id", press("nemobot:../../admin"), None),
    Case("export-button-forged-on-a-plain-message", press("nemobot:export"), NOT_READY),
]
"""The catalog: 27 inputs."""


# ---------------------------------------------------------------------- the bot


@dataclass
class World:
    dc: FakeDiscord
    runtime: Runtime
    emu: Emulator
    spy: Spy
    numbers: itertools.count[int]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, emu: Emulator, spy: Spy) -> Any:
    tmp = tmp_path_factory.mktemp("discord")
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        async with FakeDiscord(files_dir=tmp / "dc-files") as dc:
            dc.add_guild(GUILD, channels=[CHANNEL, OTHER_CHANNEL])
            owner = dc.add_user(610000000000000001, "thread-owner")
            dc.channels[USERS_THREAD] = thread_payload(
                USERS_THREAD, GUILD, CHANNEL, owner_id=int(owner["id"]), name="my clips"
            )
            settings = dc_settings(emu, dc, tmp)
            async with open_runtime(settings, platform="discord") as runtime:
                apply_endpoints(settings)
                adapter = DiscordAdapter(runtime.engine, settings, guild_ready_timeout=0.05, ready_timeout_s=20)
                async with running(runtime, adapter):
                    yield World(dc, runtime, emu, spy, itertools.count(1))
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def replies_of(dc: FakeDiscord, sent: Sent) -> list[str]:
    if sent.interaction_id is not None:
        return interaction_texts(dc, sent.interaction_id)
    assert sent.channel_id is not None
    return contents(dc, sent.channel_id)[sent.since :]


async def settled(dc: FakeDiscord, quiet_s: float = 0.3, limit_s: float = 20.0) -> None:
    """Until the bot has made no REST call and the fake has recorded nothing for ``quiet_s``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s

    def mark() -> tuple[int, int]:
        return len(dc.calls), sum(len(v) for v in dc.interaction_responses.values())

    seen, since = mark(), loop.time()
    while loop.time() < end:
        await asyncio.sleep(0.05)
        if mark() != seen:
            seen, since = mark(), loop.time()
        elif loop.time() - since >= quiet_s:
            return


async def within(dc: FakeDiscord, predicate: Callable[[], bool], timeout: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await dc.wait_until(predicate, timeout=timeout)
        return True
    return False


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_input(world: World, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    dc = world.dc
    n = next(world.numbers)
    user = dc.add_user(620000000000000000 + n, f"user{n}")
    bystander = dc.add_user(630000000000000000 + n, f"bystander{n}")
    runs, urls = total_runs(world.emu), len(world.spy.urls)

    sent = await case.send(world, user)
    helped = await dc.dm_message(int(bystander["id"]), "/help")  # another user, meanwhile
    help_dm = int(helped["channel_id"])

    await within(dc, lambda: HELP in contents(dc, help_dm), 30)
    if isinstance(case.expect, Has):
        needles = case.expect.needles
        await within(dc, lambda: all(any(x in r for r in replies_of(dc, sent)) for x in needles), 60)
    elif case.expect is not None:
        await within(dc, lambda: bool(replies_of(dc, sent)), 60)
    await settled(dc)

    replies = without_onboarding(replies_of(dc, sent))
    if isinstance(case.expect, Has):
        missing = [x for x in case.expect.needles if not any(x in r for r in replies)]
        assert not missing, f"{case.id}: {missing} not in the replies {replies!r}"
    elif case.expect is None:
        assert replies == [], f"{case.id}: expected no reply, got {replies!r}"
        if sent.interaction_id is not None:
            answered = dc.interaction_responses.get(sent.interaction_id)
            assert not answered, f"{case.id}: the interaction was answered: {answered!r}"
    else:
        assert replies == [case.expect], f"{case.id}: expected only {case.expect!r}, got {replies!r}"
    found = leaks(replies, TOKEN, world.emu.url or "")
    assert not found, f"{case.id}: leaked {found} in {replies!r}"
    assert contents(dc, help_dm) == [HELP], f"{case.id}: bystander got {contents(dc, help_dm)!r}"
    assert total_runs(world.emu) - runs == case.runs, f"{case.id}: {total_runs(world.emu) - runs} agent runs"
    assert world.spy.urls[urls:] == [], f"{case.id}: NemoVideo was asked to fetch {world.spy.urls[urls:]}"
    assert not logged_errors(caplog.records), f"{case.id}: {logged_errors(caplog.records)}"
