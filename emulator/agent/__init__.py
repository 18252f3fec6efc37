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
``leaderboard``    leaderboard, top performers, standings,      video track (if none) +
                   scoreboard, 排行榜, 榜单                        leaderboard overlay
``rank``           rank, ranking, sort/order clips, 排名, 排序     clips best-first (or
                                                                countdown) + overlay
``highlight``      highlight, montage, best moments, reel,      best 2 s windows, fades,
                   集锦, 高光, 精彩                                generated music
``example``        example, sample clip, 示例, 样例, 例子          new timeline: first
                                                                clip's first 5 s + title
``music``          music, BGM, soundtrack, song, 音乐, 配乐        BGM track
``title``          title, 标题                                   title 0-3 s
``remove_music``   remove/delete/no ... music, 删除/去掉 ... 音乐    BGM track removed
``export``         export, download, render, 导出, 下载, 渲染        none (GUI-style answer)
``chat``           anything else                                none (friendly answer)
=================  ===========================================  ======================

A message with only a generic verb ("make it", "do it", "帮我做") falls back to the
profile's main request. Edits that need clips while none is uploaded become ``need_clip``
(a text answer asking for a clip); removing music from a draft without music becomes
``no_music``.

Handlers live in one module per intent family: :mod:`~emulator.agent.leaderboard`
(``leaderboard``, ``rank``), :mod:`~emulator.agent.highlight`, :mod:`~emulator.agent.example`,
:mod:`~emulator.agent.music` (``music``, ``remove_music``, ``no_music``),
:mod:`~emulator.agent.titles` and :mod:`~emulator.agent.replies` (``export``, ``need_clip``,
``chat``). They share :mod:`~emulator.agent.drafts` (track building),
:mod:`~emulator.agent.tools` (tool call pairs) and :mod:`~emulator.agent.wording`.
"""

from __future__ import annotations

from emulator.agent.context import AgentContext, Clip, clips_from_state
from emulator.agent.dispatch import run
from emulator.agent.drafts import empty_draft, finalize_draft
from emulator.agent.intent import (
    EDIT_KINDS,
    NEEDS_CLIPS,
    PROFILE_DEFAULT_KIND,
    PROFILE_DEFAULT_STYLE,
    Intent,
    classify,
    decide,
    explicit_style,
    extract_style,
    extract_title,
)
from emulator.agent.steps import Answer, Preview, Step, Thought, ToolCall, ToolResult

__all__ = [
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
    "Thought",
    "ToolCall",
    "ToolResult",
    "classify",
    "clips_from_state",
    "decide",
    "empty_draft",
    "explicit_style",
    "extract_style",
    "extract_title",
    "finalize_draft",
    "run",
]
