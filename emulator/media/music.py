"""Generated music beds for the agent's ``generate_music`` tool: six styles that sound apart.

Every style has its own tempo, key and scale, timbre and rhythm (``tests/emulator/test_media_moods.py``
measures the differences):

=============  =====  =========================  ==========================================================
style          BPM    key / scale                timbre and rhythm
=============  =====  =========================  ==========================================================
``lofi``       78     A minor (Dorian 7ths)      soft sine keys, muffled and echoed; boom-bap kick on 1 and
                                                 the "and" of 3, soft snare on 2 and 4, swung hats
``epic``       128    D minor (Aeolian)          bright saw-like power chords, bass, 8th-note arpeggio;
                                                 four-on-the-floor kick, snare on 2 and 4, off-beat hats
``chill``      92     C major (Ionian)           warm sine pad swelling in, plucked 8th-note arpeggio, long
                                                 echo; no drums
``tense``      108    E Phrygian                 dark reedy drone, 16th-note saw ostinato on the minor
                                                 second, trembling high tritone; heartbeat kick on 1 and 3
``retro``      150    G major                    8-bit: 25 % pulse-wave 16th arpeggio, triangle octave bass,
                                                 square "chip" kick, noise snare and hats, bit-crushed
``atmospheric`` 64    F Lydian                   ambient pad: slow swells (two bars a chord), slow tremolo,
                                                 sparse bell tones, long reverb-like echoes; no drums
=============  =====  =========================  ==========================================================

Beats fall at ``n * 60 / tempo_of(style)`` seconds from the start of the file (the first
downbeat at 0, bars of four beats), so the agent can cut a highlight reel on the beat.
Style names are matched loosely (case, spaces, dashes; a few aliases such as ``ambient``,
``chiptune``, ``8-bit`` or ``suspense``); anything else falls back to :data:`DEFAULT_STYLE`
with a warning (:func:`resolve_style`).
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from emulator.media.ffmpeg import filter_escape, run_ffmpeg

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_STYLE", "MUSIC_STYLES", "STYLE_NAMES", "beat_seconds", "make_music", "resolve_style", "tempo_of"]


@dataclass(frozen=True)
class _Voice:
    """A note sequence over the chords: one note every ``step`` beats, cycling through ``notes``.

    Attributes:
        gain: Amplitude.
        wave: ``sine``, ``square``, ``pulse`` (25 % duty), ``triangle`` or ``saw``.
        step: Note length in beats (0.5: eighths, 0.25: sixteenths).
        notes: Indices into the chord's tones (``tones``), else semitones above the chord root.
        mult: Frequency factor on the chord (2.0: an octave up, 0.5: an octave down).
        decay: Pluck decay per second; 0 holds each note for its whole step (gated, organ-like).
        tones: ``notes`` index the chord tones (an arpeggio) rather than semitones.
    """

    gain: float
    wave: str
    step: float
    notes: tuple[int, ...]
    mult: float = 1.0
    decay: float = 9.0
    tones: bool = True


@dataclass(frozen=True)
class _Drum:
    """A drum hit at beat positions ``at`` of every 4-beat bar.

    Attributes:
        gain: Amplitude.
        kind: ``kick`` (sine with a pitch drop), ``chipkick`` (square with a pitch drop),
            ``heart`` (a soft low thump), ``snare`` (noise and a 185 Hz tone) or ``hat`` (short noise).
        at: Hit positions in beats, 0 <= position < 4.
    """

    gain: float
    kind: str
    at: tuple[float, ...]


@dataclass(frozen=True)
class _Style:
    """One generated style.

    Attributes:
        bpm: Tempo in beats per minute (four beats a bar).
        scale: Key and scale, for people reading the table.
        chords: ``(root Hz, semitone offsets)`` per chord, one after the other, looped.
        bars_per_chord: How long each chord lasts.
        harmonics: Relative amplitudes of harmonics 1, 2, 3... of each pad note (sine pad).
        pad: Pad gain.
        attack: Pad and bass swell-in time per chord, seconds.
        release: Pad and bass fade-out time at the end of each chord, seconds.
        tremolo: ``(rate Hz, depth 0..1)`` of a slow pad tremolo, or ``None``.
        bass: Gain of a held sine one octave under the chord root.
        voices: Arpeggios, ostinatos and other note sequences.
        drums: The rhythm section.
        post: Extra ffmpeg audio filters after the mix.
    """

    bpm: float
    scale: str
    chords: tuple[tuple[float, tuple[int, ...]], ...]
    bars_per_chord: int = 1
    harmonics: tuple[float, ...] = (1.0,)
    pad: float = 0.0
    attack: float = 0.05
    release: float = 0.05
    tremolo: tuple[float, float] | None = None
    bass: float = 0.0
    voices: tuple[_Voice, ...] = ()
    drums: tuple[_Drum, ...] = ()
    post: str = ""


_A3 = 220.0


def _hz(semitones_from_a3: int) -> float:
    return _A3 * 2 ** (semitones_from_a3 / 12)


_EIGHTHS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5)

MUSIC_STYLES: dict[str, _Style] = {
    # Am7 - Dm7 - Gmaj7 - Cmaj7, slow, soft sines, muffled: lo-fi hip hop
    "lofi": _Style(
        bpm=78,
        scale="A minor (Dorian 7ths)",
        chords=(
            (_hz(0), (0, 3, 7, 10)),
            (_hz(5), (0, 3, 7, 10)),
            (_hz(-2), (0, 4, 7, 11)),
            (_hz(3), (0, 4, 7, 11)),
        ),
        harmonics=(1.0, 0.15),
        pad=0.09,
        bass=0.16,
        drums=(
            _Drum(0.8, "kick", (0.0, 2.5)),
            _Drum(0.75, "snare", (1.0, 3.0)),
            _Drum(0.08, "hat", (0.0, 0.66, 1.0, 1.66, 2.0, 2.66, 3.0, 3.66)),  # swung eighths
        ),
        post="lowpass=f=2400:p=1,aecho=0.8:0.5:60:0.25",
    ),
    # Dm - Bb - F - C power chords, fast, bright harmonics, kick on every beat: epic
    "epic": _Style(
        bpm=128,
        scale="D minor (Aeolian)",
        chords=(
            (_hz(-7), (0, 7, 12)),
            (_hz(-11), (0, 7, 12)),
            (_hz(-4), (0, 7, 12)),
            (_hz(-9), (0, 7, 12)),
        ),
        harmonics=(1.0, 0.5, 0.33, 0.25, 0.2),
        pad=0.06,
        bass=0.2,
        voices=(_Voice(0.08, "sine", 0.5, (0, 1, 2), mult=4.0, decay=9.0),),
        drums=(
            _Drum(0.45, "kick", (0.0, 1.0, 2.0, 3.0)),
            _Drum(0.2, "snare", (1.0, 3.0)),
            _Drum(0.1, "hat", (0.5, 1.5, 2.5, 3.5)),
        ),
        post="highpass=f=30",
    ),
    # C - G - Am - F major pad swelling in, a gentle plucked arpeggio, no drums: chill
    "chill": _Style(
        bpm=92,
        scale="C major (Ionian)",
        chords=(
            (_hz(3), (0, 4, 7, 12)),
            (_hz(-2), (0, 4, 7, 12)),
            (_hz(0), (0, 3, 7, 12)),
            (_hz(-4), (0, 4, 7, 12)),
        ),
        harmonics=(1.0, 0.3),
        pad=0.12,
        attack=0.3,
        release=0.15,
        bass=0.18,
        voices=(_Voice(0.12, "sine", 0.5, (0, 1, 2, 3), mult=4.0, decay=9.0),),
        post="lowpass=f=5000,aecho=0.8:0.6:180:0.3",
    ),
    # Em - F - Em - Bb over a 16th-note ostinato on the minor second, trembling tritone: tense
    "tense": _Style(
        bpm=108,
        scale="E Phrygian",
        chords=(
            (_hz(-17), (0, 7, 12)),
            (_hz(-16), (0, 7, 12)),
            (_hz(-17), (0, 7, 12)),
            (_hz(-11), (0, 6, 12)),
        ),
        harmonics=(1.0, 0.6, 0.45, 0.3, 0.2),
        pad=0.05,
        attack=0.9,
        release=0.1,
        voices=(
            _Voice(0.2, "saw", 0.25, (0, 0, 1, 0, 0, 3, 0, 1), mult=1.0, decay=14.0, tones=False),
            _Voice(0.035, "sine", 0.125, (24, 30), mult=1.0, decay=5.0, tones=False),
        ),
        drums=(_Drum(0.6, "heart", (0.0, 0.5, 2.0, 2.5)),),
        post="highpass=f=30,lowpass=f=6000",
    ),
    # G - D - Em - C, fast 16th pulse-wave arpeggio, triangle octave bass, noise drums: 8-bit
    "retro": _Style(
        bpm=150,
        scale="G major",
        chords=(
            (_hz(-2), (0, 4, 7, 12)),
            (_hz(-7), (0, 4, 7, 12)),
            (_hz(-5), (0, 3, 7, 12)),
            (_hz(-9), (0, 4, 7, 12)),
        ),
        voices=(
            _Voice(0.11, "pulse", 0.25, (0, 1, 2, 3, 2, 1), mult=4.0, decay=3.0),
            _Voice(0.2, "triangle", 0.5, (0, 12), mult=0.5, decay=0.0, tones=False),
        ),
        drums=(
            _Drum(0.32, "chipkick", (0.0, 2.0, 2.5)),
            _Drum(0.14, "snare", (1.0, 3.0)),
            _Drum(0.05, "hat", _EIGHTHS),
        ),
        post="acrusher=bits=8:mix=1:aa=0:samples=2",
    ),
    # Fmaj7 - G/F - Am7 - Fmaj7#11, two bars each, slow swells, bells, long echoes: ambient
    "atmospheric": _Style(
        bpm=64,
        scale="F Lydian",
        chords=(
            (_hz(-4), (0, 4, 7, 11)),
            (_hz(-2), (0, 4, 7, 10)),
            (_hz(0), (0, 3, 7, 10)),
            (_hz(-4), (0, 4, 6, 11)),
        ),
        bars_per_chord=2,
        harmonics=(1.0, 0.2, 0.08),
        pad=0.11,
        attack=1.8,
        release=1.4,
        tremolo=(0.23, 0.35),
        bass=0.1,
        voices=(_Voice(0.035, "sine", 2.0, (3, 1, 2, 0), mult=4.0, decay=0.9),),
        post="lowpass=f=3500,aecho=0.8:0.7:400|770|1130:0.4|0.3|0.2",
    ),
}

#: Every style :func:`make_music` knows, in a stable order.
STYLE_NAMES: tuple[str, ...] = tuple(MUSIC_STYLES)
#: The style used for names :func:`resolve_style` does not know.
DEFAULT_STYLE = "lofi"

_ALIASES = {
    "lofihiphop": "lofi",
    "cinematic": "epic",
    "calm": "chill",
    "relaxed": "chill",
    "suspense": "tense",
    "suspenseful": "tense",
    "thriller": "tense",
    "8bit": "retro",
    "chiptune": "retro",
    "chip": "retro",
    "ambient": "atmospheric",
    "atmosphere": "atmospheric",
}


def resolve_style(style: str) -> str:
    """The style :func:`make_music` plays for ``style``.

    Args:
        style: A name of :data:`STYLE_NAMES` or an alias, matched ignoring case, spaces,
            dashes and underscores (``"Lo-Fi"``, ``"8-bit"``, ``"ambient"``...).

    Returns:
        A name of :data:`STYLE_NAMES`; :data:`DEFAULT_STYLE` (with a warning) for anything else.
    """
    key = re.sub(r"[\s_\-]+", "", str(style).lower())
    name = key if key in MUSIC_STYLES else _ALIASES.get(key)
    if name is None:
        log.warning("unknown music style %r, using %s", style, DEFAULT_STYLE)
        return DEFAULT_STYLE
    return name


def tempo_of(style: str) -> float:
    """The tempo of a style's bed in beats per minute (after :func:`resolve_style`)."""
    return MUSIC_STYLES[resolve_style(style)].bpm


