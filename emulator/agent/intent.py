"""Reading a message: the request kind, title, music style and order it asks for.

:func:`decide` (pure, fast) turns the message, the skill profile (``X-Skill-Source``) and the
session state into an :class:`Intent`; the table of kinds and their trigger words is in
:mod:`emulator.agent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from emulator.agent.context import clips_from_state
from emulator.agent.drafts import tracks

__all__ = [
    "EDIT_KINDS",
    "NEEDS_CLIPS",
    "PROFILE_DEFAULT_KIND",
    "PROFILE_DEFAULT_STYLE",
    "Intent",
    "classify",
    "decide",
    "explicit_style",
    "extract_style",
    "extract_title",
]

#: Intent kinds that change the draft.
EDIT_KINDS = frozenset({"leaderboard", "rank", "highlight", "example", "music", "title", "remove_music"})
#: Intent kinds that need at least one uploaded video clip.
NEEDS_CLIPS = frozenset({"leaderboard", "rank", "highlight", "example", "music", "title"})

#: Profile (``X-Skill-Source``) -> the request a generic message means.
PROFILE_DEFAULT_KIND = {
    "video-leaderboard": "leaderboard",
    "video-leaderboard-ai": "rank",
    "ai-video-editor-gaming": "highlight",
    "what-is-video-clip-example": "example",
    "game-music": "music",
}
#: Profile -> default music style.
PROFILE_DEFAULT_STYLE = {"ai-video-editor-gaming": "epic", "game-music": "epic"}


@dataclass(frozen=True)
class Intent:
    """What the agent will do for one message.

    Attributes:
        kind: One of ``leaderboard``, ``rank``, ``highlight``, ``example``, ``music``,
            ``title``, ``remove_music``, ``export``, ``chat``, ``need_clip``, ``no_music``.
        lang: ``"zh"`` when the message contains CJK characters, else ``"en"``.
        title: A quoted (or ``title: ...``) text from the message, or ``None``.
        style: Music style (``lofi``, ``epic``, ``chill``).
        style_named: The message named the style (otherwise an uploaded audio file is
            preferred over generated music).
        countdown: Rank in countdown order (lowest score first, best last).
        wanted: For ``need_clip``: the kind that needed clips.
    """

    kind: str
    lang: str = "en"
    title: str | None = None
    style: str = "lofi"
    style_named: bool = False
    countdown: bool = False
    wanted: str | None = None

    @property
    def edits(self) -> bool:
        """True when the run will change the draft."""
        return self.kind in EDIT_KINDS


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_QUOTE_PATTERNS = (
    re.compile(r"\u201c([^\u201d]+)\u201d"),  # “...”
    re.compile(r"\u2018([^\u2019]+)\u2019"),  # ‘...’
    re.compile(r"\u300c([^\u300d]+)\u300d"),  # 「...」
    re.compile(r"\u300e([^\u300f]+)\u300f"),  # 『...』
    re.compile(r"\u300a([^\u300b]+)\u300b"),  # 《...》
    re.compile(r'"([^"]+)"'),
    re.compile(r"(?:^|(?<=[\s:：(（]))'([^']+)'(?=$|[\s.,!?;:)）。，！？])"),
)
_TITLE_TAIL = re.compile(r"\b(?:title[d]?|called|named|saying)\s*[:：]\s*(.+)$", re.IGNORECASE)
_TITLE_TAIL_ZH = re.compile(r"标题(?:为|是|叫|[:：])\s*[:：]?\s*(\S.*)$")


def _any(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def _words(text: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}", text) for w in words)


def extract_title(text: str) -> str | None:
    """The title a message asks for: quoted text, or the text after ``title:`` / ``标题``.

    Args:
        text: The user's message.

    Returns:
        The stripped title, or ``None`` when the message names none.
    """
    for pat in _QUOTE_PATTERNS:
        m = pat.search(text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    m = _TITLE_TAIL.search(text) or _TITLE_TAIL_ZH.search(text)
    if m:
        title = m.group(1).strip().rstrip(".!?。！？").strip()
        return title or None
    return None


def explicit_style(text: str) -> str | None:
    """The music style a message names (``epic``, ``chill`` or ``lofi``), or ``None``."""
    low = text.lower()
    if _any(low, ("epic", "intense", "hype", "energetic", "史诗", "激昂", "热血")):
        return "epic"
    if _any(low, ("chill", "calm", "relax", "ambient", "soft", "放松", "轻松", "舒缓", "安静")):
        return "chill"
    if _any(low, ("lofi", "lo-fi", "lo fi", "低保真")):
        return "lofi"
    return None


def extract_style(text: str, profile: str | None = None) -> str:
    """The music style for a message: the one it names, else the profile's default.

    Args:
        text: The user's message.
        profile: The ``X-Skill-Source`` profile; gaming profiles default to ``epic``,
            the others to ``lofi``.

    Returns:
        The style name :func:`emulator.media.make_music` accepts.
    """
    return explicit_style(text) or PROFILE_DEFAULT_STYLE.get(profile or "", "lofi")


def _strip_quotes(text: str) -> str:
    """The message without its quoted parts (a title "Final Standings" is no request)."""
    for pat in _QUOTE_PATTERNS:
        text = pat.sub(" ", text)
    return text


def classify(text: str, profile: str | None = None) -> str:
    """The request kind of a message, ignoring the session state and quoted text.

    Args:
        text: The user's message.
        profile: The ``X-Skill-Source`` profile, used for generic messages.

    Returns:
        One of ``leaderboard``, ``rank``, ``highlight``, ``example``, ``music``, ``title``,
        ``remove_music``, ``export``, ``chat``.
    """
    low = _strip_quotes(text).lower().strip()
    music_words = ("music", "bgm", "soundtrack", "song", "音乐", "配乐", "背景乐")
    remove_words = (
        "remove",
        "delete",
        "get rid of",
        "without",
        "no music",
        "mute",
        "删除",
        "去掉",
        "移除",
        "不要",
        "取消",
        "删掉",
    )
    if _any(low, music_words) and _any(low, remove_words):
        return "remove_music"
    if _any(low, ("leaderboard", "top performer", "standings", "scoreboard", "leader board", "排行榜", "榜单")):
        return "leaderboard"
    if _any(low, ("highlight", "montage", "best moments", "best bits", "reel", "集锦", "高光", "精彩")):
        return "highlight"
    if _words(
        low, ("rank", "ranking", "sort my", "sort the", "sort these", "order my", "order the", "order these")
    ) or _any(low, ("排名", "排序")):
        return "rank"
    if _words(low, ("example", "sample clip", "demo clip")) or _any(low, ("示例", "样例", "例子", "范例")):
        return "example"
    if _any(low, music_words):
        return "music"
    if _words(low, ("title",)) or "标题" in low:
        return "title"
    if _words(low, ("export", "download", "render")) or _any(low, ("导出", "下载", "渲染")):
        return "export"
    generic = _words(low, ("make", "create", "edit", "do it", "go ahead", "build", "start")) or _any(
        low, ("做", "制作", "帮我", "开始", "生成")
    )
    if generic and profile in PROFILE_DEFAULT_KIND:
        return PROFILE_DEFAULT_KIND[profile]
    return "chat"


def decide(text: str, profile: str | None, state: dict[str, Any]) -> Intent:
    """Turn a message into an :class:`Intent`, looking at what the session holds.

    Pure and fast: no media work.

    Args:
        text: The user's message.
        profile: The ``X-Skill-Source`` profile (e.g. ``video-leaderboard``), or ``None``.
        state: The session state (``draft``, ``video_infos``, ...).

    Returns:
        The intent; ``need_clip`` when the request needs a clip and none is uploaded,
        ``no_music`` when asked to remove music from a draft without any.
    """
    lang = "zh" if _CJK.search(_strip_quotes(text)) else "en"
    kind = classify(text, profile)
    low = _strip_quotes(text).lower()
    intent = Intent(
        kind=kind,
        lang=lang,
        title=extract_title(text),
        style=extract_style(text, profile),
        style_named=explicit_style(text) is not None,
        countdown=_any(low, ("countdown", "count down", "worst first", "倒数", "倒序")),
    )
    if kind in NEEDS_CLIPS and not clips_from_state(state):
        return Intent(kind="need_clip", lang=lang, wanted=kind)
    if kind == "remove_music" and not tracks(state.get("draft") or {}, 1):
        return Intent(kind="no_music", lang=lang)
    return intent
