"""Builders of Discord guild-side objects as JSON dicts: roles, text channels, threads, DM
channels and the full guild of GUILD_CREATE (see :mod:`tests.fakes.discord.payloads` for the
rest). Pure functions, no fake state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.fakes.discord.constants import BOT_PERMISSIONS, EVERYONE_PERMISSIONS, GUILD_OWNER_ID
from tests.fakes.discord.payloads import iso_time, member_payload


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
