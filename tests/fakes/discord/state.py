"""The fake Discord's state: the bot, the world (guilds, channels, users, messages), what it
recorded, and the lookups the REST and gateway layers share.

:class:`DiscordState` is the bottom of :class:`~tests.fakes.discord.FakeDiscord`'s layers (see
:mod:`tests.fakes.discord.server`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Collection, Coroutine
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeServer, UploadedFile
from tests.fakes.discord.constants import (
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    MiB,
    Perm,
    upload_limit,
)
from tests.fakes.discord.guild_payloads import dm_channel_payload
from tests.fakes.discord.model import (
    Call,
    Conn,
    Interaction,
    Session,
    StoredAttachment,
    to_int,
    unknown,
)
from tests.fakes.discord.payloads import member_payload, snowflake, user_payload

_PARAM_RE = re.compile(r"\{(\w*)\}")
API_PREFIX_RE = re.compile(r"^/api(?:/v\d+)?(?=/)")
MENTION_RE = re.compile(r"<@!?(\d+)>")


def path_regex(pattern: str, *, named: bool) -> re.Pattern[str]:
    """``/channels/{channel_id}/messages`` -> a regex; ``{...}`` matches one path segment
    (a named group if ``named``). A leading ``/api/vN`` and a query are ignored."""
    pattern = API_PREFIX_RE.sub("", pattern.split("?", 1)[0])
    out, pos = [], 0
    for match in _PARAM_RE.finditer(pattern):
        out.append(re.escape(pattern[pos : match.start()]))
        name = match.group(1)
        out.append(f"(?P<{name}>[^/]+)" if named and name else "[^/]+")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "/?$")


class DiscordState(FakeServer[Call]):
    """State shared by the REST, gateway and CDN layers; its arguments and attributes are
    documented on :class:`~tests.fakes.discord.server.FakeDiscord`."""

    files_prefix = "fake-discord-"
    max_body_bytes = 256 * MiB

    def __init__(
        self,
        *,
        bot_id: int = 900000000000000001,
        bot_name: str = "nemobot",
        files_dir: Path | None = None,
        recommended_shards: int | None = None,
        max_concurrency: int = 1,
    ) -> None:
        super().__init__(files_dir)
        self.recommended_shards = recommended_shards
        self.max_concurrency = max_concurrency
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.application_id = bot_id
        self.bot_user = user_payload(bot_id, bot_name, bot=True)
        self.ws_url = ""

        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.threads: list[dict[str, Any]] = []
        self.thread_members: dict[int, set[int]] = {}
        self.interaction_responses: dict[int, list[dict[str, Any]]] = {}
        self.modals: dict[int, dict[str, Any]] = {}  # interaction id -> the modal the bot opened
        self.autocomplete_results: dict[int, list[dict[str, Any]]] = {}  # interaction id -> the choices offered
        self.synced_commands: dict[int | None, list[dict[str, Any]]] = {}
        self.identify: dict[str, Any] | None = None
        self.identifies: list[dict[str, Any]] = []
        self.uploaded: list[UploadedFile] = []
        self.dispatched: list[tuple[str, dict[str, Any]]] = []
        self.gateway_connections: list[dict[str, str]] = []
        self.heartbeats = 0
        self.resumes = 0

        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self._all_messages: dict[int, dict[str, Any]] = {}
        self._records: dict[int, dict[str, Any]] = {}
        self._attachments: dict[int, StoredAttachment] = {}
        self._interactions: dict[int, Interaction] = {}
        self._tokens: dict[str, Interaction] = {}
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._command_ids: dict[tuple[int | None, str], int] = {}
        self._dm_by_user: dict[int, int] = {}
        self._guild_bot_role: dict[int, int] = {}
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._sessions: dict[str, Session] = {}
        self._conns: set[Conn] = set()
        self._bg: set[asyncio.Task[None]] = set()
        self._last_id = 0
        self._cdn_secret = secrets.token_bytes(16)

    # ------------------------------------------------------------------ inspecting

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        """Calls with that method (``*``: any) whose path matches (``{id}`` matches a segment)."""
        regex = path_regex(path_pattern, named=False)
        wanted = method.upper()
        return [c for c in self.calls if (wanted == "*" or c.method == wanted) and regex.match(c.path)]

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """The bot's message records in a channel, oldest first (see :attr:`messages`)."""
        return list(self.messages.get(channel_id, []))

    def message(self, message_id: int) -> dict[str, Any] | None:
        """Any known message object (users' and the bot's) by id, current state."""
        return self._all_messages.get(message_id)

    def channel(self, channel_id: int) -> dict[str, Any] | None:
        """A known channel object (text channel, thread, DM)."""
        return self.channels.get(channel_id)

    @property
    def connected(self) -> bool:
        """Whether a client is connected and past READY."""
        return any(c.ready and not c.ws.closed for c in self._conns)

    @property
    def ready_shards(self) -> set[int]:
        """The shard ids with a connection past READY (sharded sessions only)."""
        return {
            c.session.shard[0]
            for c in self._conns
            if c.ready and not c.ws.closed and c.session is not None and c.session.shard is not None
        }

    async def wait_ready(self, timeout: float = 10, *, shards: Collection[int] = ()) -> None:
        """Wait until a client identified and got READY and its GUILD_CREATEs (with
        ``shards``: until each of those shards has)."""
        wanted = set(shards)
        await self.wait_until(lambda: self.connected and wanted <= self.ready_shards, timeout)

    # ------------------------------------------------------------------ helpers for the layers above

    def _new_id(self) -> int:
        """A fresh snowflake, increasing."""
        value = max(snowflake(), self._last_id + 1)
        self._last_id = value
        return value

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def _channel(self, channel_id: int) -> dict[str, Any]:
        """A known channel, for the injecting methods (a ``ValueError`` for the test's mistake)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}: add it with add_guild(channels=...)")
        return channel

    def _channel_or_404(self, raw_id: Any) -> dict[str, Any]:
        channel = self.channels.get(to_int(raw_id))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def _message_in(self, raw_channel_id: Any, raw_message_id: Any) -> dict[str, Any]:
        """A (non-ephemeral) message in a channel, or Discord's 404."""
        channel = self._channel_or_404(raw_channel_id)
        message = self._all_messages.get(to_int(raw_message_id))
        if message is None or message["channel_id"] != channel["id"] or int(message.get("flags", 0)) & FLAG_EPHEMERAL:
            raise unknown("Message", 10008)
        return message

    def _dm_channel(self, user: dict[str, Any]) -> dict[str, Any]:
        """The DM channel with a user, made on first use."""
        user_id = int(user["id"])
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self._new_id()
            self._dm_by_user[user_id] = channel_id
            self.channels[channel_id] = dm_channel_payload(channel_id, user)
        return self.channels[channel_id]

    def _permissions(self, channel: dict[str, Any], *, bot: bool) -> int:
        """The bot's (or a user's) permissions in a channel: ``@everyone`` plus the bot's role."""
        if not channel.get("guild_id"):
            return Perm.ALL & ~Perm.ADMINISTRATOR if bot else EVERYONE_PERMISSIONS
        return EVERYONE_PERMISSIONS | (BOT_PERMISSIONS if bot else 0)

    def _bot_member(self, guild_id: int | None) -> dict[str, Any] | None:
        """The bot's partial member for its messages in a guild."""
        if guild_id is None:
            return None
        role = self._guild_bot_role.get(guild_id)
        return member_payload(roles=[role] if role else [])

    def _mentions(self, content: str) -> list[dict[str, Any]]:
        """The known users ``<@id>``-mentioned in ``content``."""
        found = []
        for user_id in dict.fromkeys(int(m) for m in MENTION_RE.findall(content)):
            user = self.bot_user if user_id == self.bot_id else self.users.get(user_id)
            if user is not None:
                found.append(user)
        return found

    def _channel_upload_limit(self, channel: dict[str, Any]) -> int:
        """The per-file upload limit in a channel (its guild's boost tier; 10 MiB in DMs)."""
        guild = self.guilds.get(int(channel.get("guild_id") or 0))
        return upload_limit(guild["premium_tier"] if guild else None)
