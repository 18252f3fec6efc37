"""The Telegram adapter: python-telegram-bot's ``Application`` wired to the engine.

Thin: converts updates with :mod:`adapters.telegram.converters`, answers through
:class:`adapters.telegram.channel.TelegramChannel`, and owns only what is Telegram's:
who the bot answers in groups, albums, the 20 MB download limit, chat actions, the
command menu, polling or webhook. Lifecycle (PTB): initialize -> start polling/webhook ->
start, and the reverse on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from adapters.activity import SLOW_INTENTS, ActivityIndicators
from adapters.downloads import CHUNK, TELEGRAM_FILE_HOSTS, Downloader
from adapters.pacing import EditPacer
from adapters.telegram.bot import PollingBot
from adapters.telegram.channel import CLOUD_DOWNLOAD_LIMIT, TelegramChannel
from adapters.telegram.converters import (
    COMMANDS,
    FILE_REF,
    PLATFORM,
    MediaRef,
    command_of_callback,
    conversation_key,
    is_for_bot,
    media_of,
    to_incoming,
)
from adapters.telegram.priority import PriorityRateLimiter, progress_requests
from adapters.telegram.webhook import WebhookServer
from bot.adapter import CheckFailed
from bot.boundary import Attachment, ChannelError, ConversationKey, IncomingMessage, Reply, Scope
from bot.intents import IntentKind, route
from bot.texts import fmt_size, lang_of, t

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.engine import ConversationEngine
    from bot.settings import Settings

log = logging.getLogger(__name__)

LOGGER_FLOORS = (("httpx", logging.WARNING), ("httpcore", logging.WARNING), ("telegram", logging.INFO))
"""Bot API URLs contain the bot token: httpx logs every request URL at INFO, and PTB logs
its base URLs at DEBUG. :meth:`TelegramAdapterFactory.prepare` keeps those loggers above
the levels that carry URLs."""

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
PRIVATE_ONLY_COMMANDS = frozenset({"connect", "logout"})
"""Account commands the group chats' menu leaves out (they still work if typed)."""
CHAT_ACTION_EVERY_S = 4.5  # Telegram shows an action for about 5 s
CHAT_ACTION_AFTER_S = 1.0
"""A chat action is sent only once work has taken this long (s), so quick answers never queue
one ahead of a real reply in the rate limiter."""
PROGRESS_EDITS_PER_S = 10.0
"""Progress edits per second at most, all chats together (a third of Telegram's ~30 requests/s):
with thousands of runs or resumed renders, replies still find room in the rate limit."""
CHAT_ACTIONS_PER_S = 5.0
"""Chat actions per second at most, all chats together: a sixth of Telegram's ~30 requests/s
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this), so replies
keep the rest however many runs are going on."""


