"""Restart recovery: pick up what a previous process left unfinished.

Three kinds of leftovers are found in the store and handed back to the conversation's
scheduler, in order: undelivered render jobs (read in pages; those still rendering are
polled together by the render tracker's poll scheduler, the same status message is edited,
and the video is delivered once, in the conversation's turn), agent runs cut off by the restart (reported from the
session state, never re-sent), and queued messages (handled in order).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.agent_runs import ANSWER_BUTTONS, bullets
from bot.boundary import (
    Attachment,
    ChannelError,
    ConversationKey,
    IncomingMessage,
    Reply,
    ReplyChannel,
    Scope,
    SentRef,
)
from bot.conversations import SCOPE_KEY, Conversations
from bot.identity import Identities
from bot.nemo import timeline
from bot.renders import FOLLOWED, RenderTracker
from bot.scheduler import ConversationScheduler
from bot.texts import lang_of, t
from bot.turn import Turn, say
from store.base import RESUMABLE_JOB_STATUSES, Conversation, Store

log = logging.getLogger(__name__)

ChannelFor = Callable[[ConversationKey], Awaitable[ReplyChannel | None]]
"""An adapter's way to reach a conversation by its key (``None`` when it cannot)."""

Guarded = Callable[[IncomingMessage, ReplyChannel], Awaitable[None]]
"""The engine's handling of one message behind its error boundary."""

RESUME_BATCH = 500
"""Render jobs read from the store at a time on a restart."""

Boundary = Callable[[Turn, Callable[[], Awaitable[None]]], Coroutine[Any, Any, None]]
"""The engine's error boundary around a piece of resumed work."""


class Recovery:
    """Finds leftovers of a previous process and schedules them.

    Args:
        store: Render jobs and conversations.
        conversations: The run marker and the persisted queue.
        scheduler: Where the work is queued, per conversation.
        renders: Resumes render jobs.
        identities: The client of each conversation's owner.
    """

    def __init__(
        self,
        store: Store,
        conversations: Conversations,
        scheduler: ConversationScheduler,
        renders: RenderTracker,
        identities: Identities,
    ) -> None:
        self.store = store
        self.conversations = conversations
        self.scheduler = scheduler
        self.renders = renders
        self.identities = identities

    async def resume(self, platform: str, channel_for: ChannelFor, handle: Guarded, boundary: Boundary) -> int:
        """Schedule everything ``platform``'s previous process left unfinished.

        Args:
            platform: ``telegram``, ``discord`` or ``console``: only that platform's conversations.
            channel_for: The adapter's way to reach a conversation.
            handle: Handles a replayed message (behind the engine's error boundary).
            boundary: Runs a piece of resumed work behind the engine's error boundary.

        Returns:
            How many jobs, runs and queued messages were picked up.
        """
        picked = 0
        with self.renders.hold_polling():  # read every page first; then poll, oldest due first
            async for jobs in self.store.unfinished_renders(prefix=f"{platform}:", batch=RESUME_BATCH):
                convs = await self.store.get_conversations({job.conversation_key for job in jobs})
                for job in jobs:
                    conv = convs.get(job.conversation_key)
                    turn = await self._turn_for(conv, channel_for) if conv is not None else None
                    if turn is None:
                        continue
                    if job.status in FOLLOWED:  # still rendering: polled with the others, no task of its own
                        self.renders.follow(turn, job, functools.partial(self._schedule, turn, boundary))
                    else:
                        self._schedule(turn, boundary, functools.partial(self.renders.resume, turn, job))
                    picked += 1
        for conv in await self.store.list_conversations(prefix=f"{platform}:"):
            run, queue = conv.data.get("run"), conv.data.get("queue")
            if not isinstance(run, dict) and not queue:
                continue
            turn = await self._turn_for(conv, channel_for)
            if turn is None:
                continue
            if isinstance(run, dict):
                self._schedule(turn, boundary, functools.partial(self._report_cut_off_run, turn))
                picked += 1
            if isinstance(queue, list) and queue:
                self._schedule(turn, boundary, functools.partial(self._replay_queue, turn, queue, handle))
                picked += len(queue)
        if picked:
            log.info("resuming %d unfinished job(s) on %s", picked, platform)
        return picked

    async def take_over(self, key: str, channel: ReplyChannel, boundary: Boundary) -> bool:
        """Finish what another instance left of conversation ``key`` when it died or stopped
        (:mod:`bot.shared_work`): its cut-off agent run is reported (never re-sent) and its
        unfinished renders are resumed and delivered once, here and now.

        Returns:
            True when there was something to take over (the message the dead instance was
            handling then needs nothing more); False when it left no record (the message is
            handled from the start).
        """
        conv = await self.store.get_conversation(key)
        if conv is None:
            return False
        turn = await self._turn_for(conv, lambda _key: _ready(channel))
        if turn is None:
            return False
        picked = False
        if isinstance(conv.data.get("run"), dict):
            await boundary(turn, functools.partial(self._report_cut_off_run, turn))
            picked = True
        for job in await self.store.list_renders(conversation_key=key, undelivered=True):
            if job.status in RESUMABLE_JOB_STATUSES:
                await boundary(turn, functools.partial(self.renders.resume, turn, job))
                picked = True
        return picked

    def _schedule(self, turn: Turn, boundary: Boundary, work: Callable[[], Awaitable[None]]) -> None:
        self.scheduler.submit_background(turn.conv.key, turn.conv.key, functools.partial(boundary, turn, work))

    async def _turn_for(self, conv: Conversation, channel_for: ChannelFor) -> Turn | None:
        key = conv.key
        try:
            conversation = ConversationKey.parse(key)
        except ValueError:
            log.warning("skipping a conversation with a malformed key: %.80r", key)
            return None
        try:
            channel = await channel_for(conversation)
        except Exception:
            log.exception("cannot reach conversation %s to resume it", key)
            return None
        if channel is None:
            return None
        stored = conv.data.get(SCOPE_KEY)
        scope = Scope(stored) if stored in set(Scope) else Scope.GROUP  # unknown: assume people are watching
        msg = IncomingMessage(conversation=conversation, sender="nemobot", scope=scope)
        client = await self.identities.client_for(conv.owner)  # the owner's identity, as before the restart
        return Turn(msg, channel, conv, lang_of(conv.language), client, conv.owner)

    async def _replay_queue(self, turn: Turn, items: list[dict[str, Any]], handle: Guarded) -> None:
        """Handle messages that were queued when the previous process stopped, in order."""
        await self.conversations.update_data(turn, queue=None)
        for item in items:
            msg = message_of(item, turn.msg.conversation)
            if item.get("files_lost") and not msg.attachments:
                await say(turn.channel, t("queued_file_lost", lang_of(msg.locale)))
                if not msg.text.strip():
                    continue
            await handle(msg, turn.channel)

    async def _report_cut_off_run(self, turn: Turn) -> None:
        """A run cut off by a restart: report what changed (or that nothing did); never re-send."""
        marker = turn.conv.data.get("run") or {}
        sid = turn.conv.session_id
        before = marker.get("before") if isinstance(marker.get("before"), dict) else {}
        request = str(marker.get("text") or "")
        try:
            after = (await turn.client.state(sid, attribution=turn.attribution)).draft if sid else {}
        finally:
            await self.conversations.update_data(turn, run=None)
        ref = marker.get("ref")
        if isinstance(ref, str) and ref:
            try:
                await turn.channel.edit(SentRef(ref), Reply(t("interrupted", turn.lang)))
            except ChannelError as exc:
                log.info("could not mark the cut-off run's progress message in %s: %s", turn.conv.key, exc)
        changes = timeline.diff(before, after)
        if changes:
            text = t("run_interrupted_changed", turn.lang, request=request[:100], changes=bullets(changes))
        else:
            text = t("run_interrupted_nothing", turn.lang, request=request[:100])
        await say(turn.channel, text, buttons=ANSWER_BUTTONS)


