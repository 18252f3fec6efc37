"""Reading a message: the request kind and what it names (title, text and its time, canvas,
music mood, order).

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
    "ASPECTS",
    "EDIT_KINDS",
    "NEEDS_CLIPS",
    "PROFILE_DEFAULT_KIND",
    "PROFILE_DEFAULT_STYLE",
    "Intent",
    "TextRequest",
    "classify",
    "decide",
    "explicit_style",
    "extract_aspect",
    "extract_style",
    "extract_text_request",
    "extract_title",
]

#: Intent kinds that change the draft.
EDIT_KINDS = frozenset(
    {"leaderboard", "rank", "highlight", "example", "music", "title", "text", "aspect", "remove_music"}
)
#: Intent kinds that need at least one uploaded video clip.
NEEDS_CLIPS = frozenset({"leaderboard", "rank", "highlight", "example", "music", "title", "text"})

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

#: Aspect ratio -> canvas size in pixels (width, height).
ASPECTS: dict[str, tuple[int, int]] = {"9:16": (1080, 1920), "1:1": (1080, 1080), "16:9": (1920, 1080)}

#: Default on-screen time of a title or text at the start or at a given time, ms.
TEXT_MS = 3000
#: Default on-screen time of a text "at the end", ms.
END_TEXT_MS = 2000


@dataclass(frozen=True)
class TextRequest:
    """A title, caption or text overlay the message asks for.

    Attributes:
        text: The user's own words (quoted, or after ``title:`` / ``text:``), or ``None``
            (the handler picks a default).
        kind: ``title`` (large, centred, the draft's title track) or ``caption`` (a text
            overlay or caption on the text track).
        at: ``start``, ``end`` (the last seconds, kept at the end by later edits) or ``time``.
        start_ms: The start for ``at == "time"``.
        duration_ms: On-screen time the message asks for ("for 3 seconds"), or ``None``.
        pos: ``top``, ``center`` or ``bottom``.
    """

    text: str | None
    kind: str = "title"
    at: str = "start"
    start_ms: int = 0
    duration_ms: int | None = None
    pos: str = "center"

    @property
    def shown_ms(self) -> int:
        """How long the text stays on screen (before fitting it to the video)."""
        if self.duration_ms:
            return self.duration_ms
        return END_TEXT_MS if self.at == "end" else TEXT_MS


@dataclass(frozen=True)
class Intent:
    """What the agent will do for one message.

    Attributes:
        kind: One of ``leaderboard``, ``rank``, ``highlight``, ``example``, ``music``,
            ``title``, ``text``, ``aspect``, ``remove_music``, ``export``, ``gui_step``,
            ``chat``, ``need_clip``, ``no_music``.
        lang: ``"zh"`` when the message contains CJK characters, else ``"en"``.
        title: A quoted (or ``title: ...``) text from the message, or ``None``.
        style: Music style (``lofi``, ``epic``, ``chill``, ``tense``, ``retro``,
            ``atmospheric``).
        style_named: The message named the style (otherwise an uploaded audio file is
            preferred over generated music).
        countdown: Rank in countdown order (lowest score first, best last).
        wanted: For ``need_clip``: the kind that needed clips.
        aspect: The canvas the message asks for (``9:16``, ``1:1``, ``16:9``), or ``None``.
        text: The title / text overlay the message asks for, or ``None``.
        criterion: What a ranking is by: ``action`` or ``engagement``.
    """

    kind: str
    lang: str = "en"
    title: str | None = None
    style: str = "lofi"
    style_named: bool = False
    countdown: bool = False
    wanted: str | None = None
    aspect: str | None = None
    text: TextRequest | None = None
    criterion: str = "action"

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
_TITLE_TAIL = re.compile(r"\b(?:title[d]?|text|caption|called|named|saying)\s*[:：]\s*(.+)$", re.IGNORECASE)
_TITLE_TAIL_ZH = re.compile(r"(?:标题|文字|字幕)(?:为|是|叫|[:：])\s*[:：]?\s*(\S.*)$")
#: A time or duration phrase inside a ``title: ...`` tail, cut off the text.
_TAIL_TIMING = re.compile(
    r"\s*(?:,|，|;)?\s*(?:\b(?:at|from|for|in)\s+(?:the\s+)?(?:end|start|beginning|\d).*$"
    r"|(?:在|于)?(?:结尾|末尾|片尾|开头|片头|第\s*\d).*$)",
    re.IGNORECASE,
)


def _any(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def _words(text: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}", text) for w in words)


def extract_title(text: str) -> str | None:
    """The title a message asks for: quoted text, or the text after ``title:`` / ``text:`` / ``标题``.

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
        title = _TAIL_TIMING.sub("", m.group(1)).strip().rstrip(".!?。！？").strip()
        return title or None
    return None


