"""Bad inputs on Telegram, through the real PTB ``Application``, the fake Bot API, the real
engine and the emulator: one bot for the whole module, one fresh user per input, and a
bystander whose ``/help`` is answered meanwhile.

Each row of :data:`CASES` is one input as a hostile or careless user sends it, and what the
bot must answer: the exact sentence (``str``), every needle of :class:`Has`, or nothing
(``None``). Every row also checks that nothing leaked (tracebacks, backend text, the bot
token), that no agent run or URL fetch happened unless the row says so, that nothing was
logged as an error, and that the bystander got the whole ``/help`` text.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from adapters.telegram import TelegramAdapter
from bot.adapter import running
from bot.app import Runtime, open_runtime
from bot.profiles import PROFILES
from bot.texts import FORMATS_LINE, t
from emulator.app import Emulator
from tests.adapters.test_telegram_e2e import texts, tg_settings
from tests.bad_inputs.conftest import (
    EMPTY,
    EXAMPLE,
    HELP,
    NEED_SESSION,
    NOT_MEDIA,
    NOT_READY,
    VOICE,
    Spy,
    leaks,
    logged_errors,
    total_runs,
    without_onboarding,
)
from tests.conftest import BIKES
from tests.fakes.telegram import MB, FakeTelegram

pytestmark = pytest.mark.asyncio(loop_scope="module")

Chat = dict[str, Any]
Send = Callable[[FakeTelegram, Chat, Chat], dict[str, Any]]
"""Injects the input: ``(fake, chat, user) -> the queued update``."""


@dataclass(frozen=True)
class Has:
    """The bot's messages in the chat, together, contain every needle (several messages)."""

    needles: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        id: Readable test id.
        send: Injects it.
        expect: The one reply (exact), :class:`Has` needles, a function of the update giving the
            exact reply, or ``None`` when the bot must stay silent.
        where: ``private``, ``group`` (a supergroup) or ``channel`` (a channel the bot reads).
        runs: Agent runs it may start (``/run_sse``).
        alert: The alert a button press must be answered with.
        uploaded: The file name the bot must have streamed to NemoVideo.
        setup: Done before (and awaited), e.g. a bot message to press a button on.
    """

    id: str
    send: Send
    expect: str | Has | Callable[[dict[str, Any]], str] | None
    where: str = "private"
    runs: int = 0
    alert: str | None = None
    uploaded: str | None = None
    setup: Callable[[FakeTelegram, Chat, Chat], Awaitable[None]] | None = None


# ---------------------------------------------------------------------- how inputs are sent

_ids = itertools.count(500)


def text(s: str) -> Send:
    return lambda tg, chat, user: tg.user_text(chat, s, user=user)


def media(kind: str, data: Any, name: str | None, mime: str | None = None, size: int | None = None) -> Send:
    def send(tg: FakeTelegram, chat: Chat, user: Chat) -> dict[str, Any]:
        return tg.user_media(chat, kind, tg.add_file(data, file_name=name, mime_type=mime, size=size), user=user)

    return send


def clip(name: str) -> Send:
    """The real bikes clip (10 s, 640x272) sent as a file whose name the user's client made up."""
    return media("document", BIKES, name, "video/mp4")


def message(**fields: Any) -> Send:
    """A user's message with any fields (a sticker, a location...), as the Bot API sends it."""

    def send(tg: FakeTelegram, chat: Chat, user: Chat) -> dict[str, Any]:
        body = {"message_id": next(_ids), "date": int(time.time()), "chat": chat, "from": user, **fields}
        return tg.raw_update({"message": body})

    return send


def update(kind: str, *, sender: bool = True, **fields: Any) -> Send:
    """An update of another kind (``edited_message``, ``channel_post``...), from the user
    unless ``sender`` is false (channel posts have none)."""

    def send(tg: FakeTelegram, chat: Chat, user: Chat) -> dict[str, Any]:
        body = {"message_id": next(_ids), "date": int(time.time()), "chat": chat, **fields}
        if sender:
            body["from"] = user
        return tg.raw_update({kind: body})

    return send


