"""bot.polling.PollScheduler: due order, bounded polls and tasks, re-polls, errors, wake-up and aclose()."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter

import pytest

from bot.polling import PollScheduler
from tests.conftest import until


def scheduler_tasks() -> list[asyncio.Task[object]]:
    """The scheduler's own tasks (dispatcher and polls) still alive."""
    return [t for t in asyncio.all_tasks() if t.get_name() in {"poll", "poll-dispatcher"} and not t.done()]


async def test_a_thousand_items_are_each_polled_with_at_most_concurrency_polls_and_tasks_at_once():
    baseline = len(asyncio.all_tasks())
    polls: Counter[int] = Counter()
    in_flight = max_in_flight = max_tasks = 0

    async def poll(item: int) -> float | None:
        nonlocal in_flight, max_in_flight, max_tasks
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        max_tasks = max(max_tasks, len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        polls[item] += 1
        return 0.01 if polls[item] == 1 else None  # each item is followed for two polls

    scheduler: PollScheduler[int] = PollScheduler(poll, concurrency=10)
    for i in range(1000):
        scheduler.add(i)
    assert len(scheduler) == 1000

    deadline = time.monotonic() + 5.0
    while len(scheduler) and time.monotonic() < deadline:
        max_tasks = max(max_tasks, len(asyncio.all_tasks()))
        await asyncio.sleep(0.001)

    assert len(scheduler) == 0
    assert polls == Counter({i: 2 for i in range(1000)})  # each polled, re-polled once, then dropped
    assert max_in_flight == 10  # the limit was reached, never passed
    assert max_tasks <= baseline + 10 + 3  # a dispatcher and the polls in flight, not a task per item
    await scheduler.aclose()


async def test_items_are_polled_in_the_order_they_are_due_never_before():
    polled: dict[str, float] = {}

    async def poll(item: str) -> None:
        polled[item] = time.monotonic()

    scheduler: PollScheduler[str] = PollScheduler(poll, concurrency=4)
    delays = {"c": 0.03, "a": 0.0, "d": 0.045, "b": 0.015}
    added = time.monotonic()
    for item, delay in delays.items():
        scheduler.add(item, delay_s=delay)

    assert await until(lambda: len(polled) == 4)
    assert list(polled) == ["a", "b", "c", "d"]
    for item, delay in delays.items():
        assert polled[item] - added >= delay
    await scheduler.aclose()


async def test_due_times_follow_the_injected_clock_not_the_order_of_adding():
    now = 0.0
    polled: list[str] = []

    async def poll(item: str) -> None:
        polled.append(item)

    scheduler: PollScheduler[str] = PollScheduler(poll, clock=lambda: now)
    scheduler.add("late", delay_s=100.0)  # due at 100
    await asyncio.sleep(0.02)
    now = 50.0
    scheduler.add("soon", delay_s=20.0)  # due at 70
    await asyncio.sleep(0.02)
    assert polled == []  # real time passed, but nothing is due on this clock
    assert len(scheduler) == 2

    now = 200.0
    scheduler.add("last")  # due at 200, and wakes the dispatcher
    assert await until(lambda: len(polled) == 3)
    assert polled == ["soon", "late", "last"]
    await scheduler.aclose()


async def test_a_returned_delay_polls_the_item_again_after_that_delay():
    times: list[float] = []

    async def poll(item: str) -> float | None:
        times.append(time.monotonic())
        return 0.05 if len(times) < 3 else None

    scheduler: PollScheduler[str] = PollScheduler(poll)
    scheduler.add("render")
    assert await until(lambda: len(times) == 3)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.05 <= gap < 0.5 for gap in gaps), gaps

    await asyncio.sleep(0.1)
    assert len(times) == 3  # None: done, never polled again
    assert len(scheduler) == 0
    await scheduler.aclose()


