"""Media tooling for the emulator: probing, content scoring and generated media.

Everything here is synchronous and blocking (the server calls it through
``asyncio.to_thread``). ffmpeg comes from the ``imageio-ffmpeg`` wheel (ffmpeg 9 with
drawtext, xfade, amix, signalstats, aevalsrc, libx264 and aac); there is no ffprobe, so
probing uses PyAV (``av``), which bundles its own FFmpeg libraries.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av

log = logging.getLogger(__name__)

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

#: Container formats PyAV reports for images (``image2``, the ``*_pipe`` demuxers, and the
#: animated image formats, which API section 8 counts as images).
_IMAGE_FORMATS = {"image2", "gif", "webp", "apng"}
_IMAGE_CODECS = {"png", "mjpeg", "jpegls", "webp", "gif", "bmp", "tiff", "apng"}

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_NOTO_FILE = "NotoSans[wdth,wght].ttf"


class MediaError(Exception):
    """Not decodable media, or an ffmpeg failure (the message carries the stderr tail)."""


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found in a media file.

    Attributes:
        kind: ``"video"``, ``"audio"`` or ``"image"``.
        size: file size in bytes.
        duration_s: duration in seconds; ``None`` for still images or when unknown.
        width: frame width in pixels (``None`` without a video stream).
        height: frame height in pixels (``None`` without a video stream).
        fps: average frame rate (``None`` for images, audio, or when unknown).
        has_video: the file has a decodable picture stream (also true for images).
        has_audio: the file has an audio stream.
    """

    kind: str
    size: int
    duration_s: float | None
    width: int | None
    height: int | None
    fps: float | None
    has_video: bool
    has_audio: bool


# --------------------------------------------------------------------------- ffmpeg


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


# --------------------------------------------------------------------------- fonts


@functools.cache
def _noto_copy() -> Path | None:
    try:
        import fontpkg_noto_sans
    except ImportError:
        return None
    src = Path(fontpkg_noto_sans.__file__).resolve().parent / "files" / _NOTO_FILE
    if not src.is_file():
        return None
    # drawtext's option parser dislikes the brackets in the name: keep a plain-named copy
    cache = Path(tempfile.gettempdir()) / f"nemobot-fonts-{os.getuid() if hasattr(os, 'getuid') else 0}"
    dst = cache / "NotoSans.ttf"
    try:
        size = src.stat().st_size
        if not (dst.is_file() and dst.stat().st_size == size):
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".ttf.part")
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        return dst
    except OSError as e:
        log.warning("cannot copy %s to %s: %s", src, dst, e)
        return None


def font_path() -> Path | None:
    """A TrueType font file drawtext can use, or ``None`` if there is none.

    Prefers Noto Sans from the ``fontpkg-noto-sans`` wheel (copied once to a cache folder
    under the temp dir with a bracket-free name), then Debian's DejaVu Sans.

    Returns:
        Path of the font file, or ``None`` (callers then render without text).
    """
    noto = _noto_copy()
    if noto is not None and noto.is_file():
        return noto
    if _DEJAVU.is_file():
        return _DEJAVU
    return None


# --------------------------------------------------------------------------- probe


