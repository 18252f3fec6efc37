"""A fake Discord (REST, gateway, CDN) for offline tests (see :mod:`tests.fakes.discord.server`)."""

from tests.fakes.base import UploadedFile
from tests.fakes.discord.constants import (
    BOT_PERMISSIONS,
    DEFAULT_UPLOAD_LIMIT,
    EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    MAX_MESSAGE_CHARS,
    TIER_UPLOAD_LIMITS,
    MiB,
    Perm,
    upload_limit,
)
from tests.fakes.discord.guild_payloads import (
    dm_channel_payload,
    guild_payload,
    role_payload,
    text_channel_payload,
    thread_payload,
)
from tests.fakes.discord.model import ApiError, Call
from tests.fakes.discord.payloads import (
    attachment_payload,
    command_data,
    interaction_payload,
    iso_time,
    member_payload,
    message_payload,
    poll_payload,
    snowflake,
    sticker_item_payload,
    user_payload,
)
from tests.fakes.discord.server import FakeDiscord, patched_discord

__all__ = [
    "BOT_PERMISSIONS",
    "DEFAULT_UPLOAD_LIMIT",
    "EVERYONE_PERMISSIONS",
    "FLAG_EPHEMERAL",
    "FLAG_LOADING",
    "MAX_MESSAGE_CHARS",
    "TIER_UPLOAD_LIMITS",
    "ApiError",
    "Call",
    "FakeDiscord",
    "MiB",
    "Perm",
    "UploadedFile",
    "attachment_payload",
    "command_data",
    "dm_channel_payload",
    "guild_payload",
    "interaction_payload",
    "iso_time",
    "member_payload",
    "message_payload",
    "patched_discord",
    "poll_payload",
    "role_payload",
    "snowflake",
    "sticker_item_payload",
    "text_channel_payload",
    "thread_payload",
    "upload_limit",
    "user_payload",
]
