"""What the agent works with: the session's uploaded clips and the server's services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator import media

__all__ = ["AgentContext", "Clip", "clips_from_state"]


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
    out: list[Clip] = []
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
                duration_ms=round(float(dur) * 1000),
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
