"""Generated music beds (chord progression, bass, beat) for the agent's ``generate_music`` tool."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from emulator.media.ffmpeg import filter_escape, run_ffmpeg

log = logging.getLogger(__name__)

__all__ = ["MUSIC_STYLES", "make_music"]


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
