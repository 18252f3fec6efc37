"""Pure converters between Telegram updates and nemobot's boundary types.

No I/O here: the runner supplies how bytes are fetched (``opener``). Telegram file URLs
contain the bot token, so they never become an :attr:`Attachment.public_url`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from telegram import Audio, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity
from telegram.constants import ChatType

from bot.boundary import Attachment, Button, Content, ConversationKey, IncomingMessage, Scope
from bot.intents import MENU
from bot.links import pasted
from bot.texts import button_label, command_description

PLATFORM = "telegram"
CALLBACK_PREFIX = "nb:"

COMMANDS: tuple[tuple[str, str, str], ...] = tuple(
    (name, command_description(name), command_description(name, "zh")) for name in MENU
)
"""``(command, English description, Chinese description)`` for ``setMyCommands``."""


FILE_REF = "telegram-file:"
"""``Attachment.ref`` of a Telegram file: ``telegram-file:<kind>:<file_id>`` (a ``file_id`` holds no
secret; any process of the same bot can ``getFile`` it again)."""


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file in a message, before download.

    Attributes:
        file_id: Telegram's file id (for ``getFile``).
        filename: A file name with extension (made up when Telegram gives none).
        mime_type: MIME type, or ``None``.
        size: Size in bytes, or ``None`` when Telegram did not say.
        kind: ``video``, ``document``, ``animation``, ``video_note``, ``audio`` or ``photo``.
    """

    file_id: str
    filename: str
    mime_type: str | None
    size: int | None
    kind: str


def conversation_key(message: Message) -> ConversationKey:
    """The conversation of a message: the chat, and the forum topic when it is in one."""
    thread = str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None
    return ConversationKey(platform=PLATFORM, chat_id=str(message.chat.id), thread_id=thread)


def _command_for_us(message: Message, bot_username: str) -> bool:
    text = message.text or message.caption or ""
    for entity in message.entities or message.caption_entities or ():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            command = text[: entity.length]
            return "@" not in command or command.split("@", 1)[1].lower() == bot_username.lower()
    return False


def _mentions(message: Message, bot_username: str) -> bool:
    text = message.text or message.caption or ""
    for entity in message.entities or message.caption_entities or ():
        mention = text[entity.offset : entity.offset + entity.length].lower()
        if entity.type == MessageEntity.MENTION and mention == f"@{bot_username.lower()}":
            return True
    return re.search(rf"(?<!\w)@{re.escape(bot_username)}(?!\w)", text, re.I) is not None


def is_for_bot(message: Message, *, bot_id: int, bot_username: str) -> bool:
    """Should the bot handle this message?

    In private chats every message. In groups: commands (``/export`` or ``/export@ourbot``),
    replies to the bot's messages, and messages that mention ``@ourbot``.
    """
    if message.chat.type == "private":
        return True
    if _command_for_us(message, bot_username):
        return True
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        # In forum topics every message "replies" to the topic's first message; that is not a reply to us.
        return not (message.is_topic_message and reply.message_id == message.message_thread_id)
    return _mentions(message, bot_username)


def text_of(message: Message, bot_username: str) -> str:
    """The message's text or caption without the ``@ourbot`` mention."""
    text = message.text or message.caption or ""
    text = re.sub(rf"@{re.escape(bot_username)}\b", "", text, flags=re.I)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def media_of(message: Message) -> list[MediaRef]:
    """The files of one message (photos: the largest size)."""
    refs: list[MediaRef] = []
    uid = lambda obj: obj.file_unique_id or obj.file_id  # noqa: E731
    if message.video:
        v = message.video
        refs.append(
            MediaRef(v.file_id, v.file_name or f"video_{uid(v)}.mp4", v.mime_type or "video/mp4", v.file_size, "video")
        )
    if message.animation:
        a = message.animation
        refs.append(
            MediaRef(
                a.file_id,
                a.file_name or f"animation_{uid(a)}.mp4",
                a.mime_type or "video/mp4",
                a.file_size,
                "animation",
            )
        )
    elif message.document:
        d = message.document
        refs.append(MediaRef(d.file_id, d.file_name or f"document_{uid(d)}", d.mime_type, d.file_size, "document"))
    if message.video_note:
        n = message.video_note
        refs.append(MediaRef(n.file_id, f"video_note_{uid(n)}.mp4", "video/mp4", n.file_size, "video_note"))
    if message.audio:
        au: Audio = message.audio
        refs.append(
            MediaRef(
                au.file_id, au.file_name or f"audio_{uid(au)}.mp3", au.mime_type or "audio/mpeg", au.file_size, "audio"
            )
        )
    if message.photo:
        p = max(message.photo, key=lambda s: (s.width * s.height, s.file_size or 0))
        refs.append(MediaRef(p.file_id, f"photo_{uid(p)}.jpg", "image/jpeg", p.file_size, "photo"))
    return refs


