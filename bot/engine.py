"""The conversation engine: one chat thread <-> one NemoVideo session.

Adapters call :meth:`ConversationEngine.handle` with an :class:`IncomingMessage` and a
:class:`ReplyChannel`. The engine routes the intent (:func:`bot.intents.route`), runs the
message in its conversation's turn (:mod:`bot.scheduler`) unless it is a quick command,
dispatches through the handler table (:mod:`bot.commands`), and ends every failure at one
error boundary (:meth:`ConversationEngine._guarded`, :func:`bot.errors.error_reply`):
never a traceback, never a token. It has no platform code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import metrics
from bot.access import AccessPolicy, RunSlots
from bot.accounts import AccountCommands
from bot.agent_runs import AgentRuns
from bot.boundary import Attachment, ChannelError, ConversationKey, IncomingMessage, ReplyChannel, Scope
from bot.commands import Commands
from bot.conversations import Conversations
from bot.errors import BotError, error_reply
from bot.identity import Identities
from bot.intents import Intent, IntentKind, route
from bot.nemo.client import NemoClient
from bot.nemo.errors import NemoError, NemoOutOfCredits, NemoPaymentRequired, NemoSessionNotFound
from bot.profiles import get_profile
from bot.recovery import ChannelFor, Recovery, message_of, queue_items
from bot.renders import RenderTracker
from bot.scheduler import ConversationScheduler, Submitted, Work, WorkQueue
from bot.settings import Settings
from bot.texts import lang_of, t
from bot.turn import Turn, say, say_private
from bot.uploads import Uploads
from store.base import Store, utcnow

if TYPE_CHECKING:
    from procrastinate import JobContext

    from bot.shared_work import SharedWork

Reopen = Callable[[Attachment], Awaitable[Attachment]]
"""An adapter's way to open a file kept by reference (``Attachment.ref``) again."""

log = logging.getLogger(__name__)

IMMEDIATE = frozenset(
    {
        IntentKind.CANCEL,
        IntentKind.CONFIRM,
        IntentKind.EMPTY,
        IntentKind.HELP,
        IntentKind.START,
        IntentKind.CREDITS,
        IntentKind.STATUS,
        IntentKind.LINK,
        IntentKind.SKILL,
        IntentKind.UNKNOWN_COMMAND,
        IntentKind.LOGIN,
        IntentKind.LOGOUT,
        IntentKind.CONNECT,
        IntentKind.ADMIN,
    }
)
"""Intents answered at once, even while the conversation's run or render is going on."""

OWNERLESS = frozenset(
    {
        IntentKind.HELP,
        IntentKind.START,
        IntentKind.EMPTY,
        IntentKind.UNKNOWN_COMMAND,
        IntentKind.LOGIN,
        IntentKind.LOGOUT,
        IntentKind.CONNECT,
        IntentKind.ADMIN,
    }
)
"""Intents anyone may use in someone else's project thread (they do not touch the project)."""

