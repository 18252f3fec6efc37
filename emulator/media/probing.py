"""Probing media files with PyAV (there is no ffprobe): kind, size, duration, frame size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.container

from emulator.media.errors import MediaError

__all__ = ["MediaInfo", "probe"]

#: Container formats PyAV reports for images (``image2``, the ``*_pipe`` demuxers, and the
#: animated image formats, which API section 8 counts as images).
_IMAGE_FORMATS = {"image2", "gif", "webp", "apng"}
_IMAGE_CODECS = {"png", "mjpeg", "jpegls", "webp", "gif", "bmp", "tiff", "apng"}


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


def _probe_open(container: av.container.InputContainer, path: Path, size: int) -> MediaInfo:
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