def beat_seconds(style: str) -> float:
    """The length of one beat of a style's bed in seconds (``60 / tempo_of(style)``)."""
    return 60.0 / tempo_of(style)


def _osc(wave: str, freq: str) -> str:
    """An oscillator expression (-1..1) at frequency ``freq`` (Hz, an expression)."""
    ph = f"({freq})*t"
    if wave == "square":
        return f"(2*lt(mod({ph},1),0.5)-1)"
    if wave == "pulse":
        return f"(2*lt(mod({ph},1),0.25)-1)"
    if wave == "triangle":
        return f"(4*abs(mod({ph},1)-0.5)-1)"
    if wave == "saw":
        return f"(2*mod({ph},1)-1)"
    return f"sin(2*PI*{ph})"


def _since(at: tuple[float, ...], beat: float) -> str:
    """Seconds since the latest hit at beat positions ``at`` of the 4-beat bar."""
    bar = 4 * beat
    steps = sorted(at)
    gaps = {round(b - a, 6) for a, b in zip(steps, [*steps[1:], steps[0] + 4], strict=True)}
    if len(gaps) == 1:  # evenly spaced: one modulo
        step = gaps.pop() * beat
        return f"mod(t-{steps[0] * beat:.6f},{step:.6f})"
    terms = [f"mod(t-{p * beat:.6f},{bar:.6f})" for p in steps]
    expr = terms[0]
    for term in terms[1:]:
        expr = f"min({expr},{term})"
    return expr