#: Mood words -> music style (the names :data:`emulator.media.MUSIC_STYLES` uses); the
#: first match wins, so "intense" is epic before "tense" is tense.
_STYLE_WORDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (style, words matched at a word start (English), substrings (Chinese, punctuated))
    ("lofi", ("lofi", "lo-fi", "lo fi"), ("低保真",)),
    ("retro", ("retro", "8-bit", "8bit", "8 bit", "chiptune", "arcade"), ("复古", "像素风", "8位")),
    ("epic", ("epic", "intense", "hype", "energetic", "heroic", "cinematic"), ("史诗", "激昂", "热血")),
    ("tense", ("tense", "suspense", "thriller", "tension", "horror"), ("紧张", "悬疑", "悬念", "惊悚")),
    ("atmospheric", ("atmospheric", "ambient", "atmosphere", "dreamy", "spacey"), ("氛围", "空灵", "环境音")),
    ("chill", ("chill", "calm", "relax", "soft", "mellow", "peaceful"), ("放松", "轻松", "舒缓", "安静", "悠闲")),
)


def explicit_style(text: str) -> str | None:
    """The music style a message names, or ``None``.

    atmospheric/ambient/氛围 -> ``atmospheric``; chill/relaxed/轻松 -> ``chill``;
    epic/史诗 -> ``epic``; tense/suspense/紧张 -> ``tense``; retro/8-bit/复古 -> ``retro``;
    lo-fi/lofi -> ``lofi``.
    """
    low = _strip_quotes(text).lower()
    for style, words, zh in _STYLE_WORDS:
        if _words(low, words) or _any(low, zh):
            return style
    return None


def extract_style(text: str, profile: str | None = None) -> str:
    """The music style for a message: the one it names, else the profile's default.

    Args:
        text: The user's message.
        profile: The ``X-Skill-Source`` profile; gaming profiles default to ``epic``,
            the others to ``lofi``.

    Returns:
        The style name (see :func:`explicit_style`).
    """
    return explicit_style(text) or PROFILE_DEFAULT_STYLE.get(profile or "", "lofi")


_ASPECT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "9:16",
        re.compile(
            r"\b9\s*[:：x×/]\s*16\b|\bvertical\b|\bportrait\b|\bupright\b|\b(?:tiktok|shorts|reels?) format\b"
            r"|竖屏|竖版|竖向|竖幅",
            re.IGNORECASE,
        ),
    ),
    ("1:1", re.compile(r"\b1\s*[:：x×/]\s*1\b|\bsquare\b|正方形|方形|方屏", re.IGNORECASE)),
    (
        "16:9",
        re.compile(
            r"\b16\s*[:：x×/]\s*9\b|\blandscape\b|\bhorizontal\b|\bwidescreen\b|横屏|横版|横向|宽屏", re.IGNORECASE
        ),
    ),
)


def extract_aspect(text: str) -> str | None:
    """The canvas a message asks for: ``9:16`` (vertical, portrait, 竖屏), ``1:1`` (square,
    方形) or ``16:9`` (landscape, 横屏), or ``None``."""
    low = _strip_quotes(text)
    for aspect, pat in _ASPECT_PATTERNS:
        if pat.search(low):
            return aspect
    return None


