"""A fake Discord (REST API + gateway websocket + attachment CDN) for offline end-to-end tests.

:class:`FakeDiscord` is one aiohttp server on ``127.0.0.1`` that a real ``discord.Client``
(discord.py 2.7, with an ``app_commands.CommandTree`` and persistent views) talks to exactly as
it talks to Discord, once two class attributes point at it (see :class:`patched_discord`)::

    async with FakeDiscord() as dc, patched_discord(dc):
        dc.add_guild(1, premium_tier=2, channels=[11])
        task = asyncio.create_task(client.start("any-token"))
        await dc.wait_ready()
        await dc.message_create(11, "hello", mentions_bot=True)
        ...
        await client.close(); await task

Tests inject what users do (:meth:`FakeDiscord.message_create`,
:meth:`FakeDiscord.interaction_create`, :meth:`FakeDiscord.button_press`,
:meth:`FakeDiscord.dm_message`), the fake dispatches them on the gateway, and everything the
bot does is recorded (:attr:`FakeDiscord.calls`, :attr:`FakeDiscord.messages`,
:attr:`FakeDiscord.threads`, :attr:`FakeDiscord.interaction_responses`,
:attr:`FakeDiscord.synced_commands`, :attr:`FakeDiscord.uploaded`, :attr:`FakeDiscord.identify`).

Wire format, as discord.py 2.7.1 speaks it (checked in its ``http.py``, ``gateway.py``,
``client.py`` and ``webhook/async_.py``):

* REST goes to ``Route.BASE + path`` (``Route.BASE`` is read when each ``Route`` is built, so
  patch it before the client starts and keep it patched until it is closed). The fake answers
  under ``/api/v10`` (any ``/api/vN`` or bare ``/api`` too); recorded paths drop that prefix.
  Bot calls carry ``Authorization: Bot <token>``; interaction callbacks and webhook routes
  (``/interactions/...``, ``/webhooks/{app}/{token}...``) carry no Authorization at all.
* JSON bodies, or ``multipart/form-data`` with a ``payload_json`` part and ``files[n]`` parts
  (always sent as ``application/octet-stream``; the fake guesses the type from the file name,
  as Discord does). ``attachments`` in the JSON refers to new files by index (``{"id": 0}``)
  and to kept ones by snowflake.
* A plain :class:`discord.Client` never asks ``GET /gateway/bot``: it connects straight to
  ``DiscordWebSocket.DEFAULT_GATEWAY`` with the query *replaced* by
  ``?v=10&encoding=json&compress=zlib-stream`` (``zstd-stream`` if ``zstandard`` or
  ``compression.zstd`` is importable). Only ``AutoShardedClient`` calls ``GET /gateway/bot``;
  both gateway routes answer with :attr:`FakeDiscord.ws_url`. discord.py decompresses only
  *binary* frames, so the fake sends plain JSON text frames unless ``gateway_compression=True``
  (then a real zlib stream, each message ending in ``00 00 ff ff``). On reconnects it uses
  READY's ``resume_gateway_url`` (the same :attr:`FakeDiscord.ws_url`).
* discord.py always calls back with ``POST /interactions/{id}/{token}/callback?with_response=1``
  and parses an ``InteractionCallbackResponse``: ``{"interaction": {"id", "type",
  "response_message_id", "response_message_loading", "response_message_ephemeral"},
  "resource": {"type": <callback type>, "message": {...}}}`` (``message`` only for types 4
  and 7). Without ``with_response`` the fake answers 204 as Discord does.
* ``Interaction(data=...)`` reads ``data["attachment_size_limit"]`` unconditionally (that is
  ``Interaction.filesize_limit``); the fake sends the guild tier's limit unless told otherwise.
  ``Guild.filesize_limit`` derives from ``premium_tier``: 10 MiB at tiers 0 and 1, 50 MiB at 2,
  100 MiB at 3.
* 429s are retried by discord.py only when the answer carries a ``Via`` header (otherwise it
  assumes a Cloudflare ban and raises); the fake sends ``Via: 1.1 google`` on every answer, and
  ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`` on normal ones. 500, 502, 504 and
  524 are retried after 1, 3, 5... seconds; use 503 for a server error that surfaces at once
  (``discord.DiscordServerError``).
* ``Client`` waits ``guild_ready_timeout`` (2 s by default) after the last GUILD_CREATE before
  ``on_ready``; pass ``guild_ready_timeout=0.05`` to the client in tests.

Platform behaviour emulated (see ``/work/shared/design.md``, "Platform facts"): 2000-character
messages, per-file upload limit by boost tier (413, code 40005), interaction tokens that expire
(401, code 50027, via :meth:`FakeDiscord.expire_interaction_tokens`), a single acknowledgement
per interaction (40060), the first follow-up after a deferral replacing the "thinking" message,
signed expiring attachment URLs (``ex``/``is``/``hm``), the message-content intent (guild
messages that neither mention the bot nor come from it arrive without content, attachments,
embeds and components when the client did not ask for it), privileged intents (close 4014),
RESUME with replay of missed events, per-route rate-limit buckets.

Uploaded and registered files live under ``files_dir`` (a temporary directory removed when the
:class:`FakeDiscord` object is garbage collected, unless you pass your own). The bot token is
never stored: calls record only whether an Authorization header was sent, and the recorded
IDENTIFY has its token replaced by ``"<redacted>"``.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import hashlib
import hmac
import json
import mimetypes
import re
import secrets
import shutil
import tempfile
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

MiB = 1024 * 1024
API_VERSION = 10
DISCORD_EPOCH_MS = 1420070400000
MAX_MESSAGE_CHARS = 2000
DEFAULT_UPLOAD_LIMIT = 10 * MiB
TIER_UPLOAD_LIMITS = {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}
"""Per-file upload limit by guild boost tier (what ``Guild.filesize_limit`` reports)."""
ATTACHMENT_URL_TTL_S = 24 * 3600
THREAD_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
DEFAULT_USER_ID = 100000000000000001
GUILD_OWNER_ID = 100000000000000000

# Gateway opcodes.
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE, OP_VOICE_STATE = 0, 1, 2, 3, 4
OP_RESUME, OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
_SENDABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2


class Perm:
    """Discord permission bits (the ones the fake cares about)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    ADD_REACTIONS = 1 << 6
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1


EVERYONE_PERMISSIONS = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.STREAM
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CONNECT
    | Perm.SPEAK
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.CREATE_PRIVATE_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
"""Permissions of a fresh guild's ``@everyone`` role (roughly Discord's defaults)."""

BOT_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.MANAGE_THREADS
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
)
"""Permissions of the bot's managed role (what nemobot's invite link asks for)."""


# ---------------------------------------------------------------------- pure payload builders


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


def upload_limit(premium_tier: int | None) -> int:
    """Per-file upload limit in bytes for a guild boost tier (``None``: DMs)."""
    return TIER_UPLOAD_LIMITS.get(premium_tier or 0, DEFAULT_UPLOAD_LIMIT)


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


def role_payload(
    role_id: int,
    name: str,
    *,
    permissions: int,
    position: int = 0,
    managed: bool = False,
    bot_id: int | None = None,
) -> dict:
    """A guild ``Role`` object (``bot_id`` makes it a bot's managed role)."""
    role: dict[str, Any] = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": managed,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        role["tags"] = {"bot_id": str(bot_id)}
    return role


