"""Does a plain message ask for a command, or is it an edit for the agent? A scored classifier.

The skills route by keywords (export/导出, credits/积分, status/状态, upload/上传), but what
they mean is the request, not the word: "balance the audio levels" is an edit, "looks great,
send it over" is an export. Each command kind has phrase patterns in English and Chinese with
weights: a pattern that matches the whole message as a request ("ok export now") weighs 3, a
telling phrase inside a sentence ("how many credits") 2-3, the bare keyword anywhere 1-1.5.
Words that describe an edit (add, title, music, 字幕, 顶部...) take 1 each from the
score of every pattern that did not match the whole message (at most 3), long messages 1 more. The best command's score is the
:class:`Verdict`'s confidence:

* at least :data:`SURE` (2.5): the command;
* at least :data:`UNSURE` (1.0): ask with one-tap buttons (the command, or send it to the
  editor);
* below: the agent.

Pure and table-tested (``tests/bot/test_routing_table.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

SURE = 2.5
"""Confidence from which a message is the command."""
UNSURE = 1.0
"""Confidence from which the user is asked (below it, the message goes to the agent)."""
MAX_EDIT_PENALTY = 3.0
LONG_MESSAGE_WORDS = 16


class Asked(StrEnum):
    """The commands plain words can ask for."""

    EXPORT = "export"
    CREDITS = "credits"
    STATUS = "status"
    UPLOAD = "upload"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a plain message asks for.

    Attributes:
        asked: The likeliest command, or ``None`` when nothing points to one.
        confidence: Its score (0 when ``asked`` is ``None``); compare with :data:`SURE` and
            :data:`UNSURE`.
    """

    asked: Asked | None
    confidence: float

    @property
    def sure(self) -> bool:
        """The message is the command."""
        return self.asked is not None and self.confidence >= SURE

    @property
    def unsure(self) -> bool:
        """The message may be the command: ask."""
        return self.asked is not None and UNSURE <= self.confidence < SURE


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_FILL = r"(?:(?:ok(?:ay)?|alright|all\s+right|great|perfect|cool|nice|good|awesome|amazing|done|yes|yep|yeah|sure|fine|now|so|then|and|hey|right|thanks|thank\s+you)\W+)*"
_PLEASE = r"(?:(?:please|pls|plz|can\s+you|could\s+you|would\s+you|let'?s|go\s+ahead\s+and|time\s+to|i\s+want\s+to|i'?d\s+like\s+to|now)\s+)*"
_END = r"[\s.!?。！？~]*$"
_IT = r"(?:it|this|that|everything|the\s+(?:video|clip|result|edit|project|final(?:\s+(?:video|cut|version|edit))?|mp4|file|thing|movie)|my\s+(?:video|clip|edit|project))"

