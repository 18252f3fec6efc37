"""What an agent run yields: thoughts, previews, tool calls and results, the answer.

The server turns each step into one ADK event (contract section 3).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Preview", "Step", "Thought", "ToolCall", "ToolResult", "tool_call"]


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


def tool_call(name: str, args: dict[str, Any]) -> ToolCall:
    """A :class:`ToolCall` with a fresh ADK call id (``adk-`` and 8 hex digits)."""
    return ToolCall(f"adk-{secrets.token_hex(4)}", name, args)