class TelegramAdapter:
    """One bot: a PTB ``Application`` feeding the conversation engine.

    Args:
        engine: The conversation engine.
        settings: The settings (``TELEGRAM_*``).

    Raises:
        ValueError: ``TELEGRAM_TOKEN`` is not set.
    """

    platform = PLATFORM

    def __init__(self, engine: ConversationEngine, settings: Settings) -> None:
        if settings.telegram_token is None:
            raise ValueError("TELEGRAM_TOKEN is not set")
        self.engine = engine
        self.settings = settings
        self.local_mode = bool(settings.telegram_local_mode)
        # the buttons' callback keys (adapters/telegram/converters.py:button_key), stable across restarts
        self.button_secret = hashlib.sha256(
            b"nemobot-buttons:" + settings.telegram_token.get_secret_value().encode()
        ).digest()
        bot = PollingBot(
            settings.telegram_token.get_secret_value(),
            api_url=settings.telegram_api_url,
            local_mode=self.local_mode,
            rate_limiter=PriorityRateLimiter(max_retries=5),
        )
        builder = Application.builder().bot(bot).concurrent_updates(True)
        if settings.telegram_webhook_url:
            builder = builder.updater(None)  # our own server feeds the update queue: adapters/telegram/webhook.py
        self.app = builder.build()
        self.webhook: WebhookServer | None = None
        self.app.add_handler(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, self._on_message))
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_error_handler(self._on_error)
        self.pacer = EditPacer(self._edit_interval, progress_per_second=PROGRESS_EDITS_PER_S)
        self.activity = ActivityIndicators(
            self._send_action, after_s=CHAT_ACTION_AFTER_S, every_s=CHAT_ACTION_EVERY_S, per_second=CHAT_ACTIONS_PER_S
        )
        self._albums: dict[str, list[Message]] = {}
        self._album_timers: dict[str, asyncio.TimerHandle | asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.downloads = Downloader(
            settings.fetch_policy(settings.telegram_api_url, allowed=TELEGRAM_FILE_HOSTS), settings.http_timeout_s
        )
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """initialize -> command menu -> polling (or webhook) -> start."""
        await self.app.initialize()
        await self._register_commands()
        s = self.settings
        if s.telegram_webhook_url:
            path = urlsplit(s.telegram_webhook_url).path
            self.webhook = WebhookServer(
                self.app.bot,
                self.app.update_queue,
                listen=s.telegram_webhook_listen,
                port=s.telegram_webhook_port,
                path=path,
                secret=s.telegram_webhook_secret.get_secret_value() if s.telegram_webhook_secret else None,
            )
            await self.webhook.start(webhook_url=s.telegram_webhook_url, allowed_updates=ALLOWED_UPDATES)
            log.info("Telegram webhook listening on %s:%s%s", s.telegram_webhook_listen, s.telegram_webhook_port, path)
        else:
            updater = self.app.updater
            assert updater is not None
            # PollingBot.get_updates skips unparsable updates and backs off after failures
            await updater.start_polling(allowed_updates=ALLOWED_UPDATES, poll_interval=0.0)
            log.info("Telegram long polling started as @%s", self.app.bot.username)
        await self.app.start()
        self._started = True

    async def stop(self) -> None:
        """The reverse of :meth:`start`; in-flight conversations are cancelled. Idempotent."""
        if not self._started:
            return
        self._started = False
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.webhook is not None:
            await self.webhook.stop()
        if self.app.running:
            await self.app.stop()
        pending = list(self._tasks) + [x for x in self._album_timers.values() if isinstance(x, asyncio.Task)]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.activity.close()
        await self.pacer.close()
        await self.downloads.close()
        await self.app.shutdown()

    async def wait_closed(self) -> None:
        """Long polling and the webhook server run until the adapter is stopped."""
        await asyncio.Event().wait()

    async def _register_commands(self) -> None:
        """The command menu in English and Chinese, per chat type: everything in private chats
        (and by default), no account commands in groups (a connect code or a logout is the
        person's own business, done in a private chat)."""
        scopes = (
            (BotCommandScopeDefault(), None),
            (BotCommandScopeAllPrivateChats(), None),
            (BotCommandScopeAllGroupChats(), PRIVATE_ONLY_COMMANDS),
        )
        try:
            for scope, left_out in scopes:
                menu = [row for row in COMMANDS if not left_out or row[0] not in left_out]
                await self.app.bot.set_my_commands([BotCommand(c, en) for c, en, _ in menu], scope=scope)
                await self.app.bot.set_my_commands(
                    [BotCommand(c, zh) for c, _, zh in menu], scope=scope, language_code="zh"
                )
        except TelegramError as exc:
            log.warning("could not register the command menu: %s", type(exc).__name__)

    def _edit_interval(self, chat_id: int | str) -> float:
        s = self.settings
        return s.telegram_edit_interval_s if int(chat_id) > 0 else s.telegram_group_edit_interval_s

    # ------------------------------------------------------------------ updates

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        album = bool(message.media_group_id)
        if not album and not is_for_bot(message, bot_id=self.app.bot.id, bot_username=self.app.bot.username):
            return  # group chatter: not ours, nothing to record
        if not await self.engine.claim_event(PLATFORM, "update", str(update.update_id)):
            return
        if album:
            self._collect_album(message)
            return
        await self._dispatch([message])

    def _collect_album(self, message: Message) -> None:
        """Albums arrive as separate messages; one quiet period later they are one batch."""
        group = message.media_group_id
        assert group is not None
        self._albums.setdefault(group, []).append(message)
        timer = self._album_timers.pop(group, None)
        if isinstance(timer, asyncio.Task):
            timer.cancel()
        self._album_timers[group] = asyncio.create_task(self._flush_album(group), name=f"tg-album-{group}")

    async def _flush_album(self, group: str) -> None:
        await asyncio.sleep(self.settings.telegram_album_wait_s)
        self._album_timers.pop(group, None)
        messages = sorted(self._albums.pop(group, []), key=lambda m: m.message_id)
        if not messages:
            return
        bot = self.app.bot
        if not any(is_for_bot(m, bot_id=bot.id, bot_username=bot.username) for m in messages):
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._dispatch(messages)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query: CallbackQuery | None = update.callback_query
        if query is None or not await self.engine.claim_event(PLATFORM, "update", str(update.update_id)):
            return
        message = query.message
        user = query.from_user
        if not isinstance(message, Message):
            return
        command = command_of_callback(query.data, secret=self.button_secret, chat_id=message.chat.id, user_id=user.id)
        if command is None:  # forged, or someone else's button: nothing happens
            with contextlib.suppress(TelegramError):
                await query.answer(t("not_your_project", lang_of(user.language_code)), show_alert=True)
            return
        with contextlib.suppress(TelegramError):
            await query.answer()
        private = message.chat.type == ChatType.PRIVATE
        incoming = IncomingMessage(
            conversation=conversation_key(message),
            sender=user.username or user.full_name,
            text=command,
            message_id=f"cb:{query.id}",
            locale=user.language_code,
            sender_id=str(user.id),
            scope=Scope.PRIVATE if private else Scope.GROUP,
            space_id=None if private else str(message.chat.id),
        )
        await self._deliver(incoming, message.chat.id, message.message_thread_id if message.is_topic_message else None)

    async def _dispatch(self, messages: Sequence[Message]) -> None:
        first = messages[0]
        lang = lang_of(first.from_user.language_code if first.from_user else None)
        thread_id = first.message_thread_id if first.is_topic_message else None
        channel = self._channel(first.chat.id, thread_id, lang, first.from_user.id if first.from_user else None)
        too_big = [
            ref
            for m in messages
            for ref in media_of(m)
            if not self.local_mode and ref.size is not None and ref.size > CLOUD_DOWNLOAD_LIMIT
        ]
        for ref in too_big:
            text = t(
                "platform_download_limit",
                lang,
                name=ref.filename,
                size=fmt_size(ref.size or 0),
                platform="Telegram",
                limit=fmt_size(CLOUD_DOWNLOAD_LIMIT),
            )
            with contextlib.suppress(ChannelError):
                await channel.send(Reply(text))
        incoming = to_incoming(messages, bot_username=self.app.bot.username, opener=self._opener)
        if too_big:
            skipped = {ref.filename for ref in too_big}
            kept = tuple(a for a in incoming.attachments if a.public_url or a.filename not in skipped)
            if not kept and not incoming.text:
                return
            incoming = replace(incoming, attachments=kept)
        await self._deliver(incoming, first.chat.id, thread_id, channel=channel)

    async def _deliver(
        self, incoming: IncomingMessage, chat_id: int, thread_id: int | None, *, channel: TelegramChannel | None = None
    ) -> None:
        """Hand the message to the engine and return once it is taken (the work goes on in the
        engine's tasks, so a long run holds none of PTB's concurrent-update slots)."""
        user = int(incoming.sender_id) if incoming.sender_id.isdigit() else None
        channel = channel or self._channel(chat_id, thread_id, lang_of(incoming.locale), user)
        work = await self.engine.accept(incoming, channel)
        intent = route(incoming.text, bool(incoming.attachments))
        if work is not None and intent.kind in SLOW_INTENTS:  # a quick reply needs no "typing..."
            action = ChatAction.UPLOAD_VIDEO if intent.kind is IntentKind.EXPORT else ChatAction.TYPING
            self.activity.track((chat_id, thread_id), action, work)

    async def channel_for(self, key: ConversationKey) -> TelegramChannel | None:
        """The channel of a conversation (``telegram:<chat>[/<topic>]``), for resumed work."""
        if key.platform != PLATFORM:
            return None
        try:
            chat_id, thread_id = int(key.chat_id), int(key.thread_id) if key.thread_id else None
        except ValueError:
            return None
        user = int(key.user_id) if key.user_id and key.user_id.isdigit() else None
        return self._channel(chat_id, thread_id, "en", user or (chat_id if chat_id > 0 else None))

    def _channel(self, chat_id: int, thread_id: int | None, lang: str, user_id: int | None = None) -> TelegramChannel:
        """A channel answering ``user_id`` in a chat: its buttons are theirs unless the chat's
        projects are shared (``GROUP_PROJECTS=shared`` in a group)."""
        shared = chat_id < 0 and self.settings.group_projects == "shared"
        return TelegramChannel(
            self.app.bot,
            chat_id,
            thread_id,
            self.pacer,
            local_mode=self.local_mode,
            lang=lang,
            user_id=user_id,
            button_user=None if shared else user_id,
            button_secret=self.button_secret,
        )

    async def _send_action(self, target: Hashable, action: str) -> None:
        chat_id, thread_id = cast(tuple[int, int | None], target)
        with progress_requests():  # answers go first
            await self.app.bot.send_chat_action(chat_id=chat_id, action=action, message_thread_id=thread_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error(
            "Telegram handler error: %s",
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )

    # ------------------------------------------------------------------ file bytes

    shares_work = True
    """Any replica may receive any update (webhooks behind a load balancer): on PostgreSQL the
    conversation work is shared between instances (:mod:`bot.shared_work`)."""

    async def reopen(self, attachment: Attachment) -> Attachment:
        """A file kept by reference (``telegram-file:<kind>:<file_id>``) streamed from Telegram again.

        Raises:
            ValueError: ``attachment.ref`` is not a Telegram file reference.
        """
        kind, sep, file_id = (attachment.ref or "").removeprefix(FILE_REF).partition(":")
        if not (attachment.ref or "").startswith(FILE_REF) or not sep or not file_id:
            raise ValueError(f"not a Telegram file reference: {attachment.ref!r:.60}")
        ref = MediaRef(file_id, attachment.filename, attachment.content_type, attachment.size, kind)
        return replace(attachment, open=self._opener(ref))

    def _opener(self, ref: MediaRef) -> Callable[[], AsyncIterator[bytes]]:
        """A factory that streams a Telegram file: ``getFile``, then the bytes in chunks.

        The file URL contains the bot token: it is used here and nowhere else, never logged.
        """

        async def stream() -> AsyncIterator[bytes]:
            try:
                tg_file = await self.app.bot.get_file(ref.file_id)
            except TelegramError as exc:
                raise ChannelError(f"getFile failed: {type(exc).__name__}") from None
            location = tg_file.file_path or ""
            if self.local_mode and await asyncio.to_thread(Path(location).is_file):
                fh = await asyncio.to_thread(Path(location).open, "rb")
                with fh:
                    while chunk := await asyncio.to_thread(fh.read, CHUNK):
                        yield chunk
                return
            async for chunk in self.downloads.stream(location):
                yield chunk

        return stream


class TelegramAdapterFactory:
    """The ``telegram`` entry point of the ``nemobot.adapters`` group."""

    name = PLATFORM

    def enabled(self, settings: Settings) -> bool:
        """Started by ``nemobot run`` when ``TELEGRAM_TOKEN`` is set."""
        return settings.telegram_token is not None

    def prepare(self, settings: Settings) -> None:
        """Opt in to PTB's ``timedelta`` durations (the int form is deprecated and warns on
        every read) and keep the loggers that print Bot API URLs (with the token) quiet."""
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        for name, floor in LOGGER_FLOORS:
            logger = logging.getLogger(name)
            logger.setLevel(max(floor, logger.level))

    async def check(self, settings: Settings) -> str:
        """``getMe`` with ``TELEGRAM_TOKEN`` (on ``TELEGRAM_API_URL`` when set).

        Raises:
            CheckFailed: Telegram refused the token, or could not be reached.
        """
        assert settings.telegram_token is not None
        root = settings.telegram_api_url or "https://api.telegram.org"
        requests = (HTTPXRequest(), HTTPXRequest())  # ours to close: a refused bot is never "initialized"
        bot = Bot(
            settings.telegram_token.get_secret_value(),
            base_url=f"{root}/bot",
            request=requests[0],
            get_updates_request=requests[1],
        )
        try:
            me = await bot.get_me()
        except InvalidToken:
            raise CheckFailed("Telegram refused TELEGRAM_TOKEN: copy it again from @BotFather") from None
        except TelegramError as exc:
            raise CheckFailed(f"Telegram could not be reached ({type(exc).__name__})") from None
        finally:
            for request in requests:
                await request.shutdown()
        return f"@{me.username}"

    def create(self, runtime: Runtime) -> TelegramAdapter:
        """The adapter on the runtime's engine."""
        return TelegramAdapter(runtime.engine, runtime.settings)
