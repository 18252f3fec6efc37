"""The conversation engine: one chat thread <-> one NemoVideo session.

Adapters call :meth:`ConversationEngine.handle` with an :class:`IncomingMessage` and a
:class:`ReplyChannel`. The engine routes the intent (:func:`bot.intents.route`), runs the
message in its conversation's turn (:mod:`bot.scheduler`) unless it is a quick command,
dispatches through the handler table (:mod:`bot.commands`), and ends every failure at one
error boundary (:meth:`ConversationEngine._guarded`, :func:`bot.errors.error_reply`):
never a traceback, never a token. It has no platform code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from bot.agent_runs import AgentRuns
from bot.boundary import ChannelError, IncomingMessage, ReplyChannel
from bot.commands import Commands
from bot.conversations import Conversations
from bot.errors import BotError, error_reply
from bot.intents import Intent, IntentKind, route
from bot.nemo.client import NemoClient
from bot.nemo.errors import NemoError, NemoSessionNotFound
from bot.recovery import ChannelFor, Recovery, queue_items
from bot.renders import RenderTracker
from bot.scheduler import ConversationScheduler
from bot.settings import Settings
from bot.texts import lang_of, t
from bot.turn import Turn, say
from bot.uploads import Uploads
from store.base import Store, utcnow

log = logging.getLogger(__name__)

IMMEDIATE = frozenset(
    {
        IntentKind.CANCEL,
        IntentKind.EMPTY,
        IntentKind.HELP,
        IntentKind.START,
        IntentKind.CREDITS,
        IntentKind.STATUS,
        IntentKind.LINK,
        IntentKind.SKILL,
        IntentKind.UNKNOWN_COMMAND,
    }
)
"""Intents answered at once, even while the conversation's run or render is going on."""

EVENT_RETENTION = timedelta(days=7)
"""How long incoming event ids are kept for deduplication."""