def text_channel_payload(
    channel_id: int, guild_id: int, name: str = "general", *, position: int = 0, topic: str | None = None
) -> dict:
    """A guild text channel (type 0)."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": topic,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "default_auto_archive_duration": 1440,
        "default_thread_rate_limit_per_user": 0,
        "flags": 0,
        "icon_emoji": None,
        "theme_color": None,
    }


def thread_payload(
    thread_id: int,
    guild_id: int,
    parent_id: int,
    *,
    owner_id: int,
    name: str,
    type: int = 11,
    auto_archive_duration: int = 1440,
    rate_limit_per_user: int = 0,
    message_count: int = 0,
    member_user_id: int | None = None,
) -> dict:
    """A thread channel (type 11 public, 12 private).

    Args:
        thread_id: Snowflake (a thread started from a message has the message's id).
        guild_id: Guild.
        parent_id: The text channel it lives in.
        owner_id: Who created it.
        name: Thread name.
        type: 11 (public) or 12 (private).
        auto_archive_duration: Minutes: 60, 1440, 4320 or 10080.
        rate_limit_per_user: Slow mode seconds.
        message_count: Messages in it.
        member_user_id: Adds the thread-member object for that user (the bot).
    """
    now = iso_time()
    thread: dict[str, Any] = {
        "id": str(thread_id),
        "type": type,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": rate_limit_per_user,
        "message_count": message_count,
        "member_count": 1,
        "total_message_sent": message_count,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": now,
            "locked": False,
            "create_timestamp": now,
            **({"invitable": True} if type == 12 else {}),
        },
    }
    if member_user_id is not None:
        thread["member"] = {
            "id": str(thread_id),
            "user_id": str(member_user_id),
            "join_timestamp": now,
            "flags": 1,
            "muted": False,
            "mute_config": None,
        }
    return thread


def dm_channel_payload(channel_id: int, recipient: dict) -> dict:
    """A DM channel (type 1) with one recipient."""
    return {"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0, "recipients": [recipient]}


def guild_payload(
    guild_id: int,
    *,
    name: str = "Clips",
    premium_tier: int = 0,
    channels: Sequence[int | dict] | None = None,
    bot_user: dict | None = None,
    bot_role_id: int | None = None,
    bot_permissions: int = BOT_PERMISSIONS,
    everyone_permissions: int = EVERYONE_PERMISSIONS,
    owner_id: int = GUILD_OWNER_ID,
    preferred_locale: str = "en-US",
    features: Sequence[str] = (),
    threads: Sequence[dict] = (),
    members: Sequence[dict] = (),
) -> dict:
    """A full guild object as GUILD_CREATE carries it.

    Args:
        guild_id: Snowflake (also the ``@everyone`` role id, as on Discord).
        name: Guild name.
        premium_tier: Boost tier 0-3 (``Guild.filesize_limit`` follows it).
        channels: Text channel ids (named ``general``, ``channel-2``, ...) or channel objects;
            one ``general`` channel ``guild_id + 1`` by default.
        bot_user: The bot's user object; adds its member and managed role.
        bot_role_id: Id of the bot's managed role (``guild_id + 2`` by default).
        bot_permissions: The bot role's permissions.
        everyone_permissions: ``@everyone``'s permissions.
        owner_id: The guild owner (not the bot, so the bot has no implicit admin).
        preferred_locale: ``Guild.preferred_locale`` and interactions' ``guild_locale``.
        features: Guild feature strings.
        threads: Active thread objects.
        members: Extra member objects (with ``user``).
    """
    if channels is None:
        channels = [guild_id + 1]
    channel_objects = []
    for index, channel in enumerate(channels):
        if isinstance(channel, dict):
            channel_objects.append(channel)
        else:
            label = "general" if index == 0 else f"channel-{index + 1}"
            channel_objects.append(text_channel_payload(channel, guild_id, label, position=index))
    roles = [role_payload(guild_id, "@everyone", permissions=everyone_permissions)]
    member_objects = list(members)
    if bot_user is not None:
        role_id = bot_role_id if bot_role_id is not None else guild_id + 2
        roles.append(
            role_payload(
                role_id,
                bot_user["username"],
                permissions=bot_permissions,
                position=1,
                managed=True,
                bot_id=int(bot_user["id"]),
            )
        )
        member_objects.insert(0, member_payload(bot_user, roles=[role_id]))
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "icon_hash": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "region": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": list(features),
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": channel_objects[0]["id"] if channel_objects else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_presences": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "vanity_url_code": None,
        "premium_tier": premium_tier,
        "premium_subscription_count": {0: 0, 1: 2, 2: 7, 3: 14}.get(premium_tier, 0),
        "premium_progress_bar_enabled": False,
        "preferred_locale": preferred_locale,
        "nsfw_level": 0,
        "nsfw": False,
        "hub_type": None,
        "incidents_data": None,
        "latest_onboarding_question_id": None,
        # GUILD_CREATE extras
        "joined_at": iso_time(),
        "large": False,
        "unavailable": False,
        "lazy": True,
        "member_count": len(member_objects) + 1,
        "members": member_objects,
        "channels": channel_objects,
        "threads": list(threads),
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
    }


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
    return message


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


# ---------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    """A file the bot uploaded, saved to disk.

    Attributes:
        filename: Name the bot gave.
        content_type: MIME type guessed from the name (discord.py sends every file as
            ``application/octet-stream``; Discord guesses too).
        path: Where the bytes are (under ``files_dir``).
        size: Size in bytes.
        field: Multipart part name (``files[0]``).
    """

    filename: str
    content_type: str | None
    path: Path
    size: int
    field: str = ""

    def read_bytes(self) -> bytes:
        """The uploaded bytes."""
        return self.path.read_bytes()


@dataclass
class Call:
    """One REST request the bot made.

    Attributes:
        method: HTTP method.
        path: Path without the ``/api/v10`` prefix (``/channels/1/messages``).
        json: JSON body, or the ``payload_json`` part of a multipart body; ``None`` if none.
        files: Files of a multipart body (also those over the limit are not kept).
        query: Query parameters.
        status: HTTP status the fake answered.
        response: JSON body the fake answered (``None`` for 204).
        authorized: Whether ``Authorization: Bot ...`` was sent (the token is never kept).
    """

    method: str
    path: str
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0
    response: Any = None
    authorized: bool = False

    @property
    def ok(self) -> bool:
        """Whether the fake answered 2xx."""
        return 200 <= self.status < 300


class ApiError(Exception):
    """A Discord error answer (``{"message", "code"[, "errors"]}``); raised inside handlers."""

    def __init__(self, status: int, message: str, code: int = 0, errors: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors

    def body(self) -> dict:
        """The JSON body Discord answers with."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def _form_error(field_name: str, code: str, message: str) -> ApiError:
    return ApiError(400, "Invalid Form Body", 50035, {field_name: {"_errors": [{"code": code, "message": message}]}})


def _unknown(what: str, code: int) -> ApiError:
    return ApiError(404, f"Unknown {what}", code)


_MISSING_PERMISSIONS = (403, "Missing Permissions", 50013)
_EMPTY_MESSAGE = (400, "Cannot send an empty message", 50006)


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int
    retry_after: float
    is_global: bool
    body: dict | None


@dataclass
class _StoredAttachment:
    id: int
    filename: str
    content_type: str | None
    path: Path
    size: int


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user: dict
    payload: dict
    attachment_size_limit: int
    name: str | None = None
    source_message_id: int | None = None
    response_type: int | None = None
    original_message_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    followups_sent: int = 0
    token_expired: bool = False
    callback_expired: bool = False


class _Session:
    def __init__(self, session_id: str, intents: int) -> None:
        self.id = session_id
        self.intents = intents
        self.seq = 0
        self.log: list[dict] = []
        self.conn: _Conn | None = None
        self.lock = asyncio.Lock()


class _Conn:
    def __init__(self, ws: web.WebSocketResponse, query: dict[str, str], compress: bool) -> None:
        self.ws = ws
        self.query = query
        self.session: _Session | None = None
        self.ready = False
        self.server_close: int | None = None
        self._zlib = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def close(self, code: int, message: bytes = b"") -> None:
        if self.server_close is None and not self.ws.closed:
            self.server_close = code
        await self.ws.close(code=code, message=message)

    async def send(self, payload: dict) -> bool:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
        return True


# ---------------------------------------------------------------------- the fake

_PARAM_RE = re.compile(r"\{(\w*)\}")
_API_PREFIX_RE = re.compile(r"^/api(?:/v\d+)?(?=/)")
_MENTION_RE = re.compile(r"<@!?(\d+)>")
_AUTO = object()


def _path_regex(pattern: str, *, named: bool) -> re.Pattern[str]:
    """``/channels/{channel_id}/messages`` -> a regex; ``{...}`` matches one path segment."""
    pattern = _API_PREFIX_RE.sub("", pattern.split("?", 1)[0])
    out, pos = [], 0
    for match in _PARAM_RE.finditer(pattern):
        out.append(re.escape(pattern[pos : match.start()]))
        name = match.group(1)
        out.append(f"(?P<{name}>[^/]+)" if named and name else "[^/]+")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "/?$")


