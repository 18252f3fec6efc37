"""Interactions on the fake Discord: a user runs a slash command
(:meth:`DiscordInteractions.interaction_create`) or presses a button
(:meth:`DiscordInteractions.button_press`), and INTERACTION_CREATE goes out on the gateway.

``Interaction(data=...)`` in discord.py reads ``data["attachment_size_limit"]``
unconditionally (that is ``Interaction.filesize_limit``); the fake sends the guild tier's
limit unless told otherwise. Interaction tokens live 15 minutes on Discord:
:meth:`DiscordInteractions.expire_interaction_tokens` makes that happen now. How the bot
answers is in :mod:`tests.fakes.discord.webhooks`.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from tests.fakes.base import UploadedFile
from tests.fakes.discord.commands import DiscordCommandRoutes
from tests.fakes.discord.constants import FLAG_EPHEMERAL, FLAG_LOADING, SENDABLE_FLAGS, upload_limit
from tests.fakes.discord.model import Interaction
from tests.fakes.discord.payloads import command_data, interaction_payload, message_payload


class DiscordInteractions(DiscordCommandRoutes):
    """Injected interactions, their expiry, and the messages the bot posts through them."""

    async def interaction_create(
        self,
        *,
        name: str,
        channel_id: int,
        options: list[dict[str, Any]] | None = None,
        user: dict[str, Any] | None = None,
        resolved_attachments: list[dict[str, Any]] | None = None,
        attachment_size_limit: int | None = None,
    ) -> dict[str, Any]:
        """A user runs a slash command: APPLICATION_COMMAND (type 2) INTERACTION_CREATE.

        The command id (and ``data.guild_id`` for guild commands, which ``CommandTree`` needs to
        find them) come from what the bot synced.

        Args:
            name: Command name.
            channel_id: Where it runs: a known guild channel, thread or DM channel.
            options: Option objects, e.g. ``{"name": "video", "type": 11, "value": "<attachment id>"}``.
            user: Invoking user (:attr:`default_user` by default).
            resolved_attachments: Attachment objects for ``data.resolved.attachments``.
            attachment_size_limit: ``Interaction.filesize_limit`` (the guild tier's by default).

        Returns:
            The interaction object.
        """
        user = user or self.default_user
        channel, guild_id = self._interaction_place(channel_id, user)
        command_id, command_guild = self._command_id(name, guild_id)
        data = command_data(
            name,
            command_id=command_id,
            options=options,
            resolved_attachments=resolved_attachments,
            guild_id=command_guild,
        )
        return await self._new_interaction(2, data, channel, guild_id, user, attachment_size_limit, name=name)

    async def autocomplete(
        self, *, name: str, channel_id: int, options: list[dict[str, Any]], user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A user types into a command option with autocomplete: APPLICATION_COMMAND_AUTOCOMPLETE
        (type 4) INTERACTION_CREATE. The bot answers with choices (:attr:`autocomplete_results`).

        Args:
            name: Command name.
            channel_id: Where the command is being typed.
            options: The options so far, the one being typed with ``"focused": True``.
            user: Who types (:attr:`default_user` by default).
        """
        user = user or self.default_user
        channel, guild_id = self._interaction_place(channel_id, user)
        command_id, command_guild = self._command_id(name, guild_id)
        data = command_data(name, command_id=command_id, options=options, guild_id=command_guild)
        return await self._new_interaction(4, data, channel, guild_id, user, None, name=name)

    async def button_press(
        self, *, custom_id: str, message_id: int, channel_id: int, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A user clicks a button: MESSAGE_COMPONENT (type 3) INTERACTION_CREATE.

        Args:
            custom_id: The button's ``custom_id``.
            message_id: The message carrying it (a known message, usually the bot's).
            channel_id: The message's channel.
            user: Who clicks (:attr:`default_user` by default).

        Returns:
            The interaction object.
        """
        user = user or self.default_user
        channel, guild_id = self._interaction_place(channel_id, user)
        message = self._all_messages.get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} to press a button on")
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._new_interaction(3, data, channel, guild_id, user, None, source_message=message)

    async def modal_submit(
        self, *, custom_id: str, values: dict[str, str], channel_id: int, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A user submits a modal the bot opened: MODAL_SUBMIT (type 5) INTERACTION_CREATE.

        Args:
            custom_id: The modal's ``custom_id``.
            values: Text input ``custom_id`` -> what the user typed.
            channel_id: Where the command that opened the modal ran.
            user: Who submits (:attr:`default_user` by default).

        Returns:
            The interaction object.
        """
        user = user or self.default_user
        channel, guild_id = self._interaction_place(channel_id, user)
        components = [
            {"type": 18, "id": i + 1, "component": {"type": 4, "id": i + 100, "custom_id": key, "value": value}}
            for i, (key, value) in enumerate(values.items())
        ]
        data = {"custom_id": custom_id, "components": components}
        return await self._new_interaction(5, data, channel, guild_id, user, None)

    def expire_interaction_tokens(self, interaction_id: int | None = None) -> None:
        """Expire interaction tokens (as after 15 minutes): webhook routes answer 401 code 50027,
        callbacks 404 code 10062.

        Args:
            interaction_id: One interaction; all existing ones if ``None``.
        """
        if interaction_id is None:
            selected = list(self._interactions.values())
        elif interaction_id in self._interactions:
            selected = [self._interactions[interaction_id]]
        else:
            raise KeyError(f"unknown interaction {interaction_id}")
        for inter in selected:
            inter.token_expired = True
            inter.callback_expired = True

    # ------------------------------------------------------------------ building interactions

    def _interaction_place(self, channel_id: int, user: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """The channel an interaction happens in, and its guild (``None`` in DMs)."""
        self.users.setdefault(int(user["id"]), user)
        channel = self._channel(channel_id)
        return channel, int(channel["guild_id"]) if channel.get("guild_id") else None

    async def _new_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        channel: dict[str, Any],
        guild_id: int | None,
        user: dict[str, Any],
        attachment_size_limit: int | None,
        *,
        name: str | None = None,
        source_message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        interaction_id = self._new_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        guild = self.guilds.get(guild_id) if guild_id is not None else None
        if attachment_size_limit is None:
            attachment_size_limit = upload_limit(guild["premium_tier"] if guild else None)
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
            app_permissions=self._permissions(channel, bot=True),
            member_permissions=self._permissions(channel, bot=False),
            attachment_size_limit=attachment_size_limit,
            message=source_message,
        )
        inter = Interaction(
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

    # ------------------------------------------------------------------ the bot's answers

    async def _interaction_message(
        self, inter: Interaction, body: dict[str, Any], files: list[UploadedFile], *, loading: bool = False
    ) -> dict[str, Any]:
        """A message the bot posts through an interaction (a reply, the "thinking" message, a
        follow-up): stored, recorded, and dispatched unless ephemeral."""
        channel_id = inter.channel_id
        flags = int(body.get("flags") or 0) & SENDABLE_FLAGS
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
        attachments = self._attachments_for(channel_id, body.get("attachments"), files, existing=[])
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
        inter: Interaction,
        kind: str,
        data: Any,
        files: list[UploadedFile],
        message: dict[str, Any] | None,
        *,
        type: int | None = None,
    ) -> None:
        """Add an entry to :attr:`interaction_responses`."""
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
