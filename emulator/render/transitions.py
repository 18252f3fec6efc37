"""Segment transitions (a segment's ``tr``) mapped to ffmpeg ``xfade`` transition names."""

from __future__ import annotations

import logging
from typing import Any

from emulator.render.units import ms

log = logging.getLogger(__name__)

__all__ = ["XFADE_TRANSITIONS", "transition"]

#: xfade's transition names (ffmpeg 9), minus ``custom`` which needs an expression.
XFADE_TRANSITIONS = frozenset(
    [
        "fade",
        "wipeleft",
        "wiperight",
        "wipeup",
        "wipedown",
        "slideleft",
        "slideright",
        "slideup",
        "slidedown",
        "circlecrop",
        "rectcrop",
        "distance",
        "fadeblack",
        "fadewhite",
        "radial",
        "smoothleft",
        "smoothright",
        "smoothup",
        "smoothdown",
        "circleopen",
        "circleclose",
        "vertopen",
        "vertclose",
        "horzopen",
        "horzclose",
        "dissolve",
        "pixelize",
        "diagtl",
        "diagtr",
        "diagbl",
        "diagbr",
        "hlslice",
        "hrslice",
        "vuslice",
        "vdslice",
        "hblur",
        "fadegrays",
        "wipetl",
        "wipetr",
        "wipebl",
        "wipebr",
        "squeezeh",
        "squeezev",
        "zoomin",
        "fadefast",
        "fadeslow",
        "hlwind",
        "hrwind",
        "vuwind",
        "vdwind",
        "coverleft",
        "coverright",
        "coverup",
        "coverdown",
        "revealleft",
        "revealright",
        "revealup",
        "revealdown",
    ]
)
_TRANSITION_ALIASES = {
    "crossfade": "fade",
    "cross": "fade",
    "xfade": "fade",
    "mix": "fade",
    "wipe": "wipeleft",
    "slide": "slideleft",
    "zoom": "zoomin",
    "blur": "hblur",
    "circle": "circleopen",
    "black": "fadeblack",
    "white": "fadewhite",
}


def transition(tr: Any) -> tuple[str | None, int]:
    """The xfade transition a segment's ``tr`` asks for.

    Args:
        tr: The segment's ``tr`` value (``docs/draft-format.md``): ``{"type": name, "d": ms}``;
            anything else means no transition. ``type`` defaults to ``fade``, ``d`` to 500 ms;
            aliases such as ``crossfade`` or ``wipe`` are mapped, unknown names become
            ``fade`` (with a warning).

    Returns:
        ``(xfade name, duration in ms)``, or ``(None, 0)`` without a transition (also when
        ``d`` is not positive).
    """
    if not isinstance(tr, dict):
        return None, 0
    d = ms(tr.get("d"), 500)
    if d <= 0:
        return None, 0
    name = str(tr.get("type") or "fade").strip().lower()
    name = _TRANSITION_ALIASES.get(name, name)
    if name not in XFADE_TRANSITIONS:
        log.warning("unknown transition %r, using fade", name)
        name = "fade"
    return name, d
