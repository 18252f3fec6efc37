"""The baseline of the chat-bot benchmarks: a bare python-telegram-bot bot that answers ``/help``.

A plain PTB ``Application`` built the way nemobot builds its own (``concurrent_updates(True)``,
``AIORateLimiter()``, long polling with ``poll_interval=0``), with one ``CommandHandler`` that
answers ``/help`` with a fixed text of about 300 characters, and nothing else: no database, no
engine. :mod:`bench.p1_cheap_commands` and :mod:`bench.p2_agent_runs` start it as a subprocess
(through :func:`bench.harness.start_bot`) so its CPU time and memory are its own.

Usage: ``python bench/bare_ptb_bot.py --token 123:ABC --api-url http://127.0.0.1:PORT [--no-limiter]``
(``--api-url`` is the root of a Bot API server, e.g. the fake ``tests.fakes.telegram.FakeTelegram``).
Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # as nemobot: no deprecation warning on every duration read

from telegram import Update
from telegram.ext import AIORateLimiter, Application, CommandHandler, ContextTypes

HELP_TEXT = (
    "🎬 Video editor bot. Send me a clip, then tell me what to change in plain words: "
    '"trim the first 5 seconds", "add background music", "put a ranked leaderboard on top". '
    "Commands: /status shows the project, /export renders the video, /credits shows your balance, "
    "/new starts over, /help shows this text."
)
"""The fixed ``/help`` answer (about 300 characters)."""


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer ``/help`` with :data:`HELP_TEXT` in the same chat."""
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat_id=chat.id, text=HELP_TEXT)


def build(token: str, api_url: str, *, limiter: bool = True) -> Application:  # type: ignore[type-arg]
    """The baseline ``Application``.

    Args:
        token: The bot token.
        api_url: The Bot API server's root (``http://host:port``), without ``/bot``.
        limiter: Use PTB's ``AIORateLimiter`` (Telegram's 30 messages/s overall).
    """
    builder = (
        Application.builder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .concurrent_updates(True)
    )
    if limiter:
        builder = builder.rate_limiter(AIORateLimiter())
    app = builder.build()
    app.add_handler(CommandHandler("help", help_command))
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", required=True, help="bot token")
    parser.add_argument("--api-url", required=True, help="Bot API server root, e.g. http://127.0.0.1:8081")
    parser.add_argument("--no-limiter", action="store_true", help="no AIORateLimiter (requests go out at once)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore"):  # request URLs carry the token
        logging.getLogger(name).setLevel(logging.WARNING)
    app = build(args.token, args.api_url.rstrip("/"), limiter=not args.no_limiter)
    app.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY], poll_interval=0.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
