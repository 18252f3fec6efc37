"""The engine's intent handlers, one per :class:`~bot.intents.IntentKind`.

:class:`Commands` holds one ``async`` method per intent; :meth:`Commands.table` maps each
intent to its handler, and the engine dispatches through that table. Handlers raise on
failure (the engine's error boundary answers, :func:`bot.errors.error_reply`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.access import AccessPolicy
from bot.agent_runs import AgentRuns, credits_line
from bot.boundary import Button, ChannelError, Content, OutgoingPhoto
from bot.conversations import Conversations
from bot.intents import Intent, IntentKind
from bot.nemo import timeline
from bot.pictures.timeline import timeline_png
from bot.profiles import PROFILES
from bot.renders import RESUMABLE, RenderTracker
from bot.scheduler import ConversationScheduler
from bot.texts import FORMATS_LINE, t
from bot.turn import Turn, say, say_private
from bot.uploads import Uploads, describe_asset
from store.base import Store

log = logging.getLogger(__name__)

Handler = Callable[[Turn, Intent], Awaitable[None]]
"""An intent handler: the message being handled and its routed intent."""


class Commands:
    """What the engine does for each intent.

    Args:
        store: Render jobs (``/status``, ``/export``).
        conversations: Conversation records.
        scheduler: ``/cancel`` stops the conversation's current work.
        uploads: Attachments.
        agent: Agent runs.
        renders: Exports.
        access: The daily export quota.
    """

    def __init__(
        self,
        store: Store,
        conversations: Conversations,
        scheduler: ConversationScheduler,
        uploads: Uploads,
        agent: AgentRuns,
        renders: RenderTracker,
        access: AccessPolicy,
    ) -> None:
        self.store = store
        self.conversations = conversations
        self.scheduler = scheduler
        self.cancel_work: Callable[[str], Awaitable[int | None]] = scheduler.cancel
        """Stops a conversation's work (the engine's: in-process, or on any instance)."""
        self.uploads = uploads
        self.agent = agent
        self.renders = renders
        self.access = access

    def table(self) -> dict[IntentKind, Handler]:
        """The dispatch table: every :class:`IntentKind` to its handler."""
        return {
            IntentKind.EMPTY: self.empty,
            IntentKind.UNKNOWN_COMMAND: self.unknown_command,
            IntentKind.START: self.start,
            IntentKind.HELP: self.help,
            IntentKind.SKILL: self.skill,
            IntentKind.CANCEL: self.cancel,
            IntentKind.CREDITS: self.credits,
            IntentKind.STATUS: self.status,
            IntentKind.LINK: self.link,
            IntentKind.NEW: self.new,
            IntentKind.UPLOAD: self.upload,
            IntentKind.EXPORT: self.export,
            IntentKind.AGENT: self.agent_request,
            IntentKind.CONFIRM: self.confirm,
            IntentKind.EDITOR: self.to_editor,
        }

    # ------------------------------------------------------------------ quick commands

    async def empty(self, turn: Turn, intent: Intent) -> None:
        """A message with no text and no files: empty, or something nemobot cannot edit (calls nothing)."""
        held = turn.msg.unsupported
        if held is Content.VOICE:
            await say(turn.channel, t("voice_message", turn.lang, example=turn.example))
        elif held is not None:
            await say(turn.channel, t("not_media", turn.lang, example=turn.example))
        else:
            await say(turn.channel, t("empty_message", turn.lang, example=turn.example))

    async def unknown_command(self, turn: Turn, intent: Intent) -> None:
        """``/something`` that is not a command."""
        await say(turn.channel, t("unknown_command", turn.lang, name=intent.arg))

    async def start(self, turn: Turn, intent: Intent) -> None:
        """``/start``: a greeting and the help text."""
        await say(turn.channel, t("start", turn.lang) + "\n\n" + help_text(turn))

    async def help(self, turn: Turn, intent: Intent) -> None:
        """``/help``: the profile's examples and tips, and the commands."""
        await say(turn.channel, help_text(turn))

    async def skill(self, turn: Turn, intent: Intent) -> None:
        """``/skill [NAME]``: show or switch the skill profile."""
        names = ", ".join(PROFILES)
        name = intent.arg.strip().lower()
        if not name:
            await say(turn.channel, t("skill_list", turn.lang, name=turn.conv.skill, names=names))
            return
        if name not in PROFILES:
            await say(turn.channel, t("skill_unknown", turn.lang, name=intent.arg.strip()[:50], names=names))
            return
        await self.conversations.set_skill(turn, name)
        p = turn.profile
        await say(
            turn.channel,
            t("skill_set", turn.lang, title=p.title_in(turn.lang), name=p.name, example=turn.example),
        )

    async def cancel(self, turn: Turn, intent: Intent) -> None:
        """``/cancel``: stop waiting on the current run or render and drop the queue."""
        dropped = await self.cancel_work(turn.conv.key)
        self.renders.release(turn.conv.key)
        if dropped is None:
            await say(turn.channel, t("nothing_to_cancel", turn.lang))
        else:
            await say(turn.channel, t("cancelled", turn.lang, dropped=dropped))

    async def credits(self, turn: Turn, intent: Intent) -> None:
        """``/credits``: the balance (contract endpoint 3)."""
        balance = credits_line(await turn.client.credits(attribution=turn.attribution), turn.lang)
        await say_private(turn, balance)  # one person's balance: not for the whole group

    async def status(self, turn: Turn, intent: Intent) -> None:
        """``/status``: the timeline as a picture (:mod:`bot.pictures.timeline`), with the text
        summary, the assets and the last render as its caption.

        A summary longer than a caption (Telegram: 1024 characters) follows the picture as a
        message; an empty timeline, or a picture the chat refused, leaves the text alone.
        """
        if turn.conv.session_id is None:
            await say(turn.channel, t("need_session", turn.lang))
            return
        state = await turn.client.state(turn.conv.session_id, attribution=turn.attribution)
        lines = [t("status_head", turn.lang, summary=timeline.summarize(state.draft))]
        assets = [describe_asset(info) for info in state.video_infos]
        lines.append(
            t("status_assets", turn.lang, assets="; ".join(assets)) if assets else t("status_no_assets", turn.lang)
        )
        jobs = await self.store.list_renders(conversation_key=turn.conv.key)
        if jobs:
            lines.append(t("status_render", turn.lang, status=jobs[-1].status))
        text, buttons = "\n".join(lines), (Button.EXPORT, Button.CREDITS)
        picture = await asyncio.to_thread(timeline_png, state.draft, turn.lang)
        if picture is not None:
            photo = OutgoingPhoto(picture.png, "timeline.png", picture.width, picture.height)
            fits = len(text) <= turn.channel.limits.max_caption_chars
            try:
                await turn.channel.send_photo(photo, caption=text if fits else "", buttons=buttons if fits else ())
            except ChannelError as exc:
                log.warning("the timeline picture was refused (%s); sending the text alone", exc)
            else:
                if fits:
                    return
        await say(turn.channel, text, buttons=buttons)

    async def link(self, turn: Turn, intent: Intent) -> None:
        """``/link``: the web-editor claim link (contract endpoint 12)."""
        if turn.conv.session_id is None:
            await say(turn.channel, t("need_session", turn.lang))
            return
        url = await self.renders.project_link(turn)
        await say_private(turn, t("project_link", turn.lang, url=url) if url else t("link_failed", turn.lang))

    async def new(self, turn: Turn, intent: Intent) -> None:
        """``/new``: forget the session; the next clip starts a new project."""
        await self.conversations.reset(turn)
        await say(turn.channel, t("new_session", turn.lang))

    # ------------------------------------------------------------------ session work

    async def upload(self, turn: Turn, intent: Intent) -> None:
        """Attachments (and the request next to them, for the agent)."""
        if not turn.msg.attachments:
            await say(turn.channel, t("upload_how", turn.lang, formats=FORMATS_LINE))
            return
        uploaded = await self.uploads.upload(turn, follow_up=bool(intent.arg))
        if uploaded and intent.arg:
            await self.agent.run(turn, intent.arg)

    async def agent_request(self, turn: Turn, intent: Intent) -> None:
        """Everything else: a request for the agent."""
        await self.agent.run(turn, intent.arg)

    async def confirm(self, turn: Turn, intent: Intent) -> None:
        """A message that may ask for a command or describe an edit: ask, with one-tap buttons.

        The message is kept (conversation data ``pending_edit``) for the "send to the
        editor" button; the command's own button runs the command.
        """
        assert intent.suggested is not None
        questions = {
            IntentKind.EXPORT: t("confirm.export", turn.lang),
            IntentKind.STATUS: t("confirm.status", turn.lang),
            IntentKind.CREDITS: t("confirm.credits", turn.lang),
        }
        await self.conversations.update_data(turn, pending_edit=intent.arg)
        await say(turn.channel, questions[intent.suggested], buttons=(Button(intent.suggested.value), Button.EDITOR))

    async def to_editor(self, turn: Turn, intent: Intent) -> None:
        """ "Send to the editor" (``/editor``): the message kept by :meth:`confirm` goes to the agent."""
        text = str(turn.conv.data.get("pending_edit") or "")
        if not text:
            await say(turn.channel, t("nothing_pending", turn.lang))
            return
        await self.conversations.update_data(turn, pending_edit=None)
        await self.agent.run(turn, text)

    async def export_from_answer(self, turn: Turn) -> None:
        """The agent's answer said to press Export: run the export (free, per the skills), once.

        Runs in the conversation's turn (after the answer); an export already under way in
        the conversation is not started twice (the user is told).
        """
        key = turn.conv.key
        if not self.renders.claim(key):
            await say(turn.channel, t("render_busy", turn.lang))
            return
        try:
            await self.export(turn, Intent(IntentKind.EXPORT))
        finally:
            self.renders.release(key)

    async def export(self, turn: Turn, intent: Intent) -> None:
        """``/export``: render the draft and deliver the MP4 (contract section 5)."""
        if turn.conv.session_id is None:
            await say(turn.channel, t("not_ready", turn.lang, example=turn.example))
            return
        draft = (await turn.client.state(turn.conv.session_id, attribution=turn.attribution)).draft
        if not timeline.is_ready(draft):
            await say(turn.channel, t("not_ready", turn.lang, example=turn.example))
            return
        for job in await self.store.list_renders(conversation_key=turn.conv.key, undelivered=True):
            if job.status in RESUMABLE:
                await say(turn.channel, t("render_busy", turn.lang))
                return
        if turn.person is not None:
            refusal = await self.access.charge(turn.msg, turn.person, "exports")
            if refusal is not None:
                await say(turn.channel, refusal.text or "")
                return
        key = turn.conv.key
        await self.renders.export(
            turn,
            draft,
            cancelled_by_user=lambda: self.scheduler.cancelled_by_user(key),
            on_recorded=lambda: self.scheduler.mark_durable(key),
        )


def help_text(turn: Turn) -> str:
    """The ``/help`` text of the conversation's profile, in the user's language."""
    p, lang = turn.profile, turn.lang
    return t(
        "help",
        lang,
        title=p.title_in(lang),
        summary=p.summary_in(lang),
        **p.bullets_in(lang),
    )
