"""The ffmpeg binary (from the ``imageio-ffmpeg`` wheel), running it, and filtergraph escaping."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

from emulator.media.errors import MediaError

__all__ = ["ffmpeg_exe", "filter_escape", "run_ffmpeg"]


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by ``imageio-ffmpeg``.

    ``IMAGEIO_FFMPEG_EXE`` in the environment overrides it (imageio-ffmpeg's own rule).

    Raises:
        MediaError: no ffmpeg binary can be found.
    """
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # pragma: no cover - depends on the installation
        found = shutil.which("ffmpeg")
        if found:
            return found
        raise MediaError(f"ffmpeg not found: {e}") from e


def _stderr_tail(text: str, lines: int = 15) -> str:
    tail = [ln for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return "\n".join(tail)


def run_ffmpeg(args: list[str], *, timeout: float | None = 600.0) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg with ``args`` (everything after the executable), capturing output.

    ``-hide_banner -nostdin -y`` are prepended.

    Args:
        args: ffmpeg arguments.
        timeout: seconds before the process is killed.

    Returns:
        The completed process (stdout and stderr as text).

    Raises:
        MediaError: non-zero exit status or timeout; the message ends with the stderr tail.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise MediaError(f"ffmpeg timed out after {timeout} s") from e
    except OSError as e:
        raise MediaError(f"cannot run ffmpeg: {e}") from e
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg failed (exit {proc.returncode}):\n{_stderr_tail(proc.stderr)}")
    return proc


def filter_escape(value: str) -> str:
    """Escape a string for use as an option value inside an ffmpeg filtergraph.

    Applies both escaping levels ffmpeg parses (filter option value, then filtergraph
    description), so paths with ``:``, ``'``, ``\\``, ``,``, ``;`` or brackets survive.

    Args:
        value: raw value, e.g. a file path.

    Returns:
        The escaped value, ready to follow ``option=``.
    """
    # level 1: option value (av_get_token): quote with '...', a literal quote as '\''
    quoted = "'" + value.replace("'", "'\\''") + "'"
    # level 2: filtergraph description: backslash-escape its special characters
    return re.sub(r"([\\'\[\],;])", r"\\\1", quoted)
