"""Intent routing: what a chat message asks for (pure, table-tested).

Commands (``/export``, ``/export@MyBot``, ``/skill NAME``...) map directly. A plain message
is scored by :mod:`bot.classifier`: a clear request ("ok export now", "how many credits",
"where are we", 导出, 余额) is the command; a clear edit that merely mentions a command word
("balance the audio levels", "render the title in gold") goes to the agent; the few in
between are :attr:`IntentKind.CONFIRM`, answered with one-tap buttons (the command, or send
the message to the editor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.classifier import SURE, UNSURE, Asked, classify
from bot.cleaning import strip_invisible


class IntentKind(StrEnum):
    """What the engine does with a message."""

    EMPTY = "empty"
    AGENT = "agent"
    UPLOAD = "upload"
    EXPORT = "export"
    CREDITS = "credits"
    STATUS = "status"
    NEW = "new"
    SKILL = "skill"
    HELP = "help"
    LINK = "link"
    START = "start"
    CANCEL = "cancel"
    LOGIN = "login"
    LOGOUT = "logout"
    CONNECT = "connect"
    ADMIN = "admin"
    CONFIRM = "confirm"
    EDITOR = "editor"
    UNKNOWN_COMMAND = "unknown_command"


@dataclass(frozen=True, slots=True)
class Intent:
    """A routed message.

    Attributes:
        kind: The intent.
        arg: The command argument (``/skill NAME`` -> ``NAME``), the text to send to the
            agent (AGENT, CONFIRM, and UPLOAD with a request next to the files), or the
            unknown command's name.
        suggested: For CONFIRM: the command the message may be asking for.
        confidence: How sure the classifier was (1.0 for commands typed as ``/name``).
    """

    kind: IntentKind
    arg: str = ""
    suggested: IntentKind | None = None
    confidence: float = 1.0


COMMANDS: dict[str, IntentKind] = {
    "export": IntentKind.EXPORT,
    "credits": IntentKind.CREDITS,
    "status": IntentKind.STATUS,
    "new": IntentKind.NEW,
    "skill": IntentKind.SKILL,
    "help": IntentKind.HELP,
    "link": IntentKind.LINK,
    "start": IntentKind.START,
    "upload": IntentKind.UPLOAD,
    "cancel": IntentKind.CANCEL,
    "stop": IntentKind.CANCEL,
    "login": IntentKind.LOGIN,
    "logout": IntentKind.LOGOUT,
    "connect": IntentKind.CONNECT,
    "admin": IntentKind.ADMIN,
    "editor": IntentKind.EDITOR,
}

CONFIRMABLE = frozenset({IntentKind.EXPORT, IntentKind.STATUS, IntentKind.CREDITS})
"""Commands a message may be asked about with one-tap buttons (their own button and "send to
the editor"); an unsure upload or cancel is an edit."""

MENU: tuple[str, ...] = ("export", "status", "credits", "new", "skill", "link", "cancel", "connect", "logout", "help")
"""The commands every platform's command menu lists, in order; each is described by the
catalog message ``command.<name>`` (Telegram ``setMyCommands``, Discord slash commands)."""

_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)


def route(text: str | None, has_attachments: bool = False) -> Intent:
    """Route one message.

    Args:
        text: The message text (may be ``None`` or empty).
        has_attachments: The message carries files.

    Returns:
        The intent. Attachments always mean UPLOAD; the text next to them, unless it only
        says "upload", is kept as ``arg`` for the agent.
    """
    body = strip_invisible(text or "").strip()  # a message of only invisible characters is empty
    if has_attachments:
        verdict = classify(body)
        if not body or body.startswith("/upload") or (verdict.asked is Asked.UPLOAD and verdict.confidence >= UNSURE):
            return Intent(IntentKind.UPLOAD)
        return Intent(IntentKind.UPLOAD, body)
    if not body:
        return Intent(IntentKind.EMPTY)
    command = _COMMAND.match(body)
    if command:
        name = command.group(1).lower()
        arg = (command.group(2) or "").strip()
        kind = COMMANDS.get(name)
        if kind is None:
            return Intent(IntentKind.UNKNOWN_COMMAND, name)
        return Intent(kind, arg)
    verdict = classify(body)
    if verdict.asked is None or verdict.confidence < UNSURE:
        return Intent(IntentKind.AGENT, body, confidence=1.0 - verdict.confidence / SURE)
    kind = IntentKind(verdict.asked.value)
    if verdict.sure:
        return Intent(kind, confidence=min(1.0, verdict.confidence / 3.0))
    if kind not in CONFIRMABLE:  # "stop the music at 0:30", "upload speed text": edits
        return Intent(IntentKind.AGENT, body, confidence=1.0 - verdict.confidence / SURE)
    return Intent(IntentKind.CONFIRM, body, suggested=kind, confidence=verdict.confidence / SURE)
