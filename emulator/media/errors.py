"""The media tooling's one error type."""

from __future__ import annotations

__all__ = ["MediaError"]


class MediaError(Exception):
    """Not decodable media, or an ffmpeg failure (the message carries the stderr tail)."""
