"""Poster frames: one still taken from a rendered video, as JPEG.

A delivered video gets one as its Telegram thumbnail; a video too large to send goes out as a
link under one (a Telegram photo, a Discord embed image). Frames are decoded with PyAV (its
own FFmpeg libraries; no ffmpeg binary is needed) and scaled and encoded with Pillow.

Everything here is blocking CPU work (tens of ms for a 1080p frame): call it in a worker
thread. A poster is optional, so failures return ``None`` and are logged, never raised.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 320
"""Longest side of a video thumbnail (px): Telegram ``sendVideo`` ``thumbnail`` (Bot API)."""
THUMBNAIL_BYTES = 200 * 1024
"""Largest thumbnail (bytes): Telegram's limit is "less than 200 kB" (Bot API ``sendVideo``)."""
PHOTO_SIDE = 1280
"""Longest side of the still sent with a link (px): Telegram shows photos up to 1280 px."""
PHOTO_BYTES = 1024 * 1024
"""Largest still sent with a link (bytes); Telegram allows 10 MB, a chat needs far less."""
HEAD_BYTES = 4 * 1024 * 1024
"""Bytes fetched from the start of a video too large to send, to find its poster frame in:
an MP4 with its index first (``+faststart``) holds seconds of 1080p video in 4 MB."""
AT_S = 1.0
"""Where the poster frame is taken (s): past a fade-in, early enough to be in :data:`HEAD_BYTES`."""
MAX_FRAMES = 300
"""Frames decoded at most while looking for :data:`AT_S` (bounds the CPU a broken file costs)."""


@dataclass(frozen=True, slots=True)
class Still:
    """A poster frame.

    Attributes:
        jpeg: JPEG bytes.
        width: Width in pixels.
        height: Height in pixels.
    """

    jpeg: bytes
    width: int
    height: int


def poster(
    video: Path | bytes, *, max_side: int = PHOTO_SIDE, max_bytes: int = PHOTO_BYTES, at_s: float = AT_S
) -> Still | None:
    """The frame at ``at_s`` (or the last one before the video, or its readable start, ends).

    Args:
        video: An MP4 file, or the first bytes of one (:data:`HEAD_BYTES`): a cut-off file
            gives the last frame decoded before the cut.
        max_side: Longest side of the result (px); smaller frames are not enlarged.
        max_bytes: Largest JPEG (bytes): the quality is lowered until it fits.
        at_s: Where to take the frame (s from the start).

    Returns:
        The JPEG still, or ``None`` when no frame could be decoded or it cannot fit.
    """
    try:
        image = _frame(video, at_s)
    except Exception as exc:  # noqa: BLE001 - PyAV raises many types for broken or cut files
        log.info("no poster frame: %s", type(exc).__name__)
        return None
    if image is None:
        return None
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    for quality in (85, 70, 55, 40):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= max_bytes:
            return Still(out.getvalue(), image.width, image.height)
    log.info("no poster frame: %dx%d does not fit in %d bytes", image.width, image.height, max_bytes)
    return None


def thumbnail(video: Path | bytes) -> Still | None:
    """A video thumbnail within Telegram's limits (:data:`THUMBNAIL_SIDE`, :data:`THUMBNAIL_BYTES`)."""
    return poster(video, max_side=THUMBNAIL_SIDE, max_bytes=THUMBNAIL_BYTES)


def _frame(video: Path | bytes, at_s: float) -> Image.Image | None:
    """Decode up to :data:`MAX_FRAMES` frames; the first at or after ``at_s``, else the last decoded."""
    import av  # imported on first use: 0.1 s a process that never sends a video need not pay

    source = io.BytesIO(video) if isinstance(video, bytes) else str(video)
    best: av.VideoFrame | None = None
    with av.open(source, mode="r") as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        try:
            for count, frame in enumerate(container.decode(stream), start=1):
                best = frame
                if (frame.time is not None and frame.time >= at_s) or count >= MAX_FRAMES:
                    break
        except (av.error.InvalidDataError, av.error.EOFError, EOFError) as exc:
            if best is None:
                raise
            log.debug("video ends early (%s): the last decoded frame is the poster", type(exc).__name__)
        return best.to_image() if best is not None else None
