"""Fake platform servers for offline tests: real local HTTP/websocket servers the real client
libraries talk to.

* :mod:`tests.fakes.base`: what both fakes share (server lifecycle, request log, armed
  failures, uploads to disk).
* :mod:`tests.fakes.telegram`: the Telegram Bot API, for python-telegram-bot.
* :mod:`tests.fakes.discord`: Discord's REST API, gateway and attachment CDN, for discord.py.

Tests import them as ``tests.fakes.telegram`` and ``tests.fakes.discord``.
"""
