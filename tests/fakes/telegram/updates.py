"""What users do on the fake Telegram, and how the bot receives it: updates and ``getUpdates``.

Tests inject user actions (:meth:`TelegramUpdates.user_text`, :meth:`TelegramUpdates.user_media`,
:meth:`TelegramUpdates.press_button`); each becomes an ``Update`` in a queue that the bot
drains with ``getUpdates`` long polling (or that
:meth:`~tests.fakes.telegram.webhooks.TelegramWebhooks.push_webhook` delivers). As on
Telegram, an update leaves the queue once the bot confirms it with a higher ``offset``, a
second ``getUpdates`` terminates a pending one with 409, and ``getUpdates`` is refused (409)
while a webhook is set.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from typing import Any

from tests.fakes.base import UploadedFile
from tests.fakes.telegram.files import TelegramFiles
from tests.fakes.telegram.limits import ApiError
from tests.fakes.telegram.model import Queued

_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{3,31})\b")
_LEADING_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{3,31})?(?![\w@])")


class TelegramUpdates(TelegramFiles):
    """Injected user actions, the update queue and ``getUpdates``."""

    def user_text(
        self,
        chat: dict[str, Any],
        text: str,
        *,
        user: dict[str, Any] | None = None,
        thread_id: int | None = None,
        reply_to_bot_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from a user.

        Args:
            chat: Chat dict (from :meth:`private_chat` / :meth:`group_chat`).
            text: Message text. A leading ``/command`` gets a ``bot_command`` entity and each
                ``@username`` a ``mention`` entity.
            user: Sender; the private chat's user or :meth:`user` by default.
            thread_id: Forum topic (``message_thread_id``).
            reply_to_bot_message_id: Make it a reply to this bot message.

        Returns:
            The queued ``Update`` dict.
        """
        message = self._user_message(chat, user, thread_id, reply_to_bot_message_id)
        message["text"] = text
        entities = _auto_entities(text)
        if entities:
            message["entities"] = entities
        return self._queue_update({"message": message})

    def user_media(
        self,
        chat: dict[str, Any],
        kind: str,
        file: dict[str, Any],
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        user: dict[str, Any] | None = None,
        duration: int = 5,
        width: int = 1280,
        height: int = 720,
    ) -> dict[str, Any]:
        """Queue a media message from a user.

        Args:
            chat: Chat dict.
            kind: ``"video"``, ``"document"``, ``"animation"``, ``"video_note"``, ``"audio"``,
                ``"photo"`` or ``"voice"`` (the kinds nemobot accepts).
            file: What :meth:`add_file` returned.
            caption: Caption (not allowed for ``video_note``).
            media_group_id: Album id, shared by the messages of one album.
            thread_id: Forum topic.
            user: Sender.
            duration: Seconds, for timed media.
            width: Pixels, for visual media.
            height: Pixels, for visual media.

        Returns:
            The queued ``Update`` dict.
        """
        stored = self._files.get(file["file_id"])
        if stored is None:
            raise ValueError(f"unknown file {file!r}: register it with add_file()")
        base = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size}
        named = dict(base)
        if stored.file_name:
            named["file_name"] = stored.file_name
        if stored.mime_type:
            named["mime_type"] = stored.mime_type
        fields: dict[str, Any]
        if kind == "video":
            fields = {"video": {**named, "width": width, "height": height, "duration": duration}}
        elif kind == "document":
            fields = {"document": named}
        elif kind == "animation":
            # Telegram also sets ``document`` on animations, for backward compatibility.
            animation = {**named, "width": width, "height": height, "duration": duration}
            fields = {"animation": animation, "document": named}
        elif kind == "video_note":
            if caption is not None:
                raise ValueError("video notes have no caption")
            fields = {"video_note": {**base, "length": min(width, height), "duration": duration}}
        elif kind == "audio":
            fields = {"audio": {**named, "duration": duration}}
        elif kind == "voice":
            fields = {"voice": {**base, "duration": duration, "mime_type": stored.mime_type or "audio/ogg"}}
        elif kind == "photo":
            small_id = f"{stored.file_id}-s"
            small = replace(stored, file_id=small_id, file_unique_id=f"{stored.file_unique_id}s")
            self._files.setdefault(small_id, small)
            scale = 90 / max(width, height, 1)
            fields = {
                "photo": [
                    {
                        "file_id": small_id,
                        "file_unique_id": f"{stored.file_unique_id}s",
                        "file_size": min(stored.size, 1500),
                        "width": max(1, round(width * scale)),
                        "height": max(1, round(height * scale)),
                    },
                    {**base, "width": width, "height": height},
                ]
            }
        else:
            raise ValueError(f"unknown media kind {kind!r}")
        message = self._user_message(chat, user, thread_id, None)
        message.update(fields)
        if caption is not None:
            message["caption"] = caption
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        return self._queue_update({"message": message})

    def press_button(
        self, chat: dict[str, Any], bot_message_id: int, data: str, *, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Queue a ``callback_query``: a user pressed an inline button on a bot message.

        Args:
            chat: The chat of the message.
            bot_message_id: The bot's message carrying the button.
            data: The button's ``callback_data``.
            user: Who pressed; default as in :meth:`user_text`.

        Returns:
            The queued ``Update`` dict.
        """
        bot_message = self.messages.get(chat["id"], {}).get(bot_message_id)
        if bot_message is None:
            raise ValueError(f"the bot sent no message {bot_message_id} in chat {chat['id']}")
        self._callback_counter += 1
        query_id = f"{self.bot_id}{self._callback_counter:06d}"
        self._callback_ids.add(query_id)
        query = {
            "id": query_id,
            "from": self._sender(chat, user),
            "chat_instance": f"ci{chat['id']}",
            "message": bot_message.raw,
            "data": data,
        }
        return self._queue_update({"callback_query": query})

    def raw_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue an update with any body, as is: for updates the bot's library cannot parse
        (e.g. a ``poll`` in the shape an older Bot API server sends, see :meth:`legacy_poll`).

        Args:
            body: The update's fields besides ``update_id`` (``{"message": {...}}``).

        Returns:
            The queued ``Update`` dict.
        """
        return self._queue_update(dict(body))

    def legacy_poll(
        self, chat: dict[str, Any], question: str = "Lunch?", *, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Queue a message carrying a poll whose options lack ``persistent_id`` (required
        since Bot API 9.6), as an older local ``telegram-bot-api`` server sends it:
        python-telegram-bot 22.8 cannot parse it.

        Args:
            chat: Chat dict.
            question: The poll's question.
            user: Sender; default as in :meth:`user_text`.

        Returns:
            The queued ``Update`` dict.
        """
        message = self._user_message(chat, user, None, None)
        message["poll"] = {
            "id": f"poll{self._next_update_id}",
            "question": question,
            "options": [{"text": "yes", "voter_count": 0}, {"text": "no", "voter_count": 0}],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        }
        return self._queue_update({"message": message})

    def redeliver(self, updates: list[dict[str, Any]]) -> None:
        """Queue updates again with their own ``update_id`` (as after a missed confirmation).

        They are delivered once even if the bot already confirmed them.

        Args:
            updates: ``Update`` dicts returned by the injecting methods.
        """
        self._queue.extend(Queued(update, forced=True) for update in updates)
        self._wakeup.set()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Queued updates the bot has not confirmed yet."""
        return [q.update for q in self._queue]

    # ------------------------------------------------------------------ getUpdates

    async def _m_getUpdates(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._wakeup.set()  # an older long poll still waiting is terminated
        if params.get("offset") is not None:
            self._confirm(int(params["offset"]))
        limit = max(1, min(100, int(params.get("limit") or 100)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(float(params.get("timeout") or 0), self.max_poll_wait)
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = self._queue[:limit]
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                pass
        for queued in batch:
            if queued.forced:
                self._queue.remove(queued)
        return [q.update for q in batch]

    def _confirm(self, offset: int) -> None:
        """Drop the updates below ``offset`` (redelivered ones go out once regardless)."""
        self.confirmed_offset = max(self.confirmed_offset, offset)
        self._queue = [q for q in self._queue if q.forced or q.update["update_id"] >= offset]

    # ------------------------------------------------------------------ building updates

    def _user_message(
        self,
        chat: dict[str, Any],
        user: dict[str, Any] | None,
        thread_id: int | None,
        reply_to_bot_message_id: int | None,
    ) -> dict[str, Any]:
        self._chats.setdefault(chat["id"], chat)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._sender(chat, user),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        if reply_to_bot_message_id is not None:
            replied = self.messages.get(chat["id"], {}).get(reply_to_bot_message_id)
            if replied is None:
                raise ValueError(f"the bot sent no message {reply_to_bot_message_id} in chat {chat['id']}")
            message["reply_to_message"] = replied.raw
        return message

    def _queue_update(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._queue.append(Queued(update))
        self._wakeup.set()
        return update


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _auto_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` for a leading ``/command`` and ``mention`` for ``@usernames``, in UTF-16 offsets."""
    entities = []
    command_end = 0
    match = _LEADING_COMMAND_RE.match(text)
    if match:
        command_end = match.end()
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(match.group())})
    for mention in _MENTION_RE.finditer(text):
        if mention.start() < command_end:
            continue
        entities.append(
            {"type": "mention", "offset": _utf16_len(text[: mention.start()]), "length": _utf16_len(mention.group())}
        )
    return entities