def without_sender(s: str) -> Send:
    def send(tg: FakeTelegram, chat: Chat, user: Chat) -> dict[str, Any]:
        return tg.raw_update({"message": {"message_id": next(_ids), "date": int(time.time()), "chat": chat, "text": s}})

    return send


def from_bot(s: str) -> Send:
    def send(tg: FakeTelegram, chat: Chat, user: Chat) -> dict[str, Any]:
        other_bot = {"id": 7770001, "is_bot": True, "first_name": "Spam", "username": "spam_bot"}
        body = {"message_id": next(_ids), "date": int(time.time()), "chat": chat, "from": other_bot, "text": s}
        return tg.raw_update({"message": body})

    return send


async def a_bot_message(tg: FakeTelegram, chat: Chat, user: Chat) -> None:
    """The user's chat gets a bot message first (``/start``), to press buttons on."""
    tg.user_text(chat, "/start", user=user)
    await tg.wait_until(lambda: bool(tg.bot_messages(chat["id"])), timeout=20)


def press(data: str) -> Send:
    def send(tg: FakeTelegram, chat: Chat, user: Chat) -> dict[str, Any]:
        last = tg.bot_messages(chat["id"])[-1]
        return tg.press_button(chat, last.message_id, data, user=user)

    return send


STICKER = {
    "file_id": "CAACAgIAAxkBAAEBsticker",
    "file_unique_id": "AgADsticker",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "👍",
}
PARIS = {"latitude": 48.8606, "longitude": 2.3376}
POLL = {
    "id": "5000000001",
    "question": "Lunch?",
    "options": [
        {"persistent_id": "a", "text": "yes", "voter_count": 0},
        {"persistent_id": "b", "text": "no", "voter_count": 0},
    ],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
    "allows_revoting": True,
    "members_only": False,
}


def unsupported(name: str) -> str:
    return t("unsupported_files", "en", names=name, formats=FORMATS_LINE)


def link_refused(name: str) -> str:
    return t("link_refused", "en", name=name)


def added(name: str) -> str:
    files = f"{name} (10.0 s, 640x272)"
    return t("uploaded", "en", files=files) + "\n" + t("upload_next", "en", example=EXAMPLE)


def nameless_document(upd: dict[str, Any]) -> str:
    return unsupported(f"document_{upd['message']['document']['file_unique_id']}")


AGENT_CHAT = Has(("✅ Done in", "What would you like?"))
"""An agent run answered by the emulator's chat fallback (no clip, nothing to edit)."""
SKILLS = ", ".join(PROFILES)
ELEVEN_LINKS = " ".join(f"https://cdn{i}.example.org/{i}.mp4" for i in range(11))
NOT_YOURS = t("not_your_project", "en")

