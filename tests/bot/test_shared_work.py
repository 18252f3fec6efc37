"""Two nemobot instances on one PostgreSQL share one platform's conversations (bot/shared_work.py):
messages run in order whichever instance received them, /cancel reaches the instance running
the work, and a stopping instance's run is taken over (reported, never re-sent)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

import pytest

from bot.adapter import running
from bot.app import open_runtime
from bot.boundary import Attachment, ConversationKey, IncomingMessage, Scope
from tests.conftest import BIKES, fast_settings, until
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="telegram", chat_id="777")


class SharedChats:
    """The platform both instances post into: one recording channel per conversation."""

    def __init__(self) -> None:
        self.channels: dict[str, RecordingChannel] = {}

    def of(self, key: ConversationKey | str) -> RecordingChannel:
        return self.channels.setdefault(str(key), RecordingChannel())


class FakeSharedAdapter:
    """A platform any instance may receive updates of (as Telegram webhooks behind a proxy)."""

    platform = "telegram"
    shares_work = True

    def __init__(self, chats: SharedChats) -> None:
        self.chats = chats

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def wait_closed(self) -> None:
        await asyncio.Event().wait()

    async def channel_for(self, key: ConversationKey) -> RecordingChannel:
        return self.chats.of(key)

    async def reopen(self, attachment: Attachment) -> Attachment:
        return replace(attachment, path=Path(attachment.ref.removeprefix("file:")))


def message(text: str = "", clip: Path | None = None) -> IncomingMessage:
    attachments = (Attachment(filename=clip.name, path=clip, ref=f"file:{clip}"),) if clip else ()
    return IncomingMessage(
        conversation=KEY, sender="ann", sender_id="42", text=text, attachments=attachments, scope=Scope.PRIVATE
    )


@contextlib.asynccontextmanager
async def instance(emulator, tmp_path, url, chats, name):
    settings = fast_settings(emulator.url, tmp_path / name, database_url=url, stalled_job_s=2.0)
    async with open_runtime(settings, platform="telegram") as runtime, running(runtime, FakeSharedAdapter(chats)):
        yield runtime


async def wait_for(chats, needle, timeout=60.0):
    ok = await until(lambda: any(needle in t for t in chats.of(KEY).texts()), timeout=timeout)
    assert ok, f"no {needle!r} in {chats.of(KEY).texts()}"


@pytest.fixture
def chats():
    return SharedChats()


async def test_messages_received_by_either_instance_run_in_order_once(emulator, tmp_path, postgres_url, chats):  # noqa: F811
    channel = chats.of(KEY)
    async with (
        instance(emulator, tmp_path, postgres_url, chats, "a") as a,
        instance(emulator, tmp_path, postgres_url, chats, "b") as b,
    ):
        assert await a.engine.accept(message(clip=BIKES), channel) is None  # taken by the job queue
        await b.engine.accept(message("add background music"), channel)
        await a.engine.accept(message('add title "Final Standings"'), channel)
        assert await until(lambda: sum(t.startswith("✅ Done in") for t in channel.texts()) == 2, 60), channel.texts()
    texts = channel.texts()
    added = next(i for i, t in enumerate(texts) if "Added bikes.mp4" in t)
    music = next(i for i, t in enumerate(texts) if "Lo-fi" in t)
    title = next(i for i, t in enumerate(texts) if 'Added the title "Final Standings"' in t)
    assert added < music < title  # in the order they were received, across both instances
    assert texts.count("⏳ I'm still on your previous request; I'll do this right after it.") == 2
    assert len(emulator.state.uploads) == 1 and sum(emulator.state.runs_per_session.values()) == 2


async def test_cancel_on_one_instance_stops_the_run_on_the_other(emulator, tmp_path, postgres_url, chats):  # noqa: F811
    channel = chats.of(KEY)
    emulator.config.step_delay_s = 0.5  # a run that lasts several seconds
    async with (
        instance(emulator, tmp_path, postgres_url, chats, "a") as a,
        instance(emulator, tmp_path, postgres_url, chats, "b") as b,
    ):
        await a.engine.accept(message(clip=BIKES), channel)
        await wait_for(chats, "Added bikes.mp4")
        await a.engine.accept(message("add background music"), channel)
        assert await until(lambda: a.engine.is_busy(str(KEY)) or b.engine.is_busy(str(KEY)), 10)
        await asyncio.sleep(0.5)
        await a.engine.accept(message("add a title 'GG'"), channel)  # waits behind the run
        await wait_for(chats, "right after it")
        runner, other = (a, b) if a.engine.is_busy(str(KEY)) else (b, a)
        await other.engine.accept(message("/cancel"), channel)  # sent to the instance not running it
        await wait_for(chats, "Stopped")
        assert await until(lambda: not runner.engine.is_busy(str(KEY)), 10)
        await asyncio.sleep(1.0)
        assert not a.engine.is_busy(str(KEY)) and not b.engine.is_busy(str(KEY))  # the waiting one was dropped
    assert any(t.startswith("⏹️ Stopped. 1 queued message(s) dropped") for t in channel.texts())
    assert not any("GG" in t and t.startswith("Added") for t in channel.texts())  # the waiting edit never ran


async def test_a_stopping_instance_hands_its_run_over_reported_not_resent(emulator, tmp_path, postgres_url, chats):  # noqa: F811
    channel = chats.of(KEY)
    emulator.config.step_delay_s = 0.5
    async with contextlib.AsyncExitStack() as b_stack:
        async with instance(emulator, tmp_path, postgres_url, chats, "a") as a:
            await a.engine.accept(message(clip=BIKES), channel)
            await wait_for(chats, "Added bikes.mp4")
            await a.engine.accept(message("add background music"), channel)
            assert await until(lambda: a.engine.is_busy(str(KEY)), 20)
            await b_stack.enter_async_context(instance(emulator, tmp_path, postgres_url, chats, "b"))  # b joins
            await asyncio.sleep(1.0)  # the run is under way on a
        # a stopped mid-run: b takes it over at once and reports it
        await wait_for(chats, "I restarted while working on", timeout=30)
        assert "⚠️ Interrupted by a restart of the bot." in channel.texts()  # its progress message
    sid = next(iter(emulator.state.runs_per_session))
    assert emulator.state.runs_per_session[sid] == 1  # never re-sent


async def test_a_stalled_run_is_sent_back_once_however_many_instances_watch(postgres_url):  # noqa: F811
    """Two instances acting on the same stale list of stalled jobs: the second finds the job
    already taken by a live worker and leaves it alone (it would otherwise run twice)."""
    from bot.shared_work import TASK, SharedWork

    async def never(context, key, item):
        raise AssertionError("no worker runs here")

    watchers = [SharedWork(postgres_url, never, stalled_s=30, concurrency=1, max_queued=3) for _ in range(2)]
    for shared in watchers:
        await shared.open()
    try:
        manager = watchers[0].app.job_manager
        await watchers[0].app.configure_task(TASK, lock="telegram:1", queue="telegram").defer_async(key="k", item={})
        dead, live = await manager.register_worker(), await manager.register_worker()
        stale = await manager.fetch_job(queues=["telegram"], worker_id=dead)  # the dead instance had it
        assert stale is not None and stale.worker_id == dead
        await watchers[0]._send_back(stale)  # the first watcher sends it back...
        taken = await manager.fetch_job(queues=["telegram"], worker_id=live)  # ...and a live worker takes it
        assert taken is not None and taken.id == stale.id and taken.attempts == 1
        await watchers[1]._send_back(stale)  # the second watcher, from the same stale list
        [job] = await manager.list_jobs_async(id=stale.id)
        assert (job.status, job.attempts, job.worker_id) == ("doing", 1, live)  # left with the live worker
    finally:
        for shared in watchers:
            await shared.close()
