""":func:`render_draft`: a NemoVideo draft in, an MP4 out, with one ffmpeg run.

The steps, each a function: :func:`~emulator.render.timeline.collect_inputs` (parse the
draft, resolve and probe the sources), :func:`~emulator.render.graph.build_filter_graph`
(picture and sound), :func:`add_text_overlays`, :func:`encode` (run ffmpeg into a ``.part``
file, moved into place when complete) and :func:`describe_result`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.media import MediaError, ffmpeg_exe, font_path
from emulator.media.fonts import cjk_font_path
from emulator.render.errors import RenderError
from emulator.render.ffmpeg import encode_command, run_ffmpeg
from emulator.render.graph import GraphPlan, build_filter_graph
from emulator.render.overlays import TextOverlays, overlay_filters
from emulator.render.timeline import Timeline, collect_inputs

log = logging.getLogger(__name__)

__all__ = ["RenderResult", "add_text_overlays", "describe_result", "encode", "render_draft"]


@dataclass(frozen=True)
class RenderResult:
    """A finished render.

    Attributes:
        path: the MP4 file written.
        duration_s: its duration in seconds (as rendered: frames / fps).
        size: its size in bytes.
    """

    path: Path
    duration_s: float
    size: int


def add_text_overlays(plan: GraphPlan, timeline: Timeline, tmpdir: Path) -> str:
    """Draw the timeline's text segments over the picture (fonts from :func:`emulator.media.font_path`
    and, for Chinese, Japanese or Korean text, :func:`emulator.media.fonts.cjk_font_path`).

    Args:
        plan: The graph from :func:`~emulator.render.graph.build_filter_graph`; extended in place.
        timeline: The collected inputs.
        tmpdir: Folder for the text files; must exist until ffmpeg has run.

    Returns:
        The label of the final picture (yuv420p).
    """
    overlays = TextOverlays(tmpdir, timeline.width, timeline.height, font_path(), cjk_font=cjk_font_path())
    filters = overlay_filters(timeline.texts, plan.total_s, overlays)
    vout = plan.graph.label("vout")
    plan.graph.add(f"[{plan.picture}]{','.join([*filters, 'format=yuv420p'])}[{vout}]")
    return vout


def encode(
    plan: GraphPlan,
    picture: str,
    out_path: Path,
    *,
    tmpdir: Path,
    preset: str,
    progress: Callable[[float], None] | None,
) -> None:
    """Run ffmpeg on the graph, writing ``<out_path>.part`` and moving it to ``out_path``.

    Args:
        plan: The complete graph.
        picture: Label of the final picture (from :func:`add_text_overlays`).
        out_path: The MP4 to write; its folder must exist.
        tmpdir: Folder for ffmpeg's stderr.
        preset: libx264 preset.
        progress: Called with 0.0 first, then with ffmpeg's progress (up to 99).

    Raises:
        RenderError: no ffmpeg, or ffmpeg fails. The ``.part`` file never stays behind.
    """
    part = out_path.with_name(out_path.name + ".part")
    try:
        exe = ffmpeg_exe()
    except MediaError as e:
        raise RenderError(str(e)) from e
    cmd = encode_command(exe, plan.graph, picture, plan.sound, total_s=plan.total_s, preset=preset, out=part)
    log.debug("ffmpeg %s", " ".join(cmd))
    if progress is not None:
        progress(0.0)
    try:
        run_ffmpeg(cmd, plan.total_s, progress, tmpdir / "stderr.txt")
        os.replace(part, out_path)
    finally:
        part.unlink(missing_ok=True)


def describe_result(out_path: Path, total_s: float) -> RenderResult:
    """The :class:`RenderResult` of a written file: its duration as planned, its size on disk.

    Args:
        out_path: The MP4 written by :func:`encode`.
        total_s: The planned output length in seconds (frames / fps; the file is not re-probed).
    """
    return RenderResult(path=out_path, duration_s=round(total_s, 3), size=out_path.stat().st_size)


def render_draft(
    draft: dict[str, Any],
    resolve: Callable[[str], Path],
    out_path: Path,
    *,
    progress: Callable[[float], None] | None = None,
    preset: str = "veryfast",
) -> RenderResult:
    """Render a draft to an MP4 with a single ffmpeg run (blocking).

    Output: ``m.width`` x ``m.height`` (default 1920x1080, even sizes, 16-4096 px), 30 fps,
    H.264 yuv420p (CRF 23), AAC 48 kHz stereo, ``+faststart``. The file is written next to
    ``out_path`` first and moved into place when complete.

    Args:
        draft: the draft dict (``docs/draft-format.md``): ``t`` tracks with ``tt`` 0 (video),
            1 (audio) or 7 (text) and segments ``sg`` (times in ms); ``d`` total duration in
            ms (optional); ``m`` metadata with ``width``/``height`` in pixels (optional).
            Other track types are ignored.
        resolve: maps a segment's ``src`` URL to a local file; may raise ``KeyError`` or
            ``FileNotFoundError`` for unknown sources.
        out_path: the MP4 to write (parent folders are created).
        progress: called with the percentage done (0-100, increasing) while ffmpeg runs,
            finally with 100. Runs in the rendering thread; an exception raised by it stops
            ffmpeg and propagates.
        preset: libx264 preset (``ultrafast`` ... ``veryslow``).

    Returns:
        The :class:`RenderResult` (path, duration in seconds, size in bytes).

    Raises:
        RenderError: the draft has no segment to render ("nothing to render"), is malformed,
            names an unknown or undecodable source, or ffmpeg fails (message ends with
            ffmpeg's last stderr lines).
    """
    timeline = collect_inputs(draft, resolve)
    plan = build_filter_graph(timeline)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nemobot-render-") as tmp:
        picture = add_text_overlays(plan, timeline, Path(tmp))
        encode(plan, picture, out_path, tmpdir=Path(tmp), preset=preset, progress=progress)
    if progress is not None:
        progress(100.0)
    return describe_result(out_path, plan.total_s)
