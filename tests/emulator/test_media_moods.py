"""emulator.media.music: every mood word gives an audibly different bed, and its tempo is true.

Each style is generated for a few seconds and measured (pure Python, no numpy): spectral
centroid (brightness), dominant frequency (key / bass register), onset rate and envelope
variation (rhythm). Every pair of styles must differ clearly on at least one of them; the
styles with drums must put their hits on the beat grid of :func:`tempo_of`.
"""

from __future__ import annotations

import array
import cmath
import itertools
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from emulator import media
from emulator.media import music
from emulator.media.music import DEFAULT_STYLE, STYLE_NAMES, beat_seconds, resolve_style, tempo_of

RATE = 24000  # analysis sample rate (mono)
SECONDS = 5.0  # length of each generated bed
SKIP_HEAD, SKIP_TAIL = 0.6, 1.0  # past the fade-in, before the fade-out (1.5 s, gentle at first)
FRAME = 0.01  # envelope hop, s
WINDOW = 0.04  # envelope window, s (longer than a bass period)

#: What "clearly different" means, per feature.
CENTROID_RATIO = 1.25  # 25 % brighter or darker
DOMINANT_RATIO = 2 ** (2 / 12)  # two semitones apart
ONSET_GAP = 1.0  # onsets per second
CV_GAP = 0.15  # envelope coefficient of variation


# --------------------------------------------------------------------------- analysis helpers


def decode_mono(path: Path, rate: int = RATE) -> array.array:
    """The file's audio as mono float samples at ``rate``."""
    out = array.array("f")
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in c.decode(audio=0):
            for f in resampler.resample(frame):
                out.extend(array.array("f", bytes(f.planes[0]))[: f.samples])
        for f in resampler.resample(None):
            out.extend(array.array("f", bytes(f.planes[0]))[: f.samples])
    return out


def fft(x: list[float]) -> list[complex]:
    """Iterative radix-2 FFT (``len(x)`` a power of two)."""
    n = len(x)
    a = [complex(v) for v in x]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            a[i], a[j] = a[j], a[i]
    size = 2
    while size <= n:
        half = size // 2
        tw = [cmath.exp(-2j * math.pi * k / size) for k in range(half)]
        for start in range(0, n, size):
            for k in range(half):
                u, v = a[start + k], a[start + k + half] * tw[k]
                a[start + k], a[start + k + half] = u + v, u - v
        size *= 2
    return a


