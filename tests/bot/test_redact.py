"""bot.redact: every known secret and secret shape is masked on every logging path, at DEBUG too."""

from __future__ import annotations

import io
import logging

import pytest

from bot.redact import MASK, SecretRedactor

TELEGRAM = "123456789:AAHk3xQ-secretpartofthebottoken_0123456789"
NEMO = "nmv_usr_0f3c9a1b2c3d4e5f"
CLAIM = "clm_zwcWVeeWcSFQ80kCikPuADBh"
INTERACTION = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OnNlY3JldHBhcnQ"
DISCORD_BOT = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GabcDE.abcdefghijklmnopqrstuvwxyz0123"
REGISTERED = "webhook-secret-registered-at-start"
SECRETS = [TELEGRAM, NEMO, CLAIM, INTERACTION, DISCORD_BOT, REGISTERED]


@pytest.fixture
def log():
    redactor = SecretRedactor()
    redactor.add(REGISTERED)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(redactor)
    logger = logging.getLogger("nemobot.test.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_is_masked_on_every_path(log, secret):
    logger, stream = log
    logger.debug("in the message: %s" % secret)  # noqa: UP031 - a pre-formatted message is a path too
    logger.info("as an argument: %s", secret)
    logger.warning("in a dict argument: %(url)s", {"url": f"https://x/?t={secret}"})
    try:
        raise RuntimeError(f"The token `{secret}` was rejected")
    except RuntimeError:
        logger.exception("in a traceback")
    logger.error("with a stack", stack_info=True, extra={"note": secret})
    text = stream.getvalue()
    assert secret not in text
    assert text.count(MASK) >= 4 and "Traceback" in text and "RuntimeError" in text


def test_ordinary_text_is_left_alone(log):
    logger, stream = log
    logger.info("conversation telegram:-100777~2001 -> new session ses_82cebede24c2457c (5.3 s)")
    assert (
        stream.getvalue()
        .strip()
        .endswith("conversation telegram:-100777~2001 -> new session ses_82cebede24c2457c (5.3 s)")
    )


def test_short_values_are_not_registered():
    redactor = SecretRedactor()
    redactor.add("abc")
    redactor.add(None)
    assert redactor.redact("abc def") == "abc def"


async def test_a_rejected_token_never_reaches_the_log(tmp_path):
    """The CLI installs the redactor: Telegram refusing the token (PTB's ``InvalidToken``
    names it) is logged without it."""
    import asyncio
    import sys

    from tests.fakes.telegram import FakeTelegram

    token = "987654321:AAFakeTokenThatTheCliMustNeverPrint_xyz0"
    async with FakeTelegram(files_dir=tmp_path / "tg") as tg:  # it knows only its own token: ours is refused
        env = {
            "PATH": "",
            "HOME": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "TELEGRAM_TOKEN": token,
            "TELEGRAM_API_URL": tg.url,
            "LOG_LEVEL": "DEBUG",
            "HEALTH_PORT": "off",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    text = (out + err).decode()
    assert proc.returncode == 1, text[-2000:]
    assert "InvalidToken" in text or "rejected" in text, text[-2000:]
    assert token not in text and token.split(":")[1] not in text


def test_thousands_of_tokens_with_one_prefix_are_each_masked_and_the_longest_match_wins():
    redactor = SecretRedactor()
    tokens = [f"personal-{n:06d}-{'q' * 20}" for n in range(10_000)]  # one prefix, no known shape
    for token in tokens:
        redactor.add(token)
    redactor.add("abcdefgh")
    redactor.add("abcdefgh12345678")
    text = f"a {tokens[1]} b {tokens[9_999]}c abcdefgh12345678 abcdefgh9"
    assert redactor.redact(text) == f"a {MASK} b {MASK}c {MASK} {MASK}9"
    assert redactor.redact("personal-000001 is only a prefix") == "personal-000001 is only a prefix"