def probe(path: Path) -> MediaInfo:
    """Inspect a media file with PyAV.

    The first frame of the main stream is decoded, so a file that opens but cannot be
    decoded is rejected too.

    Args:
        path: local file.

    Returns:
        The file's :class:`MediaInfo`.

    Raises:
        MediaError: missing or empty file, not a media container, no audio or video stream,
            or nothing decodable.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise MediaError(f"{path.name}: cannot read file: {e}") from e
    if size == 0:
        raise MediaError(f"{path.name}: empty file")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, ValueError, OSError) as e:
        raise MediaError(f"{path.name}: not a media file ({e})") from e
    try:
        return _probe_open(container, path, size)
    except (av.FFmpegError, ValueError, OSError) as e:
        raise MediaError(f"{path.name}: cannot decode ({e})") from e
    finally:
        container.close()


def _probe_open(container, path: Path, size: int) -> MediaInfo:
    vstreams = list(container.streams.video)
    astreams = list(container.streams.audio)
    if not vstreams and not astreams:
        raise MediaError(f"{path.name}: no audio or video stream")
    fmt = container.format.name or ""
    main = vstreams[0] if vstreams else astreams[0]
    # prove the main stream decodes
    decoded = False
    for frame in container.decode(main):
        decoded = frame is not None
        break
    if not decoded:
        raise MediaError(f"{path.name}: no decodable frame")

    width = height = None
    fps = None
    kind = "audio"
    if vstreams:
        vs = vstreams[0]
        width = vs.codec_context.width or None
        height = vs.codec_context.height or None
        codec = vs.codec_context.name or ""
        frames = vs.frames or 0
        is_image = (
            fmt.endswith("_pipe") or fmt in _IMAGE_FORMATS or (codec in _IMAGE_CODECS and frames <= 1 and not astreams)
        )
        kind = "image" if is_image else "video"
        if kind == "video":
            rate = vs.average_rate or vs.guessed_rate
            fps = float(rate) if rate else None

    duration_s: float | None = None
    if kind != "image":
        if container.duration:
            duration_s = container.duration / 1_000_000
        else:
            for s in (*vstreams, *astreams):
                if s.duration and s.time_base:
                    duration_s = float(s.duration * s.time_base)
                    break
    return MediaInfo(
        kind=kind,
        size=size,
        duration_s=duration_s,
        width=width,
        height=height,
        fps=fps,
        has_video=bool(vstreams),
        has_audio=bool(astreams),
    )


# --------------------------------------------------------------------------- motion score

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


# --------------------------------------------------------------------------- music


@dataclass(frozen=True)
class _Style:
    bpm: float
    chords: tuple[tuple[float, tuple[int, ...]], ...]  # (root Hz, semitone offsets)
    harmonics: tuple[float, ...]  # relative amplitude of harmonics 1, 2, 3... of each pad note
    pad: float  # pad gain
    bass: float  # bass gain (sine one octave under the root)
    kick: float  # kick gain
    kick_every: float  # kick every n beats
    hat: float  # off-beat noise hat gain
    arp: float  # arpeggio gain (chord tones, one per eighth note)
    post: str  # extra ffmpeg audio filters after the mix


_A3 = 220.0


def _hz(semitones_from_a3: int) -> float:
    return _A3 * 2 ** (semitones_from_a3 / 12)


MUSIC_STYLES: dict[str, _Style] = {
    # Am7 - Dm7 - Gmaj - Cmaj7, slow, soft sines, muffled: lo-fi hip hop
    "lofi": _Style(
        bpm=78,
        chords=(
            (_hz(0), (0, 3, 7, 10)),
            (_hz(5), (0, 3, 7, 10)),
            (_hz(-2), (0, 4, 7, 11)),
            (_hz(3), (0, 4, 7, 11)),
        ),
        harmonics=(1.0, 0.15),
        pad=0.16,
        bass=0.22,
        kick=0.5,
        kick_every=2,
        hat=0.06,
        arp=0.0,
        post="lowpass=f=2400,aecho=0.8:0.5:60:0.25",
    ),
    # Dm - Bb - F - C power chords, fast, bright harmonics, kick on every beat: epic
    "epic": _Style(
        bpm=128,
        chords=(
            (_hz(-7), (0, 7, 12)),
            (_hz(-11), (0, 7, 12)),
            (_hz(-4), (0, 7, 12)),
            (_hz(-9), (0, 7, 12)),
        ),
        harmonics=(1.0, 0.5, 0.33, 0.25, 0.2),
        pad=0.06,
        bass=0.2,
        kick=0.45,
        kick_every=1,
        hat=0.1,
        arp=0.08,
        post="highpass=f=30",
    ),
    # C - G - Am - F major pad with a gentle arpeggio, no drums: chill
    "chill": _Style(
        bpm=92,
        chords=(
            (_hz(3), (0, 4, 7, 12)),
            (_hz(-2), (0, 4, 7, 12)),
            (_hz(0), (0, 3, 7, 12)),
            (_hz(-4), (0, 4, 7, 12)),
        ),
        harmonics=(1.0, 0.3),
        pad=0.12,
        bass=0.18,
        kick=0.0,
        kick_every=4,
        hat=0.0,
        arp=0.12,
        post="lowpass=f=5000,aecho=0.8:0.6:180:0.3",
    ),
}


def _music_expr(style: _Style, detune: float) -> str:
    """aevalsrc expression for one channel (``detune`` > 1 widens the stereo image)."""
    beat = 60.0 / style.bpm
    bar = 4 * beat
    n = len(style.chords)
    # ld(0): bar position 0..bar, ld(1): chord index
    parts = [f"st(0,mod(t,{bar:.6f}))", f"st(1,mod(floor(t/{bar:.6f}),{n}))"]
    env = f"min(1,ld(0)*20)*min(1,({bar:.6f}-ld(0))*20)"

    def chord_expr(root: float, offsets: tuple[int, ...]) -> str:
        tones = []
        for off in offsets:
            f = root * 2 ** (off / 12) * detune
            for h, amp in enumerate(style.harmonics, start=1):
                tones.append(f"{amp:.3f}*sin({2 * math.pi * f * h:.4f}*t)")
        pad = f"{style.pad:.3f}*({'+'.join(tones)})"
        bass = f"{style.bass:.3f}*sin({2 * math.pi * root / 2:.4f}*t)"
        out = f"{pad}+{bass}"
        if style.arp:
            eighth = beat / 2
            # one chord tone per eighth note, two octaves up, plucked envelope
            sel = f"mod(floor(t/{eighth:.6f}),{len(offsets)})"
            freq = "+".join(f"eq({sel},{i})*{root * 2 ** (o / 12) * 4 * detune:.4f}" for i, o in enumerate(offsets))
            out += f"+{style.arp:.3f}*sin(2*PI*({freq})*t)*exp(-mod(t,{eighth:.6f})*9)*min(1,mod(t,{eighth:.6f})*200)"
        return out

    chords = "0"
    for idx in reversed(range(n)):
        root, offsets = style.chords[idx]
        chords = f"if(eq(ld(1),{idx}),{chord_expr(root, offsets)},{chords})"
    body = f"({chords})*{env}"
    if style.kick:
        period = beat * style.kick_every
        x = f"mod(t,{period:.6f})"
        body += f"+{style.kick:.3f}*sin(2*PI*(45*{x}+2.2*(1-exp(-{x}*35))))*exp(-{x}*9)"
    if style.hat:
        x = f"mod(t+{beat / 2:.6f},{beat:.6f})"
        body += f"+{style.hat:.3f}*(2*random(5)-1)*exp(-{x}*70)"
    return ";".join([*parts, body])


def make_music(out_path: Path, duration_s: float, *, style: str = "lofi") -> Path:
    """Generate a simple stereo music bed (chord progression, bass, beat) as AAC in .m4a.

    Args:
        out_path: where to write (``.m4a``; parent folders are created).
        duration_s: length in seconds (0 < duration_s <= 3600).
        style: ``"lofi"`` (slow, muffled, soft beat), ``"epic"`` (fast power chords, kick
            on every beat) or ``"chill"`` (major pad with an arpeggio, no drums). Unknown
            styles fall back to ``"lofi"`` with a warning.

    Returns:
        ``out_path``.

    Raises:
        ValueError: ``duration_s`` out of range.
        MediaError: ffmpeg fails.
    """
    if not (0 < duration_s <= 3600):
        raise ValueError(f"duration_s must be in (0, 3600], got {duration_s}")
    spec = MUSIC_STYLES.get(style.lower().replace("-", "").replace(" ", ""))
    if spec is None:
        log.warning("unknown music style %r, using lofi", style)
        spec = MUSIC_STYLES["lofi"]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    left = _music_expr(spec, 1.0)
    right = _music_expr(spec, 1.004)
    fade_in = min(0.5, duration_s / 4)
    fade_out = min(1.5, duration_s / 3)
    src = f"aevalsrc=exprs={filter_escape(left + '|' + right)}:s=48000:c=stereo:d={duration_s:.3f}"
    af = ",".join(
        p
        for p in (
            spec.post,
            f"afade=t=in:st=0:d={fade_in:.3f}",
            f"afade=t=out:st={duration_s - fade_out:.3f}:d={fade_out:.3f}",
            "alimiter=limit=0.9:level=false",
        )
        if p
    )
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        run_ffmpeg(
            [
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                src,
                "-af",
                af,
                "-t",
                f"{duration_s:.3f}",
                "-c:a",
                "aac",
                "-b:a",
                "160k",
                "-ar",
                "48000",
                "-ac",
                "2",
                "-movflags",
                "+faststart",
                "-f",
                "ipod",
                str(tmp),
            ],
            timeout=max(120.0, duration_s * 4),
        )
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


# --------------------------------------------------------------------------- sample clip


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