_TITLE_WORD = re.compile(r"\btitle\b|\bheadline\b|标题", re.IGNORECASE)
_TEXT_WORD = re.compile(r"\btext\b|\bcaptions?\b|\bsubtitles?\b|\blower third\b|文字|字幕|文本|字样", re.IGNORECASE)
_CAPTION_WORD = re.compile(r"\bcaptions?\b|\bsubtitles?\b|\blower third\b|字幕", re.IGNORECASE)
_AT_END = re.compile(
    r"\b(?:at|in|near|by|to)\s+the\s+(?:very\s+)?end\b|\bat\s+end\b|\bend of the (?:video|clip|reel)\b"
    r"|\bending\b|\boutro\b|\bfinal\s+(?:seconds?|moments?)\b|\blast\s+(?:\d+\s*)?(?:seconds?|moments?)\b"
    r"|结尾|末尾|片尾|最后|结束时",
    re.IGNORECASE,
)
_AT_START = re.compile(
    r"\b(?:at|in|from)\s+the\s+(?:very\s+)?(?:start|beginning)\b|\bat\s+(?:start|beginning)\b|\bintro\b"
    r"|\bopening\b|开头|片头|开始时|一开始",
    re.IGNORECASE,
)
_AT_CLOCK = re.compile(r"\b(?:at|from)\s+(\d{1,2}):([0-5]\d)(?:\.(\d+))?\b", re.IGNORECASE)
_AT_SECONDS = re.compile(r"\b(?:at|from)\s+(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\b", re.IGNORECASE)
_AT_SECONDS_ZH = re.compile(
    r"第\s*(\d+(?:\.\d+)?)\s*秒|(?:在|从)\s*(\d+(?:\.\d+)?)\s*秒|(\d+(?:\.\d+)?)\s*秒(?:处|时|的时候)"
)
_FOR_SECONDS = re.compile(
    r"\bfor\s+(?:the\s+(?:last|first|final)\s+)?(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\b"
    r"|\b(?:last|final)\s+(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\b",
    re.IGNORECASE,
)
_FOR_SECONDS_ZH = re.compile(r"(?:持续|显示|停留)\s*(\d+(?:\.\d+)?)\s*秒|(\d+(?:\.\d+)?)\s*秒钟")
_POS_TOP = re.compile(r"\b(?:at|on|along)\s+the\s+top\b|\btop of the (?:screen|frame|video)\b|顶部|上方", re.IGNORECASE)
_POS_BOTTOM = re.compile(
    r"\b(?:at|on|along)\s+the\s+bottom\b|\bbottom of the (?:screen|frame|video)\b|底部|下方", re.IGNORECASE
)


def _ms(value: str) -> int:
    return round(float(value) * 1000)


def extract_text_request(text: str) -> TextRequest | None:
    """The title, caption or text overlay a message asks for, with its time.

    A message asks for one when it says title / text / caption (标题, 文字, 字幕). The text is
    the user's own words (:func:`extract_title`); the time: "at the end" (the last 2 s),
    "at the start/beginning", "at 0:05", "at 5s" (在结尾, 开头, 第5秒), "for 3 seconds"
    (持续3秒).

    Returns:
        The request, or ``None`` when the message asks for no text.
    """
    bare = _strip_quotes(text)
    wants_title = bool(_TITLE_WORD.search(bare))
    wants_text = bool(_TEXT_WORD.search(bare)) or bool(re.search(r"\b(?:text|caption)\s*[:：]", text, re.I))
    if not wants_title and not wants_text:
        return None
    kind = "title" if wants_title else "caption"
    at, start = "start", 0
    if m := _AT_CLOCK.search(bare):
        at, start = "time", int(m.group(1)) * 60_000 + int(m.group(2)) * 1000 + _ms(f"0.{m.group(3) or 0}")
    elif m := _AT_SECONDS.search(bare):
        at, start = "time", _ms(m.group(1))
    elif m := _AT_SECONDS_ZH.search(bare):
        at, start = "time", _ms(next(g for g in m.groups() if g))
    elif _AT_END.search(bare):
        at = "end"
    elif _AT_START.search(bare):
        at = "start"
    duration = None
    if m := _FOR_SECONDS.search(bare) or _FOR_SECONDS_ZH.search(bare):
        duration = max(200, _ms(next(g for g in m.groups() if g)))
    if _POS_TOP.search(bare):
        pos = "top"
    elif _POS_BOTTOM.search(bare) or (kind == "caption" and _CAPTION_WORD.search(bare)):
        pos = "bottom"
    else:
        pos = "center"
    return TextRequest(extract_title(text), kind=kind, at=at, start_ms=start, duration_ms=duration, pos=pos)