def _drum(drum: _Drum, slot: int, beat: float) -> tuple[str, str]:
    """One drum: the statement keeping the time since its last hit in variable ``slot``, and
    its sound expression."""
    x = f"ld({slot})"
    g = f"{drum.gain:.3f}"
    store = f"st({slot},{_since(drum.at, beat)})"
    if drum.kind == "kick":
        sound = f"sin(2*PI*(45*{x}+2.2*(1-exp(-{x}*35))))*exp(-{x}*9)"
    elif drum.kind == "chipkick":
        sound = f"(2*lt(mod(50*{x}+4*(1-exp(-{x}*40)),1),0.5)-1)*exp(-{x}*22)"
    elif drum.kind == "heart":
        sound = f"sin(2*PI*(38*{x}+0.6*(1-exp(-{x}*30))))*exp(-{x}*14)*min(1,{x}*150)"
    elif drum.kind == "snare":
        sound = f"((2*random(8)-1)*0.8+0.5*sin(2*PI*185*{x}))*exp(-{x}*22)"
    else:  # hat
        sound = f"(2*random(9)-1)*exp(-{x}*70)"
    return store, f"{g}*{sound}"


def _voice(v: _Voice, beat: float, root: float, offsets: tuple[int, ...], detune: float) -> str:
    step = v.step * beat
    semis = [offsets[i % len(offsets)] for i in v.notes] if v.tones else list(v.notes)
    sel = f"mod(floor(t/{step:.6f}),{len(semis)})"
    freq = "+".join(f"eq({sel},{i})*{root * 2 ** (s / 12) * v.mult * detune:.4f}" for i, s in enumerate(semis))
    x = f"mod(t,{step:.6f})"
    pluck = f"exp(-{x}*{v.decay:.3f})*min(1,{x}*200)"
    gate = f"min(1,{x}*300)*min(1,({step:.6f}-{x})*300)"
    env = pluck if v.decay > 0 else gate
    return f"{v.gain:.3f}*{_osc(v.wave, freq)}*{env}"


