"""Setting up the fake Discord's world and what users do in it: guilds the bot is in, users,
and messages users post (MESSAGE_CREATE on the gateway). Slash commands and button presses
are in :mod:`tests.fakes.discord.interactions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.fakes.discord.constants import DEFAULT_USER_ID, TIER_UPLOAD_LIMITS
from tests.fakes.discord.guild_payloads import guild_payload
from tests.fakes.discord.messages import DiscordMessages
from tests.fakes.discord.payloads import message_payload, user_payload


class DiscordWorld(DiscordMessages):
    """Guilds, users, and users' messages."""

    def add_guild(
        self, guild_id: int, *, name: str = "Clips", premium_tier: int = 0, channels: list[int] | None = None
    ) -> dict[str, Any]:
        """Add a guild the bot is in, with text channels.

        The bot has its managed role with :data:`BOT_PERMISSIONS`, ``@everyone`` has
        :data:`EVERYONE_PERMISSIONS`. If a client is already connected, it gets a GUILD_CREATE
        (as when a bot joins a guild; the dispatch runs in the background: wait for it with
        :meth:`wait_until` or the client's ``guild_join`` event).

        Args:
            guild_id: Snowflake.
            name: Guild name.
            premium_tier: Boost tier 0-3; sets the upload limit (10/10/50/100 MiB).
            channels: Text channel ids (``[guild_id + 1]`` by default).

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
        )
        self.guilds[guild_id] = guild
        self._guild_bot_role[guild_id] = role_id
        for channel in guild["channels"]:
            self.channels[int(channel["id"])] = channel
        if self._sessions:
            self._background(self._dispatch("GUILD_CREATE", self._guild_create(guild_id)))
        return guild

    def add_user(self, user_id: int, name: str = "ana") -> dict[str, Any]:
        """Register a user (the default author of injected events is the first one added).

        Returns:
            The user object.
        """
        user = user_payload(user_id, name)
        self.users[user_id] = user
        return user

    def dm_channel(self, user_id: int) -> dict[str, Any]:
        """The DM channel between the bot and a user (made, with the user, on first use), e.g.
        for a conversation a test puts in the store before any client connects."""
        user = self.users.get(user_id) or self.add_user(user_id, f"user{user_id}")
        return self._dm_channel(user)

    @property
    def default_user(self) -> dict[str, Any]:
        """The first registered user (``ana``, id 100000000000000001, made on demand)."""
        if not self.users:
            self.add_user(DEFAULT_USER_ID, "ana")
        return next(iter(self.users.values()))

    async def message_create(
        self,
        channel_id: int,
        content: str,
        *,
        author: dict[str, Any] | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        mentions_bot: bool = False,
        stickers: Sequence[dict[str, Any]] = (),
        poll: dict[str, Any] | None = None,
        flags: int = 0,
    ) -> dict[str, Any]:
        """A user posts a message: MESSAGE_CREATE on the gateway.

        Args:
            channel_id: A known channel or thread (or DM channel).
            content: Text.
            author: User object (:attr:`default_user` by default).
            attachments: Attachment objects from :meth:`add_attachment`.
            mentions_bot: Prefix ``<@bot_id>`` to the content and put the bot in ``mentions``.
            stickers: Sticker items (:func:`~tests.fakes.discord.payloads.sticker_item_payload`).
            poll: A poll (:func:`~tests.fakes.discord.payloads.poll_payload`).
            flags: Message flags (e.g. :data:`~tests.fakes.discord.constants.FLAG_IS_VOICE_MESSAGE`).

        Returns:
            The message object (as dispatched to a client with the message-content intent).
        """
        channel = self._channel(channel_id)
        guild_id = int(channel["guild_id"]) if channel.get("guild_id") else None
        author = author or self.default_user
        self.users.setdefault(int(author["id"]), author)
        if mentions_bot and f"<@{self.bot_id}>" not in content and f"<@!{self.bot_id}>" not in content:
            content = f"<@{self.bot_id}> {content}"
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
            mentions=self._mentions(content),
            sticker_items=stickers,
            poll=poll,
            flags=flags,
        )
        self._store_message(payload)
        await self._dispatch("MESSAGE_CREATE", payload, require_client=True)
        return payload

    async def dm_message(
        self,
        user_id: int,
        content: str,
        attachments: Sequence[dict[str, Any]] = (),
        *,
        stickers: Sequence[dict[str, Any]] = (),
        poll: dict[str, Any] | None = None,
        flags: int = 0,
    ) -> dict[str, Any]:
        """A user writes to the bot in DMs: a DM channel (type 1) and MESSAGE_CREATE there.

        Args:
            user_id: A user from :meth:`add_user` (registered as ``user<id>`` if unknown).
            content: Text.
            attachments: Attachment objects from :meth:`add_attachment`.
            stickers: Sticker items, as for :meth:`message_create`.
            poll: A poll, as for :meth:`message_create`.
            flags: Message flags, as for :meth:`message_create`.

        Returns:
            The message object.
        """
        user = self.users.get(user_id) or self.add_user(user_id, f"user{user_id}")
        channel = self.dm_channel(user_id)
        return await self.message_create(
            int(channel["id"]), content, author=user, attachments=attachments, stickers=stickers, poll=poll, flags=flags
        )
