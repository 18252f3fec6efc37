"""Discord's numbers as the fake uses them: API version, limits, gateway opcodes and intents,
message flags, permission bits.

Sources: the Discord developer documentation (https://discord.com/developers/docs: "Message
Resource", "Gateway", "Permissions", "Uploading Files") and ``/work/shared/design.md``,
"Platform facts": 2000-character messages; per-file uploads of 10 MiB without boosts (and in
DMs), 50 MiB at boost tier 2 and 100 MiB at tier 3 (what discord.py's
``Guild.filesize_limit`` derives from ``premium_tier``); attachment URLs signed for 24 h.
"""

from __future__ import annotations

MiB = 1024 * 1024
API_VERSION = 10
DISCORD_EPOCH_MS = 1420070400000
MAX_MESSAGE_CHARS = 2000
DEFAULT_UPLOAD_LIMIT = 10 * MiB
TIER_UPLOAD_LIMITS = {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}
"""Per-file upload limit by guild boost tier (what ``Guild.filesize_limit`` reports)."""
ATTACHMENT_URL_TTL_S = 24 * 3600
THREAD_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
"""The ``auto_archive_duration`` values Discord accepts (minutes)."""
THREAD_TYPES = (10, 11, 12)
"""Announcement, public and private thread channel types."""
DEFAULT_USER_ID = 100000000000000001
GUILD_OWNER_ID = 100000000000000000
HEARTBEAT_INTERVAL_MS = 41250
"""HELLO's ``heartbeat_interval``, as Discord sends it."""

# Gateway opcodes (the ones discord.py's Client uses).
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY = 0, 1, 2
OP_RESUME, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 6, 9, 10, 11

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
FLAG_IS_VOICE_MESSAGE = 1 << 13
"""Message flag of a voice message (8192); its one attachment has ``duration_secs`` and ``waveform``."""
SENDABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2
"""Flags a bot may set when it sends a message."""


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


def upload_limit(premium_tier: int | None) -> int:
    """Per-file upload limit in bytes for a guild boost tier (``None``: DMs)."""
    return TIER_UPLOAD_LIMITS.get(premium_tier or 0, DEFAULT_UPLOAD_LIMIT)
