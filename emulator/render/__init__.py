"""The emulator's real renderer: a NemoVideo draft in, an MP4 out, with one ffmpeg run.

The draft format is described in ``docs/draft-format.md`` (contract section 4): tracks ``t``
with type ``tt`` (0 video, 1 audio/BGM, 7 text), segments ``sg`` with times in milliseconds.

Timeline model (all lengths are counted in whole frames at :data:`FPS`, audio in samples at
:data:`SAMPLE_RATE`, so picture and sound never drift):

* Video segments play one after another in ``st`` order. A gap between the nominal end of
  one segment and the ``st`` of the next becomes black silence; a segment with ``tr`` is
  blended into the previous one with ``xfade`` (and ``acrossfade``), which shortens the
  total by the transition length.
* Audio segments are placed at their absolute ``st`` and mixed over the clip audio.
* Text segments are drawn between ``st`` and ``st + d`` on the output timeline.
* The output lasts ``draft["d"]`` when given, else until the end of the last segment; the
  picture is padded with black, the sound with silence.
* The output has the draft's canvas size (``m.width`` x ``m.height``, else from
  ``m.aspect_ratio``; 1920x1080 by default). Pictures of another shape are scaled and
  cropped when little is lost, else fitted over a blurred copy of themselves; titles and
  leaderboards are sized by the canvas's short side and placed relative to the canvas.

Modules, in the order :func:`render_draft` (in :mod:`~emulator.render.pipeline`) uses them:
:mod:`~emulator.render.timeline` (collect the inputs), :mod:`~emulator.render.graph` (the
filter graph), :mod:`~emulator.render.overlays` (text), :mod:`~emulator.render.ffmpeg` (the
run); :mod:`~emulator.render.units` and :mod:`~emulator.render.transitions` are shared.
"""

from __future__ import annotations

from emulator.render.errors import RenderError
from emulator.render.pipeline import RenderResult, render_draft
from emulator.render.transitions import XFADE_TRANSITIONS
from emulator.render.units import FPS, SAMPLE_RATE

__all__ = ["FPS", "SAMPLE_RATE", "XFADE_TRANSITIONS", "RenderError", "RenderResult", "render_draft"]