def _music_expr(style: _Style, detune: float) -> str:
    """aevalsrc expression for one channel (``detune`` > 1 widens the stereo image).

    Variables: 0 position in the chord, 1 chord index, 2-7 time since each drum's last hit,
    8 and 9 the noise generators' states.
    """
    beat = 60.0 / style.bpm
    period = 4 * beat * style.bars_per_chord
    n = len(style.chords)
    parts = [f"st(0,mod(t,{period:.6f}))", f"st(1,mod(floor(t/{period:.6f}),{n}))"]
    env = f"min(1,ld(0)/{style.attack:.4f})*min(1,({period:.6f}-ld(0))/{style.release:.4f})"
    if style.tremolo:
        rate, depth = style.tremolo
        env += f"*(1-{depth / 2:.3f}+{depth / 2:.3f}*sin(2*PI*{rate:.4f}*t))"

    def chord_expr(root: float, offsets: tuple[int, ...]) -> str:
        held = []
        if style.pad:
            tones = []
            for off in offsets:
                f = root * 2 ** (off / 12) * detune
                for h, amp in enumerate(style.harmonics, start=1):
                    tones.append(f"{amp:.3f}*sin({2 * math.pi * f * h:.4f}*t)")
            held.append(f"{style.pad:.3f}*({'+'.join(tones)})")
        if style.bass:
            held.append(f"{style.bass:.3f}*sin({2 * math.pi * root / 2 * detune:.4f}*t)")
        out = f"({'+'.join(held)})*{env}" if held else "0"
        for v in style.voices:
            out += f"+{_voice(v, beat, root, offsets, detune)}"
        return out

    chords = "0"
    for idx in reversed(range(n)):
        root, offsets = style.chords[idx]
        chords = f"if(eq(ld(1),{idx}),{chord_expr(root, offsets)},{chords})"
    body = chords
    for slot, drum in enumerate(style.drums, start=2):
        store, sound = _drum(drum, slot, beat)
        parts.append(store)
        body += f"+{sound}"
    return ";".join([*parts, body])


def make_music(out_path: Path, duration_s: float, *, style: str = DEFAULT_STYLE) -> Path:
    """Generate a stereo music bed (chords, bass, melody voices, drums) as AAC in .m4a.

    Args:
        out_path: where to write (``.m4a``; parent folders are created).
        duration_s: length in seconds (0 < duration_s <= 3600).
        style: one of :data:`STYLE_NAMES` (see the module's table): ``lofi``, ``epic``,
            ``chill``, ``tense``, ``retro`` (8-bit) or ``atmospheric`` (ambient), or an
            alias; unknown styles fall back to :data:`DEFAULT_STYLE` with a warning
            (:func:`resolve_style`). The beat is :func:`beat_seconds` long, the first
            downbeat at 0.

    Returns:
        ``out_path``.

    Raises:
        ValueError: ``duration_s`` out of range.
        MediaError: ffmpeg fails.
    """
    if not (0 < duration_s <= 3600):
        raise ValueError(f"duration_s must be in (0, 3600], got {duration_s}")
    spec = MUSIC_STYLES[resolve_style(style)]
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
