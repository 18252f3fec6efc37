"""Builders of Discord API objects as JSON dicts: users, members, attachments, messages and
interactions, shaped as Discord sends them (API v10) and as discord.py 2.7 parses them.

Pure functions, no fake state: the fake uses them for what it sends, and converter tests
build real discord.py objects from them (``discord.Message(state=..., channel=..., data=...)``).
Guild-side objects (roles, channels, threads, guilds) are in
:mod:`tests.fakes.discord.guild_payloads`.
"""

from __future__ import annotations

import copy
import datetime
import time
from collections.abc import Sequence
from typing import Any

from tests.fakes.discord.constants import BOT_PERMISSIONS, DEFAULT_UPLOAD_LIMIT, DISCORD_EPOCH_MS, EVERYONE_PERMISSIONS


def snowflake(when: float | None = None, increment: int = 0) -> int:
    """A Discord snowflake for a Unix time (now by default).

    Args:
        when: Seconds since the Unix epoch.
        increment: Low 12 bits, to tell apart ids made in the same millisecond.
    """
    ms = int((time.time() if when is None else when) * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | (increment & 0xFFF)


def iso_time(when: float | None = None) -> str:
    """An ISO-8601 timestamp as Discord writes them (``2024-01-01T00:00:00.000000+00:00``)."""
    moment = datetime.datetime.fromtimestamp(time.time() if when is None else when, datetime.UTC)
    return moment.isoformat(timespec="microseconds")


def user_payload(user_id: int, name: str = "ana", *, bot: bool = False, global_name: str | None = None) -> dict:
    """A Discord ``User`` object.

    Args:
        user_id: Snowflake.
        name: Username (also the display name unless ``global_name``).
        bot: Whether it is a bot account.
        global_name: Display name; ``name`` capitalised by default (``None`` for bots).
    """
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None if bot else (global_name or name.capitalize()),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
    }


def member_payload(
    user: dict | None = None,
    *,
    roles: Sequence[int] = (),
    joined_at: str | None = None,
    permissions: int | None = None,
    nick: str | None = None,
) -> dict:
    """A guild ``Member`` object (``user`` omitted for the partial member of MESSAGE_CREATE).

    Args:
        user: The member's user object, or ``None`` for a partial member.
        roles: Role ids (``@everyone`` is implicit, as on Discord).
        joined_at: ISO timestamp; now by default.
        permissions: Permissions in the channel (interaction members carry them).
        nick: Guild nickname.
    """
    member: dict[str, Any] = {
        "roles": [str(r) for r in roles],
        "joined_at": joined_at or iso_time(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "nick": nick,
        "avatar": None,
        "banner": None,
        "flags": 0,
        "communication_disabled_until": None,
        "avatar_decoration_data": None,
    }
    if user is not None:
        member["user"] = user
    if permissions is not None:
        member["permissions"] = str(permissions)
    return member


def attachment_payload(
    attachment_id: int,
    filename: str,
    *,
    size: int,
    url: str,
    proxy_url: str | None = None,
    content_type: str | None = "video/mp4",
    width: int | None = None,
    height: int | None = None,
    duration_secs: float | None = None,
    description: str | None = None,
    waveform: str | None = None,
) -> dict:
    """A message ``Attachment`` object.

    Args:
        attachment_id: Snowflake.
        filename: File name.
        size: Size in bytes as Discord reports it.
        url: Signed CDN URL.
        proxy_url: Media-proxy URL (``url`` by default).
        content_type: MIME type (``None`` to omit).
        width: Pixels (images and videos).
        height: Pixels (images and videos).
        duration_secs: Voice-message duration.
        description: Alt text.
        waveform: Voice-message waveform (base64); with ``duration_secs`` it makes
            discord.py's ``Attachment.is_voice_message()`` true.
    """
    attachment: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": proxy_url or url,
        "flags": 0,
    }
    if content_type is not None:
        attachment["content_type"] = content_type
    if width is not None and height is not None:
        attachment["width"] = width
        attachment["height"] = height
        attachment["placeholder_version"] = 1
    if duration_secs is not None:
        attachment["duration_secs"] = duration_secs
    if description is not None:
        attachment["description"] = description
    if waveform is not None:
        attachment["waveform"] = waveform
    return attachment


