"""Application (slash) commands on the fake Discord: ``PUT /applications/{app}/commands`` and
``PUT /applications/{app}/guilds/{guild}/commands``, what ``CommandTree.sync()`` calls.

Checked as Discord does (400, 50035): chat-input command names of 1-32 lowercase word
characters or dashes, descriptions of 1-100 characters, unique names. Commands keep their id
across syncs; :meth:`~tests.fakes.discord.interactions.DiscordInteractions.interaction_create`
uses it, as ``CommandTree`` finds commands by it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.fakes.discord.channels import Answer, DiscordChannelRoutes
from tests.fakes.discord.model import ApiError, Call, form_error, to_int


def _invalid(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, "Invalid Form Body", 50035, errors)


def _field_error(index: int, field: str, code: str, message: str) -> ApiError:
    return _invalid({str(index): {field: {"_errors": [{"code": code, "message": message}]}}})


class DiscordCommandRoutes(DiscordChannelRoutes):
    """Syncing commands, and the ids interactions carry."""

    async def _r_put_commands(self, call: Call, params: dict[str, str]) -> Answer:
        guild_id = self._check_app(params)
        commands = call.json
        if not isinstance(commands, list):
            raise form_error("_", "LIST_TYPE_CONVERT", "Must be an array.")
        seen: set[tuple[int, str]] = set()
        echoed = []
        for index, command in enumerate(commands):
            name = command.get("name", "")
            kind = command.get("type", 1)
            if kind == 1 and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
                raise _field_error(index, "name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if kind == 1 and not 1 <= len(command.get("description", "")) <= 100:
                raise _field_error(index, "description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            if (kind, name) in seen:
                raise _invalid(
                    {
                        "_errors": [
                            {
                                "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                "message": f"Application command names must be unique: {name}",
                            }
                        ]
                    }
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

    def _check_app(self, params: dict[str, str]) -> int | None:
        """The guild of a guild-command route (``None`` for global ones); 403 for a wrong app or guild."""
        if to_int(params["app_id"]) != self.application_id:
            raise ApiError(403, "Missing Access", 50001)
        if "guild_id" not in params:
            return None
        guild_id = to_int(params["guild_id"])
        if guild_id not in self.guilds:
            raise ApiError(403, "Missing Access", 50001)
        return guild_id

    def _command_id(self, name: str, guild_id: int | None) -> tuple[int, int | None]:
        """The id of command ``name`` (a guild's own first, then global) and its guild, if any."""
        if guild_id is not None:
            for command in self._commands.get(guild_id, []):
                if command["name"] == name:
                    return int(command["id"]), guild_id
        for command in self._commands.get(None, []):
            if command["name"] == name:
                return int(command["id"]), None
        return self._command_ids.setdefault((None, name), self._new_id()), None
