"""REST routes for the bot itself, channels, messages and threads on the fake Discord.

What nemobot's discord.py client calls: ``GET /users/@me`` and
``GET /oauth2/applications/@me`` (login), ``GET /channels/{id}`` (``fetch_channel``),
``POST /channels/{id}/typing``, ``POST`` / ``PATCH /channels/{id}/messages[/{id}]``,
``POST /channels/{id}/messages/{id}/threads`` (a thread from a user's message; one per
message, 160004) and ``PUT`` / ``GET /channels/{id}/thread-members/{user}``. Each message the
bot posts or edits is dispatched back on the gateway (MESSAGE_CREATE / MESSAGE_UPDATE), as
Discord does.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.discord.constants import (
    BOT_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    GUILD_OWNER_ID,
    SENDABLE_FLAGS,
    THREAD_ARCHIVE_DURATIONS,
)
from tests.fakes.discord.gateway import APPLICATION_FLAGS
from tests.fakes.discord.guild_payloads import thread_payload
from tests.fakes.discord.model import ApiError, Call, form_error, to_int, unknown
from tests.fakes.discord.payloads import iso_time, message_payload, user_payload
from tests.fakes.discord.world import DiscordWorld

Answer = tuple[int, Any]
"""What a route handler returns: HTTP status and JSON body (``None`` for 204)."""


class DiscordChannelRoutes(DiscordWorld):
    """``/users/@me``, the application, channels, messages, threads and thread members."""

    async def _r_me(self, call: Call, params: dict[str, str]) -> Answer:
        return 200, {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}

    async def _r_application(self, call: Call, params: dict[str, str]) -> Answer:
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
            "flags": APPLICATION_FLAGS,
            "owner": user_payload(GUILD_OWNER_ID, "owner"),
            "team": None,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": str(BOT_PERMISSIONS)},
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self.guilds),
        }

    async def _r_channel(self, call: Call, params: dict[str, str]) -> Answer:
        return 200, self._channel_or_404(params["channel_id"])

    async def _r_typing(self, call: Call, params: dict[str, str]) -> Answer:
        self._channel_or_404(params["channel_id"])
        return 204, None

    # ------------------------------------------------------------------ messages

    async def _r_send(self, call: Call, params: dict[str, str]) -> Answer:
        channel = self._channel_or_404(params["channel_id"])
        body = call.json or {}
        self._validate_content(body, call.files)
        channel_id = int(channel["id"])
        guild_id = to_int(channel["guild_id"]) if channel.get("guild_id") else None
        attachments = self._attachments_for(channel_id, body.get("attachments"), call.files, existing=[])
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
            flags=int(body.get("flags") or 0) & SENDABLE_FLAGS & ~FLAG_EPHEMERAL,
            nonce=body.get("nonce"),
            tts=bool(body.get("tts")),
        )
        self._store_message(payload)
        self._record_message(payload, body, call.files)
        await self._dispatch("MESSAGE_CREATE", payload)
        return 200, payload

    async def _r_edit_message(self, call: Call, params: dict[str, str]) -> Answer:
        message = self._message_in(params["channel_id"], params["message_id"])
        if int(message["author"]["id"]) != self.bot_id:  # (non-ephemeral interaction replies are the bot's)
            raise ApiError(403, "Cannot edit a message authored by another user", 50005)
        payload = self._apply_edit(int(message["id"]), call.json or {}, call.files)
        await self._dispatch("MESSAGE_UPDATE", payload)
        return 200, payload

    # ------------------------------------------------------------------ threads

    async def _r_thread_from_message(self, call: Call, params: dict[str, str]) -> Answer:
        channel = self._channel_or_404(params["channel_id"])
        message = self._message_in(params["channel_id"], params["message_id"])
        if channel["type"] not in (0, 5):
            raise ApiError(400, "Cannot execute action on this channel type", 50024)
        if message.get("thread"):
            raise ApiError(400, "A thread has already been created for this message", 160004)
        thread = self._new_thread(channel, call.json or {}, thread_id=int(message["id"]))
        message["thread"] = thread
        message["flags"] = int(message.get("flags", 0)) | FLAG_HAS_THREAD
        self.threads.append(
            {
                "id": int(thread["id"]),
                "guild_id": int(thread["guild_id"]),
                "parent_id": int(thread["parent_id"]),
                "message_id": int(message["id"]),
                "name": thread["name"],
                "type": thread["type"],
                "auto_archive_duration": thread["thread_metadata"]["auto_archive_duration"],
                "raw": thread,
            }
        )
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return 201, thread

    def _new_thread(self, channel: dict[str, Any], body: dict[str, Any], *, thread_id: int) -> dict[str, Any]:
        """A public thread the bot creates (it is its owner and first member)."""
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = body.get("auto_archive_duration") or channel.get("default_auto_archive_duration", 1440)
        if duration not in THREAD_ARCHIVE_DURATIONS:
            raise form_error(
                "auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of (60, 1440, 4320, 10080)."
            )
        thread = thread_payload(
            thread_id,
            int(channel["guild_id"]),
            int(channel["id"]),
            owner_id=self.bot_id,
            name=name,
            type=11,
            auto_archive_duration=duration,
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            member_user_id=self.bot_id,
        )
        self.channels[thread_id] = thread
        self.thread_members[thread_id] = {self.bot_id}
        return thread

    async def _r_add_thread_member(self, call: Call, params: dict[str, str]) -> Answer:
        thread_id = to_int(params["channel_id"])
        if thread_id not in self.thread_members:
            raise unknown("Channel", 10003)
        self.thread_members[thread_id].add(to_int(params["user_id"]))
        return 204, None

    async def _r_get_thread_member(self, call: Call, params: dict[str, str]) -> Answer:
        thread_id, user_id = to_int(params["channel_id"]), to_int(params["user_id"])
        if user_id not in self.thread_members.get(thread_id, set()):
            raise unknown("Member", 10007)
        return 200, {"id": str(thread_id), "user_id": str(user_id), "join_timestamp": iso_time(), "flags": 0}
