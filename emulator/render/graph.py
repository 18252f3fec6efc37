"""Step 2 of a render: the ffmpeg filter graph for picture and sound.

Timeline model (see :mod:`emulator.render.units` for the frame and sample counting):

* Video segments play one after another in ``st`` order. A gap between the nominal end of
  one segment and the ``st`` of the next becomes black silence; a segment with ``tr`` is
  blended into the previous one with ``xfade`` (and ``acrossfade``), which shortens the
  total by the transition length.
* Audio segments are placed at their absolute ``st`` and mixed over the clip audio.
* The output lasts the draft's ``d`` when given, else until the end of the last segment;
  the picture is padded with black, the sound with silence.

Each picture is brought to the canvas size (``m.width`` x ``m.height``) by :func:`fill_mode`:
scaled when the aspect ratios match, scaled and cropped when at most :data:`MAX_CROP` of the
picture is lost, else fitted inside over a blurred copy of itself (a 16:9 clip on a 9:16
story). Text overlays are added afterwards (:mod:`emulator.render.overlays`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from emulator.render.timeline import MediaSeg, Timeline
from emulator.render.units import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, frames

log = logging.getLogger(__name__)

__all__ = ["MAX_CROP", "FilterGraph", "GraphPlan", "build_filter_graph", "fill_mode"]

_SPF = SAMPLES_PER_FRAME
_AFMT = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"

#: A joined stretch of the output: (video label, audio label, length in frames).
_Piece = tuple[str, str, int]


class FilterGraph:
    """The inputs and filter chains of one ffmpeg run.

    Attributes:
        inputs: Per input, the ffmpeg arguments up to and including ``-i <path>``.
        chains: Filter chains, joined with ``;`` into ``-filter_complex``.
    """

    def __init__(self) -> None:
        self.inputs: list[list[str]] = []
        self.chains: list[str] = []
        self._n = 0

    def add_input(self, args: list[str]) -> int:
        """Add an input; returns its index (for ``[<index>:v:0]`` references)."""
        self.inputs.append(args)
        return len(self.inputs) - 1

    def label(self, prefix: str) -> str:
        """A new, unique pad label such as ``v7``."""
        self._n += 1
        return f"{prefix}{self._n}"

    def add(self, chain: str) -> None:
        """Add a filter chain (with its input and output pad labels)."""
        self.chains.append(chain)


@dataclass(frozen=True)
class GraphPlan:
    """The filter graph before text overlays.

    Attributes:
        graph: The graph so far.
        picture: Label of the picture (padded or trimmed to ``total_frames``).
        sound: Label of the final sound (clip audio and music, ``total_frames`` long).
        total_frames: Output length in frames at :data:`~emulator.render.units.FPS`.
    """

    graph: FilterGraph
    picture: str
    sound: str
    total_frames: int

    @property
    def total_s(self) -> float:
        """Output length in seconds."""
        return self.total_frames / FPS


#: Largest share of a source picture cropped away to fill the canvas; a source whose aspect
#: ratio is further from the canvas's is fitted inside it over a blurred copy of itself.
MAX_CROP = 0.2


def fill_mode(display: tuple[int, int] | None, w: int, h: int) -> str:
    """How a picture of size ``display`` fills a ``w`` x ``h`` canvas.

    Returns:
        ``"scale"`` (same aspect ratio within 1 %), ``"cover"`` (scaled to cover the canvas,
        the overflow cropped evenly: at most :data:`MAX_CROP` of the picture is lost) or
        ``"fit"`` (scaled to fit inside, the rest filled with a blurred, dimmed copy of the
        picture; also when the size is unknown).
    """
    if not display or display[0] <= 0 or display[1] <= 0:
        return "fit"
    kept = (display[0] / display[1]) / (w / h)
    kept = min(kept, 1 / kept)  # the share of the picture left after cropping to cover
    if kept >= 0.99:
        return "scale"
    return "cover" if kept >= 1 - MAX_CROP else "fit"


def _fill(g: FilterGraph, src: str, display: tuple[int, int] | None, w: int, h: int) -> str:
    """Filters putting picture ``src`` (a pad label) on the ``w`` x ``h`` canvas (:func:`fill_mode`);
    returns the label of the canvas-sized picture (square pixels)."""
    mode = fill_mode(display, w, h)
    out = g.label("v")
    if mode == "scale":
        g.add(f"[{src}]scale={w}:{h},setsar=1[{out}]")
    elif mode == "cover":
        g.add(f"[{src}]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1[{out}]")
    else:
        bg_in, fg_in, bg, fg = g.label("bgi"), g.label("fgi"), g.label("bg"), g.label("fg")
        # the background: covered at an eighth of the size, blurred, dimmed, scaled back up
        sw, sh = max(16, w // 16 * 2), max(16, h // 16 * 2)
        r = max(1, min(sw, sh) // 8)
        g.add(f"[{src}]split=2[{bg_in}][{fg_in}]")
        g.add(
            f"[{bg_in}]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
            f"boxblur=luma_radius={r}:luma_power=2:chroma_radius={max(1, r // 2)}:chroma_power=2,"
            f"scale={w}:{h},eq=brightness=-0.12:saturation=0.7,setsar=1[{bg}]"
        )
        g.add(f"[{fg_in}]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[{fg}]")
        g.add(f"[{bg}][{fg}]overlay=x=(W-w)/2:y=(H-h)/2:shortest=1[{out}]")
    return out


def _black(g: FilterGraph, w: int, h: int, n_frames: int) -> str:
    lv = g.label("v")
    g.add(
        f"color=c=black:s={w}x{h}:r={FPS}:d={n_frames / FPS + 1:.4f},"
        f"format=yuv420p,setsar=1,trim=end_frame={n_frames},setpts=PTS-STARTPTS[{lv}]"
    )
    return lv


def _silence(g: FilterGraph, n_frames: int) -> str:
    la = g.label("a")
    g.add(
        f"anullsrc=r={SAMPLE_RATE}:cl=stereo,aformat=sample_fmts=fltp:channel_layouts=stereo,"
        f"atrim=end_sample={n_frames * _SPF},asetpts=PTS-STARTPTS[{la}]"
    )
    return la


def _video_segment(g: FilterGraph, seg: MediaSeg, w: int, h: int) -> _Piece:
    """Adds one video-track segment; returns (video label, audio label, frames)."""
    n_frames = max(1, frames(seg.d))
    dur = n_frames / FPS
    info = seg.src.info
    path = str(seg.src.path)
    if info.kind == "image":
        idx = g.add_input(["-loop", "1", "-framerate", str(FPS), "-t", f"{dur + 0.1:.3f}", "-i", path])
    else:
        args = []
        if seg.ss:
            args += ["-ss", f"{seg.ss / 1000:.3f}"]
        idx = g.add_input([*args, "-t", f"{dur + 0.1:.3f}", "-i", path])

    if info.has_video:
        raw = g.label("src")
        g.add(f"[{idx}:v:0]setpts=PTS-STARTPTS[{raw}]")
        filled = _fill(g, raw, seg.src.display, w, h)
        lv = g.label("v")
        g.add(
            f"[{filled}]fps={FPS},format=yuv420p,"
            f"tpad=stop_mode=clone:stop={n_frames},trim=end_frame={n_frames},setpts=PTS-STARTPTS[{lv}]"
        )
    else:
        lv = _black(g, w, h, n_frames)

    if info.has_audio and info.kind != "image":
        la = g.label("a")
        g.add(
            f"[{idx}:a:0]asetpts=PTS-STARTPTS,{_AFMT},volume={seg.vol:.3f},"
            f"apad=whole_len={n_frames * _SPF},atrim=end_sample={n_frames * _SPF},asetpts=PTS-STARTPTS[{la}]"
        )
    else:
        la = _silence(g, n_frames)
    return lv, la, n_frames


def _concat(g: FilterGraph, a: _Piece | None, b: _Piece) -> _Piece:
    if a is None:
        return b
    lv, la = g.label("v"), g.label("a")
    g.add(f"[{a[0]}][{a[1]}][{b[0]}][{b[1]}]concat=n=2:v=1:a=1[{lv}][{la}]")
    return lv, la, a[2] + b[2]


def _xfade(g: FilterGraph, cur: _Piece, piece: _Piece, tr_type: str, t: int) -> _Piece:
    """Blends ``piece`` into ``cur`` over ``t`` frames."""
    cv, ca, cf = cur
    pv, pa, pf = piece
    lv, la = g.label("v"), g.label("a")
    # concat outputs use a microsecond time base; xfade wants both inputs alike
    g.add(f"[{cv}]settb=1/{FPS}[{cv}t]")
    g.add(f"[{pv}]settb=1/{FPS}[{pv}t]")
    g.add(
        f"[{cv}t][{pv}t]xfade=transition={tr_type}:duration={t / FPS:.6f}:"
        f"offset={(cf - t) / FPS:.6f},trim=end_frame={cf + pf - t}[{lv}]"
    )
    g.add(f"[{ca}][{pa}]acrossfade=ns={t * _SPF}:c1=tri:c2=tri[{la}]")
    return lv, la, cf + pf - t


def _video_track(g: FilterGraph, segs: list[MediaSeg], w: int, h: int) -> _Piece | None:
    """Joins the video segments; returns (video label, audio label, total frames)."""
    cur: _Piece | None = None
    nominal_end = 0  # ms, end of the previous segment on the draft's timeline
    for seg in segs:
        gap = frames(seg.st - nominal_end)
        if gap > 0:
            gv, ga = _black(g, w, h, gap), _silence(g, gap)
            cur = _concat(g, cur, (gv, ga, gap))
        nominal_end = max(nominal_end, seg.st + seg.d)
        piece = _video_segment(g, seg, w, h)
        if cur is None:
            cur = piece
            continue
        t = min(frames(seg.tr_ms), cur[2] - 1, piece[2] - 1) if seg.tr_type else 0
        cur = _xfade(g, cur, piece, seg.tr_type, t) if seg.tr_type and t >= 1 else _concat(g, cur, piece)
    return cur


def _music_segment(g: FilterGraph, seg: MediaSeg, total_frames: int) -> str | None:
    if not seg.src.info.has_audio:
        log.warning("audio segment source %s has no audio stream; skipped", seg.src.path.name)
        return None
    start = frames(seg.st)
    if start >= total_frames:
        return None
    n_frames = min(max(1, frames(seg.d)), total_frames - start)
    dur = n_frames / FPS
    args = ["-stream_loop", "-1"]
    if seg.ss:
        args += ["-ss", f"{seg.ss / 1000:.3f}"]
    idx = g.add_input([*args, "-t", f"{dur + 0.1:.3f}", "-i", str(seg.src.path)])
    fi = min(seg.fi / 1000, dur / 2)
    fo = min(seg.fo / 1000, dur / 2)
    chain = (
        f"[{idx}:a:0]asetpts=PTS-STARTPTS,{_AFMT},"
        f"apad=whole_len={n_frames * _SPF},atrim=end_sample={n_frames * _SPF},volume={seg.vol:.3f}"
    )
    if fi > 0:
        chain += f",afade=t=in:st=0:d={fi:.3f}"
    if fo > 0:
        chain += f",afade=t=out:st={dur - fo:.3f}:d={fo:.3f}"
    if start > 0:
        chain += f",adelay=delays={start * _SPF}S:all=1"
    la = g.label("m")
    g.add(f"{chain},asetpts=PTS-STARTPTS[{la}]")
    return la


def _total_frames(timeline: Timeline, video_frames: int) -> int:
    """The output length: the draft's ``d``, else the end of the last segment (at least 1 frame)."""
    if timeline.duration_ms is not None:
        return max(1, frames(timeline.duration_ms))
    ends = [video_frames]
    ends += [frames(s.st + s.d) for s in timeline.audio]
    ends += [frames(t.st + t.d) for t in timeline.texts if t.d]
    total = max(ends)
    if total <= 0:
        total = max([frames(t.st) + 3 * FPS for t in timeline.texts] or [3 * FPS])
    return total


