"""The fake Discord against a real discord.py 2.7 client: payloads, gateway, REST and CDN."""

from __future__ import annotations

import io
import time

import aiohttp
import discord
import pytest

from tests.fakes.discord import (
    BOT_PERMISSIONS,
    FakeDiscord,
    MiB,
    attachment_payload,
    command_data,
    guild_payload,
    interaction_payload,
    message_payload,
    text_channel_payload,
    upload_limit,
    user_payload,
)
from tests.fakes.discord_client import (
    ANA,
    BIKES,
    CH0,
    CH2,
    CH2B,
    GUILD0,
    GUILD2,
    GUILD3,
    TOKEN,
    Bot,
    running,
)

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
        await fake.message_create(CH2, "hi there")
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
