"""The fake Discord against a real discord.py 2.7 client (REST, gateway, interactions, CDN)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

with warnings.catch_warnings():
    # discord.py 2.7 imports the stdlib audioop (deprecated since 3.11) for voice; pyproject turns
    # warnings into errors, so the import itself would fail.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.fakes.discord_api import (
    BOT_PERMISSIONS,
    FLAG_LOADING,
    FakeDiscord,
    MiB,
    attachment_payload,
    command_data,
    guild_payload,
    interaction_payload,
    message_payload,
    patched_discord,
    text_channel_payload,
    upload_limit,
    user_payload,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BIKES = FIXTURES / "bikes.mp4"
TOKEN = "fake-bot-token.Xy_1234567890"
ANA = 100000000000000101
GUILD0, CH0 = 200000000000000000, 200000000000000001
GUILD2, CH2, CH2B = 300000000000000000, 300000000000000001, 300000000000000002
GUILD3, CH3 = 400000000000000000, 400000000000000001
CANCEL_ID = "nemobot:cancel"


class CancelView(discord.ui.View):
    """A persistent view: one button with a fixed custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.danger, custom_id=CANCEL_ID)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_message("Cancelled.", ephemeral=True)


class Bot(discord.Client):
    """A small bot shaped like nemobot's Discord adapter."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[discord.Message] = []
        self.own: list[discord.Message] = []
        self.downloads: dict[int, bytes] = {}
        self.interactions: list[discord.Interaction] = []
        self.errors: list[BaseException] = []
        self.reply_file: Path | None = None

        @self.tree.command(name="edit", description="Edit a clip")
        @app_commands.describe(prompt="What to do", video="The clip")
        async def edit(interaction: discord.Interaction, prompt: str, video: discord.Attachment | None = None) -> None:
            self.interactions.append(interaction)
            await interaction.response.defer(thinking=True)
            name = video.filename if video else "nothing"
            await interaction.edit_original_response(content=f"Editing {name}: {prompt}", view=CancelView())

        @self.tree.command(name="render", description="Render and upload")
        async def render(interaction: discord.Interaction) -> None:
            self.interactions.append(interaction)
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("Done", file=discord.File(BIKES))
            await interaction.followup.send("Anything else?")

        @self.tree.error
        async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
            self.errors.append(error)

    async def setup_hook(self) -> None:
        self.add_view(CancelView())

    async def on_error(self, event: str, *args: object, **kwargs: object) -> None:
        self.errors.append(sys.exc_info()[1])  # type: ignore[arg-type]

    async def on_message(self, message: discord.Message) -> None:
        assert self.user is not None
        if message.author.id == self.user.id:
            self.own.append(message)
            return
        self.seen.append(message)
        if message.guild is None:
            await message.channel.send(f"Hi {message.author.name}")
        elif self.user in message.mentions and message.attachments:
            self.downloads[message.id] = await message.attachments[0].read()
            thread = await message.create_thread(name="Clip edit", auto_archive_duration=60)
            if self.reply_file is not None:
                await thread.send("On it", file=discord.File(self.reply_file))
            else:
                await thread.send("On it")


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(files_dir=tmp_path / "discord") as dc:
        dc.add_user(ANA, "ana")
        dc.add_guild(GUILD0, name="Plain", premium_tier=0, channels=[CH0])
        dc.add_guild(GUILD2, name="Boosted", premium_tier=2, channels=[CH2, CH2B])
        dc.add_guild(GUILD3, name="Max", premium_tier=3, channels=[CH3])
        yield dc


async def _until(condition, task: asyncio.Task, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if task.done():
            task.result()
            raise RuntimeError("the client stopped")
        if time.monotonic() > deadline:
            raise TimeoutError("client not ready")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, bot: Bot | None = None) -> AsyncIterator[Bot]:
    """Start a real client against the fake; close it cleanly afterwards."""
    bot = bot or Bot()
    async with patched_discord(fake):
        task = asyncio.create_task(bot.start(TOKEN))
        try:
            await _until(lambda: fake.connected, task)
            await _until(bot.is_ready, task)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
    assert not bot.errors, bot.errors


# ---------------------------------------------------------------------- payload builders


async def test_payload_builders_make_real_discord_objects() -> None:
    client = discord.Client(intents=discord.Intents.default())
    state = client._connection
    bot = user_payload(900000000000000001, "nemobot", bot=True)
    ana = user_payload(ANA, "ana")
    state.user = discord.ClientUser(state=state, data=bot)  # what login does
    for tier, limit in [(0, 10 * MiB), (1, 10 * MiB), (2, 50 * MiB), (3, 100 * MiB)]:
        guild = discord.Guild(data=guild_payload(GUILD2 + tier, premium_tier=tier, bot_user=bot), state=state)
        assert guild.filesize_limit == limit == upload_limit(tier)
    guild = discord.Guild(data=guild_payload(GUILD2, premium_tier=2, channels=[CH2, CH2B], bot_user=bot), state=state)
    state._add_guild(guild)
    channel = guild.get_channel(CH2)
    assert isinstance(channel, discord.TextChannel) and channel.name == "general"
    assert guild.get_role(GUILD2).is_default() and guild.me.bot
    assert guild.me.guild_permissions.attach_files and guild.me.guild_permissions.create_public_threads
    attachment = attachment_payload(
        555,
        "clip.mp4",
        size=1234,
        url="http://127.0.0.1:1/attachments/1/555/clip.mp4?ex=1&is=2&hm=3&",
        content_type="video/mp4",
        width=640,
        height=360,
    )
    data = message_payload(
        777, CH2, "<@900000000000000001> cut it", author=ana, guild_id=GUILD2, attachments=[attachment], mentions=[bot]
    )
    message = discord.Message(state=state, channel=channel, data=data)
    assert message.content == "<@900000000000000001> cut it"
    assert isinstance(message.author, discord.Member) and message.author.name == "ana"
    assert message.raw_mentions == [900000000000000001]
    (att,) = message.attachments
    assert (att.id, att.filename, att.size, att.content_type, att.width, att.height) == (
        555,
        "clip.mp4",
        1234,
        "video/mp4",
        640,
        360,
    )

    inter_data = command_data(
        "edit",
        command_id=42,
        options=[{"name": "prompt", "type": 3, "value": "trim"}, {"name": "video", "type": 11, "value": "555"}],
        resolved_attachments=[attachment],
        guild_id=GUILD2,
    )
    payload = interaction_payload(
        888,
        "tok",
        application_id=900000000000000001,
        data=inter_data,
        channel=text_channel_payload(CH2, GUILD2),
        user=ana,
        guild_id=GUILD2,
        guild_locale="de",
        app_permissions=BOT_PERMISSIONS,
        locale="fr",
        attachment_size_limit=upload_limit(2),
    )
    interaction = discord.Interaction(data=payload, state=state)
    assert interaction.filesize_limit == 50 * MiB
    assert interaction.channel is channel and interaction.guild is guild
    assert isinstance(interaction.user, discord.Member) and interaction.user.id == ANA
    assert interaction.app_permissions.attach_files and interaction.app_permissions.create_public_threads
    assert (interaction.locale, interaction.guild_locale) == (discord.Locale.french, discord.Locale.german)
    assert interaction.data["resolved"]["attachments"]["555"]["filename"] == "clip.mp4"

    dm = interaction_payload(
        889,
        "tok2",
        application_id=1,
        data=command_data("edit", command_id=42),
        channel={"id": "5", "type": 1, "recipients": [ana], "last_message_id": None, "flags": 0},
        user=ana,
    )
    dm_interaction = discord.Interaction(data=dm, state=state)
    assert dm_interaction.guild is None and dm_interaction.user.id == ANA
    assert dm_interaction.filesize_limit == 10 * MiB
    await client.close()


# ---------------------------------------------------------------------- through a real client


async def test_ready_guilds_permissions_and_command_sync(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        assert fake.gateway_connections == [{"v": "10", "encoding": "json", "compress": "zlib-stream"}]
        assert fake.identify is not None and fake.identify["token"] == "<redacted>"
        assert fake.identify["intents"] == bot.intents.value and bot.intents.message_content
        assert fake.heartbeats >= 1  # discord.py beats right after HELLO
        assert {g.id: g.filesize_limit for g in bot.guilds} == {
            GUILD0: 10 * MiB,
            GUILD2: 50 * MiB,
            GUILD3: 100 * MiB,
        }
        guild = bot.get_guild(GUILD2)
        assert guild is not None and [c.id for c in guild.text_channels] == [CH2, CH2B]
        perms = guild.get_channel(CH2).permissions_for(guild.me)
        assert perms.send_messages and perms.create_public_threads and perms.attach_files
        assert perms.embed_links and perms.send_messages_in_threads and not perms.administrator
        assert bot.application_id == fake.application_id

        bot.tree.copy_global_to(guild=discord.Object(GUILD2))
        synced = await bot.tree.sync(guild=discord.Object(GUILD2))
        assert [c.name for c in synced] == ["edit", "render"]
        sent = fake.synced_commands[GUILD2]
        assert [c["name"] for c in sent] == ["edit", "render"]
        assert [o["name"] for o in sent[0]["options"]] == ["prompt", "video"]
        assert sent[0]["options"][1]["type"] == 11 and sent[0]["description"] == "Edit a clip"
        assert len({c.id for c in synced}) == 2
        assert fake.calls_to("PUT", "/applications/{app}/guilds/{guild}/commands")[0].ok

    rest = [c for c in fake.calls]
    assert [c.path for c in rest[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert all(c.authorized for c in rest)
    recorded = repr(fake.calls) + repr(fake.identify) + repr(fake.dispatched)
    assert TOKEN not in recorded


async def test_mention_with_attachment_starts_thread_and_posts_a_file(fake: FakeDiscord) -> None:
    clip = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
    async with running(fake) as bot:
        bot.reply_file = BIKES
        attachment = fake.add_attachment(clip, filename="clip.mp4")
        sent = await fake.message_create(CH2, "make it pop", attachments=[attachment], mentions_bot=True)
        message_id = int(sent["id"])
        assert sent["content"].startswith(f"<@{fake.bot_id}>")
        await fake.wait_until(lambda: fake.threads and fake.messages.get(fake.threads[0]["id"]))
        thread_record = fake.threads[0]
        assert thread_record["message_id"] == message_id == thread_record["id"]
        assert (thread_record["parent_id"], thread_record["name"], thread_record["auto_archive_duration"]) == (
            CH2,
            "Clip edit",
            60,
        )
        assert bot.downloads[message_id] == clip  # attachment.read() through the fake CDN
        assert bot.seen[0].attachments[0].content_type == "video/mp4"

        (posted,) = fake.messages[thread_record["id"]]
        assert posted["content"] == "On it"
        assert posted["attachments"][0].read_bytes() == BIKES.read_bytes()
        (upload,) = fake.uploaded
        assert (upload.filename, upload.content_type, upload.size) == ("bikes.mp4", "video/mp4", BIKES.stat().st_size)
        (call,) = fake.calls_to("POST", "/channels/{id}/messages")
        assert call.path == f"/channels/{thread_record['id']}/messages" and call.files[0].field == "files[0]"
        assert call.json["attachments"] == [{"id": 0, "filename": "bikes.mp4"}]

        # THREAD_CREATE and the bot's own MESSAGE_CREATE reached the client
        await fake.wait_until(lambda: bot.own)
        thread = bot.get_channel(thread_record["id"])
        assert isinstance(thread, discord.Thread) and thread.parent_id == CH2 and thread.owner_id == fake.bot_id
        assert bot.own[0].channel.id == thread.id
        assert await bot.own[0].attachments[0].read() == BIKES.read_bytes()
        assert fake.message(message_id)["thread"]["id"] == str(message_id)


async def test_slash_command_defers_edits_original_and_button_updates_it(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        await bot.tree.sync()
        assert [c["name"] for c in fake.synced_commands[None]] == ["edit", "render"]
        attachment = fake.add_attachment(b"video-bytes", filename="clip.mp4")
        payload = await fake.interaction_create(
            name="edit",
            options=[
                {"name": "prompt", "type": 3, "value": "trim"},
                {"name": "video", "type": 11, "value": attachment["id"]},
            ],
            channel_id=CH2,
            resolved_attachments=[attachment],
        )
        iid = int(payload["id"])
        await fake.wait_until(lambda: len(fake.interaction_responses.get(iid, [])) >= 2)
        callback, edit = fake.interaction_responses[iid]
        assert (callback["kind"], callback["type"], edit["kind"]) == ("callback", 5, "edit_original")
        assert fake.calls_to("POST", "/interactions/{id}/{token}/callback")[0].query == {"with_response": "1"}
        (record,) = fake.bot_messages(CH2)
        assert record["interaction_id"] == iid and record["id"] == callback["message_id"] == edit["message_id"]
        assert record["content"] == "Editing clip.mp4: trim" and not record["flags"] & FLAG_LOADING
        assert record["components"][0]["components"][0]["custom_id"] == CANCEL_ID
        interaction = bot.interactions[0]
        assert interaction.filesize_limit == 50 * MiB and interaction.guild_id == GUILD2

        press = await fake.button_press(custom_id=CANCEL_ID, message_id=record["id"], channel_id=CH2)
        await fake.wait_until(lambda: int(press["id"]) in fake.interaction_responses)
        (answer,) = fake.interaction_responses[int(press["id"])]
        assert (answer["type"], answer["data"]["content"]) == (4, "Cancelled.")
        _, cancelled = fake.bot_messages(CH2)
        assert (
            cancelled["ephemeral"]
            and cancelled["content"] == "Cancelled."
            and cancelled["interaction_id"] == int(press["id"])
        )
        assert not [m for m in bot.own if m.id == cancelled["id"]]  # ephemeral: not on the gateway
        assert [e.get("content") for e in record["edits"]] == ["Editing clip.mp4: trim"]

        fake.expire_interaction_tokens()
        with pytest.raises(discord.HTTPException) as caught:
            await interaction.edit_original_response(content="too late")
        assert (caught.value.status, caught.value.code) == (401, 50027)
        # after the token expired, the channel route still edits the (non-ephemeral) reply
        await bot.get_channel(CH2).get_partial_message(record["id"]).edit(content="Still here.")
        assert record["content"] == "Still here."


async def test_followups_after_defer_replace_the_thinking_message_and_respect_the_limit(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        payload = await fake.interaction_create(name="render", channel_id=CH0)
        iid = int(payload["id"])
        await fake.wait_until(lambda: len(fake.interaction_responses.get(iid, [])) >= 3)
        kinds = [e["kind"] for e in fake.interaction_responses[iid]]
        assert kinds == ["callback", "followup", "followup"]
        callback, first, second = fake.interaction_responses[iid]
        assert first["message_id"] == callback["message_id"] != second["message_id"]
        original, extra = fake.bot_messages(CH0)
        assert original["content"] == "Done" and original["attachments"][0].read_bytes() == BIKES.read_bytes()
        assert extra["content"] == "Anything else?"
        assert fake.calls_to("POST", "/webhooks/{app}/{token}")[0].query["wait"] == "1"

        small = await fake.interaction_create(name="render", channel_id=CH0, attachment_size_limit=100_000)
        await fake.wait_until(lambda: bot.errors)
        error = bot.errors.pop()
        assert isinstance(error.original, discord.HTTPException)
        assert (error.original.status, error.original.code) == (413, 40005)
        assert bot.interactions[-1].filesize_limit == 100_000 and bot.interactions[-1].id == int(small["id"])


async def test_dm_message_gets_a_reply(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        sent = await fake.dm_message(ANA, "hello bot")
        dm_id = int(sent["channel_id"])
        assert "guild_id" not in sent and fake.channel(dm_id)["type"] == 1
        await fake.wait_until(lambda: fake.messages.get(dm_id))
        assert fake.messages[dm_id][0]["content"] == "Hi ana"
        assert isinstance(bot.seen[0].channel, discord.DMChannel) and bot.seen[0].guild is None


async def test_rate_limits_are_retried_by_discord_py_and_503_surfaces(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        channel = bot.get_channel(CH2)
        fake.fail("POST", "/channels/{id}/messages", times=1, retry_after=0.2)
        started = time.monotonic()
        message = await channel.send("hello")
        assert time.monotonic() - started >= 0.2
        assert message.content == "hello"
        assert [c.status for c in fake.calls_to("POST", "/channels/{id}/messages")] == [429, 200]
        assert fake.calls_to("POST", "/channels/{id}/messages")[0].response["retry_after"] == 0.2

        fake.fail("POST", "/channels/{id}/messages", status=503)
        with pytest.raises(discord.DiscordServerError):
            await channel.send("again")
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x" * 2001)
        assert (caught.value.status, caught.value.code) == (400, 50035)
        assert [m["content"] for m in fake.bot_messages(CH2)] == ["hello"]


async def test_upload_over_the_tier_limit_is_a_413(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        over = 10 * MiB + 1
        with pytest.raises(discord.HTTPException) as caught:
            await bot.get_channel(CH0).send(file=discord.File(io.BytesIO(bytes(over)), filename="big.mp4"))
        assert (caught.value.status, caught.value.code) == (413, 40005)
        assert fake.calls_to("POST", "/channels/{id}/messages")[-1].status == 413
        assert fake.uploaded == [] and fake.bot_messages(CH0) == []

        await bot.get_channel(CH0).send(file=discord.File(io.BytesIO(bytes(10 * MiB)), filename="fits.mp4"))
        await bot.get_channel(CH2).send(file=discord.File(io.BytesIO(bytes(over)), filename="boosted.mp4"))
        assert [(u.filename, u.size) for u in fake.uploaded] == [("fits.mp4", 10 * MiB), ("boosted.mp4", over)]


async def test_reconnect_resumes_and_replays_missed_events(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        await fake.disconnect_clients()
        missed = await fake.message_create(CH2, "while you were away", mentions_bot=True)
        await fake.wait_until(lambda: fake.resumes == 1 and bot.seen)
        assert bot.seen[0].id == int(missed["id"])
        assert len(fake.gateway_connections) == 2
        assert [t for t, _ in fake.dispatched].count("READY") == 1
        await fake.message_create(CH2, "after", mentions_bot=True)
        await fake.wait_until(lambda: len(bot.seen) == 2)


async def test_message_content_intent(fake: FakeDiscord) -> None:
    async with running(fake, Bot(message_content=False)) as bot:
        attachment = fake.add_attachment(b"x", filename="a.mp4")
        await fake.message_create(CH2, "plain", attachments=[attachment])
        await fake.message_create(CH2, "to the bot", mentions_bot=True)
        await fake.dm_message(ANA, "private")
        await fake.wait_until(lambda: len(bot.seen) == 3)
        plain, mention, dm = bot.seen
        assert (plain.content, plain.attachments) == ("", [])
        assert mention.content.endswith("to the bot") and dm.content == "private"


async def test_raw_rest_edges_and_cdn(fake: FakeDiscord) -> None:
    attachment = fake.add_attachment(BIKES, filename="bikes.mp4")
    api = fake.api_url
    auth = {"Authorization": "Bot whatever"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api}/users/@me") as resp:
            assert resp.status == 401 and await resp.json() == {"message": "401: Unauthorized", "code": 0}
        async with http.get(f"{api}/users/@me", headers=auth) as resp:
            assert resp.status == 200 and (await resp.json())["bot"] is True
            assert resp.headers["Via"] == "1.1 google" and resp.headers["Content-Type"] == "application/json"
            assert int(resp.headers["X-RateLimit-Remaining"]) < int(resp.headers["X-RateLimit-Limit"])
            assert resp.headers["X-RateLimit-Bucket"]
        async with http.get(f"{api}/nope", headers=auth) as resp:
            assert resp.status == 404 and await resp.json() == {"message": "404: Not Found", "code": 0}
        for route in ("/gateway/bot", f"/channels/{CH0}/messages/1/reactions/x/@me", f"/guilds/{GUILD0}"):
            async with http.get(f"{api}{route}", headers=auth) as resp:  # routes nemobot never calls
                assert resp.status in (404, 405)
        async with http.post(f"{api}/channels/{CH0}/messages", json={}, headers=auth) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50006
        async with http.post(f"{api}/channels/1/messages", json={"content": "x"}, headers=auth) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 10003
        async with http.get(attachment["url"]) as resp:
            assert resp.status == 200 and await resp.read() == BIKES.read_bytes()
            assert resp.headers["Content-Type"] == "video/mp4"
        async with http.get(attachment["proxy_url"]) as resp:
            assert resp.status == 200
        async with http.get(attachment["url"].replace("hm=", "hm=0")) as resp:
            assert resp.status == 404 and await resp.text() == "This content is no longer available."
    assert [c.authorized for c in fake.calls_to("GET", "/users/@me")] == [False, True]
    assert fake.calls_to("*", "/channels/{id}/messages")[0].json == {}
    with pytest.raises(RuntimeError, match="no gateway client"):
        await fake.message_create(CH0, "nobody listens")


async def test_rest_messages_threads_and_errors(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        user_message = await fake.message_create(CH2, "hi there")
        await fake.wait_until(lambda: bot.seen)
        original = bot.seen[0]
        channel = original.channel
        async with channel.typing():
            pass
        sent = await channel.send("first", file=discord.File(io.BytesIO(b"one"), filename="one.txt"))
        (record,) = fake.bot_messages(CH2)
        assert record["files"][0].content_type == "text/plain" and record["attachments"][0].read_bytes() == b"one"

        two = discord.File(io.BytesIO(b"two"), filename="two.txt")
        edited = await sent.edit(content="second", attachments=[*sent.attachments, two])
        assert [a.filename for a in edited.attachments] == ["one.txt", "two.txt"]
        assert [p.read_bytes() for p in record["attachments"]] == [b"one", b"two"]
        edited = await edited.edit(content="third", view=None)  # what nemobot's edits send
        assert [a.filename for a in edited.attachments] == ["one.txt", "two.txt"]
        edited = await edited.edit(attachments=[])
        assert edited.content == "third" and edited.attachments == [] and record["attachments"] == []
        assert record["content"] == "third" and len(record["edits"]) == 3
        await fake.wait_until(lambda: [m.id for m in bot.own] == [sent.id])
        assert [t for t, _ in fake.dispatched].count("MESSAGE_UPDATE") == 3

        with pytest.raises(discord.Forbidden) as caught:
            await original.edit(content="not mine")
        assert caught.value.code == 50005
        thread = await original.create_thread(name="once", auto_archive_duration=60)
        assert isinstance(thread, discord.Thread) and thread.id == original.id and thread.owner_id == fake.bot_id
        assert fake.message(original.id)["thread"]["id"] == str(original.id)
        with pytest.raises(discord.HTTPException) as caught:
            await original.create_thread(name="twice")
        assert (caught.value.status, caught.value.code) == (400, 160004)
        another = await fake.message_create(CH2B, "another")
        with pytest.raises(discord.HTTPException) as caught:
            await bot.get_channel(CH2B).get_partial_message(int(another["id"])).create_thread(name="x" * 101)
        assert (caught.value.status, caught.value.code) == (400, 50035)

        assert (await bot.fetch_channel(thread.id)).name == "once"
        with pytest.raises(discord.NotFound):
            await thread.fetch_member(ANA)
        await thread.add_user(discord.Object(ANA))
        assert (await thread.fetch_member(ANA)).id == ANA and fake.thread_members[thread.id] == {fake.bot_id, ANA}
        assert len(fake.calls_to("POST", "/channels/{id}/typing")) == 1


async def test_late_guild_buttons_and_interaction_rules(fake: FakeDiscord) -> None:
    new_guild, new_channel = 500000000000000000, 500000000000000001
    async with running(fake) as bot:
        fake.add_guild(new_guild, name="Later", premium_tier=1, channels=[new_channel])
        await fake.wait_until(lambda: bot.get_guild(new_guild) is not None)
        assert bot.get_guild(new_guild).filesize_limit == 10 * MiB
        posted = await bot.get_channel(new_channel).send("Pick one", view=CancelView())

        # a button nobody handles: answer it by hand to check Discord's rules
        ignored = await fake.button_press(custom_id="nobody", message_id=posted.id, channel_id=new_channel)
        other = await fake.button_press(custom_id="nobody", message_id=posted.id, channel_id=new_channel)
        url = f"{fake.api_url}/interactions/{ignored['id']}/{ignored['token']}/callback"
        hook = f"{fake.api_url}/webhooks/{fake.application_id}/{ignored['token']}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{hook}?wait=true", json={"content": "early"}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10015
            async with http.post(url, json={"type": 5}) as resp:  # no ?with_response: 204
                assert resp.status == 204 and fake.bot_messages(new_channel)[-1]["flags"] & FLAG_LOADING
            async with http.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == 40060
            other_url = f"{fake.api_url}/interactions/{other['id']}/{other['token']}/callback"
            async with http.post(other_url, json={"type": 8, "data": {"choices": []}}) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == 50035  # autocomplete type
            async with http.post(other_url, json={"type": 7, "data": {"content": "x"}}) as resp:
                assert resp.status == 400 and "does not emulate" in (await resp.json())["message"]
            async with http.post(f"{hook}?wait=true", json={"content": "later"}) as resp:
                body = await resp.json()  # the first follow-up replaces the "thinking" message
                assert resp.status == 200 and body["content"] == "later" and not body["flags"] & FLAG_LOADING
            async with http.post(f"{hook}?wait=true", json={"content": "more"}) as resp:
                more = await resp.json()
                assert resp.status == 200 and more["id"] != body["id"]
            async with http.patch(f"{hook}/messages/{more['id']}", json={"content": "more!"}) as resp:
                assert resp.status == 200 and (await resp.json())["content"] == "more!"
            async with http.patch(f"{hook}/messages/{posted.id}", json={"content": "x"}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10008  # not this interaction's
            fake.expire_interaction_tokens(int(ignored["id"]))
            async with http.patch(f"{hook}/messages/@original", json={"content": "x"}) as resp:
                assert resp.status == 401 and await resp.json() == {"message": "Invalid Webhook Token", "code": 50027}
            fake.expire_interaction_tokens()
            async with http.post(other_url, json={"type": 5}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10062
        kinds = [e["kind"] for e in fake.interaction_responses[int(ignored["id"])]]
        assert kinds == ["callback", "followup", "followup", "edit"]
        assert [m["content"] for m in fake.bot_messages(new_channel)] == ["Pick one", "later", "more!"]