CUES: dict[Asked, tuple[tuple[re.Pattern[str], float], ...]] = {
    Asked.EXPORT: (
        (
            _p(
                rf"^{_FILL}{_PLEASE}(?:export|render|download|finali[sz]e|publish)"
                rf"(?:\s+(?:{_IT}|now|please|pls|for\s+me|already|again|right\s+away|in\s+1080p?|as\s+(?:an?\s+)?mp4))*{_END}"
            ),
            3.0,
        ),
        (
            _p(
                rf"^{_FILL}{_PLEASE}(?:send|give|share|pass)\s+(?:it|that|this)(?:\s+(?:over|to\s+me|back|here|now))+{_END}"
            ),
            3.0,
        ),
        (
            _p(
                r"\b(?:send|give|share)\s+me\s+(?:the|my)\s+(?:video|file|mp4|result|clip|final(?:\s+\w+)?|edit|movie)\b"
            ),
            3.0,
        ),
        (
            _p(
                r"\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:happy|done|good|satisfied|finished|ready)\b.*\b(?:export|render|send)\b"
            ),
            3.0,
        ),
        (
            _p(r"\blooks?\s+(?:great|good|perfect|fine|awesome|amazing)\b.*\b(?:export|render|send\s+it|send\s+me)\b"),
            3.0,
        ),
        (_p(rf"\b(?:export|render)\s+(?:{_IT}\s+)?now{_END}"), 2.5),
        (_p(r"^(?:please\s+)?(?:export|render|download)\b"), 2.0),
        (_p(r"\b(?:export|render|download)\b"), 1.5),
        (
            _p(
                r"^(?:好(?:的|了|啦)?|可以了?|行|没问题|完美|不错|很好)?[，,。!！\s]*(?:请|帮我|麻烦)?"
                r"(?:导出|渲染|输出|生成)(?:视频|成片|最终视频|一下|吧|出来)*[。!！]*$"
            ),
            3.0,
        ),
        (_p(r"发给我|把视频发(?:给我|过来)|发过来吧|下载视频|导出成片|导出吧|可以导出了"), 3.0),
        (_p(r"导出|渲染|下载"), 1.5),
    ),
    Asked.CREDITS: (
        (
            _p(
                rf"^{_FILL}(?:(?:show|check|what'?s|what\s+is|what\s+are|how\s+much\s+is|see|view)\s+)?(?:me\s+)?(?:my\s+|the\s+)?"
                rf"(?:credits?|balance|credit\s+balance|remaining\s+credits)(?:\s+(?:left|remaining|please|now|balance))*{_END}"
            ),
            3.0,
        ),
        (
            _p(
                r"\bhow\s+many\s+credits\b|\bcredits?\s+(?:do\s+i\s+have|left|remaining)\b|\bhow\s+much\s+(?:credit|balance)\b"
                r"|\b(?:am\s+i|i'?m)\s+out\s+of\s+credits\b|\bdo\s+i\s+have\s+(?:any\s+)?credits\b"
            ),
            3.0,
        ),
        (_p(r"\b(?:credits?|balance)\b"), 1.0),
        (
            _p(
                r"^(?:查看|查询|看看|看一下|我的|还剩|剩余|剩下)*(?:积分|余额|点数)(?:还剩多少|还有多少|多少|呢|吗)?[？?。!！]*$"
            ),
            3.0,
        ),
        (_p(r"还有多少积分|积分还剩|余额多少|剩多少积分|积分够不够"), 3.0),
        (_p(r"积分|余额|点数"), 1.0),
    ),
    Asked.STATUS: (
        (_p(rf"^{_FILL}(?:show\s+(?:me\s+)?)?(?:the\s+|my\s+)?(?:status|progress)(?:\s+please)?{_END}"), 3.0),
        (
            _p(
                r"^(?:so\s+)?where\s+(?:are|were)\s+we\b(?:\s+(?:at|now|with\s+(?:it|this|the\s+(?:video|project|edit))))*[\s.!?]*$"
            ),
            3.0,
        ),
        (
            _p(
                r"\bwhat'?s\s+(?:on\s+)?(?:the|my)\s+timeline\b|\bshow\s+(?:me\s+)?(?:the\s+|my\s+)?(?:tracks|timeline|project)\b"
            ),
            3.0,
        ),
        (
            _p(
                r"\bwhat\s+(?:have\s+we|has\s+been)\s+(?:got|done)\b|\bhow'?s\s+(?:it|the\s+(?:video|project|edit))\s+(?:going|looking)\b"
            ),
            3.0,
        ),
        (
            _p(
                r"\bwhat\s+(?:does|do)\s+(?:it|the\s+(?:video|project|timeline))\s+(?:look\s+like|have)\s+(?:now|so\s+far)\b"
            ),
            3.0,
        ),
        (_p(r"\b(?:status|timeline|tracks|progress)\b"), 1.0),
        (_p(r"^(?:查看|看看|显示|看一下)?(?:当前)?(?:状态|进度|时间线|轨道)(?:呢|如何|怎么样)?[？?。!！]*$"), 3.0),
        (_p(r"现在(?:进展|进度|情况)(?:如何|怎么样)|做到哪了|到哪一步了|时间线上有什么"), 3.0),
        (_p(r"状态|进度|时间线"), 1.0),
    ),
    Asked.UPLOAD: (
        (
            _p(
                rf"^{_FILL}(?:how\s+(?:do|can)\s+i\s+|i\s+want\s+to\s+|let\s+me\s+|can\s+i\s+)?upload"
                rf"(?:\s+(?:a|my|the|another|more|some|new)\s+(?:clips?|videos?|files?|footage|recordings?))?{_END}"
            ),
            3.0,
        ),
        (_p(r"\bupload\b"), 1.0),
        (_p(r"^(?:怎么|如何|我要|我想)?上传(?:视频|素材|文件|片段)?[。!！？?]*$"), 3.0),
        (_p(r"上传"), 1.0),
    ),
    Asked.CANCEL: (
        (
            _p(
                rf"^{_FILL}(?:please\s+)?(?:cancel|stop|abort|halt)(?:\s+(?:it|that|this|now|the\s+(?:render|export|run|edit|job)))*{_END}"
            ),
            3.0,
        ),
        (_p(r"^(?:never\s*mind|forget\s+it)[\s.!]*$"), 2.5),
        (_p(r"\b(?:cancel|stop|abort)\b"), 1.0),
        (_p(r"^(?:取消|停止|别做了|算了|不要了)(?:吧|渲染|导出|任务)?[。!！]*$"), 3.0),
        (_p(r"取消|停止"), 1.0),
    ),
}
"""Per command: ``(pattern, weight)``; a message's score for a command is its heaviest match."""