def _base(g: FilterGraph, joined: _Piece | None, timeline: Timeline, total: int) -> tuple[str, str]:
    """The joined video track padded or trimmed to ``total`` frames (black silence without one)."""
    if joined is None:
        return _black(g, timeline.width, timeline.height, total), _silence(g, total)
    video_frames = joined[2]
    vb = g.label("v")
    chain = f"[{joined[0]}]"
    if video_frames < total:
        chain += f"tpad=stop_mode=add:stop={total - video_frames}:color=black,"
    g.add(f"{chain}trim=end_frame={total},setpts=PTS-STARTPTS[{vb}]")
    ab = g.label("a")
    g.add(f"[{joined[1]}]apad=whole_len={total * _SPF},atrim=end_sample={total * _SPF},asetpts=PTS-STARTPTS[{ab}]")
    return vb, ab


def _mix_music(g: FilterGraph, sound: str, audio: list[MediaSeg], total: int) -> str:
    """The clip sound with every audio-track segment mixed in; returns the mix's label."""
    mixes = [lbl for s in audio if (lbl := _music_segment(g, s, total))]
    if not mixes:
        return sound
    aout = g.label("aout")
    ins = "".join(f"[{x}]" for x in [sound, *mixes])
    g.add(
        f"{ins}amix=inputs={1 + len(mixes)}:duration=first:dropout_transition=0:normalize=0,"
        f"atrim=end_sample={total * _SPF}[{aout}]"
    )
    return aout


def build_filter_graph(timeline: Timeline) -> GraphPlan:
    """Build the filter graph for a timeline's picture and sound (text comes later).

    Args:
        timeline: From :func:`emulator.render.timeline.collect_inputs`.

    Returns:
        The graph, its picture and sound labels and the output length in frames.
    """
    g = FilterGraph()
    joined = _video_track(g, timeline.video, timeline.width, timeline.height) if timeline.video else None
    total = _total_frames(timeline, joined[2] if joined else 0)
    picture, sound = _base(g, joined, timeline, total)
    return GraphPlan(g, picture, _mix_music(g, sound, timeline.audio, total), total)