class ConversationEngine:
    """Routes chat messages to NemoVideo and answers them.

    Args:
        client: The NemoVideo client.
        store: Persistence for conversations and render jobs.
        settings: Timing and limits (heartbeat interval, edit pacing, render polling).
        work_dir: Where rendered files are downloaded before delivery (a temp dir if ``None``).
    """

    def __init__(self, client: NemoClient, store: Store, settings: Settings, *, work_dir: Path | None = None) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.conversations = Conversations(client, store, settings)
        self.scheduler = ConversationScheduler(self._save_queue)
        self.renders = RenderTracker(client, store, settings, work_dir=work_dir)
        self.agent = AgentRuns(client, self.conversations, self.scheduler, settings)
        self.commands = Commands(
            client,
            store,
            self.conversations,
            self.scheduler,
            Uploads(client, self.conversations, settings),
            self.agent,
            self.renders,
        )
        self.handlers = self.commands.table()
        self.recovery = Recovery(client, store, self.conversations, self.scheduler, self.renders)
        self._claims = 0

    # ------------------------------------------------------------------ entry points

    async def handle(self, msg: IncomingMessage, channel: ReplyChannel) -> None:
        """Handle one message; returns when it (and anything queued behind it) is done.

        Messages that need the session (agent requests, uploads, exports, /new) run one
        at a time per conversation: one that arrives meanwhile is queued, the user is told,
        and it is handled after the current one, in order. Quick commands answer at once.
        """
        intent = route(msg.text, bool(msg.attachments))
        if intent.kind in IMMEDIATE:
            await self._guarded(msg, channel, intent)
            return
        started = await self.scheduler.submit(
            str(msg.conversation), msg, channel, lambda: self._guarded(msg, channel, intent)
        )
        if not started:
            await say(channel, t("queued", lang_of(msg.locale)))

    async def resume(self, platform: str, channel_for: ChannelFor) -> int:
        """Pick up what a previous process of ``platform`` left unfinished (:mod:`bot.recovery`).

        The runtime calls it once the platform's adapter is connected. Work runs in the
        background, in each conversation's turn, so new messages queue behind it.

        Args:
            platform: ``telegram``, ``discord`` or ``console``.
            channel_for: The adapter's way to reach a conversation by its key, or ``None``.

        Returns:
            How many jobs, cut-off runs and queued messages were picked up.
        """
        return await self.recovery.resume(platform, channel_for, self._handle_replayed, self._guarded_work)

    async def claim_event(self, platform: str, kind: str, event_id: str) -> bool:
        """True the first time a platform event is seen (``telegram``, ``update``, ``"123"``).

        Adapters call it before handling an update, so a redelivery (after a crash, or a
        webhook retry) is not handled twice. Ids are kept :data:`EVENT_RETENTION`.
        """
        first = await self.store.claim_event(f"{platform}:{kind}:{event_id}")
        if not first:
            log.info("ignoring a redelivered %s %s %s", platform, kind, event_id)
        self._claims += 1
        if self._claims % 1000 == 1:
            await self.store.prune_events(utcnow() - EVENT_RETENTION)
        return first

    def is_busy(self, conversation_key: str) -> bool:
        """True while a run, upload or export of the conversation is in progress."""
        return self.scheduler.is_busy(conversation_key)

    async def wait_idle(self) -> None:
        """Wait until resumed background work has finished (tests, orderly shutdown)."""
        await self.scheduler.wait_idle()

    async def stop_platform(self, platform: str) -> None:
        """Stop ``platform``'s in-flight work while its adapter can still post (the runtime
        calls it before the adapter disconnects). Markers and queues stay for the next process."""
        await self.scheduler.aclose(prefix=f"{platform}:")

    async def aclose(self) -> None:
        """Stop background work (resumed jobs) and in-flight conversations. Idempotent."""
        await self.scheduler.aclose()

    async def _save_queue(self, key: str, messages: list[IncomingMessage]) -> None:
        await self.conversations.save_queue(key, queue_items(messages))

    # ------------------------------------------------------------------ the error boundary

    async def _guarded(self, msg: IncomingMessage, channel: ReplyChannel, intent: Intent) -> None:
        lang = lang_of(msg.locale)
        turn: Turn | None = None
        try:
            turn = Turn(msg, channel, await self.conversations.get_or_create(msg), lang)
            await self.handlers[intent.kind](turn, intent)
        except Exception as exc:  # noqa: BLE001 - the one error boundary of a message
            await self._answer_error(exc, msg, channel, lang, turn)

    async def _guarded_work(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception as exc:  # noqa: BLE001 - the one error boundary of resumed work
            await self._answer_error(exc, turn.msg, turn.channel, turn.lang, turn)

    async def _handle_replayed(self, msg: IncomingMessage, channel: ReplyChannel) -> None:
        await self._guarded(msg, channel, route(msg.text, bool(msg.attachments)))

    async def _answer_error(
        self, exc: Exception, msg: IncomingMessage, channel: ReplyChannel, lang: str, turn: Turn | None
    ) -> None:
        """Log ``exc`` (with backend text, never shown) and answer with its sentence."""
        where = msg.conversation
        if isinstance(exc, ChannelError):
            log.warning("chat error in %s: %s", where, exc)
        elif isinstance(exc, NemoError):
            log.warning("NemoVideo error in %s: %r", where, exc)
        elif isinstance(exc, BotError):
            log.warning("could not finish a request in %s: %r (cause: %r)", where, exc, exc.__cause__)
        else:
            log.exception("unexpected error handling a message in %s", where)
        if isinstance(exc, NemoSessionNotFound) and turn is not None:
            try:
                await self.conversations.replace_lost_session(turn)
            except NemoError as again:
                log.warning("could not replace the lost session of %s: %r", where, again)
                exc = again
        text = error_reply(exc, lang, links=self.client)
        if text:
            await say(channel, text)
