"""The emulator's rule-based editing agent.

A stand-in for NemoVideo's LLM agent: it reads the user's message (English and Chinese
keywords) and the skill profile (``X-Skill-Source``), then edits the session's draft
(``docs/draft-format.md``) with results computed from the real media: clip scores come from
:func:`emulator.media.motion_score`, music from :func:`emulator.media.make_music`.

Two steps, so the server can decide the run's shape before any work starts:

1. :func:`decide` (pure, fast; :mod:`~emulator.agent.intent`) turns the message, the profile
   and the session state into an :class:`Intent`.
2. :func:`run` (an async generator; :mod:`~emulator.agent.dispatch`) looks the intent's kind
   up in the handler table and yields the handler's :class:`Thought`, :class:`Preview`,
   :class:`ToolCall`, :class:`ToolResult` and :class:`Answer` steps. The server turns them
   into ADK events and sends heartbeats while it waits for the next step (the blocking
   media work runs in worker threads).

Supported requests (intent kinds):

=================  ===========================================  ======================
kind               triggers                                     edit
=================  ===========================================  ======================
``rank``           rank (the verb), sort/order my clips,        all clips best-first
                   给...排名, 排序                                 (or countdown), fades,
                                                                each clip's rank on
                                                                screen, leaderboard
``leaderboard``    leaderboard, top performers, standings,      video track (if none) +
                   scoreboard, 排行榜, 榜单                        leaderboard overlay
``highlight``      highlight, montage, best moments, reel,      best moments of all
                   集锦, 高光, 精彩                                clips cut on the beat,
                                                                ~1/4 of the footage
                                                                (3-60 s), fades, music
``example``        example, sample/short clip, 示例, 短片          new timeline: latest
                                                                clip's first 5 s + title
``music``          music, BGM, soundtrack, song, 音乐, 配乐        BGM track in the mood
``title``          title, 标题                                   title at the asked time
``text``           text, caption, subtitle, 文字, 字幕              text overlay at the
                                                                asked time
``aspect``         9:16/vertical/portrait/竖屏, 1:1/square/方形,  canvas 1080x1920,
                   16:9/landscape/横屏                           1080x1080, 1920x1080
``remove_music``   remove/delete/no ... music, 删除/去掉 ... 音乐    BGM track removed
``export``         export, download, render, 导出, 下载, 渲染        none (GUI-style answer)
``gui_step``       drag, drop, click, 拖拽, 点击 (a web-editor     none (says how to ask
                   step handed back by the client)              for a change)
``chat``           anything else                                none (friendly answer)
=================  ===========================================  ======================

A message may ask for more than its main edit: a canvas ("make a 1:1 square example clip"),
a title or text with the user's own words (quoted with '', "", 「」, or after ``title:`` /
``text:``) at a time ("at the end", "at the start", "at 0:05", "for 3 seconds", 在结尾,
开头, 第5秒), a music mood (epic, chill, tense, retro, atmospheric, lo-fi). Every edit
applies them. Every uploaded clip joins the timeline once (appended to the main video
track); batch requests (rank, leaderboard, highlight) use all clips, ``example`` the latest.

A message with only a generic verb ("make it", "do it", "帮我做") falls back to the
profile's main request. Edits that need clips while none is uploaded become ``need_clip``
(a text answer asking for a clip); removing music from a draft without music becomes
``no_music``.

Handlers live in one module per intent family: :mod:`~emulator.agent.leaderboard`
(``leaderboard``, ``rank``), :mod:`~emulator.agent.highlight`, :mod:`~emulator.agent.example`,
:mod:`~emulator.agent.music` (``music``, ``remove_music``, ``no_music``),
:mod:`~emulator.agent.titles` (``title``, ``text``), :mod:`~emulator.agent.canvas`
(``aspect``) and :mod:`~emulator.agent.replies` (``export``, ``need_clip``, ``gui_step``,
``chat``). They share :mod:`~emulator.agent.drafts` (track building),
:mod:`~emulator.agent.tools` (tool call pairs) and :mod:`~emulator.agent.wording`.
"""

from __future__ import annotations

from emulator.agent.context import AgentContext, Clip, clips_from_state
from emulator.agent.dispatch import run
from emulator.agent.drafts import empty_draft, finalize_draft, join_uploads, sync_uploads
from emulator.agent.intent import (
    ASPECTS,
    EDIT_KINDS,
    NEEDS_CLIPS,
    PROFILE_DEFAULT_KIND,
    PROFILE_DEFAULT_STYLE,
    Intent,
    TextRequest,
    classify,
    decide,
    explicit_style,
    extract_aspect,
    extract_style,
    extract_text_request,
    extract_title,
)
from emulator.agent.steps import Answer, Preview, Step, Thought, ToolCall, ToolResult

__all__ = [
    "ASPECTS",
    "EDIT_KINDS",
    "NEEDS_CLIPS",
    "PROFILE_DEFAULT_KIND",
    "PROFILE_DEFAULT_STYLE",
    "AgentContext",
    "Answer",
    "Clip",
    "Intent",
    "Preview",
    "Step",
    "TextRequest",
    "Thought",
    "ToolCall",
    "ToolResult",
    "classify",
    "clips_from_state",
    "decide",
    "empty_draft",
    "explicit_style",
    "extract_aspect",
    "extract_style",
    "extract_text_request",
    "extract_title",
    "finalize_draft",
    "join_uploads",
    "run",
    "sync_uploads",
]
