"""Motion scores: how much the picture moves, from ffmpeg's ``signalstats`` YDIF."""

from __future__ import annotations

import math
import re
from pathlib import Path

from emulator.media.ffmpeg import run_ffmpeg
from emulator.media.probing import probe

__all__ = ["motion_score"]

_YDIF_RE = re.compile(r"lavfi\.signalstats\.YDIF=([0-9.eE+-]+)")
#: per-frame YDIF cap so one hard cut does not dominate a clip's score
_YDIF_CAP = 50.0
#: YDIF mean at which the score reaches 1 - 1/e (about 63)
_YDIF_SCALE = 10.0


def motion_score(path: Path, *, start_s: float = 0.0, duration_s: float | None = None) -> float:
    """Measure how much the picture moves, as a score from 0 (static) to 100.

    ffmpeg samples the clip at 10 fps, shrinks it to 160x90 grey and lets ``signalstats``
    report YDIF (mean absolute luma difference to the previous sampled frame, 0-255). The
    mean YDIF (each frame capped at 50, so a single cut does not dominate) maps to
    ``100 * (1 - exp(-mean / 10))``. Deterministic for the same input; about 0.1 s for
    a 10 s 720p clip.

    Args:
        path: local media file.
        start_s: where to start measuring, seconds.
        duration_s: how much to measure, seconds (``None``: to the end).

    Returns:
        The score rounded to 0.1. Images, audio-only files and clips with fewer than two
        sampled frames score 0.0.

    Raises:
        MediaError: the file is not decodable media or ffmpeg fails.
    """
    info = probe(path)
    if not info.has_video or info.kind == "image":
        return 0.0
    args = ["-nostats", "-loglevel", "error", "-threads", "2"]
    if start_s and start_s > 0:
        args += ["-ss", f"{start_s:.3f}"]
    if duration_s is not None:
        if duration_s <= 0:
            return 0.0
        args += ["-t", f"{duration_s:.3f}"]
    vf = (
        "fps=10,scale=160:90:flags=area,format=gray,signalstats,"
        "metadata=mode=print:key=lavfi.signalstats.YDIF:file='pipe\\:1'"
    )
    args += ["-i", str(path), "-map", "0:v:0", "-an", "-sn", "-vf", vf, "-f", "null", "-"]
    proc = run_ffmpeg(args, timeout=120)
    values = [float(m.group(1)) for m in _YDIF_RE.finditer(proc.stdout)]
    values = values[1:]  # the first frame has no predecessor (YDIF 0)
    if not values:
        return 0.0
    mean = sum(min(v, _YDIF_CAP) for v in values) / len(values)
    return round(100.0 * (1.0 - math.exp(-mean / _YDIF_SCALE)), 1)
