"""Typed agent events read from NemoVideo's ``/run_sse`` stream.

The stream carries ADK Events (contract section 3). One ADK event can hold several parts,
so :func:`bot.nemo.sse.parse_event` turns each into zero or more of the events below, in
the order the parts appear, followed by :class:`StateChanged` when the event carried a
non-empty ``actions.stateDelta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextAnswer:
    """A complete answer from the model (a text part of a non-partial event).

    Attributes:
        text: The raw answer, before GUI translation (contract section 6).
        author: The ADK ``author`` (e.g. ``"nemo_agent"``), or ``None``.
    """

    text: str
    author: str | None = None


@dataclass(frozen=True, slots=True)
class PartialText:
    """A preview of an answer that will follow in full (``"partial": true``); never shown twice."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The agent called a tool (``functionCall`` part). Internal: only the name drives progress.

    Attributes:
        name: Tool name, e.g. ``"edit_multitrack"``.
        call_id: ADK call id, or ``None``.
        args: The call's arguments (may be empty).
    """

    name: str
    call_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool finished (``functionResponse`` part). Internal, never forwarded to the user."""

    name: str
    call_id: str | None = None
    response: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The session state changed (``actions.stateDelta`` was non-empty).

    Attributes:
        keys: The top-level state keys in the delta, e.g. ``("draft",)``.
        delta: The delta itself.
    """

    keys: tuple[str, ...]
    delta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The backend is still working: ``{"type":"heartbeat"}``, an empty ``data:`` or a ``:`` comment."""


@dataclass(frozen=True, slots=True)
class AgentError:
    """The run failed: an ``errorCode`` event or a top-level ``error`` event.

    Attributes:
        code: ``errorCode`` (e.g. ``"MALFORMED_FUNCTION_CALL"``) or the ``error_type``
            of an ``{"error": ...}`` event, or ``"ERROR"`` when neither is given.
        message: ``errorMessage`` / ``error_message`` / ``error`` text.
    """

    code: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class RunEnd:
    """The server closed the stream normally. Emitted by the client, not the decoder."""


AgentEvent = TextAnswer | PartialText | ToolCall | ToolResult | StateChanged | Heartbeat | AgentError | RunEnd