CASES = [
    # -- nothing in it
    Case("whitespace-only", text("   \n\t  "), EMPTY),
    Case("zero-width-only", text("\u200b\u200c\u200d\u2060\ufeff"), EMPTY),
    # -- things that are not media
    Case("sticker", message(sticker=STICKER), NOT_MEDIA),
    Case("location", message(location=PARIS), NOT_MEDIA),
    Case(
        "venue",
        message(location=PARIS, venue={"location": PARIS, "title": "Louvre", "address": "Rue de Rivoli"}),
        NOT_MEDIA,
    ),
    Case("poll", message(poll=POLL), NOT_MEDIA),
    Case("contact", message(contact={"phone_number": "+15550100", "first_name": "Eve"}), NOT_MEDIA),
    Case("dice", message(dice={"emoji": "🎲", "value": 6}), NOT_MEDIA),
    Case("voice-message", media("voice", b"OggS\0\2" + bytes(2000), None, "audio/ogg"), VOICE),
    # -- files nemobot cannot use
    Case(
        "exe-file",
        media("document", b"MZ\x90\0" + bytes(500), "setup.exe", "application/x-msdownload"),
        unsupported("setup.exe"),
    ),
    Case("txt-file", media("document", b"my notes\n", "notes.txt", "text/plain"), unsupported("notes.txt")),
    Case(
        "pdf-file",
        media("document", b"%PDF-1.7\n" + bytes(300), "brief.pdf", "application/pdf"),
        unsupported("brief.pdf"),
    ),
    Case("document-without-name-or-type", media("document", bytes(1000), None), nameless_document),
    Case("zero-byte-video", media("document", b"", "empty.mp4", "video/mp4"), t("empty_file", "en", name="empty.mp4")),
    Case(
        "video-over-20mb",
        media("video", bytes(1024), "match.mp4", "video/mp4", size=25 * MB),
        t("platform_download_limit", "en", name="match.mp4", size="25 MB", platform="Telegram", limit="20 MB"),
    ),
    # -- hostile file names: shown and sent cleaned (no control characters, at most 100 characters)
    Case("name-with-crlf", clip("bikes\r\nFAKE LINE.mp4"), added("bikesFAKE LINE.mp4"), uploaded="bikesFAKE LINE.mp4"),
    Case("name-with-nul", clip("bi\x00kes.mp4"), added("bikes.mp4"), uploaded="bikes.mp4"),
    Case("name-nul-truncation", clip("clip.mp4\x00.exe"), unsupported("clip.mp4.exe")),
    Case(
        "name-with-ansi-escapes",
        clip("\x1b[2J\x1b[31mbikes\x1b[0m.mp4"),
        added("[2J[31mbikes[0m.mp4"),
        uploaded="[2J[31mbikes[0m.mp4",
    ),
    Case("name-with-rtl-override", clip("bikes\u202e4pm.exe"), unsupported("bikes4pm.exe")),
    Case("name-path-traversal", clip("../../etc/passwd.mp4"), added("passwd.mp4"), uploaded="passwd.mp4"),
    Case("name-windows-path", clip("..\\..\\Windows\\win.mp4"), added("win.mp4"), uploaded="win.mp4"),
    Case("name-1000-chars", clip("x" * 996 + ".mp4"), added("x" * 95 + "….mp4"), uploaded="x" * 95 + "….mp4"),
    # -- links NemoVideo must never be asked to fetch
    Case("link-cloud-metadata", text("http://169.254.169.254/latest/x.mp4"), link_refused("x.mp4")),
    Case("link-loopback", text("http://127.0.0.1:1/x.mp4"), link_refused("x.mp4")),
    Case("link-localhost", text("http://localhost/x.mp4"), link_refused("x.mp4")),
    Case("link-ipv6-loopback", text("http://[::1]/x.mp4"), link_refused("x.mp4")),
    Case("link-decimal-ip", text("http://2130706433/x.mp4"), link_refused("x.mp4")),
    Case("link-ftp", text("ftp://example.com/x.mp4"), link_refused("x.mp4")),
    Case("eleven-links", text(ELEVEN_LINKS), t("too_many_links", "en", count=11, max=10)),
    # -- commands and text
    Case("unknown-command", text("/foo"), t("unknown_command", "en", name="foo")),
    Case("export-before-any-clip", text("/export"), NOT_READY),
    Case("status-before-any-clip", text("/status"), NEED_SESSION),
    Case("skill-garbage-200-chars", text("/skill " + "Z" * 200), t("skill_unknown", "en", name="Z" * 50, names=SKILLS)),
    Case(
        "skill-with-escapes",
        text("/skill \x1b[31m" + "A" * 80),
        t("skill_unknown", "en", name="\x1b[31m" + "A" * 45, names=SKILLS),
    ),
    Case("10000-characters", text("x" * 10_000), t("too_long", "en", n=10_000, limit=4000)),
    Case("emoji-only", text("🎬🔥💯🤖"), AGENT_CHAT, runs=1),
    Case("rtl-text", text("أضف موسيقى خلفية من فضلك"), AGENT_CHAT, runs=1),
    # -- groups: what is not for this bot
    Case("command-for-another-bot", text("/help@otherbot"), None, where="group"),
    Case("group-chatter", text("anyone seen my charger?"), None, where="group"),
    # -- forged buttons: an alert, nothing runs
    Case("forged-button-key", press("nb:export:000000000000"), None, alert=NOT_YOURS, setup=a_bot_message),
    Case("forged-unknown-button", press("nb:admin:abcdef123456"), None, alert=NOT_YOURS, setup=a_bot_message),
    Case("callback-garbage", press("'; DROP TABLE users; --"), None, alert=NOT_YOURS, setup=a_bot_message),
    # -- updates that are no one's message
    Case("edited-message", update("edited_message", text="/export", edit_date=int(time.time())), None),
    Case("channel-post", update("channel_post", sender=False, text="/help"), None, where="channel"),
    Case("message-without-sender", without_sender("/export"), None),
    Case("message-from-another-bot", from_bot("/help"), None),
    Case("unknown-update-type", lambda tg, chat, user: tg.raw_update({"future_update": {"x": 1}}), None),
]
"""The catalog: 48 inputs (plus two ``/export`` at once, :func:`test_two_exports_at_once`)."""


