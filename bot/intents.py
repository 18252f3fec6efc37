"""Intent routing: what a chat message asks for (pure, table-tested).

Commands (``/export``, ``/export@MyBot``, ``/skill NAME``...) map directly. Plain messages
map by the skills' keywords in English and Chinese: export/导出/download/"send me the video";
credits/积分/balance/余额; status/状态/"show tracks"; upload/上传 or any attachment.
Everything else goes to the agent. Keyword intents only match short messages (8 words or
fewer) so an edit request that merely contains "export" still reaches the agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

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
    UNKNOWN_COMMAND = "unknown_command"


@dataclass(frozen=True, slots=True)
class Intent:
    """A routed message.

    Attributes:
        kind: The intent.
        arg: The command argument (``/skill NAME`` -> ``NAME``), the text to send to the
            agent (AGENT, and UPLOAD with a request next to the files), or the unknown
            command's name.
    """

    kind: IntentKind
    arg: str = ""


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
}

MENU: tuple[str, ...] = ("export", "status", "credits", "new", "skill", "link", "cancel", "connect", "logout", "help")
"""The commands every platform's command menu lists, in order; each is described by the
catalog message ``command.<name>`` (Telegram ``setMyCommands``, Discord slash commands)."""

_EXPORT = re.compile(
    r"^(?:please\s+)?(?:export|render|download)\b|send\s+me\s+the\s+(?:video|file|mp4|result)"
    r"|give\s+me\s+the\s+(?:video|file|mp4)|导出|下载|渲染|发给我|把视频发",
    re.I,
)
_CREDITS = re.compile(
    r"^(?:(?:show|check|what'?s|what\s+is)\s+)?(?:my\s+)?(?:credits?|balance)\b(?!\s+(?:at|to|on|in)\b)"
    r"|how\s+many\s+credits|credits?\s+(?:left|balance)|积分|余额|点数",
    re.I,
)
_STATUS = re.compile(
    r"^(?:show\s+)?(?:the\s+)?status\b|show\s+(?:me\s+)?(?:the\s+)?(?:tracks|timeline)"
    r"|what'?s\s+on\s+the\s+timeline|状态|进度|查看轨道|查看时间线",
    re.I,
)
_UPLOAD = re.compile(r"^(?:upload|上传)", re.I)
_CANCEL = re.compile(r"^(?:cancel|stop|abort|取消|停止)[.!。！]?$", re.I)
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)


def _short(text: str) -> bool:
    return len(text.split()) <= 8 and len(text) <= 60


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
        if not body or (_UPLOAD.match(body) and _short(body)) or body.startswith("/upload"):
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
    if _CANCEL.match(body):
        return Intent(IntentKind.CANCEL)
    if _short(body):
        for pattern, kind in (
            (_EXPORT, IntentKind.EXPORT),
            (_CREDITS, IntentKind.CREDITS),
            (_STATUS, IntentKind.STATUS),
        ):
            if pattern.search(body):
                return Intent(kind)
        if _UPLOAD.match(body):
            return Intent(IntentKind.UPLOAD)
    return Intent(IntentKind.AGENT, body)
