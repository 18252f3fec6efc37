"""The renderer's one error type."""

from __future__ import annotations

__all__ = ["RenderError"]


class RenderError(Exception):
    """The draft cannot be rendered: nothing to render, an unknown or broken source, an
    invalid draft, or an ffmpeg failure (then the message ends with ffmpeg's last stderr
    lines)."""
