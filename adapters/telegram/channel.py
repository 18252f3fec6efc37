"""The Telegram :class:`ReplyChannel`: sends, paced edits and video delivery through PTB's Bot.

Text is sent without a parse mode: nothing the user or the backend wrote can be read as
markup, and the engine's split at 4096 characters holds exactly (no escaping growth).
Edits go through an :class:`EditPacer`: at most one edit per chat per interval, the latest
text wins, identical edits and "message is not modified" are ignored. HTTP 429 is handled
by PTB's ``AIORateLimiter`` (``retry_after`` honoured, retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, Message
from telegram.error import BadRequest, TelegramError

from adapters.pacing import EditPacer
from adapters.telegram.converters import keyboard
from adapters.telegram.priority import progress_requests
from bot.boundary import Button, ChannelError, ChannelLimits, OutgoingPhoto, OutgoingVideo, Reply, SentRef

log = logging.getLogger(__name__)

MB = 1024 * 1024
CLOUD_UPLOAD_LIMIT = 50 * MB
"""Bot API upload limit by multipart on the cloud server (design notes, platform facts)."""
LOCAL_UPLOAD_LIMIT = 2000 * MB
"""Upload limit through a local Bot API server."""
CLOUD_DOWNLOAD_LIMIT = 20 * MB
"""``getFile`` limit on the cloud Bot API."""
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


def _not_modified(exc: TelegramError) -> bool:
    return isinstance(exc, BadRequest) and "message is not modified" in exc.message.lower()


class TelegramChannel:
    """Replies into one Telegram chat (and forum topic).

    Args:
        bot: PTB's bot (with the rate limiter of the application).
        chat_id: The chat.
        thread_id: The forum topic (``message_thread_id``), or ``None``.
        pacer: The adapter's shared :class:`EditPacer`.
        local_mode: A local Bot API server is used (2000 MB uploads, files sent by path).
        lang: ``en`` or ``zh`` for button labels.
        user_id: The person being answered: private messages go to them.
        button_user: Who may press this channel's buttons (``None``: anyone in the chat).
        button_secret: The key of the buttons' callback data (:func:`button_key`).
    """

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        thread_id: int | None,
        pacer: EditPacer,
        *,
        local_mode: bool = False,
        lang: str = "en",
        user_id: int | None = None,
        button_user: int | None = None,
        button_secret: bytes = b"",
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.thread_id = thread_id
        self.pacer = pacer
        self.local_mode = local_mode
        self.lang = lang
        self.user_id = user_id
        self.button_user = button_user
        self.button_secret = button_secret
        self.limits = ChannelLimits(
            max_message_chars=MESSAGE_LIMIT,
            max_upload_bytes=LOCAL_UPLOAD_LIMIT if local_mode else CLOUD_UPLOAD_LIMIT,
            max_caption_chars=CAPTION_LIMIT,
            can_edit=True,
        )

    async def send(self, reply: Reply) -> SentRef:
        """Post ``reply`` (a progress message, ``final=False``, gives way to answers: :mod:`.priority`)."""
        try:
            with progress_requests() if not reply.final else contextlib.nullcontext():
                message = await self.bot.send_message(
                    chat_id=self.chat_id,
                    text=reply.text[:MESSAGE_LIMIT],
                    message_thread_id=self.thread_id,
                    reply_markup=self._keyboard(reply),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except TelegramError as exc:
            raise ChannelError(f"sendMessage failed: {type(exc).__name__}: {exc.message[:200]}") from None
        return SentRef(str(message.message_id))

    def _keyboard(self, reply: Reply) -> InlineKeyboardMarkup | None:
        return keyboard(
            reply.buttons, self.lang, secret=self.button_secret, chat_id=self.chat_id, user_id=self.button_user
        )

    async def send_private(self, reply: Reply) -> SentRef:
        """A direct message to the person being answered.

        Raises:
            ChannelError: No person, or Telegram refused (they never started a chat with the bot).
        """
        if self.user_id is None:
            raise ChannelError("no one to message privately")
        try:
            message = await self.bot.send_message(
                chat_id=self.user_id,
                text=reply.text[:MESSAGE_LIMIT],
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except TelegramError as exc:
            raise ChannelError(f"private sendMessage failed: {type(exc).__name__}") from None
        return SentRef(str(message.message_id))

    async def edit(self, ref: SentRef, reply: Reply) -> None:
        """Edit a message this adapter sent (paced).

        Raises:
            ChannelError: ``ref`` is not a Telegram message id, or the edit failed.
        """
        if not ref.id.isdigit():
            raise ChannelError(f"not a Telegram message reference: {ref.id[:40]!r}")
        message_id = int(ref.id)

        async def do_edit() -> None:
            try:
                with progress_requests() if not reply.final else contextlib.nullcontext():
                    await self.bot.edit_message_text(
                        text=reply.text[:MESSAGE_LIMIT],
                        chat_id=self.chat_id,
                        message_id=message_id,
                        reply_markup=self._keyboard(reply),
                        link_preview_options=LinkPreviewOptions(is_disabled=True),
                    )
            except TelegramError as exc:
                if _not_modified(exc):
                    return
                raise ChannelError(f"editMessageText failed: {type(exc).__name__}: {exc.message[:200]}") from None

        await self.pacer.edit(self.chat_id, message_id, do_edit, final=reply.final)

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        try:
            if self.local_mode:  # PTB sends a file:// URI the local server reads itself
                message = await self._send_video(video.path, video, caption)
            else:
                fh = await asyncio.to_thread(video.path.open, "rb")
                with fh:
                    message = await self._send_video(fh, video, caption)
        except TelegramError as exc:
            raise ChannelError(f"sendVideo failed: {type(exc).__name__}: {exc.message[:200]}") from None
        return SentRef(str(message.message_id))

    async def _send_video(self, source: object, video: OutgoingVideo, caption: str) -> Message:
        return await self.bot.send_video(
            chat_id=self.chat_id,
            video=source,  # type: ignore[arg-type]
            filename=video.name,
            caption=caption[:CAPTION_LIMIT] or None,
            supports_streaming=True,
            duration=round(video.duration_s) if video.duration_s else None,
            width=video.width,
            height=video.height,
            thumbnail=InputFile(video.thumbnail, filename="thumbnail.jpg", attach=True) if video.thumbnail else None,
            message_thread_id=self.thread_id,
            read_timeout=300,
            write_timeout=300,
        )

    async def send_photo(self, photo: OutgoingPhoto, *, caption: str = "", buttons: tuple[Button, ...] = ()) -> SentRef:
        """A photo (``sendPhoto``) with its caption (1024 characters at most) and inline buttons.

        Raises:
            ChannelError: Telegram refused or could not be reached.
        """
        try:
            message = await self.bot.send_photo(
                chat_id=self.chat_id,
                photo=InputFile(photo.data, filename=photo.name),
                caption=caption[:CAPTION_LIMIT] or None,
                reply_markup=self._keyboard(Reply(caption, buttons=buttons)),
                message_thread_id=self.thread_id,
                write_timeout=60,
            )
        except TelegramError as exc:
            raise ChannelError(f"sendPhoto failed: {type(exc).__name__}: {exc.message[:200]}") from None
        return SentRef(str(message.message_id))
