"""The renderer's units: milliseconds in the draft, whole frames and samples in the output.

All lengths on the output timeline are counted in whole frames at :data:`FPS`, audio in
samples at :data:`SAMPLE_RATE` (:data:`SAMPLES_PER_FRAME` per frame), so picture and sound
never drift.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["FPS", "MAX_SIDE", "SAMPLES_PER_FRAME", "SAMPLE_RATE", "even", "frames", "ms", "num"]

FPS = 30
SAMPLE_RATE = 48000
#: Audio samples per video frame (1600).
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
#: Largest output width or height in pixels.
MAX_SIDE = 4096


def num(value: Any, default: float) -> float:
    """A draft value as a finite float.

    Args:
        value: Any JSON value.
        default: Returned for ``None``, booleans, non-numbers, NaN and infinities.

    Returns:
        ``float(value)``, or ``default``.
    """
    if isinstance(value, bool) or value is None:
        return default
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def ms(value: Any, default: int = 0) -> int:
    """A draft time as whole milliseconds (rounded; ``default`` for unusable values)."""
    return round(num(value, default))


def frames(ms_value: float) -> int:
    """A length in milliseconds as whole frames at :data:`FPS` (rounded)."""
    return round(ms_value * FPS / 1000)


def even(value: Any, default: int) -> int:
    """A frame side in pixels: clamped to 16..:data:`MAX_SIDE` and rounded down to even.

    Args:
        value: The draft's ``m.width`` or ``m.height``.
        default: Used when ``value`` is not a number.
    """
    v = int(num(value, default))
    v = max(16, min(MAX_SIDE, v))
    return v - (v % 2)
