"""The fake Telegram's state: the bot, chats and users, message ids, stored files, and what it recorded.

:class:`TelegramState` is the bottom of :class:`~tests.fakes.telegram.FakeTelegram`'s layers
(see :mod:`tests.fakes.telegram.server`); the layers above add the Bot API methods.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeServer, UploadedFile
from tests.fakes.telegram.limits import MAX_POLL_WAIT_S, bad_request
from tests.fakes.telegram.model import BotMessage, Call, Queued, RawFault, StoredFile


class TelegramState(FakeServer[Call]):
    """State shared by the Bot API method layers; its arguments and attributes are documented
    on :class:`~tests.fakes.telegram.server.FakeTelegram`."""

    files_prefix = "fake-telegram-"
    handler_cancellation = True
    default_timeout = 5.0

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_username: str = "nemo_test_bot",
        local_mode: bool = False,
        files_dir: Path | None = None,
    ) -> None:
        super().__init__(files_dir)
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.local_mode = local_mode
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Nemo Test",
            "username": bot_username,
        }

        self.messages: dict[int, dict[int, BotMessage]] = {}
        self.uploaded: list[UploadedFile] = []
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        """The default-scope menu by language code."""
        self.scoped_commands: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        """Every menu by ``(scope type, language code)``."""
        self.webhook: dict[str, Any] | None = None
        self.callback_answers: list[dict[str, Any]] = []
        self.get_updates_calls = 0
        self.confirmed_offset = 0
        self.max_poll_wait = MAX_POLL_WAIT_S

        self._chats: dict[int, dict[str, Any]] = {}
        self._chat_users: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._next_message_id: dict[int, int] = {}
        self._queue: list[Queued] = []
        self._next_update_id = 10001
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = 0
        self._callback_ids: set[str] = set()
        self._callback_counter = 0
        self._raw_faults: list[RawFault] = []

    @property
    def api_url(self) -> str:
        """``base_url`` to give PTB (``{url}/bot``)."""
        return f"{self.url}/bot"

    @property
    def file_url(self) -> str:
        """``base_file_url`` to give PTB (``{url}/file/bot``)."""
        return f"{self.url}/file/bot"

    # ------------------------------------------------------------------ chats and users

    def user(self, user_id: int = 1001, first_name: str = "Ana", language_code: str | None = "en") -> dict[str, Any]:
        """A (remembered) ``User`` object for a human.

        Args:
            user_id: The user's id.
            first_name: First name.
            language_code: IETF language tag of the user's client, or ``None``.

        Returns:
            The ``User`` dict.
        """
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def private_chat(
        self, user_id: int = 1001, first_name: str = "Ana", language_code: str | None = "en"
    ) -> dict[str, Any]:
        """A private chat with a user; the user becomes the default sender in it.

        Args:
            user_id: The user's id (also the chat id).
            first_name: First name.
            language_code: IETF language tag of the user's client.

        Returns:
            The ``Chat`` dict.
        """
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        self._chats[user_id] = chat
        self._chat_users[user_id] = self.user(user_id, first_name, language_code)
        return chat

    def group_chat(self, chat_id: int = -100200, title: str = "Clips", forum: bool = False) -> dict[str, Any]:
        """A group (a supergroup for ``-100...`` ids or forums).

        Args:
            chat_id: The chat id.
            title: Chat title.
            forum: Whether topics are enabled (messages then carry ``message_thread_id``).

        Returns:
            The ``Chat`` dict.
        """
        supergroup = forum or str(chat_id).startswith("-100")
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup" if supergroup else "group", "title": title}
        if forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        return chat

    # ------------------------------------------------------------------ inspecting

    def calls_of(self, method: str) -> list[Call]:
        """Calls of one method (any case), in order."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def bot_messages(self, chat_id: int, thread_id: int | None = None) -> list[BotMessage]:
        """The bot's messages in a chat (one topic if ``thread_id``), in sending order."""
        found = self.messages.get(chat_id, {}).values()
        return [m for m in found if thread_id is None or m.thread_id == thread_id]

    async def wait_for_calls(self, method: str, count: int = 1, *, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` was called successfully at least ``count`` times.

        Args:
            method: Method name.
            count: How many successful calls to wait for.
            timeout: Seconds before ``TimeoutError``.

        Returns:
            All successful calls of ``method``.
        """
        await self.wait_until(lambda: len([c for c in self.calls_of(method) if c.ok]) >= count, timeout=timeout)
        return [c for c in self.calls_of(method) if c.ok]

    # ------------------------------------------------------------------ helpers for the layers above

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        """A known chat, or Telegram's 400 "chat not found"."""
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _sender(self, chat: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
        """Who sends a user message in ``chat``: ``user``, the private chat's user, or user 1001."""
        if user is not None:
            self._users[user["id"]] = user
            return user
        return self._chat_users.get(chat["id"]) or self._users.get(1001) or self.user()

    def _new_message_id(self, chat_id: int) -> int:
        """The next message id in a chat (users' and the bot's messages share the counter)."""
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        return message_id

    def _bot_message(self, chat_id: Any, message_id: Any, *, what: str) -> BotMessage:
        """A message the bot sent, or Telegram's 400 "message to <what> not found"."""
        chat = self._chat(chat_id)
        message = self.messages.get(chat["id"], {}).get(message_id) if isinstance(message_id, int) else None
        if message is None:
            raise bad_request(f"message to {what} not found")
        return message

    def _store_file(self, path: Path, size: int, file_name: str | None, mime_type: str | None) -> StoredFile:
        """Give a file on disk a ``file_id`` and a ``file_path`` (absolute in ``local_mode``)."""
        self._file_seq += 1
        n = self._file_seq
        folder = "videos" if (mime_type or "").startswith("video/") else "documents"
        suffix = Path(file_name).suffix if file_name else path.suffix
        file_path = str(path) if self.local_mode else f"{folder}/file_{n}{suffix}"
        stored = StoredFile(
            file_id=f"BAACAgIAAx{n:06d}{self.bot_id}",
            file_unique_id=f"AgAD{n:06d}",
            path=path,
            size=size,
            file_path=file_path,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[file_path] = stored
        return stored