async def test_a_poll_that_raises_drops_its_item_and_the_others_go_on(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.ERROR, logger="bot.polling")
    polls: Counter[str] = Counter()

    async def poll(item: str) -> float | None:
        polls[item] += 1
        if item == "bad":
            raise RuntimeError("boom")
        return 0.01 if polls[item] < 3 else None

    scheduler: PollScheduler[str] = PollScheduler(poll, concurrency=1)  # the failure must give its slot back
    scheduler.add("bad")
    scheduler.add("good")
    assert await until(lambda: polls["good"] == 3 and len(scheduler) == 0)
    await asyncio.sleep(0.05)

    assert polls == Counter({"bad": 1, "good": 3})
    failures = [r for r in caplog.records if r.name == "bot.polling" and r.exc_info]
    assert len(failures) == 1
    assert isinstance(failures[0].exc_info[1], RuntimeError)
    await scheduler.aclose()


async def test_aclose_cancels_polls_in_flight_drops_every_item_and_is_idempotent():
    polls: Counter[str] = Counter()
    cancelled: list[str] = []
    never = asyncio.Event()

    async def poll(item: str) -> float | None:
        polls[item] += 1
        if item.startswith("slow"):
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append(item)
                raise
        return 0.01  # "fast" is polled again and again

    scheduler: PollScheduler[str] = PollScheduler(poll, concurrency=3)
    scheduler.add("slow1")
    scheduler.add("slow2")
    scheduler.add("fast")
    scheduler.add("far", delay_s=10.0)
    assert await until(lambda: polls["fast"] >= 3)
    assert len(scheduler) == 4

    await scheduler.aclose()
    assert sorted(cancelled) == ["slow1", "slow2"]
    assert len(scheduler) == 0
    assert scheduler_tasks() == []

    seen = polls.copy()
    await asyncio.sleep(0.05)
    assert polls == seen  # nothing is polled any more
    assert "far" not in polls

    await scheduler.aclose()  # again: nothing to do, no error
    assert len(scheduler) == 0
    assert scheduler_tasks() == []


async def test_an_item_added_once_the_scheduler_is_idle_is_polled_at_once():
    polled: list[str] = []

    async def poll(item: str) -> None:
        polled.append(item)

    scheduler: PollScheduler[str] = PollScheduler(poll)
    scheduler.add("first")
    assert await until(lambda: polled == ["first"])
    await asyncio.sleep(0.05)  # nothing left: the dispatcher waits
    assert len(scheduler) == 0

    added = time.monotonic()
    scheduler.add("second")
    assert await until(lambda: polled == ["first", "second"], timeout=1.0)
    assert time.monotonic() - added < 0.5
    await scheduler.aclose()


async def test_an_item_due_sooner_wakes_a_dispatcher_waiting_for_a_later_one():
    polled: list[str] = []

    async def poll(item: str) -> None:
        polled.append(item)

    scheduler: PollScheduler[str] = PollScheduler(poll)
    scheduler.add("far", delay_s=30.0)
    await asyncio.sleep(0.02)  # the dispatcher now waits up to 30 s for "far"

    added = time.monotonic()
    scheduler.add("near")
    assert await until(lambda: polled == ["near"], timeout=1.0)
    assert time.monotonic() - added < 0.5
    assert len(scheduler) == 1  # "far" is still waiting
    await scheduler.aclose()


async def test_aclose_before_a_poll_task_starts_does_not_leak_its_concurrency_slot():
    polled: list[str] = []

    async def poll(item: str) -> None:
        polled.append(item)

    scheduler: PollScheduler[str] = PollScheduler(poll, concurrency=1)
    scheduler.add("a")
    await asyncio.sleep(0)  # the dispatcher takes the slot and creates a poll task for "a", not yet run
    await scheduler.aclose()
    assert polled == []

    scheduler.add("b")  # add() after aclose() starts a new dispatcher
    try:
        assert await until(lambda: polled == ["b"], timeout=0.3)
    finally:
        await scheduler.aclose()