READ_ONLY = frozenset({IntentKind.HELP, IntentKind.START, IntentKind.EMPTY, IntentKind.UNKNOWN_COMMAND})
"""Quick commands that read and answer, and write nothing (the hot path of a busy bot: a
stranger's ``/help`` creates no person and no conversation)."""

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
        self.identities = Identities(client, store, settings)
        self.access = AccessPolicy(store, settings)
        self.slots = RunSlots(settings.max_concurrent_runs)
        self.conversations = Conversations(store, settings)
        self.scheduler = ConversationScheduler(self._save_queue, max_queued=settings.max_queued_messages)
        self.renders = RenderTracker(store, settings, work_dir=work_dir)
        self.agent = AgentRuns(self.conversations, self.scheduler, self.access, self.slots, settings)
        self.commands = Commands(
            store,
            self.conversations,
            self.scheduler,
            Uploads(self.conversations, settings),
            self.agent,
            self.renders,
            self.access,
        )
        self.agent.on_export = self.commands.export_from_answer
        accounts = AccountCommands(store, self.identities, self.access, self.slots)
        self.handlers = self.commands.table() | {
            IntentKind.LOGIN: accounts.login,
            IntentKind.LOGOUT: accounts.logout,
            IntentKind.CONNECT: accounts.connect,
            IntentKind.ADMIN: accounts.admin,
        }
        self.recovery = Recovery(store, self.conversations, self.scheduler, self.renders, self.identities)
        self.commands.cancel_work = self._cancel_work
        self.shared: SharedWork | None = None
        """Set by the runtime on PostgreSQL: the messages of :meth:`share`-d platforms become
        jobs any instance may run (:mod:`bot.shared_work`)."""
        self._shared_platforms: dict[str, tuple[ChannelFor, Reopen]] = {}
        self._claims = 0
        self._quick: dict[asyncio.Task[None], str] = {}
        metrics.watch(
            queued=self.scheduler.queued,
            busy=lambda: len(self.scheduler.active()),
            followed=lambda: self.renders.following,
        )

    # ------------------------------------------------------------------ entry points

    async def handle(self, msg: IncomingMessage, channel: ReplyChannel) -> None:
        """Handle one message; returns when it (and anything queued behind it) is done.

        :meth:`accept` and then waiting for the work it started (the terminal, the demo and
        tests wait; platform adapters call :meth:`accept` and return).
        """
        task = await self.accept(msg, channel)
        if task is None:
            return
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():  # the caller gave up: the work stops with it, as before
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            raise

    async def accept(self, msg: IncomingMessage, channel: ReplyChannel) -> asyncio.Task[None] | None:
        """Take one message and return at once; its work goes on in a task the engine owns.

        The access policy goes first (allowlists, blocks, the rate limit): a refused message
        reaches nothing else and is answered here. Messages that need the session (agent
        requests, uploads, exports, /new) run one at a time per conversation: one that
        arrives meanwhile is queued (at most ``MAX_QUEUED_MESSAGES``), the user is told, and
        it is handled after the current one, in order. Quick commands start at once.

        Platform handlers call this so they hold no platform slot while an agent run or a
        render goes on (PTB runs at most 256 handlers at a time).

        Returns:
            The task doing the work (it ends when the message, and anything queued behind
            it, is done), or ``None`` when there is nothing more to do (refused, queued, full).
        """
        metrics.UPDATES.labels(msg.conversation.platform).inc()
        intent = route(msg.text, bool(msg.attachments))
        msg = self._scoped(msg)
        quick = intent.kind in READ_ONLY
        person = await self.identities.known_person(msg.account)
        refusal = await self.access.admit(msg, person)  # before a stranger gets a person of their own
        if refusal is None and not quick and person is None:
            person = await self.identities.person_of(msg.account)
        reason = "access"
        if refusal is None and _runs_agent(intent):
            assert person is not None  # agent requests are never READ_ONLY
            refusal, reason = await self.access.rate_limit(msg, person), "rate_limit"
        if refusal is not None:
            metrics.REFUSALS.labels(reason).inc()
            if refusal.text:
                await say(channel, refusal.text)
            return None
        if intent.kind in IMMEDIATE:
            return self._spawn(self._guarded(msg, channel, intent, person, quick=quick), str(msg.conversation))
        key = str(msg.conversation)
        queue = self._work_queue(msg.conversation.platform)
        work: Work = lambda: self._guarded(msg, channel, intent, person)  # noqa: E731
        local = queue is self.scheduler  # shared work: the job's lock already keeps one export at a time
        if intent.kind is IntentKind.EXPORT and local:
            if not self.renders.claim(key):  # one export at a time per conversation
                metrics.REFUSALS.labels("render_busy").inc()
                await say(channel, t("render_busy", lang_of(msg.locale)))
                return None
            work = self._exporting(key, work)
        outcome, task = await queue.start(key, msg, channel, work)
        if outcome is Submitted.FULL and intent.kind is IntentKind.EXPORT and local:
            self.renders.release(key)
        await self._tell_outcome(outcome, msg, channel)
        return task

    async def _tell_outcome(self, outcome: Submitted, msg: IncomingMessage, channel: ReplyChannel) -> None:
        """Tell the sender their message waits its turn, or that too many already wait."""
        if outcome is Submitted.QUEUED:
            await say(channel, t("queued", lang_of(msg.locale)))
        elif outcome is Submitted.FULL:
            metrics.REFUSALS.labels("queue_full").inc()
            await say(channel, t("queue_full", lang_of(msg.locale), n=self.settings.max_queued_messages))

    # ------------------------------------------------------------------ several instances

    def share(self, platform: str, channel_for: ChannelFor, reopen: Reopen) -> None:
        """From now on ``platform``'s conversation work goes through :attr:`shared` (any
        instance may run it) and this instance runs its share (:mod:`bot.shared_work`).

        Args:
            platform: ``telegram``.
            channel_for: The adapter's way to reach a conversation by its key.
            reopen: The adapter's way to open a file kept by reference again.
        """
        if self.shared is None:
            return
        self._shared_platforms[platform] = (channel_for, reopen)
        self.shared.serve(platform)

    async def run_shared(self, context: JobContext, key: str, item: dict[str, Any]) -> None:
        """Run one message deferred by :meth:`accept` on whichever instance took its job.

        A job run again (``attempts`` > 0: its instance stopped or died) first takes over
        what that instance left: the cut-off run is reported, the render is resumed and
        delivered once (:meth:`bot.recovery.Recovery.take_over`); only a message that left no
        record is handled from the start. ``/cancel`` (an abort by the user) stops the work as
        the in-process scheduler's ``/cancel`` does; a shutdown stops it as a restart does and
        re-raises, so procrastinate runs the job again elsewhere.
        """
        from bot.shared_work import is_user_abort

        conversation = ConversationKey.parse(key)
        shared = self._shared_platforms.get(conversation.platform)
        if shared is None:
            raise RuntimeError(f"{conversation.platform} is not served by this instance")
        channel_for, reopen = shared
        channel = await channel_for(conversation)
        if channel is None:
            log.warning("cannot reach %s: its message is dropped", key)
            return
        if item.get("take_over"):
            await self.recovery.take_over(key, channel, self._guarded_work)
            return
        msg = message_of(item, conversation)
        if any(a.ref for a in msg.attachments):
            msg = replace(msg, attachments=tuple([await reopen(a) if a.ref else a for a in msg.attachments]))
        if context.job.attempts > 0:
            log.info("taking over %s (attempt %d)", key, context.job.attempts + 1)
            if await self.recovery.take_over(key, channel, self._guarded_work):
                return
        person = await self.identities.person_of(msg.account)
        intent = route(msg.text, bool(msg.attachments))
        outcome, task = await self.scheduler.start(
            key, msg, channel, lambda: self._guarded(msg, channel, intent, person)
        )
        if task is None:  # cannot happen while the job's lock holds: one job of a conversation at a time
            log.error("%s was %s on this instance while its job ran", key, outcome.value)
            return
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if is_user_abort(context):
                await self.scheduler.cancel(key)  # as /cancel: the run says it was stopped
                return
            task.cancel()  # a shutdown: nothing posted, the run marker stays for the take-over
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise

    def _work_queue(self, platform: str) -> WorkQueue:
        """Where ``platform``'s conversation work waits and runs: the job queue every instance
        shares (a :meth:`share`-d platform on PostgreSQL), else this process's scheduler."""
        if self.shared is not None and platform in self._shared_platforms:
            return self.shared
        return self.scheduler

    async def _cancel_work(self, key: str) -> int | None:
        """``/cancel``: the conversation's work, on whichever instance runs it."""
        return await self._work_queue(ConversationKey.parse(key).platform).cancel(key)

    def _spawn(self, work: Coroutine[Any, Any, None], key: str) -> asyncio.Task[None]:
        """Run a quick command in a task of the engine's own (cancelled by :meth:`stop_platform`)."""
        task = asyncio.create_task(work, name=f"quick-{key}")
        self._quick[task] = key
        task.add_done_callback(self._forget_quick)
        return task

    def _forget_quick(self, task: asyncio.Task[None]) -> None:
        self._quick.pop(task, None)

    def _exporting(self, key: str, work: Work) -> Work:
        """``work`` that frees the conversation's export claim when it ends, however it ends."""

        async def run() -> None:
            try:
                await work()
            finally:
                self.renders.release(key)

        return run

    def _scoped(self, msg: IncomingMessage) -> IncomingMessage:
        """In a shared chat with ``GROUP_PROJECTS=per_user``, the sender's own conversation."""
        if msg.scope is Scope.GROUP and self.settings.group_projects == "per_user" and msg.sender_id:
            return replace(msg, conversation=msg.conversation.for_user(msg.sender_id))
        return msg

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

    async def resume_shared(self, platform: str) -> int:
        """:meth:`resume` for a shared platform: what any instance left (renders, cut-off runs,
        messages queued before the move to PostgreSQL) becomes take-over jobs, at most one
        waiting per conversation however many instances start (:mod:`bot.shared_work`).

        Returns:
            How many conversations were handed to the job queue.
        """
        assert self.shared is not None
        keys: set[str] = set()
        async for jobs in self.store.unfinished_renders(prefix=f"{platform}:", batch=500):
            keys.update(job.conversation_key for job in jobs)
        queued: dict[str, list[Any]] = {}
        for conv in await self.store.list_conversations(prefix=f"{platform}:"):
            if isinstance(conv.data.get("run"), dict):
                keys.add(conv.key)
            if isinstance(conv.data.get("queue"), list) and conv.data["queue"]:
                queued[conv.key] = conv.data["queue"]
        handed = 0
        for key in sorted(keys):
            handed += await self.shared.defer_take_over(platform, key)
        for key, items in queued.items():
            await self.conversations.save_queue(key, [])
            for item in items:
                if isinstance(item, dict):
                    await self.shared.defer(platform, key, item)
            handed += 1
        if handed:
            log.info("handed %d conversation(s) with leftovers on %s to the job queue", handed, platform)
        return handed

    async def examples(self, msg: IncomingMessage) -> tuple[str, ...]:
        """The example requests of ``msg``'s conversation's skill profile, in the sender's
        language (what a platform offers as suggestions while an edit request is typed)."""
        conv = await self.store.get_conversation(str(self._scoped(msg).conversation))
        return get_profile(conv.skill if conv else self.settings.default_skill).examples_in(lang_of(msg.locale))

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
        """Wait until every message's and resumed job's work has finished (tests, orderly shutdown)."""
        while True:
            while self._quick:
                await asyncio.gather(*list(self._quick), return_exceptions=True)
            await self.renders.wait_followed()  # a followed render ends by scheduling its delivery
            await self.scheduler.wait_idle()
            if not self._quick and not self.renders.following:
                return

    async def stop_platform(self, platform: str) -> None:
        """Stop ``platform``'s in-flight work while its adapter can still post (the runtime
        calls it before the adapter disconnects). Markers and queues stay for the next process;
        shared work is handed to the other instances (:meth:`SharedWork.stop_serving`)."""
        if self.shared is not None and self._shared_platforms.pop(platform, None) is not None:
            await self.shared.stop_serving(platform)
        self.renders.stop_following(f"{platform}:")
        await self._cancel_quick(f"{platform}:")
        await self.scheduler.aclose(prefix=f"{platform}:")

    async def aclose(self) -> None:
        """Stop background work (resumed jobs) and in-flight conversations. Idempotent."""
        await self.renders.aclose()
        await self._cancel_quick("")
        await self.scheduler.aclose()

    async def _cancel_quick(self, prefix: str) -> None:
        tasks = [task for task, key in self._quick.items() if key.startswith(prefix)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _save_queue(self, key: str, messages: list[IncomingMessage]) -> None:
        await self.conversations.save_queue(key, queue_items(messages))

    # ------------------------------------------------------------------ the error boundary

    async def _guarded(
        self, msg: IncomingMessage, channel: ReplyChannel, intent: Intent, person: str | None, *, quick: bool = False
    ) -> None:
        """Run ``intent``'s handler behind the error boundary.

        ``quick`` (the :data:`READ_ONLY` commands) writes nothing: the conversation is read,
        not created, and the shared client stands in (those handlers call no backend).
        """
        lang = lang_of(msg.locale)
        turn: Turn | None = None
        try:
            if quick:
                conv = await self.conversations.peek(msg, owner=person)
                client = self.client
            else:
                conv = await self.conversations.get_or_create(msg, owner=person)
                client = await self.identities.client_for(conv.owner or person)
            turn = Turn(msg, channel, conv, lang, client, person)
            if not self._may_act(turn, intent):
                await say_private(turn, t("not_your_project", lang), secret=False)
                return
            await self.handlers[intent.kind](turn, intent)
        except Exception as exc:  # noqa: BLE001 - the one error boundary of a message
            await self._answer_error(exc, msg, channel, lang, turn)

    def _may_act(self, turn: Turn, intent: Intent) -> bool:
        """Projects have owners: in a project thread only its owner (and admins) may act.

        Shared chats with ``GROUP_PROJECTS=per_user`` give everyone their own conversation
        (:meth:`_scoped`), so the owner check matters in threads and DMs; ``/help`` and the
        account commands are about the sender, not the project.
        """
        if intent.kind in OWNERLESS or turn.conv.owner is None or turn.conv.owner == turn.person:
            return True
        if turn.msg.scope is Scope.GROUP and self.settings.group_projects == "shared":
            return True
        return self.access.is_admin(turn.msg.account)

    async def _guarded_work(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception as exc:  # noqa: BLE001 - the one error boundary of resumed work
            await self._answer_error(exc, turn.msg, turn.channel, turn.lang, turn)

    async def _handle_replayed(self, msg: IncomingMessage, channel: ReplyChannel) -> None:
        person = await self.identities.person_of(msg.account)
        await self._guarded(msg, channel, route(msg.text, bool(msg.attachments)), person)

    async def _answer_error(
        self, exc: Exception, msg: IncomingMessage, channel: ReplyChannel, lang: str, turn: Turn | None
    ) -> None:
        """Log ``exc`` (with backend text, never shown) and answer with its sentence."""
        where = msg.conversation
        if isinstance(exc, ChannelError):
            log.warning("chat error in %s: %s", where, exc)
        elif isinstance(exc, NemoError):
            metrics.BACKEND_ERRORS.labels(type(exc).__name__).inc()
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
        client = turn.client if turn is not None else self.client
        personal = self.identities.is_personal(client) or self.settings.identity_mode == "per_user"
        text = error_reply(exc, lang, links=client if personal else None)
        if not text:
            return
        if turn is not None and isinstance(exc, NemoOutOfCredits | NemoPaymentRequired):
            await say_private(turn, text)  # links of one person's identity
        else:
            await say(channel, text)


def _runs_agent(intent: Intent) -> bool:
    """A message that starts an agent run (what the rate limit counts)."""
    return intent.kind in {IntentKind.AGENT, IntentKind.EDITOR} or (
        intent.kind is IntentKind.UPLOAD and bool(intent.arg)
    )
