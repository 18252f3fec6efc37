"""What crosses the adapter/engine boundary (design notes, "What crosses the boundaries").

Adapters turn platform updates into :class:`IncomingMessage` and implement
:class:`ReplyChannel`; the engine never sees a platform object.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.cleaning import clean_filename


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationKey:
    """One chat thread.

    Attributes:
        platform: ``telegram``, ``discord`` or ``console``.
        chat_id: The platform's chat (Discord: ``guild/channel``; DMs ``dm/<channel>``).
        thread_id: Forum topic / thread id, or ``None``.
        user_id: Set for one user's own project in a shared chat (``GROUP_PROJECTS=per_user``).
    """

    platform: str
    chat_id: str
    thread_id: str | None = None
    user_id: str | None = None

    def __str__(self) -> str:
        base = f"{self.platform}:{self.chat_id}"
        if self.thread_id:
            base = f"{base}/{self.thread_id}"
        return f"{base}~{self.user_id}" if self.user_id else base

    def for_user(self, user_id: str) -> ConversationKey:
        """This chat's conversation of one user (a personal project in a group chat)."""
        return ConversationKey(platform=self.platform, chat_id=self.chat_id, thread_id=self.thread_id, user_id=user_id)

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        """The key whose string form is ``text`` (the inverse of ``str(key)``).

        ``telegram:-100123/42`` -> chat ``-100123``, thread ``42``;
        ``discord:1/2/3`` -> chat ``1/2``, thread ``3``; ``discord:dm/5`` -> chat ``dm/5``;
        ``telegram:-100123~77`` -> user ``77``'s own project in that group.

        Raises:
            ValueError: ``text`` is not a conversation key.
        """
        platform, sep, rest = text.partition(":")
        rest, tilde, user = rest.partition("~")
        if tilde and not user:
            raise ValueError(f"not a conversation key: {text[:80]!r}")
        parts = rest.split("/")
        if not sep or not platform or not rest or any(not p for p in parts):
            raise ValueError(f"not a conversation key: {text[:80]!r}")
        width = CHAT_ID_SEGMENTS.get(platform, 1)
        if len(parts) < width or len(parts) > width + 1:
            raise ValueError(f"not a {platform} conversation key: {text[:80]!r}")
        chat, thread = parts[:width], parts[width:]
        return cls(
            platform=platform, chat_id="/".join(chat), thread_id=thread[0] if thread else None, user_id=user or None
        )


CHAT_ID_SEGMENTS: dict[str, int] = {"discord": 2}
"""How many ``/``-separated segments a platform's ``chat_id`` has (Discord: ``guild/channel``
or ``dm/channel``); 1 for the others. One more segment is the thread."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file attached to a message.

    Exactly one way to get the bytes must be given: ``path`` (a local file), ``open`` (a
    factory of a fresh async byte iterator, streamed from the platform), or ``public_url``
    (a URL that holds no secret, uploaded by NemoVideo itself). Telegram file URLs contain
    the bot token: adapters must never put them in ``public_url``.

    The file name is cleaned on creation (:func:`bot.cleaning.clean_filename`): no path,
    no control or invisible characters, at most 100 characters.

    Attributes:
        filename: The file name, with extension.
        content_type: MIME type, or ``None`` when unknown.
        size: Size in bytes, or ``None`` when unknown.
        path: A local file.
        open: Factory of an async iterator over the bytes.
        public_url: A secret-free URL NemoVideo can fetch.
        pasted: ``public_url`` is a link someone typed (checked by the outbound rules,
            :func:`bot.outbound.check_link`), not a platform's own file URL.
        ref: A secret-free platform reference another process of the bot can open the file
            by again (a Telegram ``file_id``: ``telegram-file:<file_id>``), or ``None``; kept
            with queued messages so a file survives a restart or moves to another instance
            (:meth:`bot.adapter.Adapter.reopen`).
    """

    filename: str
    content_type: str | None = None
    size: int | None = None
    path: Path | None = None
    open: Callable[[], AsyncIterator[bytes]] | None = None
    public_url: str | None = None
    pasted: bool = False
    ref: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "filename", clean_filename(self.filename))


class Content(enum.StrEnum):
    """What else a message can hold that nemobot cannot edit (it answers what it can do instead)."""

    STICKER = "sticker"
    LOCATION = "location"
    POLL = "poll"
    CONTACT = "contact"
    VOICE = "voice"
    OTHER = "other"


class Scope(enum.StrEnum):
    """Where a message was sent, which decides whose project it reaches.

    ``private``: a DM, the sender's own project. ``group``: a chat many people share (a
    Telegram group or topic, a Discord channel): each person has their own project there
    unless ``GROUP_PROJECTS=shared``. ``thread``: a Discord thread the bot opened for one
    person's project: only its owner (and admins) may act in it.
    """

    PRIVATE = "private"
    GROUP = "group"
    THREAD = "thread"


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingMessage:
    """One chat message for the engine.

    Attributes:
        conversation: The thread it belongs to.
        sender: The sender's display name or id (for logs and mentions only).
        text: The text, ``""`` when none.
        attachments: Files in the message (several go up together).
        message_id: The platform's message id (for dedupe and replies).
        locale: The sender's language (``en``, ``zh-CN``...), or ``None``.
        sender_id: The sender's platform user id (``""`` when the platform gives none).
        scope: Where it was sent: a private chat, a shared chat, or a project thread.
        space_id: The group or server it was sent in (Telegram chat id, Discord guild id), or
            ``None`` in private chats.
        unsupported: What the message held that nemobot cannot use (a sticker, a location,
            a poll, a contact, a voice message), or ``None``.
    """

    conversation: ConversationKey
    sender: str
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    message_id: str = ""
    locale: str | None = None
    sender_id: str = ""
    scope: Scope = Scope.PRIVATE
    space_id: str | None = None
    unsupported: Content | None = None

    @property
    def account(self) -> str:
        """The sender's platform account, ``telegram:123`` (what people and allowlists are keyed by)."""
        return f"{self.conversation.platform}:{self.sender_id or self.sender}"


