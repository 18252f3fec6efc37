"""The bot itself on the fake Telegram: ``getMe`` (PTB's ``initialize``) and ``setMyCommands``
(the command menu, checked as Telegram does: at most 100 commands, names of 1-32 lowercase
letters, digits and underscores, descriptions of 1-256 characters)."""

from __future__ import annotations

from typing import Any

from tests.fakes.base import UploadedFile
from tests.fakes.telegram.limits import COMMAND_RE, MAX_COMMAND_DESCRIPTION, MAX_COMMANDS, bad_request
from tests.fakes.telegram.webhooks import TelegramWebhooks

SCOPES = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat", "chat_administrators"}
)
"""BotCommandScope types (https://core.telegram.org/bots/api#botcommandscope; ``chat_member`` is left out)."""


class TelegramCommands(TelegramWebhooks):
    """``getMe`` and ``setMyCommands``."""

    async def _m_getMe(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not description:
                raise bad_request("command description is empty")
            if len(description) > MAX_COMMAND_DESCRIPTION:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPES:
            raise bad_request("can't parse BotCommandScope")
        menu = [{"command": c["command"], "description": c["description"]} for c in commands]
        self.scoped_commands[(scope["type"], params.get("language_code") or None)] = menu
        if scope["type"] == "default":
            self.commands[params.get("language_code") or None] = menu
        return True
