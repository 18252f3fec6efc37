"""Pictures the bot sends: PNGs drawn with Pillow from the data the bot already has.

* :mod:`bot.pictures.fonts`: the one font every picture draws with (Noto Sans SC, which covers
  Latin, Chinese and kana) and the filter that keeps text to the glyphs it has.
* :mod:`bot.pictures.timeline`: the ``/status`` timeline picture (one lane per track, the
  segments as labelled blocks on a time axis), in the user's language.

Pure code: no network, no platform library, no files written; the only I/O is reading the font.
"""
