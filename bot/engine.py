"""The conversation engine: one chat thread <-> one NemoVideo session.

Adapters call :meth:`ConversationEngine.handle` with an :class:`IncomingMessage` and a
:class:`ReplyChannel`; the engine routes the intent, talks to NemoVideo, and answers.
It has no platform code. All failures end here as a friendly reply (design habit 6):
never a traceback, never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.boundary import (
    Attachment,
    Button,
    ChannelError,
    ConversationKey,
    IncomingMessage,
    Reply,
    ReplyChannel,
    SentRef,
)
from bot.gui import translate
from bot.intents import Intent, IntentKind, route
from bot.nemo import timeline
from bot.nemo.client import NemoClient, UploadSource
from bot.nemo.errors import (
    NemoAuthError,
    NemoConnectionError,
    NemoError,
    NemoFileTooLarge,
    NemoOutOfCredits,
    NemoPaymentRequired,
    NemoRateLimited,
    NemoSessionNotFound,
    NemoStreamDropped,
    NemoTimeoutError,
    NemoUnsupportedFile,
)
from bot.nemo.events import AgentError, StateChanged, TextAnswer, ToolCall
from bot.profiles import PROFILES
from bot.progress import ProgressMessage, stage_for_tool
from bot.renders import RESUMABLE, RenderTracker
from bot.settings import Settings
from bot.texts import ACCEPTED_FORMATS, FORMATS_LINE, fmt_elapsed, fmt_size, lang_of, session_language, t
from bot.turn import Turn, say
from store.base import Conversation, Store, utcnow

log = logging.getLogger(__name__)

ANSWER_BUTTONS = (Button.EXPORT, Button.STATUS, Button.CREDITS, Button.NEW)
_TEMPORARY_ISSUE = "i encountered a temporary issue"
_IMMEDIATE = {
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
_ACCEPTED_EXT = {ext for group in ACCEPTED_FORMATS.values() for ext in group}


@dataclass
class _Slot:
    """Runtime state of one conversation: one run at a time, the rest queued in order."""

    busy: bool = False
    queue: deque[tuple[IncomingMessage, ReplyChannel, Intent]] = field(default_factory=deque)
    current: asyncio.Task[None] | None = None
    cancelled: bool = False


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
        self.work_dir = work_dir
        self.renders = RenderTracker(client, store, settings, work_dir=work_dir)
        self._slots: dict[str, _Slot] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._claims = 0
        self._conv_locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ entry point

    async def handle(self, msg: IncomingMessage, channel: ReplyChannel) -> None:
        """Handle one message; returns when it (and anything queued behind it) is done.

        Messages that need the session (agent requests, uploads, exports, /new) run one
        at a time per conversation: one that arrives meanwhile is queued, the user is told,
        and it is handled after the current one, in order. Quick commands answer at once.
        """
        intent = route(msg.text, bool(msg.attachments))
        key = str(msg.conversation)
        if intent.kind in _IMMEDIATE:
            await self._guarded(msg, channel, intent)
            return
        slot = self._slots.setdefault(key, _Slot())
        if slot.busy:
            slot.queue.append((msg, channel, intent))
            await self._persist_queue(key, slot)
            await self._say(channel, t("queued", lang_of(msg.locale)))
            return
        await self._occupy(slot, self._guarded(msg, channel, intent), msg.conversation)

    async def _occupy(self, slot: _Slot, first: Coroutine[Any, Any, None], label: object) -> None:
        """Run ``first`` in the conversation's slot, then everything queued behind it, in order."""
        slot.busy = True
        try:
            await self._run_in_slot(slot, first, label)
            while slot.queue:
                queued_msg, queued_channel, queued_intent = slot.queue.popleft()
                await self._persist_queue(str(queued_msg.conversation), slot)
                await self._run_in_slot(
                    slot, self._guarded(queued_msg, queued_channel, queued_intent), queued_msg.conversation
                )
        finally:
            slot.busy = False
            slot.current = None

    async def _run_in_slot(self, slot: _Slot, work: Coroutine[Any, Any, None], label: object) -> None:
        """Run one piece of work as a task /cancel can stop; an outer cancellation still propagates."""
        slot.cancelled = False
        slot.current = asyncio.create_task(work, name=f"conversation-{label}")
        try:
            await asyncio.shield(slot.current)
        except asyncio.CancelledError:
            if slot.current.cancelled() and slot.cancelled:
                return  # stopped by /cancel: the user has been told
            slot.current.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slot.current
            raise

    async def _cancel(self, turn: Turn) -> None:
        """``/cancel``: stop waiting on the current run or render and drop the queue."""
        slot = self._slots.get(turn.conv.key)
        if slot is None or not slot.busy or slot.current is None or slot.current.done():
            await self._say(turn.channel, t("nothing_to_cancel", turn.lang))
            return
        dropped = len(slot.queue)
        slot.queue.clear()
        await self._persist_queue(turn.conv.key, slot)
        slot.cancelled = True
        slot.current.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slot.current
        await self._say(turn.channel, t("cancelled", turn.lang, dropped=dropped))

    async def resume(self, platform: str, channel_for: Callable[[str], Awaitable[ReplyChannel | None]]) -> int:
        """Pick up what a previous process of this platform left unfinished.

        Every undelivered render job is resumed (polling goes on, the same status message is
        edited, the video is delivered once); every agent run cut off by the restart is
        reported from the session state and never re-sent. Runs in the background, in each
        conversation's slot, so new messages queue behind it.

        Args:
            platform: ``telegram`` or ``discord``: only that platform's conversations.
            channel_for: The adapter's way to reach a conversation by its key, or ``None``.

        Returns:
            How many jobs and runs were picked up.
        """
        picked = 0
        for job in await self.store.list_renders(undelivered=True):
            if job.status not in RESUMABLE or not job.conversation_key.startswith(f"{platform}:"):
                continue
            turn = await self._turn_for(job.conversation_key, channel_for)
            if turn is not None:
                self._background_in_slot(turn, self.renders.resume(turn, job))
                picked += 1
        for conv in await self.store.list_conversations(prefix=f"{platform}:"):
            run, queue = conv.data.get("run"), conv.data.get("queue")
            if not isinstance(run, dict) and not queue:
                continue
            turn = await self._turn_for(conv.key, channel_for)
            if turn is None:
                continue
            if isinstance(run, dict):
                self._background_in_slot(turn, self._report_cut_off_run(turn))
                picked += 1
            if isinstance(queue, list) and queue:
                self._background_in_slot(turn, self._replay_queue(turn, queue))
                picked += len(queue)
        if picked:
            log.info("resuming %d unfinished job(s) on %s", picked, platform)
        return picked

    async def _turn_for(self, key: str, channel_for: Callable[[str], Awaitable[ReplyChannel | None]]) -> Turn | None:
        conv = await self.store.get_conversation(key)
        if conv is None:
            return None
        try:
            channel = await channel_for(key)
        except Exception:
            log.exception("cannot reach conversation %s to resume it", key)
            return None
        if channel is None:
            return None
        platform, _, chat = key.partition(":")
        msg = IncomingMessage(conversation=ConversationKey(platform=platform, chat_id=chat), sender="nemobot")
        return Turn(msg, channel, conv, lang_of(conv.language))

    def _background_in_slot(self, turn: Turn, work: Coroutine[Any, Any, None]) -> None:
        slot = self._slots.setdefault(turn.conv.key, _Slot())

        async def guarded() -> None:
            try:
                await work
            except NemoError as exc:
                log.warning("resuming %s failed: %r", turn.conv.key, exc)
                await self._say(turn.channel, self._error_text(exc, turn.lang))
            except Exception:
                log.exception("resuming %s failed", turn.conv.key)
                await self._say(turn.channel, t("internal_error", turn.lang))

        async def in_order() -> None:
            while slot.busy:  # an earlier resumed job of this conversation goes first
                await asyncio.sleep(0.05)
            await self._occupy(slot, guarded(), turn.conv.key)

        task = asyncio.create_task(in_order(), name=f"resume-{turn.conv.key}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _persist_queue(self, key: str, slot: _Slot) -> None:
        """Keep the conversation's queue in the store, so it survives a restart.

        Text and URL attachments are kept; files the platform streams cannot be (they are
        counted, and the user is asked to send them again after a restart).
        """
        items = [
            {
                "text": m.text,
                "sender": m.sender,
                "message_id": m.message_id,
                "locale": m.locale,
                "urls": [[a.filename, a.public_url] for a in m.attachments if a.public_url],
                "files_lost": sum(1 for a in m.attachments if not a.public_url),
            }
            for m, _, _ in slot.queue
        ]
        async with self._lock(key):
            conv = await self.store.get_conversation(key)
            if conv is None or (not items and "queue" not in conv.data):
                return
            data = dict(conv.data)
            if items:
                data["queue"] = items
            else:
                data.pop("queue", None)
            await self.store.save_conversation(conv.with_changes(data=data))

    async def _replay_queue(self, turn: Turn, items: list[dict[str, Any]]) -> None:
        """Handle messages that were queued when the previous process stopped, in order."""
        async with self._lock(turn.conv.key):
            conv = await self.store.get_conversation(turn.conv.key) or turn.conv
            data = dict(conv.data)
            data.pop("queue", None)
            await self.store.save_conversation(conv.with_changes(data=data))
        for item in items:
            attachments = tuple(Attachment(filename=str(f), public_url=str(u)) for f, u in item.get("urls") or [])
            msg = IncomingMessage(
                conversation=turn.msg.conversation,
                sender=str(item.get("sender") or ""),
                text=str(item.get("text") or ""),
                attachments=attachments,
                message_id=str(item.get("message_id") or ""),
                locale=item.get("locale"),
            )
            lang = lang_of(msg.locale)
            if item.get("files_lost") and not attachments:
                await self._say(turn.channel, t("queued_file_lost", lang))
                if not msg.text.strip():
                    continue
            await self._guarded(msg, turn.channel, route(msg.text, bool(msg.attachments)))

    async def _report_cut_off_run(self, turn: Turn) -> None:
        """A run cut off by a restart: report what changed (or that nothing did); never re-send."""
        marker = turn.conv.data.get("run") or {}
        sid = turn.conv.session_id
        before = marker.get("before") if isinstance(marker.get("before"), dict) else {}
        request = str(marker.get("text") or "")
        try:
            after = (await self.client.state(sid, attribution=turn.attribution)).draft if sid else {}
        finally:
            await self._update_data(turn, run=None)
        ref = marker.get("ref")
        if isinstance(ref, str) and ref:
            with contextlib.suppress(ChannelError):
                await turn.channel.edit(SentRef(ref), Reply(t("interrupted", turn.lang)))
        changes = timeline.diff(before, after)
        if changes:
            text = t(
                "run_interrupted_changed",
                turn.lang,
                request=request[:100],
                changes="\n".join(f"• {c}" for c in changes),
            )
        else:
            text = t("run_interrupted_nothing", turn.lang, request=request[:100])
        await self._say(turn.channel, text, buttons=ANSWER_BUTTONS)

    async def aclose(self) -> None:
        """Stop background work (resumed jobs) and in-flight conversations. Idempotent."""
        tasks = list(self._background) + [
            slot.current for slot in self._slots.values() if slot.current is not None and not slot.current.done()
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def claim_event(self, platform: str, kind: str, event_id: str) -> bool:
        """True the first time a platform event is seen (``telegram``, ``update``, ``"123"``).

        Adapters call it before handling an update, so a redelivery (after a crash, or a
        webhook retry) is not handled twice. Ids are kept 7 days.
        """
        first = await self.store.claim_event(f"{platform}:{kind}:{event_id}")
        if not first:
            log.info("ignoring a redelivered %s %s %s", platform, kind, event_id)
        self._claims += 1
        if self._claims % 1000 == 1:
            await self.store.prune_events(utcnow() - timedelta(days=7))
        return first

    def is_busy(self, conversation_key: str) -> bool:
        """True while a run, upload or export of the conversation is in progress."""
        slot = self._slots.get(conversation_key)
        return bool(slot and slot.busy)

    async def _guarded(self, msg: IncomingMessage, channel: ReplyChannel, intent: Intent) -> None:
        lang = lang_of(msg.locale)
        try:
            turn = Turn(msg, channel, await self._conversation(msg), lang)
            await self._dispatch(turn, intent)
        except NemoError as exc:
            log.warning("NemoVideo error in %s: %r", msg.conversation, exc)
            await self._say(channel, self._error_text(exc, lang))
        except ChannelError as exc:
            log.warning("chat error in %s: %s", msg.conversation, exc)
        except Exception:  # the one error boundary: log it, answer plainly
            log.exception("unexpected error handling a message in %s", msg.conversation)
            await self._say(channel, t("internal_error", lang))

    def _error_text(self, exc: NemoError, lang: str) -> str:
        if isinstance(exc, NemoOutOfCredits):
            if self.client.is_anonymous:
                return t("out_of_credits_anon", lang, url=self.client.registration_link())
            return t("out_of_credits", lang, url=self.client.web_url)
        if isinstance(exc, NemoPaymentRequired):
            return t("free_plan", lang, url=self.client.registration_link())
        if isinstance(exc, NemoRateLimited):
            return t("rate_limited", lang)
        if isinstance(exc, NemoAuthError):
            return t("auth_failed", lang)
        if isinstance(exc, (NemoConnectionError, NemoTimeoutError)):
            return t("backend_down", lang)
        if isinstance(exc, NemoUnsupportedFile):
            return t("backend_unsupported", lang, names="the file", formats=FORMATS_LINE)
        if isinstance(exc, NemoFileTooLarge):
            return t("backend_too_large", lang)
        return t("backend_error", lang, detail=exc.message[:200])

    async def _dispatch(self, turn: Turn, intent: Intent) -> None:
        kind = intent.kind
        if kind is IntentKind.EMPTY:
            await self._say(turn.channel, t("empty_message", turn.lang, example=turn.profile.examples[0]))
        elif kind is IntentKind.UNKNOWN_COMMAND:
            await self._say(turn.channel, t("unknown_command", turn.lang, name=intent.arg))
        elif kind is IntentKind.START:
            await self._say(turn.channel, t("start", turn.lang) + "\n\n" + self._help_text(turn))
        elif kind is IntentKind.HELP:
            await self._say(turn.channel, self._help_text(turn))
        elif kind is IntentKind.SKILL:
            await self._skill(turn, intent.arg)
        elif kind is IntentKind.CANCEL:
            await self._cancel(turn)
        elif kind is IntentKind.CREDITS:
            await self._credits(turn)
        elif kind is IntentKind.STATUS:
            await self._status(turn)
        elif kind is IntentKind.LINK:
            await self._link(turn)
        elif kind is IntentKind.NEW:
            await self._new(turn)
        elif kind is IntentKind.UPLOAD:
            if not turn.msg.attachments:
                await self._say(turn.channel, t("upload_how", turn.lang, formats=FORMATS_LINE))
                return
            uploaded = await self._upload(turn, follow_up=bool(intent.arg))
            if uploaded and intent.arg:
                await self._agent(turn, intent.arg)
        elif kind is IntentKind.EXPORT:
            await self._export(turn)
        else:
            await self._agent(turn, intent.arg)

    # ------------------------------------------------------------------ conversations

    def _lock(self, key: str) -> asyncio.Lock:
        return self._conv_locks.setdefault(key, asyncio.Lock())

    async def _conversation(self, msg: IncomingMessage) -> Conversation:
        key = str(msg.conversation)
        async with self._lock(key):
            conv = await self.store.get_conversation(key)
            if conv is None:
                conv = Conversation(key=key, skill=self.settings.default_skill, language=session_language(msg.locale))
                await self.store.save_conversation(conv)
            return conv

    async def _ensure_session(self, turn: Turn) -> Conversation:
        async with self._lock(turn.conv.key):
            fresh = await self.store.get_conversation(turn.conv.key) or turn.conv
            if fresh.session_id is None:
                info = await self.client.create_session(fresh.language, attribution=turn.attribution)
                fresh = fresh.with_changes(session_id=info.session_id, task_id=info.task_id, data={})
                await self.store.save_conversation(fresh)
                log.info("conversation %s -> new session %s", fresh.key, info.session_id)
            turn.conv = fresh
            return fresh

    async def _update_data(self, turn: Turn, **values: Any) -> None:
        """Set (or with ``None`` remove) keys of the conversation's ``data``, under its lock."""
        async with self._lock(turn.conv.key):
            conv = await self.store.get_conversation(turn.conv.key) or turn.conv
            data = dict(conv.data)
            for key, value in values.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            conv = conv.with_changes(data=data)
            await self.store.save_conversation(conv)
            turn.conv = conv

    async def _replace_lost_session(self, turn: Turn) -> None:
        """Code 1002: start a new session and tell the user the old timeline is gone."""
        async with self._lock(turn.conv.key):
            conv = turn.conv.with_changes(session_id=None, task_id=None, data={})
            await self.store.save_conversation(conv)
            turn.conv = conv
        await self._ensure_session(turn)
        await self._say(turn.channel, t("session_lost", turn.lang))

    # ------------------------------------------------------------------ quick commands

    def _help_text(self, turn: Turn) -> str:
        p = turn.profile
        return t(
            "help",
            turn.lang,
            title=p.title,
            summary=p.summary,
            examples="\n".join(f'• "{e}"' for e in p.examples),
            tips="\n".join(f"• {tip}" for tip in p.tips),
        )

    async def _skill(self, turn: Turn, arg: str) -> None:
        names = ", ".join(PROFILES)
        name = arg.strip().lower()
        if not name:
            await self._say(turn.channel, t("skill_list", turn.lang, name=turn.conv.skill, names=names))
            return
        if name not in PROFILES:
            await self._say(turn.channel, t("skill_unknown", turn.lang, name=arg.strip()[:50], names=names))
            return
        async with self._lock(turn.conv.key):
            conv = (await self.store.get_conversation(turn.conv.key) or turn.conv).with_changes(skill=name)
            await self.store.save_conversation(conv)
        p = PROFILES[name]
        await self._say(turn.channel, t("skill_set", turn.lang, title=p.title, name=p.name, example=p.examples[0]))

    async def _credits(self, turn: Turn) -> None:
        c = await self.client.credits(attribution=turn.attribution)
        await self._say(
            turn.channel,
            t("credits", turn.lang, available=_num(c.available), frozen=_num(c.frozen), total=_num(c.total_or_sum)),
        )

    async def _status(self, turn: Turn) -> None:
        if turn.conv.session_id is None:
            await self._say(turn.channel, t("need_session", turn.lang))
            return
        try:
            state = await self.client.state(turn.conv.session_id, attribution=turn.attribution)
        except NemoSessionNotFound:
            await self._replace_lost_session(turn)
            return
        lines = [t("status_head", turn.lang, summary=timeline.summarize(state.draft))]
        assets = [_describe_asset(info) for info in state.video_infos]
        lines.append(
            t("status_assets", turn.lang, assets="; ".join(assets)) if assets else t("status_no_assets", turn.lang)
        )
        jobs = await self.store.list_renders(conversation_key=turn.conv.key)
        if jobs:
            lines.append(t("status_render", turn.lang, status=jobs[-1].status))
        await self._say(turn.channel, "\n".join(lines), buttons=(Button.EXPORT, Button.CREDITS))

    async def _project_link(self, turn: Turn) -> str | None:
        return await self.renders.project_link(turn)

    async def _link(self, turn: Turn) -> None:
        if turn.conv.session_id is None:
            await self._say(turn.channel, t("need_session", turn.lang))
            return
        url = await self._project_link(turn)
        await self._say(turn.channel, t("project_link", turn.lang, url=url) if url else t("link_failed", turn.lang))

    async def _new(self, turn: Turn) -> None:
        async with self._lock(turn.conv.key):
            conv = turn.conv.with_changes(session_id=None, task_id=None, data={})
            await self.store.save_conversation(conv)
            turn.conv = conv
        await self._say(turn.channel, t("new_session", turn.lang))

    # ------------------------------------------------------------------ uploads

    def _check_attachment(self, att: Attachment, lang: str) -> str | None:
        ext = Path(att.filename).suffix.lower().lstrip(".")
        if ext not in _ACCEPTED_EXT:
            return t("unsupported_files", lang, names=att.filename, formats=FORMATS_LINE)
        if att.size == 0:
            return t("empty_file", lang, name=att.filename)
        limit = self.settings.max_upload_bytes
        if att.size is not None and att.size > limit:
            return t("too_large_file", lang, name=att.filename, size=fmt_size(att.size), limit=fmt_size(limit))
        return None

    async def _upload(self, turn: Turn, *, follow_up: bool = False) -> bool:
        """Check and upload the message's attachments together. Returns True if any went up."""
        good: list[Attachment] = []
        for att in turn.msg.attachments:
            problem = self._check_attachment(att, turn.lang)
            if problem:
                await self._say(turn.channel, problem)
            else:
                good.append(att)
        if not good:
            return False
        await self._ensure_session(turn)
        try:
            files = await self._send_uploads(turn, good)
        except NemoSessionNotFound:
            await self._replace_lost_session(turn)
            files = await self._send_uploads(turn, good)
        except NemoUnsupportedFile:
            names = ", ".join(a.filename for a in good)
            await self._say(turn.channel, t("backend_unsupported", turn.lang, names=names, formats=FORMATS_LINE))
            return False
        except (NemoConnectionError, ChannelError) as exc:
            if not _caused_by(exc, ChannelError):
                raise
            log.warning("could not read an attachment from the chat in %s: %s", turn.conv.key, exc)
            names = ", ".join(a.filename for a in good)
            await self._say(turn.channel, t("fetch_failed", turn.lang, names=names))
            return False
        described = ", ".join(_describe_asset(f.model_dump()) for f in files) or ", ".join(a.filename for a in good)
        text = t("uploaded", turn.lang, files=described)
        if not follow_up:
            text += "\n" + t("upload_next", turn.lang, example=turn.profile.examples[0])
        await self._say(turn.channel, text)
        return True

    async def _send_uploads(self, turn: Turn, atts: list[Attachment]) -> list[Any]:
        sid = turn.conv.session_id
        assert sid is not None
        by_url = [a for a in atts if a.public_url and not a.path]
        streamed = [a for a in atts if a not in by_url]
        results: list[Any] = []
        if by_url:
            try:
                results += await self.client.upload_urls(
                    sid, [a.public_url for a in by_url if a.public_url], attribution=turn.attribution
                )
            except (NemoUnsupportedFile, NemoFileTooLarge, NemoSessionNotFound):
                raise
            except NemoError as exc:
                if not all(a.open for a in by_url):
                    raise
                log.info("URL upload failed (%r); streaming the bytes instead", exc)
                streamed += by_url
        if streamed:
            sources = [
                UploadSource(
                    filename=a.filename,
                    path=a.path,
                    stream=None if a.path else a.open,
                    size=a.size,
                    content_type=a.content_type or "application/octet-stream",
                )
                for a in streamed
            ]
            results += await self.client.upload_files(sid, sources, attribution=turn.attribution)
        return results

    # ------------------------------------------------------------------ agent runs

    async def _agent(self, turn: Turn, text: str) -> None:
        limit = self.settings.max_prompt_chars
        if len(text) > limit:
            await self._say(turn.channel, t("too_long", turn.lang, n=len(text), limit=limit))
            return
        await self._ensure_session(turn)
        sid = turn.conv.session_id
        assert sid is not None
        try:
            before = (await self.client.state(sid, attribution=turn.attribution)).draft
        except NemoSessionNotFound:
            await self._replace_lost_session(turn)
            return
        progress = self._progress(turn)
        await progress.start()
        marker = {"text": text[:300], "before": before, "ref": progress.ref.id if progress.ref else None}
        await self._update_data(turn, run=marker)
        keep_marker = False
        try:
            await self._agent_run(turn, text, before, progress)
        except asyncio.CancelledError:
            slot = self._slots.get(turn.conv.key)
            keep_marker = not (slot and slot.cancelled)  # shutdown: report the cut-off run after the restart
            raise
        finally:
            if not keep_marker:
                await asyncio.shield(self._update_data(turn, run=None))

    async def _agent_run(self, turn: Turn, text: str, before: dict[str, Any], progress: ProgressMessage) -> None:
        sid = turn.conv.session_id
        assert sid is not None
        answers: list[str] = []
        error: AgentError | None = None
        changed = False
        try:
            async for event in self.client.run(
                sid,
                text,
                attribution=turn.attribution,
                idle_timeout_s=self.settings.sse_idle_timeout_s,
                hard_timeout_s=self.settings.sse_hard_timeout_s,
            ):
                if isinstance(event, ToolCall):
                    await progress.stage(stage_for_tool(event.name, turn.lang))
                elif isinstance(event, TextAnswer):
                    if answers and _TEMPORARY_ISSUE in event.text.lower():
                        continue  # trailing noise after real answers (contract section 3)
                    answers.append(event.text)
                elif isinstance(event, StateChanged):
                    changed = True
                elif isinstance(event, AgentError):
                    error = event
        except NemoSessionNotFound:
            await progress.stop()
            await progress.finish(t("failed_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
            await self._replace_lost_session(turn)
            return
        except NemoStreamDropped:
            await progress.stage(t("stream_dropped_wait", turn.lang))
            await self._after_drop(turn, progress, before)
            return
        except NemoTimeoutError:
            await progress.finish(t("failed_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
            await self._say(turn.channel, t("agent_timeout", turn.lang))
            return
        except asyncio.CancelledError:
            await asyncio.shield(progress.finish(t("run_cancelled", turn.lang)))
            raise
        except BaseException:
            await progress.stop()
            raise
        elapsed = fmt_elapsed(progress.elapsed_s)
        if error is not None and not answers:
            log.warning("agent run failed in %s: %s %s", turn.conv.key, error.code, error.message[:200])
            await progress.finish(t("failed_in", turn.lang, elapsed=elapsed))
            await self._say(turn.channel, t("agent_failed", turn.lang))
            return
        await progress.finish(t("done_in", turn.lang, elapsed=elapsed))
        await self._answer(turn, answers, before, changed)

    async def _answer(self, turn: Turn, answers: list[str], before: dict[str, Any], changed: bool) -> None:
        sid = turn.conv.session_id
        assert sid is not None
        actions: set[str] = set()
        parts: list[str] = []
        for raw in answers:
            tr = translate(raw)
            actions |= tr.actions
            if tr.text:
                parts.append(tr.text)
        after: dict[str, Any] | None = None
        if not parts or "timeline" in actions:
            after = (await self.client.state(sid, attribution=turn.attribution)).draft
        if not parts:
            changes = timeline.diff(before, after)
            parts.append(
                t("silent_changes", turn.lang, changes="\n".join(f"• {c}" for c in changes))
                if changes
                else t("silent_nothing", turn.lang)
            )
        if "timeline" in actions and after is not None:
            parts.append(timeline.summarize(after))
        if "credits" in actions:
            c = await self.client.credits(attribution=turn.attribution)
            parts.append(
                t("credits", turn.lang, available=_num(c.available), frozen=_num(c.frozen), total=_num(c.total_or_sum))
            )
        if "edit" in actions:
            parts.append(t("hint_edit", turn.lang))
        if "export" in actions or "click" in actions:
            parts.append(t("hint_export", turn.lang))
        await self._say(turn.channel, "\n\n".join(parts), buttons=ANSWER_BUTTONS)

    async def _after_drop(self, turn: Turn, progress: ProgressMessage, before: dict[str, Any]) -> None:
        """A dropped stream: never re-send; read the state until it changes (contract section 3)."""
        sid = turn.conv.session_id
        assert sid is not None
        s = self.settings
        last: dict[str, Any] | None = None
        unchanged = 0
        await asyncio.sleep(s.drop_first_check_s)
        while True:
            try:
                draft = (await self.client.state(sid, attribution=turn.attribution)).draft
            except NemoError as exc:
                log.warning("state read after a dropped stream failed: %r", exc)
                draft = last if last is not None else before
            changes = timeline.diff(before, draft)
            if changes:
                await progress.finish(t("done_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
                text = t("stream_dropped_changed", turn.lang, changes="\n".join(f"• {c}" for c in changes))
                await self._say(turn.channel, text, buttons=ANSWER_BUTTONS)
                return
            unchanged = unchanged + 1 if draft == last or last is None else 1
            last = draft
            if unchanged >= s.drop_max_unchanged_reads:
                await progress.finish(t("failed_in", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s)))
                await self._say(turn.channel, t("stream_dropped_nothing", turn.lang))
                return
            await asyncio.sleep(s.drop_check_every_s)

    def _progress(self, turn: Turn) -> ProgressMessage:
        return ProgressMessage(
            turn.channel,
            turn.lang,
            edit_interval_s=self.settings.progress_edit_interval_s,
            heartbeat_interval_s=self.settings.heartbeat_interval_s,
        )

    # ------------------------------------------------------------------ export

    async def _export(self, turn: Turn) -> None:
        profile = turn.profile
        if turn.conv.session_id is None:
            await self._say(turn.channel, t("not_ready", turn.lang, example=profile.examples[0]))
            return
        sid = turn.conv.session_id
        try:
            draft = (await self.client.state(sid, attribution=turn.attribution)).draft
        except NemoSessionNotFound:
            await self._replace_lost_session(turn)
            return
        if not timeline.is_ready(draft):
            await self._say(turn.channel, t("not_ready", turn.lang, example=profile.examples[0]))
            return
        for job in await self.store.list_renders(conversation_key=turn.conv.key, undelivered=True):
            if job.status in {"submitting", "pending", "processing"}:
                await self._say(turn.channel, t("render_busy", turn.lang))
                return

        slot = self._slots.get(turn.conv.key)
        await self.renders.export(turn, draft, cancelled_by_user=lambda: bool(slot and slot.cancelled))

    # ------------------------------------------------------------------ output

    async def _say(self, channel: ReplyChannel, text: str, *, buttons: tuple[Button, ...] = ()) -> SentRef | None:
        return await say(channel, text, buttons=buttons)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when ``exc`` or anything in its cause/context chain is a ``kind``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _describe_asset(info: dict[str, Any]) -> str:
    name = str(info.get("filename") or info.get("name") or "file")
    bits: list[str] = []
    duration = info.get("duration")
    if isinstance(duration, (int, float)) and duration:
        bits.append(f"{duration:.1f} s")
    if info.get("width") and info.get("height"):
        bits.append(f"{info['width']}x{info['height']}")
    return f"{name} ({', '.join(bits)})" if bits else name