def message_payload(
    message_id: int,
    channel_id: int,
    content: str = "",
    *,
    author: dict,
    guild_id: int | None = None,
    member: dict | None = None,
    attachments: Sequence[dict] = (),
    mentions: Sequence[dict] = (),
    embeds: Sequence[dict] = (),
    components: Sequence[dict] = (),
    type: int = 0,
    flags: int = 0,
    message_reference: dict | None = None,
    referenced_message: dict | None = None,
    webhook_id: int | None = None,
    application_id: int | None = None,
    interaction_metadata: dict | None = None,
    nonce: str | int | None = None,
    tts: bool = False,
    timestamp: str | None = None,
    edited_timestamp: str | None = None,
    sticker_items: Sequence[dict] = (),
    poll: dict | None = None,
) -> dict:
    """A ``Message`` object as MESSAGE_CREATE and the REST API carry it.

    Args:
        message_id: Snowflake.
        channel_id: Channel (or thread) id.
        content: Text.
        author: The author's user object.
        guild_id: Guild, ``None`` in DMs.
        member: The author's partial member (in guilds a default one is made).
        attachments: Attachment objects.
        mentions: Mentioned user objects (in guilds each gets a ``member``).
        embeds: Embed objects.
        components: Component objects (action rows).
        type: Message type (0 default, 19 reply, 20 chat-input command).
        flags: Message flags.
        message_reference: Reply/forward reference.
        referenced_message: The replied-to message object.
        webhook_id: For webhook and interaction messages.
        application_id: For interaction messages.
        interaction_metadata: For interaction messages.
        nonce: Client nonce.
        tts: Text to speech.
        timestamp: ISO send time (now by default).
        edited_timestamp: ISO edit time.
        sticker_items: Sticker items (:func:`sticker_item_payload`); left out when empty.
        poll: A poll object (:func:`poll_payload`); left out when ``None``.
    """
    message: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": type,
        "content": content,
        "author": author,
        "timestamp": timestamp or iso_time(),
        "edited_timestamp": edited_timestamp,
        "tts": tts,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [dict(a) for a in attachments],
        "embeds": [dict(e) for e in embeds],
        "components": [copy.deepcopy(c) for c in components],
        "pinned": False,
        "flags": flags,
    }
    if guild_id is not None:
        message["guild_id"] = str(guild_id)
        message["member"] = member if member is not None else member_payload()
        message["mentions"] = [{**m, "member": member_payload()} if "member" not in m else m for m in mentions]
    else:
        message["mentions"] = [dict(m) for m in mentions]
    if message_reference is not None:
        message["message_reference"] = message_reference
        message["referenced_message"] = referenced_message
    if webhook_id is not None:
        message["webhook_id"] = str(webhook_id)
    if application_id is not None:
        message["application_id"] = str(application_id)
    if interaction_metadata is not None:
        message["interaction_metadata"] = interaction_metadata
    if nonce is not None:
        message["nonce"] = nonce
    if sticker_items:
        message["sticker_items"] = [dict(s) for s in sticker_items]
    if poll is not None:
        message["poll"] = copy.deepcopy(poll)
    return message


def sticker_item_payload(sticker_id: int, name: str = "wave", *, format_type: int = 1) -> dict:
    """A message's ``StickerItem`` (what ``sticker_items`` carries).

    Args:
        sticker_id: Snowflake.
        name: Sticker name.
        format_type: 1 PNG, 2 APNG, 3 Lottie, 4 GIF.
    """
    return {"id": str(sticker_id), "name": name, "format_type": format_type}