def queue_items(messages: list[IncomingMessage]) -> list[dict[str, Any]]:
    """Queued messages as JSON for the store (and for the jobs of :mod:`bot.shared_work`).

    Text, URL attachments and files with a platform reference (``Attachment.ref``: a Telegram
    ``file_id``) are kept; other files the platform streams cannot be (they are counted, and
    the user is asked to send them again).
    """
    return [
        {
            "text": m.text,
            "sender": m.sender,
            "sender_id": m.sender_id,
            "scope": str(m.scope),
            "space_id": m.space_id,
            "message_id": m.message_id,
            "locale": m.locale,
            "urls": [[a.filename, a.public_url, a.pasted] for a in m.attachments if a.public_url],
            "refs": [[a.filename, a.ref, a.content_type, a.size] for a in m.attachments if a.ref and not a.public_url],
            "files_lost": sum(1 for a in m.attachments if not a.public_url and not a.ref),
        }
        for m in messages
    ]


def message_of(item: dict[str, Any], conversation: ConversationKey) -> IncomingMessage:
    """A :func:`queue_items` item as a message again. Files kept by reference come back with
    ``ref`` only: the adapter reopens them (:meth:`bot.adapter.SharedAdapter.reopen`)."""
    urls = tuple(
        Attachment(filename=str(u[0]), public_url=str(u[1]), pasted=len(u) < 3 or bool(u[2]))
        for u in item.get("urls") or []
    )
    refs = tuple(
        Attachment(
            filename=str(r[0]),
            ref=str(r[1]),
            content_type=r[2] if isinstance(r[2], str) else None,
            size=r[3] if isinstance(r[3], int) else None,
        )
        for r in item.get("refs") or []
        if isinstance(r, list) and len(r) == 4
    )
    return IncomingMessage(
        conversation=conversation,
        sender=str(item.get("sender") or ""),
        text=str(item.get("text") or ""),
        attachments=refs + urls,
        message_id=str(item.get("message_id") or ""),
        locale=item.get("locale"),
        sender_id=str(item.get("sender_id") or ""),
        scope=Scope(item["scope"]) if item.get("scope") in set(Scope) else Scope.PRIVATE,
        space_id=item.get("space_id"),
    )


async def _ready(channel: ReplyChannel) -> ReplyChannel:
    return channel