def _strip_quotes(text: str) -> str:
    """The message without its quoted parts (a title "Final Standings" is no request)."""
    for pat in _QUOTE_PATTERNS:
        text = pat.sub(" ", text)
    return text


#: "rank" as a verb (not "ranked"), sort/order clips, 给...排名 (not 排名排行榜).
_RANK = re.compile(
    r"\b(?:re-?)?rank\b(?!ed)|\branking (?:of )?(?:my|these|the|all|them)\b"
    r"|\b(?:sort|order)\s+(?:my|the|these|them|all|those)\b|\bre-?order\b[^.!?。！？]*\bby\b"
    r"|排名(?!排行榜|榜|叠加)|排序|排个名|排一下",
    re.IGNORECASE,
)


#: A generic request ("make it", "do it"): the profile's main edit.
_GENERIC = re.compile(r"\b(?:make|making|create|creating|edit|editing|build|start|do it|go ahead)\b")
#: A web-editor step handed back to the agent ("drag the clips on the timeline ...").
_GUI_STEP = re.compile(r"\bdrag(?:ging)?\b|\bdrop\b|\bclick\b|拖拽|拖动|点击")


def classify(text: str, profile: str | None = None) -> str:
    """The request kind of a message, ignoring the session state and quoted text.

    Args:
        text: The user's message.
        profile: The ``X-Skill-Source`` profile, used for generic messages.

    Returns:
        One of ``leaderboard``, ``rank``, ``highlight``, ``example``, ``music``, ``title``,
        ``text``, ``aspect``, ``remove_music``, ``export``, ``gui_step``, ``chat``.
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
    if _RANK.search(low):
        return "rank"
    if _any(low, ("leaderboard", "top performer", "standings", "scoreboard", "leader board", "排行榜", "榜单")):
        return "leaderboard"
    if _any(
        low,
        ("highlight", "montage", "best moments", "best bits", "best parts", "reel", "集锦", "高光", "精彩", "最佳时刻"),
    ):
        return "highlight"
    if _words(low, ("example", "sample clip", "demo clip", "short clip")) or _any(
        low, ("示例", "样例", "例子", "范例", "短片")
    ):
        return "example"
    if _any(low, music_words):
        return "music"
    if _TITLE_WORD.search(low):
        return "title"
    if _TEXT_WORD.search(low) or re.search(r"\b(?:text|caption)\s*[:：]", text, re.I):
        return "text"
    if extract_aspect(text):
        return "aspect"
    if _words(low, ("export", "download", "render")) or _any(low, ("导出", "下载", "渲染")):
        return "export"
    if _GUI_STEP.search(low):
        return "gui_step"
    generic = bool(_GENERIC.search(low)) or _any(low, ("做", "制作", "帮我", "开始", "生成"))
    if generic and profile in PROFILE_DEFAULT_KIND:
        return PROFILE_DEFAULT_KIND[profile]
    return "chat"


def _criterion(low: str) -> str:
    if _any(low, ("engagement", "engaging", "views", "likes", "popular", "互动", "热度", "人气", "参与")):
        return "engagement"
    return "action"


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
        aspect=extract_aspect(text),
        text=extract_text_request(text),
        criterion=_criterion(low),
    )
    if kind in NEEDS_CLIPS and not clips_from_state(state):
        return Intent(kind="need_clip", lang=lang, wanted=kind)
    if kind == "remove_music" and not tracks(state.get("draft") or {}, 1):
        return Intent(kind="no_music", lang=lang)
    return intent