# ---------------------------------------------------------------------- the bot


@dataclass
class World:
    tg: FakeTelegram
    runtime: Runtime
    emu: Emulator
    spy: Spy
    numbers: itertools.count[int]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, emu: Emulator, spy: Spy) -> Any:
    tmp = tmp_path_factory.mktemp("telegram")
    async with FakeTelegram(files_dir=tmp / "tg-files") as tg:
        settings = tg_settings(emu, tg, tmp)
        async with (
            open_runtime(settings, platform="telegram") as runtime,
            running(runtime, TelegramAdapter(runtime.engine, settings)),
        ):
            yield World(tg, runtime, emu, spy, itertools.count(1))


def place(w: World, where: str) -> tuple[Chat, Chat, str]:
    """A fresh chat and user for one input, and the conversation key it would have."""
    n = next(w.numbers)
    uid = 600_000 + n
    if where == "group":
        chat = w.tg.group_chat(chat_id=-1009_000_000 - n)
        return chat, w.tg.user(uid), f"telegram:{chat['id']}~{uid}"
    if where == "channel":
        chat = {"id": -1008_000_000 - n, "type": "channel", "title": "News"}
        return chat, w.tg.user(uid), f"telegram:{chat['id']}"
    chat = w.tg.private_chat(user_id=uid, first_name="Eve")
    return chat, w.tg.user(uid, "Eve"), f"telegram:{uid}"


