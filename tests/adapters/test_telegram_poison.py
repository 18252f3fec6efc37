"""Hardening of the Telegram adapter (issue 10): poison updates, polling back-off, and the
webhook's secret check and listen-address warning; through the real PTB ``Application`` and
the fake Bot API."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from adapters.telegram import TelegramAdapter, webhook
from adapters.telegram import bot as tgbot
from tests.adapters.test_telegram_e2e import free_port, running_bot, texts, wait_text
from tests.fakes.telegram import FakeTelegram

CREDITS = "💳 Credits: 100 available"
SECRET = "s3cret-Token_1-long-enough"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
async def tg(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg-files") as fake:
        yield fake


async def calls_during(tg: FakeTelegram, seconds: float) -> int:
    """How many ``getUpdates`` requests the bot makes in the next ``seconds``."""
    before = tg.get_updates_calls
    await asyncio.sleep(seconds)
    return tg.get_updates_calls - before


def skipped_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and "skipped" in r.getMessage()]


# ---------------------------------------------------------------------- poison updates


async def test_unparsable_update_is_skipped_and_its_batch_answered(emulator, tg, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    ana, ben, cid = tg.private_chat(user_id=1101), tg.private_chat(user_id=1102), tg.private_chat(user_id=1103)
    # one batch: the bot is not polling yet
    tg.user_text(ana, "/credits")
    bad = tg.legacy_poll(cid, "Secret lunch plans?")
    tg.user_text(ben, "/credits")
    async with running_bot(emulator, tg, tmp_path):
        await wait_text(tg, ana["id"], CREDITS, timeout=15)
        await wait_text(tg, ben["id"], CREDITS, timeout=15)
        polls = await calls_during(tg, 2.0)
        assert tg.pending_updates == []  # the bad update was confirmed with the others
    # before the fix PTB re-fetched the batch back to back: thousands of getUpdates in 2 s
    assert polls <= 5, polls
    assert texts(tg, cid["id"]) == []
    [warning] = skipped_warnings(caplog)
    assert warning.name.startswith("adapters.telegram")
    assert str(bad["update_id"]) in warning.getMessage() and "TypeError" in warning.getMessage()
    assert "Secret lunch plans" not in caplog.text  # no update content, at any level
    assert tg.token not in caplog.text


async def test_unparsable_update_last_in_its_batch_is_not_fetched_again(emulator, tg, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    ana = tg.private_chat(user_id=1201)
    async with running_bot(emulator, tg, tmp_path):
        await tg.wait_until(lambda: tg.get_updates_calls > 0)
        bad = tg.legacy_poll(ana)  # alone: nothing after it moves the offset
        await tg.wait_until(lambda: tg.confirmed_offset > bad["update_id"], timeout=5)
        polls = await calls_during(tg, 2.0)
        tg.user_text(ana, "/credits")
        await wait_text(tg, ana["id"], CREDITS, timeout=10)
    assert polls <= 5, polls
    assert len(skipped_warnings(caplog)) == 1


async def test_handler_error_for_one_update_does_not_stop_the_others(emulator, tg, tmp_path, caplog):
    ana, ben = tg.private_chat(user_id=1301), tg.private_chat(user_id=1302)
    tg.user_text(ana, "/credits")
    tg.user_text(ben, "/credits")
    async with running_bot(emulator, tg, tmp_path) as (adapter, _runtime):
        accept = adapter.engine.accept

        async def flaky(incoming, channel):
            if incoming.conversation.chat_id == str(ana["id"]):
                raise RuntimeError("boom")
            return await accept(incoming, channel)

        adapter.engine.accept = flaky
        await wait_text(tg, ben["id"], CREDITS, timeout=15)
        await tg.wait_until(lambda: "Telegram handler error: RuntimeError" in caplog.text, timeout=5)
        adapter.engine.accept = accept
        tg.user_text(ana, "/credits")  # the failed user is answered next time
        await wait_text(tg, ana["id"], CREDITS, timeout=15)


# ---------------------------------------------------------------------- polling back-off


def test_backoff_doubles_and_is_capped():
    delays = [tgbot.backoff_delay(n) for n in range(1, 9)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == tgbot.BACKOFF_MAX_S == delays[-1] <= 5.0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(502, "<html><body>502 Bad Gateway PAGE-MARKER</body></html>", id="502-html"),
        pytest.param(200, '{"ok": true, "PAGE-MARKER": 1}', id="no-result"),
        pytest.param(200, '{"ok": true, "result": {"PAGE-MARKER": 1}}', id="result-not-a-list"),
        pytest.param(200, '{"ok": true, "result": [{"PAGE-MARKER": 1}]}', id="update-without-id"),
        pytest.param(200, "PAGE-MARKER garbage", id="not-json"),
    ],
)
async def test_failing_get_updates_backs_off(emulator, tg, tmp_path, caplog, status, body):
    caplog.set_level(logging.DEBUG)
    ana = tg.private_chat(user_id=1401)
    async with running_bot(emulator, tg, tmp_path):
        await tg.wait_until(lambda: tg.get_updates_calls > 0)
        caplog.clear()
        tg.fail_raw("getUpdates", body, status=status, times=10_000)
        polls = await calls_during(tg, 3.0)
        tg.fail_raw("getUpdates", "", times=0)  # Telegram is back
        tg.user_text(ana, "/credits")
        await wait_text(tg, ana["id"], CREDITS, timeout=15)
    # back-off 0.5, 1, 2 s: about 4 calls in 3 s (before the fix: thousands for the 200s,
    # and an ERROR with a traceback and the answer's text for every 502)
    assert 2 <= polls <= 6, polls
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "getUpdates" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "PAGE-MARKER" not in caplog.text
    assert "Traceback" not in caplog.text


# ---------------------------------------------------------------------- webhook


def test_secret_matches_is_exact():
    assert webhook.secret_matches(SECRET, SECRET)
    assert not webhook.secret_matches(None, SECRET)
    assert not webhook.secret_matches("", SECRET)
    assert not webhook.secret_matches(SECRET[:-1], SECRET)
    assert not webhook.secret_matches(SECRET + "x", SECRET)
    assert not webhook.secret_matches("sécret-non-ascii-value", SECRET)  # no TypeError on non-ASCII


async def test_webhook_secret_is_decided_by_the_constant_time_check(emulator, tg, tmp_path, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = webhook.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhook.hmac, "compare_digest", spy)
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    chat = tg.private_chat(user_id=1501)

    def update(update_id):
        message = {"message_id": update_id, "date": 1, "chat": chat, "from": tg.user(1501), "text": "/credits"}
        return {"update_id": update_id, "message": message}

    async with running_bot(
        emulator,
        tg,
        tmp_path,
        telegram_webhook_url=url,
        telegram_webhook_secret=SECRET,
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
    ):
        assert tg.webhook["secret_token"] == SECRET
        async with aiohttp.ClientSession() as http:
            statuses = []
            for headers in ({SECRET_HEADER: "wrong"}, {}, {SECRET_HEADER: SECRET[:-1] + "X"}, {SECRET_HEADER: SECRET}):
                async with http.post(url, json=update(1), headers=headers) as resp:
                    statuses.append(resp.status)
            assert statuses == [403, 403, 403, 200]
            assert compared and all(b == SECRET.encode() for _a, b in compared)
            # ours decides, not a later check: refusing everything refuses the right secret too
            monkeypatch.setattr(webhook.hmac, "compare_digest", lambda a, b: False)
            async with http.post(url, json=update(2), headers={SECRET_HEADER: SECRET}) as resp:
                assert resp.status == 403
        await wait_text(tg, chat["id"], CREDITS)
    assert len([t for t in texts(tg, chat["id"]) if t.startswith("💳")]) == 1


async def test_webhook_skips_an_unparsable_update(emulator, tg, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    chat = tg.private_chat(user_id=1601)
    async with running_bot(
        emulator, tg, tmp_path, telegram_webhook_url=url, telegram_webhook_secret=SECRET, telegram_webhook_port=port
    ):
        bad = tg.legacy_poll(chat, "Secret lunch plans?")
        tg.user_text(chat, "/credits")
        # Telegram would retry (and hold back) an update answered with an error: 200 skips it
        assert await tg.push_webhook() == [200, 200]
        await wait_text(tg, chat["id"], CREDITS)
    [warning] = skipped_warnings(caplog)
    assert str(bad["update_id"]) in warning.getMessage()
    assert "Secret lunch plans" not in caplog.text


@pytest.mark.parametrize(
    ("listen", "public"),
    [
        ("0.0.0.0", True),
        ("::", True),
        ("", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("bot.example.com", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("172.17.0.2", False),
        ("fd00::5", False),
    ],
)
def test_public_listen_addresses(listen, public):
    assert webhook.is_public_listen(listen) is public


@pytest.mark.parametrize(("listen", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
async def test_webhook_on_a_public_address_warns_at_start(emulator, tg, tmp_path, caplog, listen, warned):
    caplog.set_level(logging.INFO)
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    async with running_bot(
        emulator,
        tg,
        tmp_path,
        telegram_webhook_url=url,
        telegram_webhook_secret=SECRET,
        telegram_webhook_listen=listen,
        telegram_webhook_port=port,
    ) as (adapter, _runtime):
        assert isinstance(adapter, TelegramAdapter)
    found = [r for r in caplog.records if r.levelno == logging.WARNING and "reverse proxy" in r.getMessage()]
    assert bool(found) is warned
    if warned:
        assert listen in found[0].getMessage() and SECRET not in caplog.text
