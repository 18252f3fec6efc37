"""GUI translation of agent answers (contract section 6).

The backend writes as if the user had the web editor open. Sentences that tell the user to
click, open, drag or preview something in the GUI are removed and turned into actions the
bot performs itself, as the skills ask:

* press Export -> the export runs (export costs no credits); mentioned as an option ("you
  can ... then click Export") -> offered (a hint and the Export button);
* check credits / billing -> the balance is shown;
* preview in the timeline, open a panel -> the track summary is shown;
* drag / drop, click any other button -> the step is asked of the agent in one follow-up run
  (mentioned as an option, "drag them if you like": a hint that the bot can do it);
* "your video is ready" while no render ran -> dropped (the render says it when it is).

A sentence can ask for several things ("preview it in the timeline, then click Export").
The content descriptions are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# (action, pattern): every action whose pattern matches a sentence is taken from it.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "export",
        re.compile(
            r"export\s+button|(?:click|press|tap|hit)\s+(?:on\s+)?(?:the\s+)?[\[「“\"']?export|导出按钮|(?:点击|按)\s*[「“\[]?导出",
            re.I,
        ),
    ),
    (
        "credits",
        re.compile(
            r"(?:check|open|view)\s+(?:your\s+)?(?:account|billing|credits?|balance)|查看(?:账户|账单|积分|余额)", re.I
        ),
    ),
    (
        "timeline",
        re.compile(
            r"preview\s+(?:it\s+|the\s+\w+\s+)?(?:in|on)\s+the\s+timeline|在时间线(?:上|中)?预览|timeline\s+panel"
            r"|\bopen\s+(?:the\s+)?[\[「“\"']?[\w\s]{0,30}?(?:panel|tab|sidebar|menu|editor)\b|打开\S{0,12}(?:面板|菜单|编辑器)",
            re.I,
        ),
    ),
    ("edit", re.compile(r"\bdrag(?:ging)?\b|drag[- ]and[- ]drop|\bdrop\s+(?:it|the)|拖拽|拖动", re.I)),
    ("click", re.compile(r"\b(?:click|press|tap)(?:ing)?\b|点击|单击", re.I)),
    (
        "ready",
        re.compile(
            r"\b(?:your|the)\s+(?:final\s+)?(?:video|clip|export)\s+(?:is|has\s+been)\s+(?:now\s+)?(?:ready|exported|rendered|done)\b"
            r"|视频已(?:经)?(?:准备好|完成|导出|生成)|视频(?:准备好了|做好了)",
            re.I,
        ),
    ),
)

_OFFER = re.compile(
    r"\b(?:you\s+can|you\s+may|you\s+could|when\s+you(?:'re|\s+are)\s+(?:ready|happy|done)|if\s+you\s+(?:want|like|wish)|feel\s+free)\b"
    r"|可以|如果你|准备好后|满意后",
    re.I,
)
"""A step mentioned as an option ("you can ... click Export", "drag them if you like"), not an
instruction: offered, not carried out."""

_API_ACTIONS = frozenset({"export", "offer_export", "credits", "timeline"})
"""Actions the bot carries out itself; a click in the same sentence is covered by them."""

_SENTENCE = re.compile(r"\n|[^.!?。！？\n]+(?:[.!?。！？]+|$)|[.!?。！？]+")


@dataclass(frozen=True, slots=True)
class Translation:
    """A GUI-translated answer.

    Attributes:
        text: The answer without GUI instructions (may be empty).
        actions: What the removed sentences asked for: ``export`` (run the export),
            ``offer_export`` (offer it: a hint and the Export button),
            ``credits`` (show the credits), ``timeline`` (show the track summary),
            ``edit`` / ``click`` (a step only the agent can do: see :attr:`requests`),
            ``offer_edit`` (such a step mentioned as an option: a hint),
            ``ready`` (a claim that the video is ready, dropped).
        requests: The removed sentences that ask for a step the bot has no action for
            (drag/drop, a click on another button), to be asked of the agent.
    """

    text: str
    actions: frozenset[str] = field(default_factory=frozenset)
    requests: tuple[str, ...] = ()


def translate(text: str) -> Translation:
    """Remove GUI instructions from an agent answer.

    Args:
        text: The raw answer.

    Returns:
        The kept text (whitespace tidied), the actions the removed sentences implied, and
        the sentences to ask of the agent.
    """
    kept: list[str] = []
    actions: set[str] = set()
    requests: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if not sentence.strip():
            kept.append(sentence)
            continue
        found = {name for name, pattern in _RULES if pattern.search(sentence)}
        if not found:
            kept.append(sentence)
            continue
        if "export" in found and _OFFER.search(sentence):
            found = (found - {"export"}) | {"offer_export"}
        if found & _API_ACTIONS:
            found.discard("click")  # "click Export": the bot's own action covers the click
        if found & {"edit", "click"} and _OFFER.search(sentence):
            found = (found - {"edit", "click"}) | {"offer_edit"}  # "drag them if you like": a hint
        actions |= found
        if found & {"edit", "click"}:
            requests.append(sentence.strip())
    cleaned = "".join(kept)
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    return Translation(cleaned, frozenset(actions), tuple(requests))