class FakeDiscord:
    """A fake Discord REST API + gateway + CDN on ``127.0.0.1`` (see the module docstring).

    Args:
        bot_id: The bot user's id.
        bot_name: The bot's username.
        application_id: The application id (the bot id by default, as for modern apps).
        files_dir: Where uploads and registered attachments are stored; a temporary directory
            (removed with this object) if ``None``.
        heartbeat_interval_ms: HELLO's ``heartbeat_interval``.
        gateway_compression: Send zlib-stream binary frames when the client asks for
            ``compress=zlib-stream`` (plain JSON text frames otherwise).
        privileged_intents: Privileged intents enabled for the app (all by default); an
            IDENTIFY asking for others is closed with 4014.
        rate_limit: Requests per bucket and window announced in ``X-RateLimit-*`` (and enforced
            with a 429 if exceeded).
        rate_limit_window_s: The window in seconds.

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started (REST under ``{url}/api/v10``).
        ws_url: ``ws://127.0.0.1:PORT/gateway``.
        bot_id: The bot's user id.
        application_id: The application id.
        bot_user: The bot's user object.
        calls: Every REST call in order (gateway and CDN traffic excluded).
        messages: ``channel_id -> [record]`` for each message the bot posted, REST or interaction
            (see :meth:`_record_message` for the record's keys).
        threads: Threads the bot created: ``{"id", "guild_id", "parent_id", "message_id",
            "name", "type", "auto_archive_duration", "raw"}``.
        interaction_responses: ``interaction id -> [entry]`` of successful callbacks
            (``{"kind": "callback", "type", "data", "files", "message_id"}``), follow-ups
            (``kind="followup"``), edits (``"edit_original"``, ``"edit"``), reads
            (``"get_original"``) and deletions (``"delete_original"``, ``"delete"``).
        synced_commands: ``guild id (None: global) -> commands JSON`` as the bot PUT it.
        identify: Last IDENTIFY ``d`` (token redacted).
        uploaded: Every file of every accepted upload, in order.
        dispatched: ``(event name, data)`` of every gateway dispatch, in order.
        gateway_connections: Query parameters of every gateway connection.
        presences: Op 3 presence updates.
        heartbeats: Op 1 heartbeats received.
        resumes: Successful RESUMEs.
        downloads: CDN paths served.
        reactions: ``(channel_id, message_id, emoji)`` the bot added.
    """

    def __init__(
        self,
        *,
        bot_id: int = 900000000000000001,
        bot_name: str = "nemobot",
        application_id: int | None = None,
        files_dir: Path | None = None,
        heartbeat_interval_ms: int = 41250,
        gateway_compression: bool = False,
        privileged_intents: int = PRIVILEGED_INTENTS,
        rate_limit: int = 50,
        rate_limit_window_s: float = 1.0,
    ) -> None:
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.application_id = application_id if application_id is not None else bot_id
        self.bot_user = user_payload(bot_id, bot_name, bot=True)
        if files_dir is None:
            files_dir = Path(tempfile.mkdtemp(prefix="fake-discord-"))
            weakref.finalize(self, shutil.rmtree, files_dir, True)
        self.files_dir = Path(files_dir).resolve()
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.gateway_compression = gateway_compression
        self.privileged_intents = privileged_intents
        self.rate_limit = rate_limit
        self.rate_limit_window_s = rate_limit_window_s
        self.url = ""
        self.ws_url = ""

        self.calls: list[Call] = []
        self.messages: dict[int, list[dict]] = {}
        self.threads: list[dict] = []
        self.thread_members: dict[int, set[int]] = {}
        self.interaction_responses: dict[int, list[dict]] = {}
        self.synced_commands: dict[int | None, list[dict]] = {}
        self.identify: dict | None = None
        self.uploaded: list[UploadedFile] = []
        self.dispatched: list[tuple[str, dict]] = []
        self.gateway_connections: list[dict[str, str]] = []
        self.presences: list[dict] = []
        self.heartbeats = 0
        self.resumes = 0
        self.downloads: list[str] = []
        self.reactions: list[tuple[int, int, str]] = []

        self.guilds: dict[int, dict] = {}
        self.channels: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self._all_messages: dict[int, dict] = {}
        self._records: dict[int, dict] = {}
        self._attachments: dict[int, _StoredAttachment] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._tokens: dict[str, _Interaction] = {}
        self._commands: dict[int | None, list[dict]] = {}
        self._command_ids: dict[tuple[int | None, str], int] = {}
        self._dm_by_user: dict[int, int] = {}
        self._guild_bot_role: dict[int, int] = {}
        self._guild_perms: dict[int, tuple[int, int]] = {}
        self._failures: list[_Failure] = []
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._sessions: dict[str, _Session] = {}
        self._conns: set[_Conn] = set()
        self._ready_count = 0
        self._changed = asyncio.Event()
        self._bg: set[asyncio.Task] = set()
        self._last_id = 0
        self._file_counter = 0
        self._cdn_secret = secrets.token_bytes(16)
        self._cdn_clock_offset = 0.0
        self._runner: web.AppRunner | None = None
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Listen on ``127.0.0.1`` at a free port.

        Returns:
            The base URL ``http://127.0.0.1:PORT``.
        """
        app = web.Application(client_max_size=256 * MiB)
        app.router.add_route("GET", "/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._http)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/gateway"
        return self.url

    async def stop(self) -> None:
        """Close gateway sockets (1001) and stop the server. Recorded data stays available."""
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        for conn in list(self._conns):
            await conn.close(1001, b"Going away")
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """``Route.BASE`` for discord.py: ``{url}/api/v10``."""
        return f"{self.url}/api/v{API_VERSION}"

    # ------------------------------------------------------------------ world setup

    def add_guild(
        self,
        guild_id: int,
        *,
        name: str = "Clips",
        premium_tier: int = 0,
        channels: list[int] | None = None,
        bot_permissions: int = BOT_PERMISSIONS,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
        preferred_locale: str = "en-US",
        features: Sequence[str] = (),
    ) -> dict:
        """Add a guild the bot is in, with text channels.

        If a client is already connected, it gets a GUILD_CREATE (as when a bot joins a guild;
        the dispatch runs in the background: wait for it with :meth:`wait_until` or the
        client's ``guild_join`` event).

        Args:
            guild_id: Snowflake.
            name: Guild name.
            premium_tier: Boost tier 0-3; sets the upload limit (10/10/50/100 MiB).
            channels: Text channel ids (``[guild_id + 1]`` by default).
            bot_permissions: The bot role's permissions.
            everyone_permissions: ``@everyone``'s permissions.
            preferred_locale: The guild's locale.
            features: Guild features.

        Returns:
            The guild object (as GUILD_CREATE will carry it).
        """
        if premium_tier not in TIER_UPLOAD_LIMITS:
            raise ValueError(f"premium_tier must be 0-3, not {premium_tier}")
        role_id = self._new_id()
        guild = guild_payload(
            guild_id,
            name=name,
            premium_tier=premium_tier,
            channels=channels,
            bot_user=self.bot_user,
            bot_role_id=role_id,
            bot_permissions=bot_permissions,
            everyone_permissions=everyone_permissions,
            preferred_locale=preferred_locale,
            features=features,
        )
        self.guilds[guild_id] = guild
        self._guild_bot_role[guild_id] = role_id
        self._guild_perms[guild_id] = (everyone_permissions, bot_permissions)
        for channel in guild["channels"]:
            self.channels[int(channel["id"])] = channel
        if self._sessions:
            self._background(self._dispatch("GUILD_CREATE", self._guild_create(guild_id)))
        return guild

    def add_user(self, user_id: int, name: str = "ana") -> dict:
        """Register a user (the default author of injected events is the first one added).

        Returns:
            The user object.
        """
        user = user_payload(user_id, name)
        self.users[user_id] = user
        return user

    @property
    def default_user(self) -> dict:
        """The first registered user (``ana``, id 100000000000000001, made on demand)."""
        if not self.users:
            self.add_user(DEFAULT_USER_ID, "ana")
        return next(iter(self.users.values()))

    def add_attachment(
        self,
        data: bytes | Path,
        *,
        filename: str,
        content_type: str | None = "video/mp4",
        size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        channel_id: int = 0,
    ) -> dict:
        """Register a user's attachment served by the fake CDN.

        The URL is ``{url}/attachments/{channel}/{id}/{filename}?ex=..&is=..&hm=..&`` (signed,
        valid 24 h; :meth:`message_create` re-signs it for the message's channel), the proxy URL
        the same under ``/media``. Downloads need no Authorization.

        Args:
            data: The bytes, or a file whose bytes are served (not copied).
            filename: File name.
            content_type: MIME type (``None`` to omit, as Discord does for unknown types).
            size: Size reported in the attachment object (the real size by default), to
                pretend a big file without the bytes.
            width: Video/image width.
            height: Video/image height.
            channel_id: Channel in the URL (0 until the attachment is sent in a message).

        Returns:
            The attachment object (``id``, ``filename``, ``size``, ``url``, ``proxy_url``,
            ``content_type``, ``width``, ``height``).
        """
        if not self.url:
            raise RuntimeError("start the FakeDiscord before registering attachments (their URLs need its port)")
        attachment_id = self._new_id()
        if isinstance(data, Path):
            path = data.resolve()
            real_size = path.stat().st_size
        else:
            path = self._new_file_path("attachments", filename)
            path.write_bytes(data)
            real_size = len(data)
        self._attachments[attachment_id] = _StoredAttachment(attachment_id, filename, content_type, path, real_size)
        url, proxy_url = self._cdn_urls(channel_id, attachment_id, filename)
        return attachment_payload(
            attachment_id,
            filename,
            size=real_size if size is None else size,
            url=url,
            proxy_url=proxy_url,
            content_type=content_type,
            width=width,
            height=height,
        )

    def expire_attachment_urls(self) -> None:
        """Make every attachment URL issued so far expired (the CDN answers 404); new ones work."""
        self._cdn_clock_offset += ATTACHMENT_URL_TTL_S + 1

    def expire_interaction_tokens(self, interaction_id: int | None = None) -> None:
        """Expire interaction tokens (as after 15 minutes): webhook routes answer 401 code 50027.

        Args:
            interaction_id: One interaction; all existing ones if ``None``.
        """
        for inter in self._select_interactions(interaction_id):
            inter.token_expired = True
            inter.callback_expired = True

    def expire_interaction_callbacks(self, interaction_id: int | None = None) -> None:
        """Close the 3-second response window: callbacks answer 404 "Unknown interaction" (10062).

        Args:
            interaction_id: One interaction; all existing ones if ``None``.
        """
        for inter in self._select_interactions(interaction_id):
            inter.callback_expired = True

    def fail(
        self,
        method: str,
        path_pattern: str,
        times: int = 1,
        status: int = 429,
        retry_after: float = 0.5,
        *,
        is_global: bool = False,
        body: dict | None = None,
    ) -> None:
        """Make the next ``times`` matching calls fail (after they are recorded).

        A 429 carries Discord's headers (``Retry-After``, ``X-RateLimit-*``, ``Via``) and body
        ``{"message": "You are being rate limited.", "retry_after", "global"}``; discord.py
        sleeps and retries by itself. Other statuses answer ``body`` or Discord's generic
        ``{"message": "<status>: <reason>", "code": 0}``.

        Args:
            method: HTTP method, ``*`` for any.
            path_pattern: Path without ``/api/v10``; ``{id}`` (any name) matches one segment.
            times: How many calls fail.
            status: HTTP status.
            retry_after: Seconds, for 429.
            is_global: A global rate limit (429).
            body: Error body to answer instead of the default.
        """
        self._failures.append(
            _Failure(
                method.upper(), _path_regex(path_pattern, named=False), times, status, retry_after, is_global, body
            )
        )

    # ------------------------------------------------------------------ injecting events

    async def message_create(
        self,
        channel_id: int,
        content: str,
        *,
        author: dict | None = None,
        guild_id: int | None = None,
        attachments: Sequence[dict] = (),
        mentions_bot: bool = False,
        reply_to: int | None = None,
    ) -> dict:
        """A user posts a message: MESSAGE_CREATE on the gateway.

        Args:
            channel_id: A known channel or thread.
            content: Text.
            author: User object (:attr:`default_user` by default).
            guild_id: The channel's guild by default.
            attachments: Attachment objects from :meth:`add_attachment`.
            mentions_bot: Prefix ``<@bot_id>`` to the content and put the bot in ``mentions``.
            reply_to: Id of a message in the channel this one replies to.

        Returns:
            The message object (as dispatched to a client with the message-content intent).
        """
        channel = self._channel(channel_id)
        if guild_id is None and channel.get("guild_id"):
            guild_id = int(channel["guild_id"])
        author = author or self.default_user
        self.users.setdefault(int(author["id"]), author)
        mentions = []
        if mentions_bot:
            if f"<@{self.bot_id}>" not in content and f"<@!{self.bot_id}>" not in content:
                content = f"<@{self.bot_id}> {content}"
        for user_id in dict.fromkeys(int(m) for m in _MENTION_RE.findall(content)):
            user = self.bot_user if user_id == self.bot_id else self.users.get(user_id)
            if user is not None:
                mentions.append(user)
        reference = referenced = None
        if reply_to is not None:
            referenced = self._all_messages.get(reply_to)
            if referenced is None:
                raise ValueError(f"no message {reply_to} to reply to")
            reference = {"type": 0, "message_id": str(reply_to), "channel_id": str(channel_id)}
            if guild_id is not None:
                reference["guild_id"] = str(guild_id)
        message_id = self._new_id()
        if channel_id in self.thread_members:  # posting in a thread joins it, as on Discord
            self.thread_members[channel_id].add(int(author["id"]))
        payload = message_payload(
            message_id,
            channel_id,
            content,
            author=author,
            guild_id=guild_id,
            attachments=[self._resign(a, channel_id) for a in attachments],
            mentions=mentions,
            type=19 if reply_to is not None else 0,
            message_reference=reference,
            referenced_message=referenced,
        )
        self._store_message(payload)
        await self._dispatch("MESSAGE_CREATE", payload, require_client=True)
        return payload

    async def dm_message(self, user_id: int, content: str, attachments: Sequence[dict] = ()) -> dict:
        """A user writes to the bot in DMs: a DM channel (type 1) and MESSAGE_CREATE there.

        Args:
            user_id: A user from :meth:`add_user` (registered as ``user<id>`` if unknown).
            content: Text.
            attachments: Attachment objects from :meth:`add_attachment`.

        Returns:
            The message object.
        """
        user = self.users.get(user_id) or self.add_user(user_id, f"user{user_id}")
        channel = self._dm_channel(user)
        return await self.message_create(int(channel["id"]), content, author=user, attachments=attachments)

    async def interaction_create(
        self,
        *,
        name: str,
        options: list[dict] | None = None,
        channel_id: int,
        guild_id: Any = _AUTO,
        user: dict | None = None,
        resolved_attachments: list[dict] | None = None,
        locale: str = "en-US",
        app_permissions: int | str | None = None,
        attachment_size_limit: int | None = None,
        command_type: int = 1,
    ) -> dict:
        """A user runs a slash command: APPLICATION_COMMAND (type 2) INTERACTION_CREATE.

        The command id (and ``data.guild_id`` for guild commands, which ``CommandTree`` needs to
        find them) come from what the bot synced.

        Args:
            name: Command name.
            options: Option objects, e.g. ``{"name": "video", "type": 11, "value": "<attachment id>"}``.
            channel_id: Where it runs (a guild channel or thread, or a DM channel).
            guild_id: The channel's guild by default; ``None`` for a DM (a DM channel with the
                user is made if ``channel_id`` is unknown).
            user: Invoking user (:attr:`default_user` by default).
            resolved_attachments: Attachment objects for ``data.resolved.attachments``.
            locale: The user's locale.
            app_permissions: The bot's permissions (its real ones in the channel by default).
            attachment_size_limit: ``Interaction.filesize_limit`` (the guild tier's by default).
            command_type: 1 chat input, 2 user, 3 message.

        Returns:
            The interaction object.
        """
        user = user or self.default_user
        channel, gid = self._interaction_place(channel_id, guild_id, user)
        command_id, command_guild = self._command_id(name, gid)
        data = command_data(
            name,
            command_id=command_id,
            options=options,
            resolved_attachments=resolved_attachments,
            guild_id=command_guild,
            type=command_type,
        )
        return await self._new_interaction(
            2, data, channel, gid, user, locale, app_permissions, attachment_size_limit, name=name
        )

    async def button_press(
        self,
        *,
        custom_id: str,
        message_id: int,
        channel_id: int,
        guild_id: Any = _AUTO,
        user: dict | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> dict:
        """A user clicks a button (or picks in a select): MESSAGE_COMPONENT (type 3) interaction.

        Args:
            custom_id: The component's ``custom_id``.
            message_id: The message carrying it (the bot's recorded message if known, else a stub
                bot message with that button is made and stored, so updates to it work).
            channel_id: The message's channel.
            guild_id: The channel's guild by default, ``None`` in DMs.
            user: Who clicks (:attr:`default_user` by default).
            component_type: 2 button, 3 string select, ...
            values: Selected values for selects.
            locale: The user's locale.

        Returns:
            The interaction object.
        """
        user = user or self.default_user
        channel, gid = self._interaction_place(channel_id, guild_id, user)
        message = self._all_messages.get(message_id)
        if message is None:
            button = {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}
            message = message_payload(
                message_id,
                channel_id,
                "",
                author=self.bot_user,
                guild_id=gid,
                components=[{"type": 1, "components": [button]}],
            )
            self._store_message(message)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        return await self._new_interaction(3, data, channel, gid, user, locale, None, None, source_message=message)

    async def disconnect_clients(self, code: int = 4000) -> None:
        """Close every gateway socket (sessions stay resumable unless ``code`` is 1000/1001).

        discord.py reconnects to ``resume_gateway_url`` and RESUMEs; events dispatched in
        between are replayed.
        """
        for conn in list(self._conns):
            if code in (1000, 1001) and conn.session is not None:
                self._sessions.pop(conn.session.id, None)
            await conn.close(code, b"Disconnected by the test")

    # ------------------------------------------------------------------ inspecting

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        """Calls with that method (``*``: any) whose path matches (``{id}`` matches a segment)."""
        regex = _path_regex(path_pattern, named=False)
        wanted = method.upper()
        return [c for c in self.calls if (wanted == "*" or c.method == wanted) and regex.match(c.path)]

    def bot_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[dict]:
        """The bot's message records in a channel, oldest first."""
        return [m for m in self.messages.get(channel_id, []) if include_deleted or not m["deleted"]]

    def message(self, message_id: int) -> dict | None:
        """Any known message object (users' and the bot's) by id, current state."""
        return self._all_messages.get(message_id)

    def channel(self, channel_id: int) -> dict | None:
        """A known channel object (text channel, thread, DM)."""
        return self.channels.get(channel_id)

    @property
    def connected(self) -> bool:
        """Whether a client is connected and past READY."""
        return any(c.ready and not c.ws.closed for c in self._conns)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; checked after every call and gateway event.

        Raises:
            TimeoutError: After ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_ready(self, timeout: float = 10) -> None:
        """Wait until a client identified and got READY and its GUILD_CREATEs."""
        await self.wait_until(lambda: self.connected, timeout)

    async def wait_for_calls(
        self, method: str, path_pattern: str, count: int = 1, *, timeout: float = 10.0
    ) -> list[Call]:
        """Wait until ``count`` successful matching calls were made; returns them."""

        def done() -> bool:
            return len([c for c in self.calls_to(method, path_pattern) if c.ok]) >= count

        await self.wait_until(done, timeout)
        return [c for c in self.calls_to(method, path_pattern) if c.ok]

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = dict(request.query)
        self.gateway_connections.append(query)
        compress = self.gateway_compression and query.get("compress") == "zlib-stream"
        conn = _Conn(ws, query, compress)
        self._conns.add(conn)
        self._touch()
        try:
            if query.get("encoding", "json") != "json":
                await conn.close(4002, b"Error while decoding payload.")
                return ws
            hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}
            await conn.send({"op": OP_HELLO, "d": hello, "s": None, "t": None})
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await conn.close(4002, b"Error while decoding payload.")
                        break
                    await self._gateway_op(conn, payload)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await conn.close(4002, b"Error while decoding payload.")
                    break
        finally:
            conn.ready = False
            self._conns.discard(conn)
            session = conn.session
            if session is not None:
                if session.conn is conn:
                    session.conn = None
                # aiohttp reports 1000 whenever the server closes during a read, hence server_close
                code = conn.server_close if conn.server_close is not None else ws.close_code
                if code in (1000, 1001):
                    self._sessions.pop(session.id, None)  # a clean close ends the session
            self._touch()
        return ws

    async def _gateway_op(self, conn: _Conn, payload: dict) -> None:
        op, data = payload.get("op"), payload.get("d")
        _usage({"p": "gw", "op": op, "q": conn.query})
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._on_identify(conn, data or {})
        elif op == OP_RESUME:
            await self._on_resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, b"Not authenticated.")
        elif op == OP_PRESENCE:
            self.presences.append(data)
        elif op == OP_REQUEST_MEMBERS:
            guild = self.guilds.get(int(data.get("guild_id", 0)))
            chunk = {
                "guild_id": str(data.get("guild_id")),
                "members": list(guild["members"]) if guild else [],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce"):
                chunk["nonce"] = data["nonce"]
            await self._send_event(conn.session, "GUILD_MEMBERS_CHUNK", chunk)
        elif op == OP_VOICE_STATE:
            pass
        else:
            await conn.close(4001, b"Unknown opcode.")
        self._touch()

    async def _on_identify(self, conn: _Conn, data: dict) -> None:
        if conn.session is not None:
            await conn.close(4005, b"Already authenticated.")
            return
        token = data.get("token")
        if not isinstance(token, str) or not token.strip():
            await conn.close(4004, b"Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await conn.close(4013, b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await conn.close(4014, b"Disallowed intent(s).")
            return
        self.identify = {**data, "token": "<redacted>"}
        session = _Session(secrets.token_hex(16), intents)
        self._sessions[session.id] = session
        conn.session = session
        ready = {
            "v": API_VERSION,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None, "bot": True},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in self.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": str(self.application_id), "flags": self._application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "auth": {},
            "user_settings": {},
            "_trace": ["fake-gateway"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        async with session.lock:
            session.conn = conn
            for t, d in [("READY", ready)] + [("GUILD_CREATE", self._guild_create(g)) for g in self.guilds]:
                session.seq += 1
                event = {"op": OP_DISPATCH, "t": t, "s": session.seq, "d": d}
                session.log.append(event)
                await conn.send(event)
                self.dispatched.append((t, d))
            conn.ready = True
            self._ready_count += 1

    async def _on_resume(self, conn: _Conn, data: dict) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or not data.get("token") or not isinstance(data.get("seq"), int):
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        async with session.lock:
            old = session.conn
            if old is not None and old is not conn:
                old.session = None
                await old.close(4000)
            session.conn = conn
            conn.session = session
            after = data["seq"]
            for event in session.log:
                if event["s"] > after:
                    await conn.send(event)
            session.seq += 1
            resumed = {"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake-gateway"]}}
            session.log.append(resumed)
            await conn.send(resumed)
            conn.ready = True
            self.resumes += 1

    async def _dispatch(self, t: str, d: dict, *, require_client: bool = False) -> None:
        """Send one event to every session (logged for RESUME even while disconnected)."""
        if require_client and not self._sessions:
            raise RuntimeError(f"no gateway client has identified; cannot dispatch {t}")
        d = copy.deepcopy(d)  # later changes to the stored objects must not alter what was sent
        self.dispatched.append((t, d))
        for session in list(self._sessions.values()):
            event_data = self._for_session(session, t, d)
            if event_data is not None:
                await self._send_event(session, t, event_data)
        self._touch()

    async def _send_event(self, session: _Session, t: str, d: dict) -> None:
        async with session.lock:
            session.seq += 1
            event = {"op": OP_DISPATCH, "t": t, "s": session.seq, "d": d}
            session.log.append(event)
            if session.conn is not None and session.conn.ready:
                await session.conn.send(event)

    def _for_session(self, session: _Session, t: str, d: dict) -> dict | None:
        """What a session receives of an event, given its intents (``None``: nothing)."""
        intents = session.intents
        if t.startswith("MESSAGE_"):
            in_guild = "guild_id" in d
            if not intents & (INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES):
                return None
            if t in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and in_guild and not intents & INTENT_MESSAGE_CONTENT:
                author_id = int(d.get("author", {}).get("id", 0))
                mentioned = any(int(m["id"]) == self.bot_id for m in d.get("mentions", []))
                if author_id != self.bot_id and not mentioned:
                    d = {**d, "content": "", "embeds": [], "attachments": [], "components": []}
                    d.pop("poll", None)
            return d
        if t.startswith(("GUILD_", "THREAD_", "CHANNEL_")) and t != "GUILD_MEMBERS_CHUNK":
            return d if intents & INTENT_GUILDS else None
        return d

    def _guild_create(self, guild_id: int) -> dict:
        guild = copy.deepcopy(self.guilds[guild_id])
        guild["threads"] = [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c.get("type") in (10, 11, 12) and c.get("guild_id") == str(guild_id)
        ]
        return guild

    def _application_flags(self) -> int:
        flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        if self.privileged_intents & INTENT_MESSAGE_CONTENT:
            flags |= 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED
        if self.privileged_intents & INTENT_GUILD_MEMBERS:
            flags |= 1 << 15  # GATEWAY_GUILD_MEMBERS_LIMITED
        if self.privileged_intents & INTENT_GUILD_PRESENCES:
            flags |= 1 << 13  # GATEWAY_PRESENCE_LIMITED
        return flags

    # ------------------------------------------------------------------ HTTP plumbing

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], str, Callable, bool]]:
        table = [
            ("GET", "/gateway", self._r_gateway, False),
            ("GET", "/gateway/bot", self._r_gateway_bot, True),
            ("GET", "/users/@me", self._r_me, True),
            ("POST", "/users/@me/channels", self._r_create_dm, True),
            ("GET", "/users/{user_id}", self._r_user, True),
            ("GET", "/oauth2/applications/@me", self._r_application, True),
            ("GET", "/applications/@me", self._r_application, True),
            ("GET", "/applications/{app_id}/commands", self._r_get_commands, True),
            ("PUT", "/applications/{app_id}/commands", self._r_put_commands, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_get_commands, True),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_put_commands, True),
            ("GET", "/guilds/{guild_id}", self._r_guild, True),
            ("GET", "/guilds/{guild_id}/channels", self._r_guild_channels, True),
            ("GET", "/channels/{channel_id}", self._r_channel, True),
            ("POST", "/channels/{channel_id}/typing", self._r_typing, True),
            ("GET", "/channels/{channel_id}/messages", self._r_history, True),
            ("POST", "/channels/{channel_id}/messages", self._r_send, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._r_get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._r_edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._r_delete_message, True),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._r_react, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._r_unreact, True),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._r_thread_from_message, True),
            ("POST", "/channels/{channel_id}/threads", self._r_thread, True),
            ("PUT", "/channels/{channel_id}/thread-members/{user_id}", self._r_add_thread_member, True),
            ("GET", "/channels/{channel_id}/thread-members/{user_id}", self._r_get_thread_member, True),
            ("POST", "/attachments/refresh-urls", self._r_refresh_urls, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._r_callback, False),
            ("POST", "/webhooks/{app_id}/{token}", self._r_followup, False),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_get, False),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_edit, False),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_delete, False),
        ]
        return [(m, _path_regex(p, named=True), p, h, auth) for m, p, h, auth in table]

    async def _http(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(("/attachments/", "/media/attachments/")):
            return self._cdn(request)
        prefix = _API_PREFIX_RE.match(path)
        if prefix is None:
            return _json_response(404, {"message": "404: Not Found", "code": 0})
        path = path[prefix.end() :]
        route = None
        _usage({"p": "dcraw", "m": request.method, "path": re.sub(r"\d+", "N", path)})
        method_mismatch = False
        for method, regex, template, handler, auth in self._routes:
            match = regex.match(path)
            if match is None:
                continue
            if method != request.method:
                method_mismatch = True
                continue
            route = (template, handler, auth, match.groupdict())
            break
        call = Call(request.method, path, query=dict(request.query))
        call.authorized = bool(re.fullmatch(r"Bot \S+", request.headers.get("Authorization", "").strip()))
        self.calls.append(call)
        try:
            if route is None:
                if method_mismatch:
                    raise ApiError(405, "405: Method Not Allowed", 0)
                raise ApiError(404, "404: Not Found", 0)
            template, handler, auth, params = route
            limit = self._upload_limit_for(params)
            call.json, call.files, too_big = await self._read_body(request, limit)
            if auth and not call.authorized:
                raise ApiError(401, "401: Unauthorized", 0)
            headers, over_for = self._ratelimit_headers(request.method, template, params)
            failure = self._take_failure(call)
            if failure is None and over_for is not None:  # the bot ignored X-RateLimit-Remaining: 0
                failure = _Failure(call.method, re.compile(""), 1, 429, over_for, False, None)
            if failure is not None:
                return self._failure_response(call, failure, template)
            if too_big:
                raise ApiError(413, "Request entity too large", 40005)
            _usage({"p": "dc", "m": call.method, "t": template, "q": sorted(call.query), "keys": sorted(call.json) if isinstance(call.json, dict) else type(call.json).__name__, "cb": (call.json or {}).get("type") if "callback" in template else None, "files": len(call.files), "ref": bool(isinstance(call.json, dict) and call.json.get("message_reference")), "att": (call.json or {}).get("attachments") if isinstance(call.json, dict) else None})
            status, body = await handler(call, params)
        except ApiError as err:
            status, body = err.status, err.body()
            headers = {"Via": "1.1 google"}
        call.status, call.response = status, body
        self._touch()
        if status == 204:
            return web.Response(status=204, headers=headers)
        return _json_response(status, body, headers)

    async def _read_body(self, request: web.Request, limit: int | None) -> tuple[Any, list[UploadedFile], bool]:
        ctype = request.content_type
        if ctype == "multipart/form-data":
            payload: Any = None
            files: list[UploadedFile] = []
            too_big = False
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename is None:
                    text = await part.text()
                    if part.name == "payload_json":
                        try:
                            payload = json.loads(text)
                        except ValueError:
                            raise ApiError(400, "400: Bad Request", 50109) from None
                    continue
                target = self._new_file_path("uploads", part.filename)
                size = 0
                with target.open("wb") as out:
                    while chunk := await part.read_chunk(256 * 1024):
                        size += len(chunk)
                        if limit is not None and size > limit:
                            too_big = True
                            break
                        out.write(chunk)
                if limit is not None and size > limit:
                    target.unlink(missing_ok=True)
                    while await part.read_chunk(256 * 1024):
                        pass
                    continue
                guessed = mimetypes.guess_type(part.filename)[0]
                declared = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                files.append(UploadedFile(part.filename, guessed or declared, target, size, part.name))
            return payload, files, too_big
        raw = await request.read()
        if not raw.strip():
            return None, [], False
        try:
            return json.loads(raw), [], False
        except ValueError:
            raise ApiError(400, "400: Bad Request", 50109) from None

    def _take_failure(self, call: Call) -> _Failure | None:
        for failure in self._failures:
            if failure.times > 0 and failure.method in ("*", call.method) and failure.pattern.match(call.path):
                failure.times -= 1
                return failure
        return None

    def _failure_response(self, call: Call, failure: _Failure, template: str) -> web.Response:
        bucket = hashlib.md5(template.encode()).hexdigest()
        headers = {"Via": "1.1 google"}
        if failure.status == 429:
            body = failure.body or {
                "message": "You are being rate limited.",
                "retry_after": failure.retry_after,
                "global": failure.is_global,
            }
            headers.update(
                {
                    "Retry-After": str(max(1, round(failure.retry_after))),
                    "X-RateLimit-Limit": str(self.rate_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + failure.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{failure.retry_after:.3f}",
                    "X-RateLimit-Bucket": bucket,
                    "X-RateLimit-Scope": "global" if failure.is_global else "user",
                }
            )
            if failure.is_global:
                headers["X-RateLimit-Global"] = "true"
        else:
            body = failure.body or {"message": f"{failure.status}: {_reason(failure.status)}", "code": 0}
        call.status, call.response = failure.status, body
        self._touch()
        return _json_response(failure.status, body, headers)

    def _ratelimit_headers(self, method: str, template: str, params: dict) -> tuple[dict[str, str], float | None]:
        """Count the request in its bucket: the headers, and the wait if it is over the limit."""
        bucket = hashlib.md5(f"{method} {template}".encode()).hexdigest()
        major = "+".join(params.get(k, "") for k in ("channel_id", "guild_id", "app_id", "token"))
        now = time.time()
        window = self._buckets.get((bucket, major))
        if window is None or now >= window[0] + self.rate_limit_window_s:
            window = self._buckets[(bucket, major)] = [now, 0]
        window[1] += 1
        reset_after = window[0] + self.rate_limit_window_s - now
        headers = {
            "Via": "1.1 google",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - window[1])),
            "X-RateLimit-Reset": f"{window[0] + self.rate_limit_window_s:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        return headers, (reset_after if window[1] > self.rate_limit else None)

    def _upload_limit_for(self, params: dict) -> int | None:
        if "token" in params:
            inter = self._tokens.get(params["token"])
            return inter.attachment_size_limit if inter else DEFAULT_UPLOAD_LIMIT
        if "channel_id" in params:
            try:
                channel = self.channels.get(int(params["channel_id"]))
            except ValueError:
                return None
            if channel is None:
                return None
            return self._channel_upload_limit(channel)
        return None

    def _channel_upload_limit(self, channel: dict) -> int:
        guild = self.guilds.get(int(channel.get("guild_id") or 0))
        return upload_limit(guild["premium_tier"] if guild else None)

    def _cdn(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        parts = path.split("/")
        gone = web.Response(status=404, text="This content is no longer available.")
        try:
            attachment_id = int(parts[-2])
            expires = int(request.query.get("ex", ""), 16)
            issued = int(request.query.get("is", ""), 16)
        except (ValueError, IndexError):
            return gone
        canonical = path.removeprefix("/media")
        expected = self._cdn_signature(canonical, expires, issued)
        if not hmac.compare_digest(expected, request.query.get("hm", "")) or expires < self._cdn_now():
            return gone
        stored = self._attachments.get(attachment_id)
        if stored is None or not stored.path.is_file():
            return web.Response(status=404, text="404: Not Found")
        self.downloads.append(path)
        self._touch()
        content_type = stored.content_type or "application/octet-stream"
        return web.FileResponse(stored.path, headers={"Content-Type": content_type})

    def _cdn_now(self) -> float:
        return time.time() + self._cdn_clock_offset

    def _cdn_signature(self, path: str, expires: int, issued: int) -> str:
        return hmac.new(self._cdn_secret, f"{path}|{expires:08x}|{issued:08x}".encode(), hashlib.sha256).hexdigest()

    def _cdn_urls(self, channel_id: int, attachment_id: int, filename: str) -> tuple[str, str]:
        issued = int(self._cdn_now())
        expires = issued + ATTACHMENT_URL_TTL_S
        path = f"/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        query = f"?ex={expires:08x}&is={issued:08x}&hm={self._cdn_signature(path, expires, issued)}&"
        return f"{self.url}{path}{query}", f"{self.url}/media{path}{query}"

    def _resign(self, attachment: dict, channel_id: int) -> dict:
        attachment = dict(attachment)
        if int(attachment["id"]) in self._attachments:
            attachment["url"], attachment["proxy_url"] = self._cdn_urls(
                channel_id, int(attachment["id"]), attachment["filename"]
            )
        return attachment

    # ------------------------------------------------------------------ REST: users, app, guilds

    async def _r_gateway(self, call: Call, params: dict) -> tuple[int, Any]:
        return 200, {"url": self.ws_url}

    async def _r_gateway_bot(self, call: Call, params: dict) -> tuple[int, Any]:
        return 200, {
            "url": self.ws_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1},
        }

    async def _r_me(self, call: Call, params: dict) -> tuple[int, Any]:
        return 200, {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}

    async def _r_user(self, call: Call, params: dict) -> tuple[int, Any]:
        user_id = _int(params["user_id"])
        user = self.bot_user if user_id == self.bot_id else self.users.get(user_id)
        if user is None:
            raise _unknown("User", 10013)
        return 200, user

    async def _r_create_dm(self, call: Call, params: dict) -> tuple[int, Any]:
        recipient = _int((call.json or {}).get("recipient_id"))
        user = self.users.get(recipient)
        if user is None:
            raise ApiError(400, "Invalid Recipient(s)", 50033)
        return 200, self._dm_channel(user)

    async def _r_application(self, call: Call, params: dict) -> tuple[int, Any]:
        owner = user_payload(GUILD_OWNER_ID, "owner")
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_name,
            "icon": None,
            "description": "NemoVideo chat front-end (fake)",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self._application_flags(),
            "owner": owner,
            "team": None,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": str(BOT_PERMISSIONS)},
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self.guilds),
        }

    def _check_app(self, params: dict) -> int | None:
        if _int(params["app_id"]) != self.application_id:
            raise ApiError(403, "Missing Access", 50001)
        if "guild_id" not in params:
            return None
        guild_id = _int(params["guild_id"])
        if guild_id not in self.guilds:
            raise ApiError(403, "Missing Access", 50001)
        return guild_id

    async def _r_get_commands(self, call: Call, params: dict) -> tuple[int, Any]:
        guild_id = self._check_app(params)
        return 200, copy.deepcopy(self._commands.get(guild_id, []))

    async def _r_put_commands(self, call: Call, params: dict) -> tuple[int, Any]:
        guild_id = self._check_app(params)
        commands = call.json
        if not isinstance(commands, list):
            raise _form_error("_", "LIST_TYPE_CONVERT", "Must be an array.")
        seen: set[tuple[int, str]] = set()
        echoed = []
        for index, command in enumerate(commands):
            name = command.get("name", "")
            kind = command.get("type", 1)
            if kind == 1 and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
                raise ApiError(
                    400,
                    "Invalid Form Body",
                    50035,
                    {
                        str(index): {
                            "name": {
                                "_errors": [
                                    {"code": "APPLICATION_COMMAND_INVALID_NAME", "message": "Command name is invalid"}
                                ]
                            }
                        }
                    },
                )
            if kind == 1 and not 1 <= len(command.get("description", "")) <= 100:
                raise ApiError(
                    400,
                    "Invalid Form Body",
                    50035,
                    {
                        str(index): {
                            "description": {
                                "_errors": [
                                    {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
                                ]
                            }
                        }
                    },
                )
            if (kind, name) in seen:
                raise ApiError(
                    400,
                    "Invalid Form Body",
                    50035,
                    {
                        "_errors": [
                            {
                                "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                "message": f"Application command names must be unique: {name}",
                            }
                        ]
                    },
                )
            seen.add((kind, name))
            command_id = self._command_ids.setdefault((guild_id, name), self._new_id())
            out = {
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": str(self._new_id()),
                "type": kind,
                "name": name,
                "description": command.get("description", ""),
                "name_localizations": command.get("name_localizations"),
                "description_localizations": command.get("description_localizations"),
                "options": copy.deepcopy(command.get("options", [])),
                "default_member_permissions": command.get("default_member_permissions"),
                "dm_permission": command.get("dm_permission", True),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types", [0]),
                "nsfw": command.get("nsfw", False),
            }
            if guild_id is not None:
                out["guild_id"] = str(guild_id)
            echoed.append(out)
        self.synced_commands[guild_id] = copy.deepcopy(commands)
        self._commands[guild_id] = echoed
        return 200, copy.deepcopy(echoed)

    async def _r_guild(self, call: Call, params: dict) -> tuple[int, Any]:
        guild = self.guilds.get(_int(params["guild_id"]))
        if guild is None:
            raise _unknown("Guild", 10004)
        skip = {
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "lazy",
            "member_count",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
            "embedded_activities",
            "unavailable",
        }
        return 200, {k: copy.deepcopy(v) for k, v in guild.items() if k not in skip}

    async def _r_guild_channels(self, call: Call, params: dict) -> tuple[int, Any]:
        guild_id = _int(params["guild_id"])
        if guild_id not in self.guilds:
            raise _unknown("Guild", 10004)
        return 200, [
            c for c in self.channels.values() if c.get("guild_id") == str(guild_id) and c["type"] not in (10, 11, 12)
        ]

    async def _r_channel(self, call: Call, params: dict) -> tuple[int, Any]:
        return 200, self._channel_or_404(params["channel_id"])

    async def _r_typing(self, call: Call, params: dict) -> tuple[int, Any]:
        self._channel_or_404(params["channel_id"])
        return 204, None

    # ------------------------------------------------------------------ REST: messages

    async def _r_history(self, call: Call, params: dict) -> tuple[int, Any]:
        channel = self._channel_or_404(params["channel_id"])
        channel_id = int(channel["id"])
        limit = max(1, min(100, _int(call.query.get("limit", "50"))))
        found = [m for m in self._all_messages.values() if int(m["channel_id"]) == channel_id]
        found.sort(key=lambda m: int(m["id"]), reverse=True)
        if "before" in call.query:
            found = [m for m in found if int(m["id"]) < _int(call.query["before"])]
        if "after" in call.query:
            found = [m for m in found if int(m["id"]) > _int(call.query["after"])]
            found = sorted(found, key=lambda m: int(m["id"]))[:limit][::-1]
        return 200, found[:limit]

    async def _r_send(self, call: Call, params: dict) -> tuple[int, Any]:
        channel = self._channel_or_404(params["channel_id"])
        body = call.json or {}
        in_thread = channel["type"] in (10, 11, 12)
        self._require(channel, Perm.SEND_MESSAGES_IN_THREADS if in_thread else Perm.SEND_MESSAGES)
        if call.files:
            self._require(channel, Perm.ATTACH_FILES)
        self._validate_content(body, call.files, has_existing=False)
        channel_id = int(channel["id"])
        guild_id = _int(channel["guild_id"]) if channel.get("guild_id") else None
        reference = referenced = None
        if body.get("message_reference"):
            ref = body["message_reference"]
            ref_id = _int(ref.get("message_id"))
            referenced = self._all_messages.get(ref_id)
            if referenced is None and ref.get("fail_if_not_exists", True):
                raise _form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            reference = {
                "type": ref.get("type", 0),
                "message_id": str(ref_id),
                "channel_id": str(ref.get("channel_id") or channel_id),
            }
            if guild_id is not None:
                reference["guild_id"] = str(guild_id)
        attachments, _ = self._attachments_for(channel_id, body.get("attachments"), call.files, existing=[])
        content = body.get("content") or ""
        payload = message_payload(
            self._new_id(),
            channel_id,
            content,
            author=self.bot_user,
            guild_id=guild_id,
            member=self._bot_member(guild_id),
            attachments=attachments,
            mentions=self._mentions(content),
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            type=19 if reference else 0,
            flags=int(body.get("flags") or 0) & _SENDABLE_FLAGS & ~FLAG_EPHEMERAL,
            message_reference=reference,
            referenced_message=referenced,
            nonce=body.get("nonce"),
            tts=bool(body.get("tts")),
        )
        self._store_message(payload)
        self._record_message(payload, body, call.files)
        await self._dispatch("MESSAGE_CREATE", payload)
        return 200, payload

    async def _r_get_message(self, call: Call, params: dict) -> tuple[int, Any]:
        return 200, self._message_in(params["channel_id"], params["message_id"])

    async def _r_edit_message(self, call: Call, params: dict) -> tuple[int, Any]:
        message = self._message_in(params["channel_id"], params["message_id"])
        if int(message["author"]["id"]) != self.bot_id:  # (non-ephemeral interaction replies are the bot's)
            raise ApiError(403, "Cannot edit a message authored by another user", 50005)
        payload = self._apply_edit(int(message["id"]), call.json or {}, call.files)
        await self._dispatch("MESSAGE_UPDATE", payload)
        return 200, payload

    async def _r_delete_message(self, call: Call, params: dict) -> tuple[int, Any]:
        message = self._message_in(params["channel_id"], params["message_id"])
        if int(message["author"]["id"]) != self.bot_id:
            self._require(self._channel_or_404(params["channel_id"]), Perm.MANAGE_MESSAGES)
        await self._delete(message)
        return 204, None

    async def _r_react(self, call: Call, params: dict) -> tuple[int, Any]:
        message = self._message_in(params["channel_id"], params["message_id"])
        self.reactions.append((int(message["channel_id"]), int(message["id"]), params["emoji"]))
        return 204, None

    async def _r_unreact(self, call: Call, params: dict) -> tuple[int, Any]:
        message = self._message_in(params["channel_id"], params["message_id"])
        key = (int(message["channel_id"]), int(message["id"]), params["emoji"])
        if key in self.reactions:
            self.reactions.remove(key)
        return 204, None

    async def _r_thread_from_message(self, call: Call, params: dict) -> tuple[int, Any]:
        channel = self._channel_or_404(params["channel_id"])
        message = self._message_in(params["channel_id"], params["message_id"])
        if channel["type"] not in (0, 5):
            raise ApiError(400, "Cannot execute action on this channel type", 50024)
        self._require(channel, Perm.CREATE_PUBLIC_THREADS)
        if message.get("thread"):
            raise ApiError(400, "A thread has already been created for this message", 160004)
        body = call.json or {}
        thread = self._new_thread(channel, body, thread_id=int(message["id"]), kind=11)
        message["thread"] = thread
        message["flags"] = int(message.get("flags", 0)) | FLAG_HAS_THREAD
        self._record_thread(thread, int(message["id"]))
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return 201, thread

    async def _r_thread(self, call: Call, params: dict) -> tuple[int, Any]:
        channel = self._channel_or_404(params["channel_id"])
        if channel["type"] not in (0, 5):
            raise ApiError(400, "Cannot execute action on this channel type", 50024)
        body = call.json or {}
        kind = body.get("type", 12)
        if kind not in (10, 11, 12):
            raise _form_error("type", "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
        self._require(channel, Perm.CREATE_PRIVATE_THREADS if kind == 12 else Perm.CREATE_PUBLIC_THREADS)
        thread = self._new_thread(channel, body, thread_id=self._new_id(), kind=kind)
        self._record_thread(thread, None)
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return 201, thread

    async def _r_add_thread_member(self, call: Call, params: dict) -> tuple[int, Any]:
        thread_id = int(params["channel_id"])
        if thread_id not in self.thread_members:
            raise ApiError(404, "Unknown Channel", 10003)
        self.thread_members[thread_id].add(int(params["user_id"]))
        return 204, None

    async def _r_get_thread_member(self, call: Call, params: dict) -> tuple[int, Any]:
        thread_id, user_id = int(params["channel_id"]), int(params["user_id"])
        if user_id not in self.thread_members.get(thread_id, set()):
            raise ApiError(404, "Unknown Member", 10007)
        return 200, {"id": str(thread_id), "user_id": str(user_id), "join_timestamp": iso_time(), "flags": 0}

    async def _r_refresh_urls(self, call: Call, params: dict) -> tuple[int, Any]:
        refreshed = []
        for url in (call.json or {}).get("attachment_urls", []):
            match = re.search(r"/attachments/(\d+)/(\d+)/([^?]+)", url)
            new = url
            if match and int(match.group(2)) in self._attachments:
                stored = self._attachments[int(match.group(2))]
                new = self._cdn_urls(int(match.group(1)), stored.id, stored.filename)[0]
            refreshed.append({"original": url, "refreshed": new})
        return 200, {"refreshed_urls": refreshed}

    # ------------------------------------------------------------------ REST: interactions

    async def _r_callback(self, call: Call, params: dict) -> tuple[int, Any]:
        inter = self._interactions.get(_int(params["interaction_id"]))
        if inter is None or inter.token != params["token"] or inter.callback_expired:
            raise ApiError(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            raise ApiError(400, "Interaction has already been acknowledged.", 40060)
        body = call.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {2: (4, 5, 9), 3: (4, 5, 6, 7, 9), 4: (8,), 5: (4, 5, 6, 7)}.get(inter.type, ())
        if kind not in allowed:
            raise _form_error(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Callback type is invalid for this interaction."
            )
        message: dict | None = None
        ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        if kind == 4:
            self._validate_content(data, call.files, has_existing=False)
            message = await self._interaction_message(inter, data, call.files)
            inter.original_message_id = int(message["id"])
        elif kind == 5:
            thinking = {"content": "", "flags": data.get("flags", 0)}
            message = await self._interaction_message(inter, thinking, [], loading=True)
            inter.original_message_id = int(message["id"])
        elif kind in (6, 7):
            inter.original_message_id = inter.source_message_id
            if kind == 7 and inter.source_message_id is not None:
                source = self._all_messages.get(inter.source_message_id)
                if source is not None:
                    message = self._apply_edit(inter.source_message_id, data, call.files)
                    if not int(message.get("flags", 0)) & FLAG_EPHEMERAL:
                        await self._dispatch("MESSAGE_UPDATE", message)
        inter.response_type = kind
        self._log_interaction(inter, "callback", data, call.files, message, type=kind)
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        response: dict[str, Any] = {
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            },
            "resource": {"type": kind},
        }
        if inter.original_message_id is not None and kind in (4, 5, 7):
            response["interaction"]["response_message_id"] = str(inter.original_message_id)
        if message is not None and kind in (4, 7):
            response["resource"]["message"] = message
        return 200, response

    def _webhook_interaction(self, params: dict) -> _Interaction:
        if _int(params["app_id"]) != self.application_id:
            raise _unknown("Webhook", 10015)
        inter = self._tokens.get(params["token"])
        if inter is None or inter.token_expired:
            raise ApiError(401, "Invalid Webhook Token", 50027)
        if inter.response_type is None:
            raise _unknown("Webhook", 10015)
        return inter

    def _webhook_message_id(self, inter: _Interaction, raw_id: str) -> int:
        if raw_id == "@original":
            if inter.original_message_id is None:
                raise _unknown("Message", 10008)
            return inter.original_message_id
        message_id = _int(raw_id)
        if message_id not in inter.message_ids and message_id != inter.original_message_id:
            raise _unknown("Message", 10008)
        return message_id

    async def _r_followup(self, call: Call, params: dict) -> tuple[int, Any]:
        inter = self._webhook_interaction(params)
        body = call.json or {}
        self._validate_content(body, call.files, has_existing=False)
        original = self._all_messages.get(inter.original_message_id or 0)
        if (
            inter.response_type == 5
            and inter.followups_sent == 0
            and original is not None
            and int(original.get("flags", 0)) & FLAG_LOADING
        ):
            # The first follow-up after a deferral replaces the "thinking" message.
            edit = {k: v for k, v in body.items() if k != "flags"}
            message = self._apply_edit(int(original["id"]), edit, call.files, clear_loading=True)
            if not int(message.get("flags", 0)) & FLAG_EPHEMERAL:
                await self._dispatch("MESSAGE_UPDATE", message)
        else:
            message = await self._interaction_message(inter, body, call.files)
        inter.followups_sent += 1
        self._log_interaction(inter, "followup", body, call.files, message)
        if call.query.get("wait", "").lower() in ("1", "true"):
            return 200, message
        return 204, None

    async def _r_webhook_get(self, call: Call, params: dict) -> tuple[int, Any]:
        inter = self._webhook_interaction(params)
        message_id = self._webhook_message_id(inter, params["message_id"])
        message = self._all_messages.get(message_id)
        if message is None:
            raise _unknown("Message", 10008)
        kind = "get_original" if params["message_id"] == "@original" else "get"
        self._log_interaction(inter, kind, None, [], message)
        return 200, message

    async def _r_webhook_edit(self, call: Call, params: dict) -> tuple[int, Any]:
        inter = self._webhook_interaction(params)
        message_id = self._webhook_message_id(inter, params["message_id"])
        if message_id not in self._all_messages:
            raise _unknown("Message", 10008)
        message = self._apply_edit(message_id, call.json or {}, call.files, clear_loading=True)
        if not int(message.get("flags", 0)) & FLAG_EPHEMERAL:
            await self._dispatch("MESSAGE_UPDATE", message)
        kind = "edit_original" if params["message_id"] == "@original" else "edit"
        self._log_interaction(inter, kind, call.json or {}, call.files, message)
        return 200, message

    async def _r_webhook_delete(self, call: Call, params: dict) -> tuple[int, Any]:
        inter = self._webhook_interaction(params)
        message_id = self._webhook_message_id(inter, params["message_id"])
        message = self._all_messages.get(message_id)
        if message is None:
            raise _unknown("Message", 10008)
        await self._delete(message)
        kind = "delete_original" if params["message_id"] == "@original" else "delete"
        self._log_interaction(inter, kind, None, [], message)
        return 204, None

    # ------------------------------------------------------------------ internal helpers

    def _new_id(self) -> int:
        value = max(snowflake(), self._last_id + 1)
        self._last_id = value
        return value

    def _new_file_path(self, folder: str, filename: str) -> Path:
        self._file_counter += 1
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).name) or "file"
        target = self.files_dir / folder / f"{self._file_counter:04d}_{safe}"
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _touch(self) -> None:
        self._changed.set()

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def _select_interactions(self, interaction_id: int | None) -> Iterable[_Interaction]:
        if interaction_id is None:
            return list(self._interactions.values())
        if interaction_id not in self._interactions:
            raise KeyError(f"unknown interaction {interaction_id}")
        return [self._interactions[interaction_id]]

    def _channel(self, channel_id: int) -> dict:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}: add it with add_guild(channels=...)")
        return channel

    def _channel_or_404(self, raw_id: Any) -> dict:
        channel = self.channels.get(_int(raw_id))
        if channel is None:
            raise _unknown("Channel", 10003)
        return channel

    def _message_in(self, raw_channel_id: Any, raw_message_id: Any) -> dict:
        channel = self._channel_or_404(raw_channel_id)
        message = self._all_messages.get(_int(raw_message_id))
        if message is None or message["channel_id"] != channel["id"] or int(message.get("flags", 0)) & FLAG_EPHEMERAL:
            raise _unknown("Message", 10008)
        return message

    def _dm_channel(self, user: dict) -> dict:
        user_id = int(user["id"])
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self._new_id()
            self._dm_by_user[user_id] = channel_id
            self.channels[channel_id] = dm_channel_payload(channel_id, user)
        return self.channels[channel_id]

    def _permissions(self, channel: dict, *, bot: bool) -> int:
        guild_id = channel.get("guild_id")
        if not guild_id:
            return Perm.ALL & ~Perm.ADMINISTRATOR if bot else EVERYONE_PERMISSIONS
        everyone, bot_role = self._guild_perms.get(int(guild_id), (EVERYONE_PERMISSIONS, BOT_PERMISSIONS))
        perms = everyone | (bot_role if bot else 0)
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        return perms

    def _require(self, channel: dict, needed: int) -> None:
        if not channel.get("guild_id"):
            return
        perms = self._permissions(channel, bot=True)
        if perms & (Perm.VIEW_CHANNEL | needed) != (Perm.VIEW_CHANNEL | needed):
            raise ApiError(*_MISSING_PERMISSIONS)

    def _bot_member(self, guild_id: int | None) -> dict | None:
        if guild_id is None:
            return None
        role = self._guild_bot_role.get(guild_id)
        return member_payload(roles=[role] if role else [])

    def _mentions(self, content: str) -> list[dict]:
        found = []
        for user_id in dict.fromkeys(int(m) for m in _MENTION_RE.findall(content)):
            user = self.bot_user if user_id == self.bot_id else self.users.get(user_id)
            if user is not None:
                found.append(user)
        return found

    def _validate_content(self, body: dict, files: list[UploadedFile], *, has_existing: bool) -> None:
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            raise _form_error("content", "BASE_TYPE_STRING", "Must be a string.")
        if content and len(content) > MAX_MESSAGE_CHARS:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_MESSAGE_CHARS} or fewer in length.")
        flags = int(body.get("flags") or 0)
        if has_existing or (flags & FLAG_IS_COMPONENTS_V2 and body.get("components")):
            return
        parts = (content, body.get("embeds"), files, body.get("sticker_ids"), body.get("components"), body.get("poll"))
        if not any(parts):
            raise ApiError(*_EMPTY_MESSAGE)

    def _attachments_for(
        self, channel_id: int, spec: list[dict] | None, files: list[UploadedFile], existing: list[dict]
    ) -> tuple[list[dict], list[UploadedFile]]:
        """The attachment objects of a message: kept ones and the new uploads (by index)."""
        by_index: dict[int, UploadedFile] = {}
        for position, upload in enumerate(files):
            match = re.fullmatch(r"files\[(\d+)\]", upload.field)
            by_index[int(match.group(1)) if match else position] = upload
        kept_by_id = {int(a["id"]): a for a in existing}
        result: list[dict] = []
        used: set[int] = set()
        if spec is None:
            result.extend(existing)
            entries = [{"id": i} for i in sorted(by_index)]
        else:
            entries = list(spec)
        for entry in entries:
            raw = entry.get("id")
            key = _int(raw) if raw is not None else -1
            if key in by_index and key not in used and key < (1 << 22):
                upload = by_index[key]
                used.add(key)
                result.append(self._new_attachment(channel_id, upload, entry))
            elif key in kept_by_id:
                result.append(kept_by_id[key])
        for key in sorted(set(by_index) - used):  # uploads not listed still attach
            result.append(self._new_attachment(channel_id, by_index[key], {}))
        return result, files

    def _new_attachment(self, channel_id: int, upload: UploadedFile, entry: dict) -> dict:
        attachment_id = self._new_id()
        filename = entry.get("filename") or upload.filename
        self._attachments[attachment_id] = _StoredAttachment(
            attachment_id, filename, upload.content_type, upload.path, upload.size
        )
        url, proxy_url = self._cdn_urls(channel_id, attachment_id, filename)
        return attachment_payload(
            attachment_id,
            filename,
            size=upload.size,
            url=url,
            proxy_url=proxy_url,
            content_type=upload.content_type,
            description=entry.get("description"),
        )

    def _store_message(self, payload: dict) -> None:
        self._all_messages[int(payload["id"])] = payload
        channel = self.channels.get(int(payload["channel_id"]))
        if channel is not None and not int(payload.get("flags", 0)) & FLAG_EPHEMERAL:
            channel["last_message_id"] = payload["id"]
            if channel.get("type") in (10, 11, 12):
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1

    def _record_message(
        self, payload: dict, body: dict, files: list[UploadedFile], *, interaction_id: int | None = None
    ) -> dict:
        """Record a message the bot posted.

        The record (an entry of :attr:`messages`) has ``id``, ``channel_id``, ``guild_id``,
        ``content``, ``embeds``, ``components``, ``attachments`` (paths of the current files),
        ``files`` (:class:`UploadedFile` of the current files), ``allowed_mentions``,
        ``message_reference``, ``flags``, ``ephemeral``, ``interaction_id``, ``edits`` (each
        edit's JSON body, with ``"files"`` when it uploaded some), ``deleted`` and ``raw`` (the
        message object as last answered).
        """
        self.uploaded.extend(files)
        record: dict[str, Any] = {
            "id": int(payload["id"]),
            "channel_id": int(payload["channel_id"]),
            "guild_id": _int(payload["guild_id"]) if payload.get("guild_id") else None,
            "allowed_mentions": body.get("allowed_mentions"),
            "message_reference": body.get("message_reference"),
            "interaction_id": interaction_id,
            "edits": [],
            "deleted": False,
        }
        self._sync_record(record, payload)
        self._records[record["id"]] = record
        self.messages.setdefault(record["channel_id"], []).append(record)
        return record

    def _sync_record(self, record: dict, payload: dict) -> None:
        flags = int(payload.get("flags", 0))
        stored = [self._attachments.get(int(a["id"])) for a in payload.get("attachments", [])]
        record.update(
            content=payload.get("content", ""),
            embeds=payload.get("embeds", []),
            components=payload.get("components", []),
            attachments=[s.path for s in stored if s is not None],
            files=[UploadedFile(s.filename, s.content_type, s.path, s.size) for s in stored if s is not None],
            flags=flags,
            ephemeral=bool(flags & FLAG_EPHEMERAL),
            raw=payload,
        )

    def _apply_edit(
        self, message_id: int, body: dict, files: list[UploadedFile], *, clear_loading: bool = False
    ) -> dict:
        message = self._all_messages[message_id]
        channel_id = int(message["channel_id"])
        updated = dict(message)
        if "content" in body:
            updated["content"] = body["content"] or ""
            updated["mentions"] = self._mentions(updated["content"])
            if message.get("guild_id"):
                updated["mentions"] = [{**m, "member": member_payload()} for m in updated["mentions"]]
        if "embeds" in body:
            updated["embeds"] = body["embeds"] or []
        if "components" in body:
            updated["components"] = copy.deepcopy(body["components"] or [])
        flags = int(message.get("flags", 0))
        if clear_loading:
            flags &= ~FLAG_LOADING
        if "flags" in body and body["flags"] is not None:
            flags = (flags & ~FLAG_SUPPRESS_EMBEDS) | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        updated["flags"] = flags
        attachments, _ = self._attachments_for(
            channel_id, body.get("attachments"), files, existing=list(message.get("attachments", []))
        )
        updated["attachments"] = attachments
        if len(updated["content"]) > MAX_MESSAGE_CHARS:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_MESSAGE_CHARS} or fewer in length.")
        empty = not (
            updated["content"]
            or updated["embeds"]
            or attachments
            or updated["components"]
            or updated.get("sticker_items")
            or updated.get("poll")
        )
        if empty and not flags & FLAG_LOADING:
            raise ApiError(*_EMPTY_MESSAGE)
        updated["edited_timestamp"] = iso_time()
        self._all_messages[message_id] = updated
        record = self._records.get(message_id)
        if record is not None:
            edit = dict(body)
            if files:
                edit["files"] = list(files)
                self.uploaded.extend(files)
            record["edits"].append(edit)
            if "allowed_mentions" in body:
                record["allowed_mentions"] = body["allowed_mentions"]
            self._sync_record(record, updated)
        return updated

    async def _delete(self, message: dict) -> None:
        message_id = int(message["id"])
        self._all_messages.pop(message_id, None)
        record = self._records.get(message_id)
        if record is not None:
            record["deleted"] = True
        if not int(message.get("flags", 0)) & FLAG_EPHEMERAL:
            event = {"id": message["id"], "channel_id": message["channel_id"]}
            if message.get("guild_id"):
                event["guild_id"] = message["guild_id"]
            await self._dispatch("MESSAGE_DELETE", event)

    def _new_thread(self, channel: dict, body: dict, *, thread_id: int, kind: int) -> dict:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise _form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = body.get("auto_archive_duration") or channel.get("default_auto_archive_duration", 1440)
        if duration not in THREAD_ARCHIVE_DURATIONS:
            raise _form_error(
                "auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of (60, 1440, 4320, 10080)."
            )
        thread = thread_payload(
            thread_id,
            int(channel["guild_id"]),
            int(channel["id"]),
            owner_id=self.bot_id,
            name=name,
            type=kind,
            auto_archive_duration=duration,
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            member_user_id=self.bot_id,
        )
        self.channels[thread_id] = thread
        self.thread_members[thread_id] = {self.bot_id}
        return thread

    def _record_thread(self, thread: dict, message_id: int | None) -> None:
        self.threads.append(
            {
                "id": int(thread["id"]),
                "guild_id": int(thread["guild_id"]),
                "parent_id": int(thread["parent_id"]),
                "message_id": message_id,
                "name": thread["name"],
                "type": thread["type"],
                "auto_archive_duration": thread["thread_metadata"]["auto_archive_duration"],
                "raw": thread,
            }
        )

    def _interaction_place(self, channel_id: int, guild_id: Any, user: dict) -> tuple[dict, int | None]:
        self.users.setdefault(int(user["id"]), user)
        channel = self.channels.get(channel_id)
        if guild_id is _AUTO:
            guild_id = _int(channel["guild_id"]) if channel and channel.get("guild_id") else None
        if guild_id is None:
            if channel is None:
                channel = dm_channel_payload(channel_id, user)
                self.channels[channel_id] = channel
                self._dm_by_user.setdefault(int(user["id"]), channel_id)
            elif channel.get("guild_id"):
                raise ValueError(f"channel {channel_id} belongs to guild {channel['guild_id']}, not a DM")
            return channel, None
        if guild_id not in self.guilds:
            raise ValueError(f"unknown guild {guild_id}: add it with add_guild()")
        if channel is None or channel.get("guild_id") != str(guild_id):
            raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
        return channel, guild_id

    def _command_id(self, name: str, guild_id: int | None) -> tuple[int, int | None]:
        if guild_id is not None:
            for command in self._commands.get(guild_id, []):
                if command["name"] == name:
                    return int(command["id"]), guild_id
        for command in self._commands.get(None, []):
            if command["name"] == name:
                return int(command["id"]), None
        return self._command_ids.setdefault((None, name), self._new_id()), None

    async def _new_interaction(
        self,
        kind: int,
        data: dict,
        channel: dict,
        guild_id: int | None,
        user: dict,
        locale: str,
        app_permissions: int | str | None,
        attachment_size_limit: int | None,
        *,
        name: str | None = None,
        source_message: dict | None = None,
    ) -> dict:
        interaction_id = self._new_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        guild = self.guilds.get(guild_id) if guild_id is not None else None
        if attachment_size_limit is None:
            attachment_size_limit = upload_limit(guild["premium_tier"] if guild else None)
        if app_permissions is None:
            app_permissions = self._permissions(channel, bot=True)
        payload = interaction_payload(
            interaction_id,
            token,
            application_id=self.application_id,
            data=data,
            channel=channel,
            user=user,
            type=kind,
            guild_id=guild_id,
            guild_locale=guild["preferred_locale"] if guild else None,
            guild_features=guild["features"] if guild else (),
            app_permissions=app_permissions,
            member_permissions=self._permissions(channel, bot=False),
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            message=source_message,
        )
        inter = _Interaction(
            id=interaction_id,
            token=token,
            type=kind,
            channel_id=int(channel["id"]),
            guild_id=guild_id,
            user=user,
            payload=payload,
            attachment_size_limit=attachment_size_limit,
            name=name,
            source_message_id=int(source_message["id"]) if source_message else None,
        )
        self._interactions[interaction_id] = inter
        self._tokens[token] = inter
        await self._dispatch("INTERACTION_CREATE", payload, require_client=True)
        return payload

    async def _interaction_message(
        self, inter: _Interaction, body: dict, files: list[UploadedFile], *, loading: bool = False
    ) -> dict:
        channel_id = inter.channel_id
        flags = int(body.get("flags") or 0) & _SENDABLE_FLAGS
        if loading:
            flags |= FLAG_LOADING
        metadata: dict[str, Any] = {
            "id": str(inter.id),
            "type": inter.type,
            "user": inter.user,
            "authorizing_integration_owners": inter.payload["authorizing_integration_owners"],
        }
        if inter.type == 2:
            metadata["name"] = inter.name
            metadata["command_type"] = inter.payload["data"].get("type", 1)
        elif inter.source_message_id is not None:
            metadata["interacted_message_id"] = str(inter.source_message_id)
        if inter.original_message_id is not None:
            metadata["original_response_message_id"] = str(inter.original_message_id)
        attachments, _ = self._attachments_for(channel_id, body.get("attachments"), files, existing=[])
        content = body.get("content") or ""
        payload = message_payload(
            self._new_id(),
            channel_id,
            content,
            author=self.bot_user,
            guild_id=inter.guild_id,
            member=self._bot_member(inter.guild_id),
            attachments=attachments,
            mentions=self._mentions(content),
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            type=20 if inter.type == 2 else 0,
            flags=flags,
            webhook_id=self.application_id,
            application_id=self.application_id,
            interaction_metadata=metadata,
            tts=bool(body.get("tts")),
        )
        self._store_message(payload)
        self._record_message(payload, body, files, interaction_id=inter.id)
        inter.message_ids.add(int(payload["id"]))
        if not flags & FLAG_EPHEMERAL:
            await self._dispatch("MESSAGE_CREATE", payload)
        return payload

    def _log_interaction(
        self,
        inter: _Interaction,
        kind: str,
        data: Any,
        files: list[UploadedFile],
        message: dict | None,
        *,
        type: int | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "kind": kind,
            "data": copy.deepcopy(data),
            "files": list(files),
            "message_id": int(message["id"]) if message else None,
            "message": message,
        }
        if type is not None:
            entry["type"] = type
        self.interaction_responses.setdefault(inter.id, []).append(entry)
        self._touch()


class patched_discord:
    """Point discord.py at a :class:`FakeDiscord`: sets ``discord.http.Route.BASE`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``, restores both on exit.

    Use as ``with patched_discord(fake):`` or ``async with patched_discord(fake):`` around the
    whole life of the client (login to ``close()``): routes read ``Route.BASE`` when built.
    """

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._saved: tuple[str, Any] | None = None

    def __enter__(self) -> FakeDiscord:
        import discord.gateway
        import discord.http
        import yarl

        if not self.fake.url:
            raise RuntimeError("start the FakeDiscord before patching discord.py")
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.fake.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.fake.ws_url)
        return self.fake

    def __exit__(self, *exc_info: object) -> None:
        import discord.gateway
        import discord.http

        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> FakeDiscord:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)


# ---------------------------------------------------------------------- module helpers


def _usage(entry: dict) -> None:
    import os
    path = os.environ.get("FAKE_USAGE_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", as Discord sends it: discord.py's json_or_text compares the header
    # verbatim, so aiohttp's usual "application/json; charset=utf-8" would reach the bot as a str.
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={**(headers or {}), "Content-Type": "application/json"}
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _form_error("_", "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.') from None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
