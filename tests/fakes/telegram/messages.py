"""The bot's messages on the fake Telegram: ``sendMessage``, ``editMessageText``, ``sendVideo``
(with its ``thumbnail``), ``sendPhoto``, ``sendChatAction`` and ``answerCallbackQuery``.

Limits as Telegram enforces them (see :mod:`tests.fakes.telegram.limits`): 4096 characters of
text, 1024 of caption, no empty text, no edit that changes nothing ("message is not
modified"). nemobot sends plain text; the fake does not emulate ``parse_mode`` (HTML,
MarkdownV2) and refuses it, so a change that starts using one shows up here.
"""

from __future__ import annotations

import time
from typing import Any

from PIL import Image

from tests.fakes.base import UploadedFile
from tests.fakes.telegram.limits import (
    CHAT_ACTIONS,
    MAX_CAPTION_CHARS,
    MAX_MESSAGE_CHARS,
    NOT_MODIFIED,
    bad_request,
)
from tests.fakes.telegram.model import BotMessage, StoredFile
from tests.fakes.telegram.updates import TelegramUpdates


class TelegramMessages(TelegramUpdates):
    """Sending and editing the bot's messages."""

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        self._chat(params.get("chat_id"))
        text = _checked_text(params)
        return self._new_bot_message(params, "text", {"text": text})

    async def _m_editMessageText(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        message = self._bot_message(params.get("chat_id"), params.get("message_id"), what="edit")
        text = _checked_text(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        markup = params.get("reply_markup")
        if text == message.text and markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        message.text, message.reply_markup = text, markup
        message.edits.append(text)
        message.raw = {**message.raw, "text": text, "edit_date": int(time.time())}
        message.raw.pop("reply_markup", None)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message.raw["reply_markup"] = markup
        return message.raw

    async def _m_sendVideo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        self._chat(params.get("chat_id"))
        _no_parse_mode(params)
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > MAX_CAPTION_CHARS:
            raise bad_request("message caption is too long")
        upload, stored = self._media_input("video", params, files)
        video: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if upload.filename:
            video["file_name"] = upload.filename
        if upload.content_type:
            video["mime_type"] = upload.content_type
        for key in ("width", "height", "duration"):
            video[key] = int(params.get(key) or 0)
        thumbnail = self._attached(params.get("thumbnail"), files)
        if thumbnail is not None:
            self.uploaded.append(thumbnail)
            video["thumbnail"] = _photo_size(self._store_file(thumbnail.path, thumbnail.size, None, "image/jpeg"))
        fields: dict[str, Any] = {"video": video}
        if caption is not None:
            fields["caption"] = str(caption)
        return self._new_bot_message(params, "video", fields, upload, thumbnail=thumbnail)

    async def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        """A photo: an uploaded JPEG, PNG or WebP (Telegram answers one ``PhotoSize`` per size it
        made; the fake, one of the original size). Caption 1024 characters at most."""
        self._chat(params.get("chat_id"))
        _no_parse_mode(params)
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > MAX_CAPTION_CHARS:
            raise bad_request("message caption is too long")
        upload = files.get("photo") or self._attached(params.get("photo"), files)
        if upload is None:
            raise bad_request("there is no photo in the request")
        if _image_size(upload) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        self.uploaded.append(upload)
        stored = self._store_file(upload.path, upload.size, upload.filename, upload.content_type)
        fields: dict[str, Any] = {"photo": [_photo_size(stored)]}
        if caption is not None:
            fields["caption"] = str(caption)
        return self._new_bot_message(params, "photo", fields, upload)

    @staticmethod
    def _attached(value: Any, files: dict[str, UploadedFile]) -> UploadedFile | None:
        """The part an ``attach://<name>`` value names (how PTB sends thumbnails), or ``None``."""
        if isinstance(value, str) and value.startswith("attach://"):
            part = files.get(value.removeprefix("attach://"))
            if part is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return part
        return None

    async def _m_sendChatAction(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._callback_ids:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        self._callback_ids.discard(query_id)
        self.callback_answers.append(params)
        return True

    def _new_bot_message(
        self,
        params: dict[str, Any],
        kind: str,
        fields: dict[str, Any],
        upload: UploadedFile | None = None,
        *,
        thumbnail: UploadedFile | None = None,
    ) -> dict[str, Any]:
        """Record a message the bot sent; returns the ``Message`` object to answer."""
        chat = self._chat(params.get("chat_id"))
        thread_id = params.get("message_thread_id")
        message_id = self._new_message_id(chat["id"])
        raw: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": self.bot_user}
        if thread_id is not None:
            raw["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                raw["is_topic_message"] = True
        raw.update(fields)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            raw["reply_markup"] = markup  # only inline keyboards show up on the Message
        self.messages.setdefault(chat["id"], {})[message_id] = BotMessage(
            text=params.get("text") if kind == "text" else None,
            caption=params.get("caption"),
            reply_markup=markup,
            kind=kind,
            thread_id=thread_id,
            file=upload.path if upload else None,
            params=params,
            message_id=message_id,
            chat_id=chat["id"],
            raw=raw,
            upload=upload,
            thumbnail=thumbnail,
        )
        return raw


def _image_size(upload: UploadedFile) -> tuple[int, int] | None:
    """Width and height of an uploaded picture, ``None`` when it is not one."""
    try:
        with Image.open(upload.path) as image:
            return image.size
    except (OSError, ValueError):
        return None


def _photo_size(stored: StoredFile) -> dict[str, Any]:
    """A ``PhotoSize`` object of a stored picture."""
    width, height = 0, 0
    try:
        with Image.open(stored.path) as image:
            width, height = image.size
    except (OSError, ValueError):
        pass
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": stored.size,
    }


def _no_parse_mode(params: dict[str, Any]) -> None:
    if params.get("parse_mode"):
        raise bad_request("the fake does not emulate parse_mode; nemobot sends plain text")


def _checked_text(params: dict[str, Any]) -> str:
    """The ``text`` of a send or edit, checked as Telegram does (not empty, 4096 characters at most)."""
    _no_parse_mode(params)
    text = params.get("text")
    text = text if isinstance(text, str) else ""
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise bad_request("message is too long")
    return text