EDIT_WORDS = (
    _p(
        r"\b(?:add|adding|put|make|change|set|move|remove|delete|insert|replace|apply|use|swap|overlay|title|titles|text|caption"
        r"|subtitles?|font|colou?r|gold|golden|red|blue|green|white|black|music|song|songs|soundtrack|sound|audio|volume|levels?"
        r"|fade|transitions?|effects?|glow|roll|intro|outro|corner|top|bottom|leaderboard|speed|slow|slower|faster"
        r"|zoom|crop|trim|cut|bar|banner|logo|sticker|filter|brightness|contrast|beat|bass|mix|louder|quieter|vertical|square"
        r"|rank|ranking|highlights?|reel|scene|frames?|seconds?|animation|bold|italic|bigger|smaller|center|position)\b"
    ),
    _p(
        r"添加|加上|加个|加一|放在|放到|改成|换成|移动|删除|去掉|字幕|标题|文字|音乐|配乐|音量|特效|转场|顶部|底部|角落|左上|右上"
        r"|排行榜|颜色|金色|红色|速度|慢动作|裁剪|剪掉|状态栏|进度条|片头|片尾|滤镜|竖屏|横屏|高光|集锦"
    ),
)
"""Words that describe an edit: each match takes 1 from every command's score."""
NOT_EDITS = _p(r"\bfinal\s+(?:cut|edit|version)\b")
"""Phrases made of edit words that name the result ("the final cut"), not an edit."""


def classify(text: str) -> Verdict:
    """Score ``text`` (a plain message, no leading ``/``) against every command.

    Args:
        text: The message, stripped of invisible characters.

    Returns:
        The likeliest command and its confidence (``Verdict(None, 0.0)`` when none scores).
    """
    edits = NOT_EDITS.sub(" ", text)
    penalty = min(MAX_EDIT_PENALTY, float(sum(len(p.findall(edits)) for p in EDIT_WORDS)))
    if len(text.split()) > LONG_MESSAGE_WORDS:
        penalty += 1.0
    best: Asked | None = None
    best_score = 0.0
    for asked, cues in CUES.items():
        for pattern, weight in cues:
            if not pattern.search(text):
                continue
            # a pattern that matched the whole message matched it as a request: nothing to take off
            score = weight if pattern.pattern.startswith("^") and pattern.pattern.endswith("$") else weight - penalty
            if score > best_score:
                best, best_score = asked, score
    return Verdict(best, best_score) if best is not None else Verdict(None, 0.0)
