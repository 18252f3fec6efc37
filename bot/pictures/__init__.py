"""Pictures the bot sends, drawn or encoded with Pillow.

* :mod:`bot.pictures.fonts`: the one font every picture draws text with (Noto Sans SC, which
  covers Latin, Chinese and kana) and the filter that keeps text to the glyphs it has.
* :mod:`bot.pictures.timeline`: the ``/status`` timeline picture (one lane per track, the
  segments as labelled blocks on a time axis), in the user's language. Pure: its only I/O is
  reading the font.
* :mod:`bot.pictures.poster`: poster frames, one still taken from a rendered video.

No platform library here; the work is blocking CPU work, for a worker thread.
"""