async def settled(tg: FakeTelegram, quiet_s: float = 0.3, limit_s: float = 20.0) -> None:
    """Until the bot has made no Bot API call (besides polling) for ``quiet_s``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    seen, since = len(tg.calls), loop.time()
    while loop.time() < end:
        await asyncio.sleep(0.05)
        if len(tg.calls) != seen:
            seen, since = len(tg.calls), loop.time()
        elif loop.time() - since >= quiet_s:
            return


async def within(tg: FakeTelegram, predicate: Callable[[], bool], timeout: float) -> bool:
    try:
        await tg.wait_until(predicate, timeout=timeout)
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_input(world: World, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    tg, runtime = world.tg, world.runtime
    chat, user, key = place(world, case.where)
    bystander = tg.private_chat(user_id=700_000 + next(world.numbers), first_name="Bo")
    if case.setup is not None:
        await case.setup(tg, chat, user)
    before = len(texts(tg, chat["id"]))
    runs, urls, answers = total_runs(world.emu), len(world.spy.urls), len(tg.callback_answers)

    sent = case.send(tg, chat, user)
    assert not inspect.isawaitable(sent)
    tg.user_text(bystander, "/help")  # another user, at the same time

    helped = await within(tg, lambda: HELP in texts(tg, bystander["id"]), 30)
    await tg.wait_until(lambda: tg.confirmed_offset > sent["update_id"], timeout=20)
    if isinstance(case.expect, Has):
        needles = case.expect.needles
        await within(tg, lambda: all(any(n in x for x in texts(tg, chat["id"])) for n in needles), 60)
    elif case.expect is not None:
        await within(tg, lambda: len(texts(tg, chat["id"])) > before, 60)
    await tg.wait_until(lambda: not runtime.engine.is_busy(key), timeout=60)
    await settled(tg)

    replies = without_onboarding(texts(tg, chat["id"])[before:])
    alerts = [a.get("text", "") for a in tg.callback_answers[answers:]]
    if isinstance(case.expect, Has):
        missing = [n for n in case.expect.needles if not any(n in r for r in replies)]
        assert not missing, f"{case.id}: {missing} not in the replies {replies!r}"
    elif case.expect is None:
        assert replies == [], f"{case.id}: expected no reply, got {replies!r}"
    else:
        expected = case.expect(sent) if callable(case.expect) else case.expect
        assert replies == [expected], f"{case.id}: expected only {expected!r}, got {replies!r}"
    if case.alert is not None:
        assert alerts == [case.alert], f"{case.id}: callback answers {tg.callback_answers[answers:]!r}"
        assert tg.callback_answers[-1].get("show_alert") is True
    found = leaks([*replies, *alerts], tg.token, tg.token.split(":", 1)[1], world.emu.url or "")
    assert not found, f"{case.id}: leaked {found} in {replies!r}"
    assert helped and texts(tg, bystander["id"]) == [HELP], f"{case.id}: bystander got {texts(tg, bystander['id'])!r}"
    assert total_runs(world.emu) - runs == case.runs, f"{case.id}: {total_runs(world.emu) - runs} agent runs"
    assert world.spy.urls[urls:] == [], f"{case.id}: NemoVideo was asked to fetch {world.spy.urls[urls:]}"
    if case.uploaded is not None:
        assert world.spy.filenames and world.spy.filenames[-1] == case.uploaded, (
            f"{case.id}: streamed as {world.spy.filenames[-1:]!r}"
        )
    assert not logged_errors(caplog.records), f"{case.id}: {logged_errors(caplog.records)}"


async def test_two_exports_at_once(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """``/export`` twice at once after a real edit: one render, one video, the second told
    ``render_busy``; a bystander's ``/help`` is answered meanwhile."""
    tg, emu = world.tg, world.emu
    chat, user, key = place(world, "private")
    cid = chat["id"]
    tg.user_media(chat, "video", tg.add_file(BIKES, file_name="bikes.mp4"), caption="add background music", user=user)
    await within(tg, lambda: any(m.reply_markup for m in tg.bot_messages(cid)), 60)
    await tg.wait_until(lambda: not world.runtime.engine.is_busy(key), timeout=60)
    assert any(x.startswith("📥 Added bikes.mp4") for x in texts(tg, cid)), texts(tg, cid)
    renders, videos = len(emu.state.renders), len(tg.calls_of("sendVideo"))
    before = len(texts(tg, cid))

    tg.user_text(chat, "/export", user=user)
    tg.user_text(chat, "/export", user=user)
    bystander = tg.private_chat(user_id=700_000 + next(world.numbers), first_name="Bo")
    tg.user_text(bystander, "/help")
    await within(tg, lambda: len(tg.calls_of("sendVideo")) > videos, 90)
    await tg.wait_until(lambda: not world.runtime.engine.is_busy(key), timeout=60)
    await settled(tg)

    replies = texts(tg, cid)[before:]
    busy = t("render_busy", "en")
    assert len(emu.state.renders) - renders == 1, f"renders: {len(emu.state.renders) - renders}"
    assert len([c for c in tg.calls_of("sendVideo") if c.ok]) - videos == 1
    assert replies.count(busy) == 1, replies
    assert any(r.startswith("✅ Video ready") for r in replies), replies
    assert not leaks(replies, tg.token), leaks(replies, tg.token)
    assert texts(tg, bystander["id"]) == [HELP]
    assert not logged_errors(caplog.records), logged_errors(caplog.records)