def unsupported_of(message: Message) -> Content | None:
    """What a message holds that nemobot cannot edit: a voice message, a sticker, a location..."""
    if message.voice:
        return Content.VOICE
    if message.sticker:
        return Content.STICKER
    if message.location or message.venue:
        return Content.LOCATION
    if message.poll:
        return Content.POLL
    if message.contact:
        return Content.CONTACT
    if message.dice or message.game or message.story or message.invoice:
        return Content.OTHER
    return None


def to_incoming(
    messages: Sequence[Message],
    *,
    bot_username: str,
    opener: Callable[[MediaRef], Callable[[], AsyncIterator[bytes]]],
) -> IncomingMessage:
    """One :class:`IncomingMessage` from a message, or from all messages of an album.

    Args:
        messages: One message, or the messages of one ``media_group_id`` in order.
        bot_username: Our username, stripped from the text.
        opener: Given a file, returns a factory of an async byte iterator that streams it.

    Returns:
        The message for the engine: the first non-empty text/caption, every file, and
        media links from the text as URL attachments.
    """
    first = messages[0]
    text = next((t for t in (text_of(m, bot_username) for m in messages) if t), "")
    attachments: list[Attachment] = []
    for m in messages:
        for ref in media_of(m):
            attachments.append(
                Attachment(
                    filename=ref.filename,
                    content_type=ref.mime_type,
                    size=ref.size,
                    open=opener(ref),
                    ref=f"{FILE_REF}{ref.kind}:{ref.file_id}",
                )
            )
    text, links = pasted(text)
    attachments.extend(links)
    user = first.from_user
    private = first.chat.type == ChatType.PRIVATE
    return IncomingMessage(
        conversation=conversation_key(first),
        sender=(user.username or user.full_name) if user else "unknown",
        text=text,
        attachments=tuple(attachments),
        message_id=str(first.message_id),
        locale=user.language_code if user else None,
        sender_id=str(user.id) if user else "",
        scope=Scope.PRIVATE if private else Scope.GROUP,
        space_id=None if private else str(first.chat.id),
        unsupported=next((c for c in map(unsupported_of, messages) if c is not None), None),
    )


def button_key(secret: bytes, chat_id: int | str, user_id: int | str | None, button: Button) -> str:
    """The opaque part of a button's callback data: who may press it, where (HMAC-SHA256, 12 hex).

    A press is honoured only when the key matches the chat it was pressed in and the person
    pressing it (``user_id``; ``None`` for buttons anyone in the chat may press), so forged
    or foreign callback data does nothing.
    """
    mac = hmac.new(secret, f"{chat_id}|{user_id or '*'}|{button.value}".encode(), hashlib.sha256)
    return mac.hexdigest()[:12]


def keyboard(
    buttons: Sequence[Button],
    lang: str = "en",
    *,
    secret: bytes = b"",
    chat_id: int | str = 0,
    user_id: int | str | None = None,
) -> InlineKeyboardMarkup | None:
    """An inline keyboard for the engine's quick actions (two per row), or ``None``.

    Callback data: ``nb:<button>:<key>`` (:func:`button_key`; within Telegram's 64 bytes).
    """
    if not buttons:
        return None
    row = [
        InlineKeyboardButton(
            f"{b.emoji} {button_label(b.value, lang)}",
            callback_data=f"{CALLBACK_PREFIX}{b.value}:{button_key(secret, chat_id, user_id, b)}",
        )
        for b in buttons
    ]
    return InlineKeyboardMarkup([row[i : i + 2] for i in range(0, len(row), 2)])


def command_of_callback(
    data: str | None, *, secret: bytes = b"", chat_id: int | str = 0, user_id: int | str | None = None
) -> str | None:
    """``"nb:export:<key>"`` -> ``"/export"`` when the key is right for this chat and this
    presser (or for anyone in the chat); anything else -> ``None``."""
    if not data or not data.startswith(CALLBACK_PREFIX):
        return None
    value, _, key = data[len(CALLBACK_PREFIX) :].partition(":")
    button = Button.from_payload(value, "")
    if button is None or not key:
        return None
    for who in (user_id, None):
        if hmac.compare_digest(key.encode(), button_key(secret, chat_id, who, button).encode()):
            return button.command
    return None