def poll_payload(
    question: str = "Lunch?",
    answers: Sequence[str] = ("yes", "no"),
    *,
    expiry: str | None = None,
    allow_multiselect: bool = False,
) -> dict:
    """A message's ``Poll`` object, as discord.py 2.7 parses it (no results yet).

    Args:
        question: The question's text.
        answers: The answers' texts (ids from 1).
        expiry: ISO time the poll ends; in 24 hours by default.
        allow_multiselect: Whether several answers may be chosen.
    """
    return {
        "question": {"text": question},
        "answers": [{"answer_id": i, "poll_media": {"text": text}} for i, text in enumerate(answers, 1)],
        "expiry": expiry or iso_time(time.time() + 24 * 3600),
        "allow_multiselect": allow_multiselect,
        "layout_type": 1,
    }


def command_data(
    name: str,
    *,
    command_id: int,
    options: Sequence[dict] | None = None,
    resolved_attachments: Sequence[dict] | None = None,
    guild_id: int | None = None,
    type: int = 1,
) -> dict:
    """The ``data`` of an APPLICATION_COMMAND interaction.

    Args:
        name: Command name.
        command_id: The registered command's id.
        options: Option objects (``{"name", "type", "value"}``; attachments by id string).
        resolved_attachments: Attachment objects for ``resolved.attachments``.
        guild_id: Set when the command is a guild command (``CommandTree`` looks it up there).
        type: 1 chat input, 2 user, 3 message.
    """
    data: dict[str, Any] = {"id": str(command_id), "name": name, "type": type}
    if options:
        data["options"] = [copy.deepcopy(o) for o in options]
    if resolved_attachments:
        data["resolved"] = {"attachments": {str(a["id"]): dict(a) for a in resolved_attachments}}
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def interaction_payload(
    interaction_id: int,
    token: str,
    *,
    application_id: int,
    data: dict,
    channel: dict,
    user: dict,
    type: int = 2,
    guild_id: int | None = None,
    guild_locale: str | None = "en-US",
    guild_features: Sequence[str] = (),
    member: dict | None = None,
    app_permissions: int | str = BOT_PERMISSIONS,
    member_permissions: int = EVERYONE_PERMISSIONS,
    locale: str = "en-US",
    attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
    message: dict | None = None,
) -> dict:
    """An ``Interaction`` object as INTERACTION_CREATE carries it.

    Args:
        interaction_id: Snowflake.
        token: Interaction token (valid 15 minutes for webhooks).
        application_id: The bot's application.
        data: Command data (:func:`command_data`) or component data (``custom_id``, ``component_type``).
        channel: The channel object (a ``permissions`` field is added).
        user: The invoking user.
        type: 2 application command, 3 message component, 4 autocomplete, 5 modal submit.
        guild_id: Guild, ``None`` in DMs.
        guild_locale: The guild's preferred locale.
        guild_features: The partial guild's features.
        member: Member object in guilds (made from ``user`` and ``member_permissions`` by default).
        app_permissions: The bot's permissions in the channel.
        member_permissions: The user's permissions (for the default ``member``).
        locale: The user's client locale.
        attachment_size_limit: Upload limit for responses (``Interaction.filesize_limit``).
        message: The message a component belongs to (component interactions).
    """
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": type,
        "data": data,
        "channel_id": channel["id"],
        "channel": {**channel, "permissions": str(member_permissions)},
        "token": token,
        "version": 1,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": attachment_size_limit,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        payload["guild"] = {"id": str(guild_id), "locale": guild_locale or "en-US", "features": list(guild_features)}
        payload["guild_locale"] = guild_locale or "en-US"
        payload["member"] = member if member is not None else member_payload(user, permissions=member_permissions)
        payload["authorizing_integration_owners"] = {"0": str(guild_id)}
        payload["context"] = 0
    else:
        payload["user"] = user
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["context"] = 1
    if message is not None:
        payload["message"] = message
    return payload
