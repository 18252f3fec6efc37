"""Discord converters on real discord.py objects built from raw payloads."""

from __future__ import annotations

import discord
import pytest

from adapters.discord.converters import (
    command_of_custom_id,
    conversation_key,
    custom_id,
    interaction_to_incoming,
    mentions_bot,
    message_to_incoming,
    text_of,
    thread_name,
)
from bot.boundary import Button
from tests.fakes.discord import (
    attachment_payload,
    command_data,
    dm_channel_payload,
    guild_payload,
    interaction_payload,
    message_payload,
    thread_payload,
    user_payload,
)

BOT_ID, GUILD, CHANNEL, THREAD, USER = (
    900000000000000001,
    700000000000000001,
    700000000000000011,
    710000000000000001,
    100000000000000001,
)


@pytest.fixture
async def state():
    client = discord.Client(intents=discord.Intents.default())
    st = client._connection
    st.user = discord.ClientUser(state=st, data=user_payload(BOT_ID, "nemobot", bot=True))
    guild = discord.Guild(
        data=guild_payload(
            GUILD, channels=[CHANNEL], bot_user=user_payload(BOT_ID, "nemobot", bot=True), preferred_locale="zh-CN"
        ),
        state=st,
    )
    st._add_guild(guild)
    yield st
    await client.close()


def opener(url):
    return lambda: None


def test_channel_thread_and_dm_keys(state):
    guild = state._get_guild(GUILD)
    channel = guild.get_channel(CHANNEL)
    assert str(conversation_key(channel)) == f"discord:{GUILD}/{CHANNEL}"
    thread = discord.Thread(
        guild=guild, state=state, data=thread_payload(THREAD, GUILD, CHANNEL, owner_id=BOT_ID, name="🎬 clip")
    )
    assert str(conversation_key(thread)) == f"discord:{GUILD}/{CHANNEL}/{THREAD}"
    dm = discord.DMChannel(me=state.user, state=state, data=dm_channel_payload(555, user_payload(USER)))
    assert str(conversation_key(dm)) == "discord:dm/555"


def test_message_with_mention_and_attachment(state):
    guild = state._get_guild(GUILD)
    channel = guild.get_channel(CHANNEL)
    att = attachment_payload(
        1, "bigbuckbunny.mp4", size=1_055_736, url="https://cdn.example/attachments/1/1/bigbuckbunny.mp4?ex=1&is=2&hm=3"
    )
    data = message_payload(
        42,
        CHANNEL,
        f"<@{BOT_ID}> add a ranked leaderboard overlay",
        author=user_payload(USER),
        guild_id=GUILD,
        attachments=[att],
        mentions=[user_payload(BOT_ID, "nemobot", bot=True)],
    )
    message = discord.Message(state=state, channel=channel, data=data)
    assert mentions_bot(message, BOT_ID)
    incoming = message_to_incoming(message, bot_id=BOT_ID, opener=opener)
    assert incoming.text == "add a ranked leaderboard overlay"
    [a] = incoming.attachments
    assert (a.filename, a.size, a.content_type) == ("bigbuckbunny.mp4", 1_055_736, "video/mp4")
    assert a.public_url.startswith("https://cdn.example/attachments/") and a.open is not None
    assert thread_name(message) == "🎬 add a ranked leaderboard overlay"


def test_interaction_to_incoming(state):
    channel = {"id": str(CHANNEL), "type": 0, "guild_id": str(GUILD), "name": "general"}
    payload = interaction_payload(
        77,
        "tok",
        application_id=BOT_ID,
        data=command_data("export", command_id=5, guild_id=GUILD),
        channel=channel,
        user=user_payload(USER),
        guild_id=GUILD,
        locale="zh-CN",
        attachment_size_limit=52428800,
    )
    interaction = discord.Interaction(data=payload, state=state)
    incoming = interaction_to_incoming(interaction, "/export", opener=opener)
    assert (incoming.text, incoming.locale, incoming.message_id) == ("/export", "zh-CN", "i:77")
    assert str(incoming.conversation) == f"discord:{GUILD}/{CHANNEL}"
    assert interaction.filesize_limit == 52428800


def test_text_and_custom_ids():
    assert text_of(f"<@!{BOT_ID}>   status", BOT_ID) == "status"
    assert custom_id(Button.EXPORT) == "nemobot:export"
    assert command_of_custom_id("nemobot:status") == "/status"
    assert command_of_custom_id("nemobot:drop-table") is None and command_of_custom_id("other:export") is None
