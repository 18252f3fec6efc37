"""bot.scheduler and bot.conversations.KeyedLocks: order, queue, /cancel, nothing kept when idle."""

from __future__ import annotations

import asyncio

from bot.boundary import ConversationKey, IncomingMessage
from bot.conversations import KeyedLocks
from bot.scheduler import ConversationScheduler, Submitted
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="s1")


def msg(text: str) -> IncomingMessage:
    return IncomingMessage(conversation=KEY, sender="u", text=text)


async def test_work_runs_in_order_the_queue_is_reported_and_nothing_is_kept():
    saved: list[list[str]] = []

    async def on_queue(key: str, messages: list[IncomingMessage]) -> None:
        saved.append([m.text for m in messages])

    scheduler = ConversationScheduler(on_queue)
    done: list[str] = []
    gate = asyncio.Event()

    def work(name: str, wait: bool = False):
        async def run() -> None:
            if wait:
                await gate.wait()
            done.append(name)

        return run

    channel = RecordingChannel()
    first = asyncio.create_task(scheduler.submit("k", msg("a"), channel, work("a", wait=True)))
    await asyncio.sleep(0)
    assert scheduler.is_busy("k")
    assert await scheduler.submit("k", msg("b"), channel, work("b")) is Submitted.QUEUED  # returns at once
    scheduler.submit_background("k", "resume", work("resumed"))
    assert await scheduler.submit("k", msg("c"), channel, work("c")) is Submitted.QUEUED
    assert saved == [["b"], ["b", "c"]]
    gate.set()
    assert await first is Submitted.RAN
    assert done == ["a", "b", "resumed", "c"]
    assert saved[-1] == []  # the persisted queue emptied as it drained
    assert not scheduler.is_busy("k") and scheduler.active() == []


async def test_cancel_stops_the_current_work_and_drops_queued_messages_only():
    async def on_queue(key: str, messages: list[IncomingMessage]) -> None:
        pass

    scheduler = ConversationScheduler(on_queue)
    started = asyncio.Event()
    done: list[str] = []

    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)
        done.append("slow")

    async def quick() -> None:
        done.append("quick")

    async def resumed() -> None:
        done.append("resumed")

    channel = RecordingChannel()
    assert await scheduler.cancel("k") is None  # nothing running
    first = asyncio.create_task(scheduler.submit("k", msg("a"), channel, slow))
    await started.wait()
    await scheduler.submit("k", msg("b"), channel, quick)
    scheduler.submit_background("k", "resume", resumed)
    assert await scheduler.cancel("k") == 1
    await first
    assert done == ["resumed"]  # the cancelled work did not finish; queued messages were dropped
    assert scheduler.active() == []


async def test_keyed_locks_exist_only_while_held_or_awaited():
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(name: str) -> None:
        async with locks.hold("k"):
            order.append(f"{name}+")
            await asyncio.sleep(0.01)
            order.append(f"{name}-")

    await asyncio.gather(hold("a"), hold("b"))
    assert order == ["a+", "a-", "b+", "b-"]  # one at a time
    assert len(locks) == 0


async def test_a_shutdown_hands_unrecorded_messages_to_the_next_process_and_not_recorded_ones():
    saved: dict[str, list[str]] = {}

    async def on_queue(key: str, messages: list[IncomingMessage]) -> None:
        saved[key] = [m.text for m in messages]

    scheduler = ConversationScheduler(on_queue)
    started = {"early": asyncio.Event(), "sent": asyncio.Event()}

    def work(key: str, *, durable: bool):
        async def run() -> None:
            if durable:
                scheduler.mark_durable(key)  # e.g. the run marker is written: a restart reports it
            started[key].set()
            await asyncio.sleep(30)

        return run

    channel = RecordingChannel()
    outcome, task = await scheduler.start("early", msg("not yet sent"), channel, work("early", durable=False))
    assert outcome is Submitted.RAN and task is not None
    await scheduler.start("early", msg("queued behind"), channel, work("early", durable=False))
    await scheduler.start("sent", msg("already sent"), channel, work("sent", durable=True))
    await asyncio.gather(*(e.wait() for e in started.values()))
    await scheduler.aclose()
    assert saved["early"] == ["not yet sent", "queued behind"]  # handled again, in order, after a restart
    assert "sent" not in saved  # its own record brings it back; never sent twice
    assert task.done() and scheduler.active() == []