class Button(enum.StrEnum):
    """Quick actions under the bot's answers; pressing one sends the matching command.

    Both adapters draw a button as :attr:`emoji` plus the catalog's ``button.<value>`` label,
    and carry it in their callback payloads as ``<prefix><value>`` (:meth:`from_payload`).
    """

    EXPORT = "export"
    STATUS = "status"
    CREDITS = "credits"
    NEW = "new"
    EDITOR = "editor"

    @property
    def emoji(self) -> str:
        """The emoji drawn with the label."""
        return _BUTTON_EMOJI[self]

    @property
    def command(self) -> str:
        """The command a press sends to the engine (``/export``)."""
        return f"/{self.value}"

    @classmethod
    def from_payload(cls, payload: str | None, prefix: str) -> Button | None:
        """The button of a callback payload ``<prefix><value>`` (``nb:export``), or ``None``
        for anything else (payloads come from users' clients: never trusted)."""
        if not payload or not payload.startswith(prefix):
            return None
        try:
            return cls(payload[len(prefix) :])
        except ValueError:
            return None


_BUTTON_EMOJI = {Button.EXPORT: "🎞️", Button.STATUS: "📋", Button.CREDITS: "💳", Button.NEW: "🆕", Button.EDITOR: "✏️"}


@dataclass(frozen=True, slots=True)
class Reply:
    """A message from the engine.

    Attributes:
        text: Plain text (adapters escape it for their markup).
        buttons: Quick actions to show under it.
        final: False for progress messages that will be edited again.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    final: bool = True


@dataclass(frozen=True, slots=True)
class SentRef:
    """An adapter's reference to a sent message (opaque to the engine; storable as ``id``)."""

    id: str


@dataclass(frozen=True, slots=True)
class OutgoingVideo:
    """A rendered video to post.

    Attributes:
        path: The local file.
        name: The file name shown to the user.
        size: Size in bytes (within the channel's ``max_upload_bytes``).
        duration_s: Duration in seconds, when known (Telegram shows it).
        width: Frame width in pixels, when known.
        height: Frame height in pixels, when known.
        thumbnail: A poster frame as JPEG bytes, at most 320 px a side and under 200 kB
            (Telegram ``sendVideo`` ``thumbnail`` limits, Bot API); ``None`` when none could
            be taken. Platforms that draw their own preview (Discord) ignore it.
    """

    path: Path
    name: str
    size: int
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


@dataclass(frozen=True, slots=True)
class OutgoingPhoto:
    """A picture to post: the ``/status`` timeline, or the poster frame of a video sent as a link.

    Attributes:
        data: PNG or JPEG bytes (at most a few hundred kB; Telegram photos: 10 MB, sides
            adding up to 10,000 px).
        name: The file name, with its extension (``timeline.png``, ``poster.jpg``).
        width: Width in pixels.
        height: Height in pixels.
    """

    data: bytes
    name: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What a channel allows.

    Attributes:
        max_message_chars: Longest message (Telegram 4096, Discord 2000).
        max_upload_bytes: Largest file the bot may send (Telegram 50 MB; Discord 10 MiB by
            default, more with boosts: ``Guild.filesize_limit``).
        max_caption_chars: Longest caption of a file (Telegram 1024).
        can_edit: Messages can be edited in place.
    """

    max_message_chars: int = 4096
    max_upload_bytes: int = 50 * 1024 * 1024
    max_caption_chars: int = 1024
    can_edit: bool = True


@runtime_checkable
class ReplyChannel(Protocol):
    """Where the engine answers one message. Implemented by each adapter.

    Implementations raise nothing but :class:`ChannelError` (adapters map their platform
    errors), so the engine can keep going when the chat side fails.
    """

    limits: ChannelLimits

    async def send(self, reply: Reply) -> SentRef:
        """Post a new message."""

    async def edit(self, ref: SentRef, reply: Reply) -> None:
        """Replace a message's text (no-op when ``limits.can_edit`` is false)."""

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        """Post a video file with a caption (within ``limits.max_caption_chars``)."""

    async def send_photo(self, photo: OutgoingPhoto, *, caption: str = "", buttons: tuple[Button, ...] = ()) -> SentRef:
        """Post a picture with a caption (within ``limits.max_caption_chars``) and quick actions
        under it: a Telegram photo, a Discord message with the picture as its embed image, a
        file in the terminal."""

    async def send_private(self, reply: Reply) -> SentRef:
        """Post a message only the sender of the message being answered sees: an ephemeral
        reply (Discord interactions) or a direct message. Raises :class:`ChannelError` when
        the platform cannot (the user never opened a private chat with the bot)."""


class ChannelError(Exception):
    """A platform call failed (the adapter's error, without platform types or tokens)."""
