"""Step 4 of a render: the ffmpeg command line and its run, with progress."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from emulator.render.errors import RenderError
from emulator.render.graph import FilterGraph
from emulator.render.units import FPS, SAMPLE_RATE

__all__ = ["encode_command", "run_ffmpeg"]


def encode_command(
    exe: str, graph: FilterGraph, picture: str, sound: str, *, total_s: float, preset: str, out: Path
) -> list[str]:
    """The ffmpeg command encoding a filter graph's output to MP4.

    H.264 yuv420p (CRF 23, 30 fps, 2 threads), AAC 160 kb/s 48 kHz stereo, ``+faststart``;
    progress lines go to stdout (``-progress pipe:1``).

    Args:
        exe: The ffmpeg executable.
        graph: The complete filter graph.
        picture: Label of the final picture.
        sound: Label of the final sound.
        total_s: Output length in seconds.
        preset: libx264 preset.
        out: The file to write.
    """
    cmd = [exe, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for args in graph.inputs:
        cmd += args
    cmd += [
        "-filter_complex", ";".join(graph.chains),
        "-map", f"[{picture}]", "-map", f"[{sound}]",
        "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
        "-r", str(FPS), "-threads", "2",
        "-c:a", "aac", "-b:a", "160k", "-ar", str(SAMPLE_RATE), "-ac", "2",
        "-t", f"{total_s:.3f}", "-movflags", "+faststart",
        "-progress", "pipe:1", "-nostats", "-f", "mp4", str(out),
    ]  # fmt: skip
    return cmd


def _report(proc: subprocess.Popen[str], total_s: float, progress: Callable[[float], None] | None) -> None:
    """Feeds ffmpeg's ``out_time_us`` progress lines to ``progress`` as increasing percentages."""
    assert proc.stdout is not None
    last = 0.0
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        if key != "out_time_us" or progress is None:
            continue
        try:
            us = int(value)
        except ValueError:
            continue  # "N/A" before the first frame
        pct = max(0.0, min(99.0, us / 1e6 / total_s * 100)) if total_s > 0 else 0.0
        if pct > last:
            last = pct
            progress(round(pct, 1))


def run_ffmpeg(cmd: list[str], total_s: float, progress: Callable[[float], None] | None, stderr_path: Path) -> None:
    """Run an ffmpeg command to the end (blocking), reporting progress.

    Anything ``progress`` raises propagates once ffmpeg is killed (as on any interruption).

    Args:
        cmd: From :func:`encode_command`.
        total_s: Output length in seconds, to turn ffmpeg's time into a percentage.
        progress: Called with 0-99 (rounded to 0.1, increasing) as ffmpeg advances.
        stderr_path: File collecting ffmpeg's stderr.

    Raises:
        RenderError: ffmpeg cannot be started, or exits non-zero (the message ends with
            the last 12 stderr lines).
    """
    with open(stderr_path, "w+b") as err:
        try:
            popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True, errors="replace"
            )
        except OSError as e:
            raise RenderError(f"cannot run ffmpeg: {e}") from e
        with popen as proc:
            try:
                _report(proc, total_s, progress)
                rc = proc.wait()
            except BaseException:  # a progress callback's error, KeyboardInterrupt...: stop ffmpeg, re-raise
                proc.kill()
                proc.wait()
                raise
        if rc != 0:
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
            tail = "\n".join([ln for ln in text.splitlines() if ln.strip()][-12:])
            raise RenderError(f"ffmpeg failed (exit {rc}):\n{tail}")
