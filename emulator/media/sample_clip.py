"""A generated test clip (moving pattern and tone) for demos and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

from emulator.media.ffmpeg import run_ffmpeg

__all__ = ["make_sample_clip"]


def make_sample_clip(out_path: Path, *, duration_s: float = 4.0, width: int = 1280, height: int = 720) -> Path:
    """Generate a moving test clip: ffmpeg's ``testsrc2`` pattern plus a 440 Hz tone.

    H.264 yuv420p at 30 fps with AAC 48 kHz stereo audio, in MP4 with ``+faststart``.

    Args:
        out_path: where to write (``.mp4``; parent folders are created).
        duration_s: length in seconds (0 < duration_s <= 600).
        width: frame width in pixels (even, >= 16).
        height: frame height in pixels (even, >= 16).

    Returns:
        ``out_path``.

    Raises:
        ValueError: bad duration or size.
        MediaError: ffmpeg fails.
    """
    if not (0 < duration_s <= 600):
        raise ValueError(f"duration_s must be in (0, 600], got {duration_s}")
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and >= 16, got {width}x{height}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    d = f"{duration_s:.3f}"
    try:
        run_ffmpeg(
            [
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={width}x{height}:rate=30:duration={d}",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:beep_factor=2:sample_rate=48000:duration={d}",
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-ar",
                "48000",
                "-ac",
                "2",
                "-threads",
                "2",
                "-t",
                d,
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
                str(tmp),
            ],
            timeout=max(120.0, duration_s * 10),
        )
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path