def power_spectrum(x: array.array, n: int, starts: list[int]) -> list[float]:
    """Hann-windowed power spectrum of length-``n`` windows at ``starts``, summed."""
    win = [0.5 - 0.5 * math.cos(2 * math.pi * i / n) for i in range(n)]
    acc = [0.0] * (n // 2)
    for s in starts:
        spec = fft([x[s + i] * win[i] for i in range(n)])
        for k in range(n // 2):
            acc[k] += abs(spec[k]) ** 2
    return acc


def onset_strength(x: array.array) -> tuple[list[float], list[float]]:
    """Per 10 ms frame: how many dB the level rose over the previous 40 ms (0 when falling),
    and the RMS envelope.

    Frame ``i`` (window starting at ``SKIP_HEAD + i * FRAME``) peaks when its window starts
    on a hit.
    """
    hop, wl = int(FRAME * RATE), int(WINDOW * RATE)
    cum = [0.0]
    for v in x:
        cum.append(cum[-1] + v * v)
    a, b = int(SKIP_HEAD * RATE), len(x) - int(SKIP_TAIL * RATE)
    env = [math.sqrt((cum[i + wl] - cum[i]) / wl) for i in range(a, b - wl, hop)]
    db = [20 * math.log10(e + 1e-6) for e in env]
    return [0.0] * 4 + [max(0.0, db[i] - min(db[i - 4 : i])) for i in range(4, len(db))], env


def features(x: array.array) -> dict[str, float]:
    """Spectral centroid (Hz), dominant frequency (Hz), onset rate (1/s), envelope variation
    (coefficient of variation of the RMS envelope) and RMS level of mono samples at ``RATE``."""
    a, b = int(SKIP_HEAD * RATE), len(x) - int(SKIP_TAIL * RATE)
    n = 4096
    ps = power_spectrum(x, n, list(range(a, b - n, n)))
    mags = [math.sqrt(p) for p in ps]
    centroid = sum(k * RATE / n * m for k, m in enumerate(mags)) / sum(mags)

    # dominant frequency: 4x decimated (6 kHz), 8192-point windows (0.73 Hz bins), above 30 Hz
    d = array.array("f", (sum(x[i : i + 4]) / 4 for i in range(0, len(x) - 3, 4)))
    r2, n2 = RATE / 4, 8192
    a2, b2 = int(SKIP_HEAD * r2), len(d) - int(SKIP_TAIL * r2)
    ps2 = power_spectrum(d, n2, list(range(a2, max(a2 + 1, b2 - n2), n2 // 2)))
    peak = max(range(int(30 * n2 / r2), n2 // 2), key=ps2.__getitem__)

    strength, env = onset_strength(x)
    onsets, last = 0, -100
    for i in range(1, len(strength) - 1):
        s = strength[i]
        if s > 3.0 and s >= strength[i - 1] and s > strength[i + 1] and i - last >= 6:
            onsets, last = onsets + 1, i
    mean = sum(env) / len(env)
    cv = math.sqrt(sum((e - mean) ** 2 for e in env) / len(env)) / mean
    return {
        "centroid": round(centroid, 1),
        "dominant": round(peak * r2 / n2, 1),
        "onsets": round(onsets / (len(env) * FRAME), 2),
        "cv": round(cv, 3),
        "rms": round(math.sqrt(sum(v * v for v in x[a:b]) / (b - a)), 4),
    }


def grid_share(strength: list[float], period: float) -> float:
    """Share of the onset strength within -45..+15 ms of a multiple of ``period`` seconds."""
    total = on = 0.0
    for i, v in enumerate(strength):
        phase = (SKIP_HEAD + i * FRAME) % period
        off = phase if phase <= period / 2 else phase - period
        total += v
        if -0.045 <= off <= 0.015:
            on += v
    return on / total if total else 0.0


def differences(fa: dict[str, float], fb: dict[str, float]) -> list[str]:
    """The features on which two beds differ by a clear margin."""
    out = []
    if max(fa["centroid"], fb["centroid"]) >= CENTROID_RATIO * min(fa["centroid"], fb["centroid"]):
        out.append("centroid")
    if max(fa["dominant"], fb["dominant"]) >= DOMINANT_RATIO * min(fa["dominant"], fb["dominant"]):
        out.append("dominant")
    if abs(fa["onsets"] - fb["onsets"]) >= ONSET_GAP:
        out.append("onsets")
    if abs(fa["cv"] - fb["cv"]) >= CV_GAP:
        out.append("cv")
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def beds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("moods")
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = pool.map(lambda s: media.make_music(folder / f"{s}.m4a", SECONDS, style=s), STYLE_NAMES)
        return dict(zip(STYLE_NAMES, paths, strict=True))


@pytest.fixture(scope="module")
def signals(beds: dict[str, Path]) -> dict[str, array.array]:
    return {style: decode_mono(path) for style, path in beds.items()}


@pytest.fixture(scope="module")
def table(signals: dict[str, array.array]) -> dict[str, dict[str, float]]:
    out = {style: features(x) for style, x in signals.items()}
    print("\nstyle        bpm  centroid Hz  dominant Hz  onsets/s  envelope cv     rms")
    for style, f in out.items():
        print(
            f"{style:<12} {tempo_of(style):>4.0f}  {f['centroid']:>11.0f}  {f['dominant']:>11.1f}"
            f"  {f['onsets']:>8.2f}  {f['cv']:>11.3f}  {f['rms']:>6.3f}"
        )
    return out


# --------------------------------------------------------------------------- the style API


def test_style_names_and_tempos() -> None:
    assert STYLE_NAMES == ("lofi", "epic", "chill", "tense", "retro", "atmospheric")
    assert tuple(media.MUSIC_STYLES) == STYLE_NAMES
    tempos = {s: tempo_of(s) for s in STYLE_NAMES}
    assert len(set(tempos.values())) == len(STYLE_NAMES), tempos  # every style its own tempo
    assert all(50 <= bpm <= 180 for bpm in tempos.values())
    for s in STYLE_NAMES:
        assert beat_seconds(s) == pytest.approx(60 / tempos[s])
        assert resolve_style(s) == s
    assert tempo_of("Lo-Fi") == tempos["lofi"]
    assert resolve_style("8-bit") == resolve_style("Chiptune") == "retro"
    assert resolve_style("ambient") == "atmospheric"
    assert resolve_style("suspense") == "tense"


def test_unknown_style_falls_back_to_lofi_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=music.__name__):
        assert resolve_style("polka") == DEFAULT_STYLE == "lofi"
        assert tempo_of("polka") == tempo_of("lofi")
        odd = media.make_music(tmp_path / "odd.m4a", 1.0, style="polka")
    assert any("polka" in r.getMessage() and "lofi" in r.getMessage() for r in caplog.records)
    lofi = media.make_music(tmp_path / "lofi.m4a", 1.0, style="lofi")
    assert decode_mono(odd) == decode_mono(lofi)  # the very same bed


# --------------------------------------------------------------------------- the beds


def test_every_style_is_a_non_silent_stereo_bed(beds: dict[str, Path], table: dict[str, dict[str, float]]) -> None:
    for style, path in beds.items():
        info = media.probe(path)
        assert info.kind == "audio" and info.has_audio and not info.has_video, style
        assert info.duration_s == pytest.approx(SECONDS, abs=0.1), style
        assert table[style]["rms"] > 0.03, f"{style} is (nearly) silent: {table[style]}"
        with av.open(str(path)) as c:
            assert c.streams.audio[0].codec_context.channels == 2


def test_every_pair_of_styles_differs_clearly(table: dict[str, dict[str, float]]) -> None:
    for a, b in itertools.combinations(STYLE_NAMES, 2):
        found = differences(table[a], table[b])
        print(f"{a} vs {b}: {', '.join(found) or 'NOTHING'}")
        assert found, f"{a} and {b} sound alike: {table[a]} vs {table[b]}"


def test_the_moods_have_their_character(table: dict[str, dict[str, float]]) -> None:
    centroid = {s: f["centroid"] for s, f in table.items()}
    # retro (square and pulse waves, bit-crushed) is the brightest, atmospheric (muffled pad) the darkest
    assert max(centroid, key=centroid.__getitem__) == "retro"
    assert min(centroid, key=centroid.__getitem__) == "atmospheric"
    # chill and atmospheric have no drums; the others have a beat
    for style in ("chill", "atmospheric"):
        assert table[style]["onsets"] < 0.5, style
    for style in ("lofi", "epic", "tense", "retro"):
        assert table[style]["onsets"] > 1.0, style
    # tense sits lowest (heartbeat and E2 drone), retro's triangle bass and arpeggio highest
    dominant = {s: f["dominant"] for s, f in table.items()}
    assert min(dominant, key=dominant.__getitem__) == "tense"


@pytest.mark.parametrize("style", ["lofi", "epic", "tense", "retro"])
def test_hits_fall_on_the_tempo_grid(signals: dict[str, array.array], style: str) -> None:
    """The agent cuts on ``beat_seconds(style)``: the drums must hit that grid (eighth notes,
    first downbeat at 0), and a grid 6-10 % off must catch much less."""
    strength, _ = onset_strength(signals[style])
    eighth = beat_seconds(style) / 2
    on_grid = grid_share(strength, eighth)
    off_grid = max(grid_share(strength, eighth * m) for m in (0.9, 0.94, 1.06, 1.1))
    print(f"{style}: {on_grid:.2f} of the onset strength on the {tempo_of(style):.0f} BPM grid, {off_grid:.2f} off it")
    assert on_grid >= 0.55
    assert on_grid >= off_grid + 0.25
