"""Pure converters between discord.py objects and nemobot's boundary types.

Conversation keys follow the design notes: ``discord:<guild>/<channel>`` for a channel,
``discord:<guild>/<parent>/<thread>`` for a thread, ``discord:dm/<channel>`` for a DM.
Attachment CDN URLs are signed but hold no bot secret, so they go to NemoVideo as URL
uploads (design notes, platform facts); a streamed download is the fallback.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import discord

from bot.boundary import Attachment, Button, Content, ConversationKey, IncomingMessage, Scope
from bot.cleaning import clean_filename, clean_line
from bot.links import pasted
from bot.texts import t

PLATFORM = "discord"
CUSTOM_ID_PREFIX = "nemobot:"
MESSAGE_LIMIT = 2000

Opener = Callable[[str], Callable[[], AsyncIterator[bytes]]]


def conversation_key(channel: Any) -> ConversationKey:
    """The conversation of a channel, thread or DM (any discord.py messageable channel)."""
    if isinstance(channel, discord.Thread):
        return ConversationKey(
            platform=PLATFORM, chat_id=f"{channel.guild.id}/{channel.parent_id}", thread_id=str(channel.id)
        )
    guild = getattr(channel, "guild", None)
    if guild is None:
        return ConversationKey(platform=PLATFORM, chat_id=f"dm/{channel.id}")
    return ConversationKey(platform=PLATFORM, chat_id=f"{guild.id}/{channel.id}")


def mentions_bot(message: discord.Message, bot_id: int) -> bool:
    """The message mentions the bot user (not @everyone)."""
    return any(user.id == bot_id for user in message.mentions)


def text_of(content: str, bot_id: int) -> str:
    """Message content without the bot's mention (``<@id>`` / ``<@!id>``)."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content or "")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def attachment_of(att: discord.Attachment, opener: Opener) -> Attachment:
    """A Discord attachment as an engine :class:`Attachment`: URL upload first, streamed fallback."""
    return Attachment(
        filename=att.filename,
        content_type=att.content_type,
        size=att.size,
        public_url=att.url,
        open=opener(att.url),
    )


def locale_of(value: Any) -> str | None:
    """A discord.py ``Locale`` (or string) as a plain locale string, e.g. ``zh-CN``."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def unsupported_of(message: discord.Message) -> Content | None:
    """What a message holds that nemobot cannot edit: a voice message, a sticker or a poll."""
    if any(a.is_voice_message() for a in message.attachments):
        return Content.VOICE
    if message.stickers:
        return Content.STICKER
    if getattr(message, "poll", None) is not None:
        return Content.POLL
    return None


def message_to_incoming(
    message: discord.Message, *, bot_id: int, opener: Opener, channel: Any | None = None
) -> IncomingMessage:
    """One Discord message for the engine.

    Args:
        message: The message.
        bot_id: Our user id (its mention is stripped from the text).
        opener: Makes a streaming factory for an attachment URL.
        channel: The conversation's channel when it differs from the message's own (the
            thread the bot just created on it).
    """
    where = channel or message.channel
    text, links = pasted(text_of(message.content, bot_id))
    files = [a for a in message.attachments if not a.is_voice_message()]
    return IncomingMessage(
        conversation=conversation_key(where),
        sender=str(message.author),
        text=text,
        attachments=tuple(attachment_of(a, opener) for a in files) + links,
        unsupported=unsupported_of(message),
        message_id=str(message.id),
        locale=None,
        sender_id=str(message.author.id),
        scope=scope_of(where, bot_id),
        space_id=str(message.guild.id) if message.guild else None,
    )


def interaction_to_incoming(
    interaction: discord.Interaction,
    text: str,
    *,
    attachments: Sequence[discord.Attachment] = (),
    opener: Opener,
    bot_id: int = 0,
) -> IncomingMessage:
    """A slash command or button press for the engine (``text`` is e.g. ``/export``)."""
    return IncomingMessage(
        conversation=conversation_key(interaction.channel),
        sender=str(interaction.user),
        text=text,
        attachments=tuple(attachment_of(a, opener) for a in attachments),
        message_id=f"i:{interaction.id}",
        locale=locale_of(interaction.locale),
        sender_id=str(interaction.user.id),
        scope=scope_of(interaction.channel, bot_id),
        space_id=str(interaction.guild_id) if interaction.guild_id else None,
    )


def scope_of(channel: Any, bot_id: int) -> Scope:
    """DMs are private; a thread the bot opened is one person's project; other channels are shared."""
    if isinstance(channel, discord.DMChannel) or getattr(channel, "guild", None) is None:
        return Scope.PRIVATE
    if isinstance(channel, discord.Thread) and channel.owner_id == bot_id:
        return Scope.THREAD
    return Scope.GROUP


def thread_name(message: discord.Message) -> str:
    """A thread title from the message: the request (without the mention) or the first clip's name."""
    base = text_of(message.content, message.guild.me.id if message.guild and message.guild.me else 0)
    base = clean_line(re.sub(r"<[@#][!&]?\d+>", "", base))
    if not base and message.attachments:
        base = clean_filename(message.attachments[0].filename)
    base = base or t("discord.thread_name")
    return ("🎬 " + base)[:100]


def custom_id(button: Button) -> str:
    """The fixed custom id of a quick action button (persistent across restarts)."""
    return f"{CUSTOM_ID_PREFIX}{button.value}"


def command_of_custom_id(value: str | None) -> str | None:
    """``"nemobot:export"`` -> ``"/export"``; anything else -> ``None``."""
    button = Button.from_payload(value, CUSTOM_ID_PREFIX)
    return button.command if button else None
