"""GUI translation of agent answers (contract section 6).

The backend writes as if the user had the web editor open. Sentences that tell the user to
click, open, drag or preview something in the GUI are removed and turned into actions the
bot performs or offers itself; the content descriptions are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# (action, pattern). Order matters: the first match names the action of a sentence.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "export",
        re.compile(r"export\s+button|click\s+(?:on\s+)?(?:the\s+)?\[?export|导出按钮|点击\s*[「“\[]?导出", re.I),
    ),
    (
        "credits",
        re.compile(
            r"(?:check|open|view)\s+(?:your\s+)?(?:account|billing|credits?|balance)|查看(?:账户|账单|积分|余额)", re.I
        ),
    ),
    (
        "timeline",
        re.compile(r"preview\s+(?:it\s+)?(?:in|on)\s+the\s+timeline|在时间线(?:上|中)?预览|timeline\s+panel", re.I),
    ),
    (
        "timeline",
        re.compile(
            r"\bopen\s+(?:the\s+)?\[?[\w\s]{0,30}?(?:panel|tab|sidebar|menu|editor)\b|打开\S{0,12}(?:面板|菜单|编辑器)",
            re.I,
        ),
    ),
    ("edit", re.compile(r"\bdrag\b|drag[- ]and[- ]drop|\bdrop\s+(?:it|the)|拖拽|拖动", re.I)),
    ("click", re.compile(r"\bclick(?:ing)?\b|\btap\s+(?:on\s+)?the\b|点击|单击", re.I)),
)

_SENTENCE = re.compile(r"\n|[^.!?。！？\n]+(?:[.!?。！？]+|$)|[.!?。！？]+")


@dataclass(frozen=True, slots=True)
class Translation:
    """A GUI-translated answer.

    Attributes:
        text: The answer without GUI instructions (may be empty).
        actions: What the removed sentences asked for: ``export`` (offer the export),
            ``credits`` (show the credits), ``timeline`` (show the timeline summary),
            ``edit`` (tell the user to describe the change), ``click`` (a generic GUI step).
    """

    text: str
    actions: frozenset[str] = field(default_factory=frozenset)


def translate(text: str) -> Translation:
    """Remove GUI instructions from an agent answer.

    Args:
        text: The raw answer.

    Returns:
        The kept text (whitespace tidied) and the actions the removed sentences implied.
    """
    kept: list[str] = []
    actions: set[str] = set()
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if not sentence.strip():
            kept.append(sentence)
            continue
        action = next((name for name, pattern in _RULES if pattern.search(sentence)), None)
        if action is None:
            kept.append(sentence)
        else:
            actions.add(action)
    cleaned = "".join(kept)
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    return Translation(cleaned, frozenset(actions))
