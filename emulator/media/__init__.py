"""Media tooling for the emulator: probing, content scoring and generated media.

Everything here is synchronous and blocking (the server calls it through
``asyncio.to_thread``). ffmpeg comes from the ``imageio-ffmpeg`` wheel (ffmpeg 9 with
drawtext, xfade, amix, signalstats, aevalsrc, libx264 and aac); there is no ffprobe, so
probing uses PyAV (``av``), which bundles its own FFmpeg libraries.

Modules: :mod:`~emulator.media.ffmpeg` (the binary, running it, filter escaping),
:mod:`~emulator.media.fonts`, :mod:`~emulator.media.probing`, :mod:`~emulator.media.motion`
(motion scores), :mod:`~emulator.media.music` (generated music) and
:mod:`~emulator.media.sample_clip`.
"""

from __future__ import annotations

from emulator.media.errors import MediaError
from emulator.media.ffmpeg import ffmpeg_exe, filter_escape, run_ffmpeg
from emulator.media.fonts import font_path
from emulator.media.motion import motion_score
from emulator.media.music import MUSIC_STYLES, make_music
from emulator.media.probing import MediaInfo, probe
from emulator.media.sample_clip import make_sample_clip

__all__ = [
    "MUSIC_STYLES",
    "MediaError",
    "MediaInfo",
    "ffmpeg_exe",
    "filter_escape",
    "font_path",
    "make_music",
    "make_sample_clip",
    "motion_score",
    "probe",
    "run_ffmpeg",
]
