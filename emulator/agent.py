"""The emulator's rule-based editing agent.

A stand-in for NemoVideo's LLM agent: it reads the user's message (English and Chinese
keywords) and the skill profile (``X-Skill-Source``), then edits the session's draft
(``docs/draft-format.md``) with results computed from the real media: clip scores come from
:func:`emulator.media.motion_score`, music from :func:`emulator.media.make_music`.

Two steps, so the server can decide the run's shape before any work starts:

1. :func:`decide` (pure, fast) turns the message, the profile and the session state into an
   :class:`Intent`.
2. :func:`run` (an async generator) does the work and yields :class:`Thought`,
   :class:`Preview`, :class:`ToolCall`, :class:`ToolResult` and :class:`Answer` steps. The
   server turns them into ADK events and sends heartbeats while it waits for the next step
   (the blocking media work runs in worker threads).

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
"""

from __future__ import annotations

import asyncio
import copy
import math
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator import media

__all__ = [
    "EDIT_KINDS",
    "AgentContext",
    "Answer",
    "Clip",
    "Intent",
    "Preview",
    "Step",
    "Thought",
    "ToolCall",
    "ToolResult",
    "clips_from_state",
    "decide",
    "empty_draft",
    "finalize_draft",
    "run",
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

STYLE_NAMES = {"lofi": "Lo-fi", "epic": "Epic", "chill": "Chill"}

TRANSITION = {"type": "fade", "d": 500}
TITLE_MS = 3000
EXAMPLE_MAX_MS = 5000
LEADERBOARD_MAX_PARTS = 5
HIGHLIGHT_WINDOW_S = 2.0
HIGHLIGHT_MIN_WINDOW_S = 1.0
HIGHLIGHT_MAX_WINDOWS = 6
BGM_VOLUME = 0.35
BGM_FADE_IN_MS = 500
BGM_FADE_OUT_MS = 1000

GUI_EXPORT_EN = "You can preview it in the timeline, then click the Export button to download."
GUI_EXPORT_ZH = "您可以在时间线中预览，然后点击导出按钮下载。"


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Thought:
    """Internal reasoning (sent as a ``"thought": true`` part, never shown to users)."""

    text: str


@dataclass(frozen=True)
class Preview:
    """A short preview of the answer (sent with ``"partial": true``)."""

    text: str


@dataclass(frozen=True)
class ToolCall:
    """The agent calls a tool (an ADK ``functionCall`` part).

    Attributes:
        call_id: ADK call id (``adk-<hex>``), shared with the matching :class:`ToolResult`.
        name: Tool name: ``analyze_video``, ``rank_clips``, ``generate_music`` or ``edit_multitrack``.
        args: The call's arguments.
    """

    call_id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """A tool finished (an ADK ``functionResponse`` part).

    Attributes:
        call_id: The matching :class:`ToolCall`'s id.
        name: Tool name.
        response: The tool's answer (``{"status": "success", ...}``).
        state_delta: Session state keys the tool replaced (e.g. ``{"draft": {...}}``); the
            server applies them when it emits the event.
    """

    call_id: str
    name: str
    response: dict[str, Any]
    state_delta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The final model text of the run."""

    text: str


Step = Thought | Preview | ToolCall | ToolResult | Answer


# --------------------------------------------------------------------------- intent


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
    if kind == "remove_music" and not _tracks(state.get("draft") or {}, 1):
        return Intent(kind="no_music", lang=lang)
    return intent


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Clip:
    """An uploaded video clip (from ``state.video_infos``).

    Attributes:
        filename: Upload file name.
        src: Its ``cdn_url`` (what segments reference).
        path: The local file.
        duration_ms: Duration in milliseconds.
        hash: The upload's hash.
    """

    filename: str
    src: str
    path: Path
    duration_ms: int
    hash: str


def clips_from_state(state: dict[str, Any], resolve: Callable[[str], Path] | None = None) -> list[Clip]:
    """The uploaded video clips of a session, in upload order.

    Args:
        state: Session state; ``video_infos`` entries with ``file_type == "video"`` and a
            positive ``duration`` (seconds) count.
        resolve: Maps a ``cdn_url`` to a local path; without it the path is left empty.

    Returns:
        The clips (possibly empty).
    """
    out = []
    for info in state.get("video_infos") or []:
        if not isinstance(info, dict) or info.get("file_type") != "video":
            continue
        dur = info.get("duration") or 0
        if not dur or dur <= 0 or not info.get("cdn_url"):
            continue
        path = resolve(info["cdn_url"]) if resolve else Path()
        out.append(
            Clip(
                filename=str(info.get("filename") or "clip"),
                src=info["cdn_url"],
                path=path,
                duration_ms=int(round(float(dur) * 1000)),
                hash=str(info.get("hash") or ""),
            )
        )
    return out


@dataclass
class AgentContext:
    """What the agent needs from the server.

    Attributes:
        state: A deep copy of the session state; the agent never mutates the server's copy
            (changes travel in :attr:`ToolResult.state_delta`).
        resolve: Maps a media URL (``cdn_url`` / generated media URL) to a local file.
        new_media: Allocates a generated file: given a file name (``music.m4a``) returns
            ``(url, local_path)``; the server serves ``url`` from ``local_path``.
        profile: The ``X-Skill-Source`` profile, or ``None``.
        gui_phrasing: Use web-editor GUI phrasing in some answers (contract section 6).
        score_cache: Shared cache of motion scores keyed by ``(path, start_ms, dur_ms)``.
        max_parallel: Motion scores computed at once (each runs one ffmpeg).
        to_thread: Runs blocking media work off the event loop (``asyncio.to_thread``
            signature); the server passes its own tracked pool so it can wait for it on stop.
    """

    state: dict[str, Any]
    resolve: Callable[[str], Path]
    new_media: Callable[[str], tuple[str, Path]]
    profile: str | None = None
    gui_phrasing: bool = True
    score_cache: dict[tuple[str, int, int | None], float] = field(default_factory=dict)
    max_parallel: int = 2
    to_thread: Callable[..., Awaitable[Any]] = asyncio.to_thread

    async def scores(self, jobs: list[tuple[Path, int, int | None]]) -> list[float]:
        """Motion scores (0-100) of ``(path, start_ms, duration_ms | None)`` windows.

        Runs :func:`emulator.media.motion_score` in worker threads, cached.

        Raises:
            emulator.media.MediaError: a clip cannot be decoded.
        """
        sem = asyncio.Semaphore(self.max_parallel)

        async def one(path: Path, start: int, dur: int | None) -> float:
            key = (str(path), start, dur)
            if key in self.score_cache:
                return self.score_cache[key]
            async with sem:
                value = await self.to_thread(
                    media.motion_score, path, start_s=start / 1000, duration_s=None if dur is None else dur / 1000
                )
            self.score_cache[key] = value
            return value

        return list(await asyncio.gather(*(one(p, s, d) for p, s, d in jobs)))


# --------------------------------------------------------------------------- drafts


def _sid(prefix: str = "seg") -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


def empty_draft(canvas: dict[str, Any] | None = None) -> dict[str, Any]:
    """A draft with no tracks, sized like the canvas (default 1920x1080 at 30 fps)."""
    canvas = canvas or {}
    return {
        "t": [],
        "d": 0,
        "m": {"width": int(canvas.get("width") or 1920), "height": int(canvas.get("height") or 1080), "fps": 30},
    }


def _tracks(draft: dict[str, Any], tt: int) -> list[dict[str, Any]]:
    return [t for t in draft.get("t") or [] if isinstance(t, dict) and t.get("tt") == tt]


def _video_end(draft: dict[str, Any]) -> int:
    end = 0
    for t in _tracks(draft, 0):
        for s in t.get("sg") or []:
            end = max(end, int(s.get("st", 0)) + int(s.get("d", 0)))
    return end


def _set_track(draft: dict[str, Any], track: dict[str, Any]) -> None:
    """Replace the track with the same id, or add it; keep video, audio, text order."""
    tracks = [t for t in draft.get("t") or [] if t.get("id") != track["id"]]
    tracks.append(track)
    order = {0: 0, 1: 1, 7: 2}
    tracks.sort(key=lambda t: order.get(t.get("tt"), 3))
    draft["t"] = tracks


def _drop_tracks(draft: dict[str, Any], pred: Callable[[dict[str, Any]], bool]) -> int:
    before = len(draft.get("t") or [])
    draft["t"] = [t for t in draft.get("t") or [] if not pred(t)]
    return before - len(draft["t"])


def _is_kind_track(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda t: t.get("tt") == 7 and any(s.get("kind") == kind for s in t.get("sg") or [])


def _layout(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place video segments back to back; a ``tr`` overlaps its segment with the previous one.

    That matches the renderer (``emulator/render.py``): a transition blends the segment into
    the previous one and shortens the output by its length, so ``st`` is the real output time.
    """
    t = 0
    prev_d = 0
    out = []
    for seg in segments:
        seg = dict(seg)
        tr = dict(seg.pop("tr", None) or {})
        overlap = min(int(tr.get("d", 0)), prev_d - 1, seg["d"] - 1) if tr and out else 0
        if overlap > 0:
            seg["tr"] = {**tr, "d": overlap}
            t -= overlap
        seg["st"] = t
        t += seg["d"]
        prev_d = seg["d"]
        out.append(seg)
    return out


def _clip_seg(
    clip: Clip, *, ss: int = 0, d: int | None = None, sc: float | None = None, tr: bool = False
) -> dict[str, Any]:
    seg: dict[str, Any] = {
        "id": _sid(),
        "st": 0,
        "d": int(d if d is not None else clip.duration_ms - ss),
        "n": clip.filename,
        "src": clip.src,
        "ss": int(ss),
        "vol": 1.0,
    }
    if sc is not None:
        seg["sc"] = float(sc)
    if tr:
        seg["tr"] = dict(TRANSITION)
    return seg


def _video_track(segments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "trk_v1", "tt": 0, "n": "Video", "sg": _layout(segments)}


def _ensure_video(draft: dict[str, Any], clips: list[Clip]) -> bool:
    """Give a draft without video the uploaded clips back to back. Returns True if added."""
    if any(t.get("sg") for t in _tracks(draft, 0)):
        return False
    _drop_tracks(draft, lambda t: t.get("tt") == 0)
    _set_track(draft, _video_track([_clip_seg(c) for c in clips]))
    return True


def finalize_draft(draft: dict[str, Any], *, title: str | None = None) -> dict[str, Any]:
    """Make ``d`` and ``m`` consistent with the tracks and fit overlays to the video.

    ``d`` becomes the end of the video track (or of the longest segment without video);
    leaderboards span the whole video, titles at most its length, audio is cut at its end.
    Empty tracks are dropped.

    Args:
        draft: The draft to fix, changed in place.
        title: New ``m.title``, if any.

    Returns:
        The same draft.
    """
    video_end = _video_end(draft)
    for t in draft.get("t") or []:
        if t.get("tt") == 0:
            continue
        for s in t.get("sg") or []:
            if video_end <= 0:
                continue
            if t.get("tt") == 7 and s.get("kind") == "leaderboard":
                s["st"], s["d"] = 0, video_end
            elif int(s.get("st", 0)) >= video_end:
                s["d"] = 0
            else:
                s["d"] = min(int(s.get("d", 0)), video_end - int(s.get("st", 0)))
        t["sg"] = sorted((s for s in t.get("sg") or [] if int(s.get("d", 0)) > 0), key=lambda s: s["st"])
    draft["t"] = [t for t in draft.get("t") or [] if t.get("sg")]
    end = video_end or max((int(s.get("st", 0)) + int(s.get("d", 0)) for t in draft["t"] for s in t["sg"]), default=0)
    draft["d"] = int(end)
    m = dict(draft.get("m") or {})
    m.setdefault("width", 1920)
    m.setdefault("height", 1080)
    m["fps"] = 30
    if title:
        m["title"] = title
    draft["m"] = m
    return draft


def _leaderboard_track(title: str, rows: list[dict[str, Any]], d: int) -> dict[str, Any]:
    seg = {"id": _sid(), "st": 0, "d": d, "n": title, "txt": title, "kind": "leaderboard", "pos": "right", "rows": rows}
    return {"id": "trk_t2", "tt": 7, "n": "Leaderboard", "sg": [seg]}


def _title_track(text: str, video_end: int) -> dict[str, Any]:
    seg = {
        "id": _sid(),
        "st": 0,
        "d": min(TITLE_MS, video_end),
        "n": text,
        "txt": text,
        "kind": "title",
        "pos": "center",
    }
    return {"id": "trk_t1", "tt": 7, "n": "Title", "sg": [seg]}


def _bgm_track(name: str, src: str, d: int) -> dict[str, Any]:
    seg = {
        "id": _sid(),
        "st": 0,
        "d": d,
        "n": name,
        "src": src,
        "ss": 0,
        "vol": BGM_VOLUME,
        "fi": BGM_FADE_IN_MS,
        "fo": BGM_FADE_OUT_MS,
    }
    return {"id": "trk_b1", "tt": 1, "n": "BGM", "sg": [seg]}


def _rank_rows(items: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Rows ranked by score (descending; ties keep input order), rank 1 first."""
    order = sorted(range(len(items)), key=lambda i: (-items[i][1], i))
    return [{"rank": r, "name": items[i][0], "score": round(items[i][1], 1)} for r, i in enumerate(order, start=1)]


def _parts(duration_ms: int, max_parts: int = LEADERBOARD_MAX_PARTS) -> list[tuple[int, int]]:
    """Split a clip into up to ``max_parts`` equal parts of at least one second."""
    n = max(1, min(max_parts, duration_ms // 1000))
    size = duration_ms // n
    return [(i * size, size if i < n - 1 else duration_ms - i * size) for i in range(n)]


def _windows(duration_ms: int) -> list[tuple[int, int]]:
    w = int(HIGHLIGHT_WINDOW_S * 1000)
    out = []
    start = 0
    while start < duration_ms:
        d = min(w, duration_ms - start)
        if d >= HIGHLIGHT_MIN_WINDOW_S * 1000 or not out:
            out.append((start, d))
        start += w
    return out


# --------------------------------------------------------------------------- texts


def _t(intent: Intent, en: str, zh: str) -> str:
    return zh if intent.lang == "zh" else en


def _fmt_rows(rows: list[dict[str, Any]], limit: int = 5) -> str:
    return ", ".join(f"{r['rank']}. {r['name']} ({r['score']:.1f})" for r in rows[:limit])


def _call_id() -> str:
    return f"adk-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- the run


async def run(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    """Carry out an intent, yielding the run's steps.

    Blocking media work (motion scores, music) runs in worker threads between two steps.
    On a media failure the run ends with an :class:`Answer` explaining it and no state change.

    Args:
        intent: From :func:`decide`.
        ctx: The session's :class:`AgentContext`.

    Yields:
        :class:`Thought` / :class:`Preview` first, then :class:`ToolCall` /
        :class:`ToolResult` pairs, then one :class:`Answer`.
    """
    handler = _HANDLERS.get(intent.kind, _chat)
    try:
        async for step in handler(intent, ctx):
            yield step
    except media.MediaError as e:
        yield Answer(_t(intent, f"Sorry, I couldn't process your media: {e}", f"抱歉，无法处理您的素材：{e}"))


async def _edit(ctx: AgentContext, draft: dict[str, Any], args: dict[str, Any], summary: str) -> AsyncIterator[Step]:
    cid = _call_id()
    yield ToolCall(cid, "edit_multitrack", args)
    await asyncio.sleep(0)
    yield ToolResult(
        cid,
        "edit_multitrack",
        {"status": "success", "summary": summary, "tracks": len(draft["t"]), "duration_ms": draft["d"]},
        {"draft": draft},
    )


def _analysis_delta(ctx: AgentContext, entries: list[dict[str, Any]]) -> dict[str, Any]:
    existing = [a for a in ctx.state.get("video_analyses") or [] if isinstance(a, dict)]
    hashes = {e["hash"] for e in entries}
    merged = [a for a in existing if a.get("hash") not in hashes] + entries
    ctx.state["video_analyses"] = merged
    return {"video_analyses": merged}


async def _score_clips(
    ctx: AgentContext, clips: list[Clip], tool: str, args: dict[str, Any]
) -> AsyncIterator[Step | list[float]]:
    """Tool pair scoring whole clips; the last item yielded is the score list (not a step)."""
    cid = _call_id()
    yield ToolCall(cid, tool, args)
    scores = await ctx.scores([(c.path, 0, None) for c in clips])
    entries = [
        {"filename": c.filename, "hash": c.hash, "cdn_url": c.src, "duration": c.duration_ms / 1000, "motion_score": s}
        for c, s in zip(clips, scores)
    ]
    yield ToolResult(
        cid,
        tool,
        {"status": "success", "scores": [{"filename": c.filename, "score": s} for c, s in zip(clips, scores)]},
        _analysis_delta(ctx, entries),
    )
    yield scores


async def _score_parts(
    ctx: AgentContext, clip: Clip, tool: str, args: dict[str, Any]
) -> AsyncIterator[Step | list[tuple[int, int, float]]]:
    cid = _call_id()
    yield ToolCall(cid, tool, args)
    parts = _parts(clip.duration_ms)
    scores = await ctx.scores([(clip.path, s, d) for s, d in parts])
    scored = [(s, d, sc) for (s, d), sc in zip(parts, scores)]
    whole = sum(d * sc for _, d, sc in scored) / max(1, clip.duration_ms)
    entry = {
        "filename": clip.filename,
        "hash": clip.hash,
        "cdn_url": clip.src,
        "duration": clip.duration_ms / 1000,
        "motion_score": round(whole, 1),
        "segments": [{"start": s / 1000, "end": (s + d) / 1000, "score": sc} for s, d, sc in scored],
    }
    yield ToolResult(
        cid,
        tool,
        {"status": "success", "parts": [{"name": f"Play {i}", "score": sc} for i, (_, _, sc) in enumerate(scored, 1)]},
        _analysis_delta(ctx, [entry]),
    )
    yield scored


async def _leaderboard(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    clips = clips_from_state(ctx.state, ctx.resolve)
    title = intent.title or "Top performers"
    yield Thought("The user wants a ranked leaderboard. I'll score the footage by on-screen action first.")
    yield Preview(_t(intent, "Adding the leaderboard...", "正在添加排行榜……"))
    draft = copy.deepcopy(ctx.state.get("draft") or empty_draft(ctx.state.get("canvas_config")))
    if len(clips) > 1:
        scores: list[float] = []
        async for item in _score_clips(
            ctx, clips, "analyze_video", {"video_urls": [c.src for c in clips], "metric": "motion"}
        ):
            if isinstance(item, list):
                scores = item
            else:
                yield item
        rows = _rank_rows([(c.filename, s) for c, s in zip(clips, scores)])
    else:
        scored: list[tuple[int, int, float]] = []
        async for item in _score_parts(
            ctx,
            clips[0],
            "analyze_video",
            {"video_urls": [clips[0].src], "metric": "motion", "split": LEADERBOARD_MAX_PARTS},
        ):
            if isinstance(item, list):
                scored = item
            else:
                yield item
        rows = _rank_rows([(f"Play {i}", sc) for i, (_, _, sc) in enumerate(scored, 1)])
    _ensure_video(draft, clips)
    _drop_tracks(draft, _is_kind_track("leaderboard"))
    _set_track(draft, _leaderboard_track(title, rows, _video_end(draft)))
    finalize_draft(draft, title=title)
    async for step in _edit(
        ctx, draft, {"operation": "add_leaderboard", "title": title, "rows": rows}, "leaderboard added"
    ):
        yield step
    text = _t(
        intent,
        f'Added the "{title}" leaderboard, ranked by on-screen action: {_fmt_rows(rows)}.',
        f"已添加排行榜「{title}」，按画面动作强度排名：{_fmt_rows(rows)}。",
    )
    if ctx.gui_phrasing:
        text += " " + _t(intent, GUI_EXPORT_EN, GUI_EXPORT_ZH)
    yield Answer(text)


async def _rank(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    clips = clips_from_state(ctx.state, ctx.resolve)
    order_name = "countdown" if intent.countdown else "best_first"
    yield Thought("Ranking the clips by action: score each one, then reorder the timeline.")
    yield Preview(_t(intent, "Ranking your clips by action...", "正在按动作强度为片段排名……"))
    draft = copy.deepcopy(ctx.state.get("draft") or empty_draft(ctx.state.get("canvas_config")))
    args = {"criterion": "motion", "order": order_name, "video_urls": [c.src for c in clips]}
    if len(clips) > 1:
        scores: list[float] = []
        async for item in _score_clips(ctx, clips, "rank_clips", args):
            if isinstance(item, list):
                scores = item
            else:
                yield item
        rows = _rank_rows([(c.filename, s) for c, s in zip(clips, scores)])
        ranked = sorted(range(len(clips)), key=lambda i: (-scores[i], i))
        segs = [_clip_seg(clips[i], sc=scores[i], tr=True) for i in ranked]
    else:
        scored: list[tuple[int, int, float]] = []
        async for item in _score_parts(ctx, clips[0], "rank_clips", {**args, "split": LEADERBOARD_MAX_PARTS}):
            if isinstance(item, list):
                scored = item
            else:
                yield item
        rows = _rank_rows([(f"Play {i}", sc) for i, (_, _, sc) in enumerate(scored, 1)])
        ranked = sorted(range(len(scored)), key=lambda i: (-scored[i][2], i))
        segs = [_clip_seg(clips[0], ss=scored[i][0], d=scored[i][1], sc=scored[i][2], tr=True) for i in ranked]
    if intent.countdown:
        segs.reverse()
    _drop_tracks(draft, lambda t: t.get("tt") == 0)
    _set_track(draft, _video_track(segs))
    _drop_tracks(draft, _is_kind_track("leaderboard"))
    title = intent.title or "Top performers"
    _set_track(draft, _leaderboard_track(title, rows, _video_end(draft)))
    finalize_draft(draft, title=title)
    async for step in _edit(
        ctx, draft, {"operation": "reorder_clips", "order": order_name, "transition": TRANSITION}, "clips ranked"
    ):
        yield step
    if intent.countdown:
        how_en, how_zh = "as a countdown (the best comes last)", "倒数顺序（最佳放在最后）"
    else:
        how_en, how_zh = "best first", "最佳在前"
    yield Answer(
        _t(
            intent,
            f"Ranked your clips by action, {how_en}, with fade transitions and a leaderboard: {_fmt_rows(rows)}.",
            f"已按动作强度为片段排名，{how_zh}，并添加了淡入淡出转场和排行榜：{_fmt_rows(rows)}。",
        )
    )


async def _make_music(ctx: AgentContext, intent: Intent, duration_ms: int) -> AsyncIterator[Step | tuple[str, str]]:
    """generate_music tool pair; the last item yielded is ``(url, display name)``."""
    style = intent.style
    name = STYLE_NAMES.get(style, style.title())
    seconds = max(1.0, duration_ms / 1000)
    cid = _call_id()
    yield ToolCall(cid, "generate_music", {"style": style, "duration": round(seconds, 3)})
    url, path = ctx.new_media(f"{style}.m4a")
    await ctx.to_thread(media.make_music, path, seconds, style=style)
    entry = {
        "id": f"gen_{secrets.token_hex(4)}",
        "type": "music",
        "name": name,
        "style": style,
        "url": url,
        "duration": round(seconds, 3),
    }
    generated = [*(ctx.state.get("generated_media") or []), entry]
    ctx.state["generated_media"] = generated
    yield ToolResult(
        cid,
        "generate_music",
        {"status": "success", "url": url, "duration": round(seconds, 3)},
        {"generated_media": generated},
    )
    yield (url, name)


async def _highlight(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    clips = clips_from_state(ctx.state, ctx.resolve)
    yield Thought("A highlight reel: find the most active moments, cut them together, add music.")
    yield Preview(_t(intent, "Finding the best moments...", "正在寻找精彩瞬间……"))
    draft = copy.deepcopy(ctx.state.get("draft") or empty_draft(ctx.state.get("canvas_config")))
    windows = [(ci, s, d) for ci, c in enumerate(clips) for s, d in _windows(c.duration_ms)]
    cid = _call_id()
    yield ToolCall(
        cid, "analyze_video", {"video_urls": [c.src for c in clips], "metric": "motion", "window_s": HIGHLIGHT_WINDOW_S}
    )
    scores = await ctx.scores([(clips[ci].path, s, d) for ci, s, d in windows])
    scored = [(ci, s, d, sc) for (ci, s, d), sc in zip(windows, scores)]
    entries = []
    for ci, c in enumerate(clips):
        mine = [(s, d, sc) for cj, s, d, sc in scored if cj == ci]
        whole = sum(d * sc for s, d, sc in mine) / max(1, c.duration_ms)
        entries.append(
            {
                "filename": c.filename,
                "hash": c.hash,
                "cdn_url": c.src,
                "duration": c.duration_ms / 1000,
                "motion_score": round(whole, 1),
                "segments": [{"start": s / 1000, "end": (s + d) / 1000, "score": sc} for s, d, sc in mine],
            }
        )
    yield ToolResult(cid, "analyze_video", {"status": "success", "windows": len(scored)}, _analysis_delta(ctx, entries))

    # every clip's best window first, then the best of the rest, up to the budget
    budget = max(1, min(HIGHLIGHT_MAX_WINDOWS, math.ceil(len(scored) / 2)))
    by_score = sorted(range(len(scored)), key=lambda i: (-scored[i][3], i))
    chosen: list[int] = []
    seen_clips: set[int] = set()
    for i in by_score:
        if scored[i][0] not in seen_clips and len(chosen) < budget:
            chosen.append(i)
            seen_clips.add(scored[i][0])
    for i in by_score:
        if len(chosen) >= budget:
            break
        if i not in chosen:
            chosen.append(i)
    chosen.sort(key=lambda i: (scored[i][0], scored[i][1]))
    segs = [_clip_seg(clips[scored[i][0]], ss=scored[i][1], d=scored[i][2], sc=scored[i][3], tr=True) for i in chosen]
    _drop_tracks(draft, lambda t: t.get("tt") == 0)
    _set_track(draft, _video_track(segs))
    reel_ms = _video_end(draft)

    music: tuple[str, str] = ("", "")
    async for item in _make_music(ctx, intent, reel_ms):
        if isinstance(item, tuple):
            music = item
        else:
            yield item
    _drop_tracks(draft, lambda t: t.get("tt") == 1)
    _set_track(draft, _bgm_track(music[1], music[0], reel_ms))
    finalize_draft(draft, title=intent.title)
    async for step in _edit(
        ctx, draft, {"operation": "highlight_reel", "windows": len(segs), "transition": TRANSITION}, "highlight reel"
    ):
        yield step
    text = _t(
        intent,
        f"Your highlight reel is ready: the {len(segs)} most action-packed moments "
        f"({reel_ms / 1000:.1f}s) with fade transitions and {music[1].lower()} music.",
        f"高光集锦已完成：{len(segs)} 个最精彩的片段（{reel_ms / 1000:.1f} 秒），带淡入淡出转场和{music[1]}风格配乐。",
    )
    if ctx.gui_phrasing:
        text += " " + _t(
            intent, "Drag the clips on the timeline to reorder them if you like.", "您可以在时间线上拖拽片段调整顺序。"
        )
    yield Answer(text)


async def _example(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    clips = clips_from_state(ctx.state, ctx.resolve)
    clip = clips[0]
    title = intent.title or "Example Clip"
    yield Preview(_t(intent, "Making a short example clip...", "正在制作示例短片……"))
    draft = empty_draft(ctx.state.get("canvas_config"))
    d = min(EXAMPLE_MAX_MS, clip.duration_ms)
    _set_track(draft, _video_track([_clip_seg(clip, d=d)]))
    _set_track(draft, _title_track(title, d))
    finalize_draft(draft, title=title)
    async for step in _edit(
        ctx, draft, {"operation": "trim_and_title", "max_ms": EXAMPLE_MAX_MS, "title": title}, "example clip"
    ):
        yield step
    yield Answer(
        _t(
            intent,
            f'Here\'s a {d / 1000:.1f}s example clip from {clip.filename} with the title "{title}".',
            f"已从 {clip.filename} 制作了 {d / 1000:.1f} 秒的示例短片，标题为「{title}」。",
        )
    )


async def _music(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    clips = clips_from_state(ctx.state, ctx.resolve)
    yield Preview(_t(intent, "Adding background music...", "正在添加背景音乐……"))
    draft = copy.deepcopy(ctx.state.get("draft") or empty_draft(ctx.state.get("canvas_config")))
    _ensure_video(draft, clips)
    end = _video_end(draft)
    uploaded = [
        i
        for i in ctx.state.get("video_infos") or []
        if isinstance(i, dict) and i.get("file_type") == "audio" and i.get("cdn_url")
    ]
    if uploaded and not intent.style_named:
        audio = uploaded[-1]
        url, name = audio["cdn_url"], str(audio.get("filename") or "Music")
    else:
        music: tuple[str, str] = ("", "")
        async for item in _make_music(ctx, intent, end):
            if isinstance(item, tuple):
                music = item
            else:
                yield item
        url, name = music
    _drop_tracks(draft, lambda t: t.get("tt") == 1)
    _set_track(draft, _bgm_track(name, url, end))
    finalize_draft(draft)
    async for step in _edit(ctx, draft, {"operation": "add_bgm", "volume": BGM_VOLUME, "src": url}, "music added"):
        yield step
    text = _t(
        intent,
        f"Added {name} background music over the whole video ({end / 1000:.1f}s) at 35% volume with fades.",
        f"已为整个视频（{end / 1000:.1f} 秒）添加{name}背景音乐，音量 35%，带淡入淡出。",
    )
    if ctx.gui_phrasing:
        text += " " + _t(intent, "Open the Audio panel to adjust the volume.", "您可以打开音频面板调整音量。")
    yield Answer(text)


async def _title(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    clips = clips_from_state(ctx.state, ctx.resolve)
    title = intent.title or _t(intent, "My Video", "我的视频")
    yield Preview(_t(intent, "Adding the title...", "正在添加标题……"))
    draft = copy.deepcopy(ctx.state.get("draft") or empty_draft(ctx.state.get("canvas_config")))
    _ensure_video(draft, clips)
    _drop_tracks(draft, _is_kind_track("title"))
    _set_track(draft, _title_track(title, _video_end(draft)))
    finalize_draft(draft, title=title)
    async for step in _edit(ctx, draft, {"operation": "add_title", "text": title}, "title added"):
        yield step
    yield Answer(
        _t(intent, f'Added the title "{title}" for the first 3 seconds.', f"已添加标题「{title}」，显示前 3 秒。")
    )


async def _remove_music(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    yield Preview(_t(intent, "Removing the music...", "正在移除音乐……"))
    draft = copy.deepcopy(ctx.state.get("draft") or empty_draft(ctx.state.get("canvas_config")))
    _drop_tracks(draft, lambda t: t.get("tt") == 1)
    finalize_draft(draft)
    async for step in _edit(ctx, draft, {"operation": "remove_bgm"}, "music removed"):
        yield step
    yield Answer(_t(intent, "Removed the background music.", "已移除背景音乐。"))


async def _export(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    draft = ctx.state.get("draft") or {}
    if not any(t.get("sg") for t in draft.get("t") or []):
        yield Answer(
            _t(
                intent,
                "There's nothing to export yet: upload a clip and tell me what to make.",
                "还没有可导出的内容：请先上传片段并告诉我要做什么。",
            )
        )
        return
    if ctx.gui_phrasing:
        yield Answer(
            _t(
                intent,
                "Your video is ready! Click the Export button in the top right corner to download it.",
                "您的视频已准备好！点击右上角的导出按钮即可下载。",
            )
        )
    else:
        yield Answer(_t(intent, "Your video is ready to export.", "您的视频已可以导出。"))


async def _need_clip(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    yield Answer(
        _t(
            intent,
            "I need a video clip for that. Please upload one (mp4, mov, avi, webm or mkv) and ask again.",
            "这需要一个视频片段。请先上传视频（mp4、mov、avi、webm 或 mkv）再试一次。",
        )
    )


async def _no_music(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    yield Answer(_t(intent, "There's no background music to remove.", "当前没有背景音乐可以移除。"))


async def _chat(intent: Intent, ctx: AgentContext) -> AsyncIterator[Step]:
    yield Preview(_t(intent, "Hi!", "你好！"))
    yield Answer(
        _t(
            intent,
            "Hi! I can rank your clips, add a leaderboard, make a highlight reel, add music or a title. "
            "What would you like?",
            "你好！我可以为片段排名、添加排行榜、制作高光集锦、添加音乐或标题。需要我做什么？",
        )
    )


_HANDLERS: dict[str, Callable[[Intent, AgentContext], AsyncIterator[Step]]] = {
    "leaderboard": _leaderboard,
    "rank": _rank,
    "highlight": _highlight,
    "example": _example,
    "music": _music,
    "title": _title,
    "remove_music": _remove_music,
    "export": _export,
    "need_clip": _need_clip,
    "no_music": _no_music,
    "chat": _chat,
}
