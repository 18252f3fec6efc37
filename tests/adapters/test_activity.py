"""adapters.activity.ActivityIndicators: delay, repeats, the shared budget, fairness, failures and close()."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Hashable

from adapters.activity import ActivityIndicators
from tests.conftest import until


class Recorder:
    """A ``send`` that records (when, target, action); ``when`` is read from ``clock``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.calls: list[tuple[float, Hashable, str]] = []

    async def __call__(self, target: Hashable, action: str) -> None:
        self.calls.append((self.clock(), target, action))

    @property
    def targets(self) -> list[Hashable]:
        return [target for _, target, _ in self.calls]


class SteppingClock:
    """A fake clock that moves ``step`` seconds on every read once ``step`` is set: one tick, one step."""

    def __init__(self) -> None:
        self.now = 0.0
        self.step = 0.0

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


async def test_work_that_ends_before_after_s_shows_nothing():
    send = Recorder()
    indicators = ActivityIndicators(send, after_s=0.1, every_s=0.05, per_second=100, tick_s=0.005)
    work: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    indicators.track("chat", "typing", work)
    assert len(indicators) == 1

    await asyncio.sleep(0.03)
    work.set_result(None)
    await asyncio.sleep(0.15)  # well past after_s

    assert send.calls == []
    assert indicators.sent == 0
    assert len(indicators) == 0
    await indicators.close()


async def test_work_already_done_is_not_tracked():
    send = Recorder()
    indicators = ActivityIndicators(send, after_s=0.0, tick_s=0.005)
    work: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    work.set_result(None)
    indicators.track("chat", "typing", work)
    assert len(indicators) == 0
    await asyncio.sleep(0.03)
    assert send.calls == []
    await indicators.close()


async def test_long_work_shows_after_after_s_repeats_every_every_s_and_stops_when_done():
    send = Recorder()
    after_s, every_s = 0.05, 0.1
    indicators = ActivityIndicators(send, after_s=after_s, every_s=every_s, per_second=100, tick_s=0.01)
    work: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    started = time.monotonic()
    indicators.track(("chat", 7), "upload_video", work)

    await asyncio.sleep(0.4)
    work.set_result(None)
    lasted = time.monotonic() - started
    await asyncio.sleep(0.02)  # a send already under way may still land
    assert len(indicators) == 0
    shown = len(send.calls)

    assert {(target, action) for _, target, action in send.calls} == {(("chat", 7), "upload_video")}
    times = [when for when, _, _ in send.calls]
    assert times[0] - started >= after_s
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= every_s - 0.03 for gap in gaps), gaps  # margin: a send starts a moment after its tick
    assert 2 <= shown <= math.floor((lasted - after_s) / every_s) + 1
    assert indicators.sent == shown

    await asyncio.sleep(3 * every_s)
    assert len(send.calls) == shown  # nothing once the work is done
    await indicators.close()


async def test_a_chat_shows_while_any_of_its_works_runs_with_the_newest_action():
    send = Recorder()
    indicators = ActivityIndicators(send, after_s=0.0, every_s=0.03, per_second=100, tick_s=0.005)
    loop = asyncio.get_running_loop()
    first: asyncio.Future[None] = loop.create_future()
    second: asyncio.Future[None] = loop.create_future()
    indicators.track("chat", "typing", first)
    indicators.track("chat", "upload_video", second)
    assert len(indicators) == 1

    assert await until(lambda: len(send.calls) >= 1)
    first.set_result(None)
    await asyncio.sleep(0.01)
    assert len(indicators) == 1  # the second work goes on
    before = len(send.calls)
    assert await until(lambda: len(send.calls) >= before + 2)

    second.set_result(None)
    await asyncio.sleep(0.02)
    assert len(indicators) == 0
    assert {action for _, _, action in send.calls} == {"upload_video"}
    await indicators.close()


async def test_a_hundred_busy_chats_share_per_second_indicators_in_all():
    send = Recorder()
    per_second = 5
    indicators = ActivityIndicators(send, after_s=0.02, every_s=0.05, per_second=per_second, tick_s=0.01)
    works = [asyncio.get_running_loop().create_future() for _ in range(100)]
    started = time.monotonic()
    for chat, work in enumerate(works):
        indicators.track(chat, "typing", work)

    await asyncio.sleep(0.8)
    ended = time.monotonic()
    for work in works:
        work.set_result(None)
    times = [when for when, _, _ in send.calls]

    # the bucket holds at most one second's budget; one more for a tick landing at the edge
    assert 2 <= len(times) <= per_second * (ended - started) + per_second + 1, times
    # once any first burst is spent, the rate is per_second
    steady = [when for when in times if when > times[0] + 0.05]
    assert len(steady) <= per_second * (ended - times[0]) + 1, times
    assert len(steady) >= 2  # and the loop does go on sending
    assert len(set(send.targets)) == len(times)  # each goes to a chat not shown yet
    await indicators.close()


async def test_the_budget_holds_per_second_and_every_chat_gets_its_turn_longest_waiting_first():
    clock = SteppingClock()
    send = Recorder(clock=lambda: clock.now)  # the clock's reading at the tick that sent it
    indicators = ActivityIndicators(send, after_s=0.5, every_s=20.0, per_second=5, tick_s=0.002, clock=clock)
    works = [asyncio.get_running_loop().create_future() for _ in range(100)]
    for chat, work in enumerate(works):
        indicators.track(chat, "typing", work)
    clock.step = 1.0  # from here each tick of the loop is one second later

    assert await until(lambda: len(send.calls) >= 200, timeout=3.0)
    for work in works:
        work.set_result(None)
    await asyncio.sleep(0.01)

    per_tick = Counter(when for when, _, _ in send.calls)
    assert max(per_tick.values()) <= 5  # never more than per_second in one second
    first_round, second_round = send.targets[:100], send.targets[100:200]
    assert first_round == list(range(100))  # every chat once, in the order they started waiting
    assert second_round == first_round  # then again, the longest without an indicator first
    await indicators.close()


async def test_a_failing_send_does_not_stop_the_loop():
    calls: list[Hashable] = []

    async def send(target: Hashable, action: str) -> None:
        calls.append(target)
        if target == "broken" or calls.count("fine") == 1:  # "fine" fails once, at first
            raise ConnectionError("platform down")

    indicators = ActivityIndicators(send, after_s=0.0, every_s=0.03, per_second=100, tick_s=0.005)
    loop = asyncio.get_running_loop()
    works = {chat: loop.create_future() for chat in ("broken", "fine")}
    for chat, work in works.items():
        indicators.track(chat, "typing", work)

    assert await until(lambda: calls.count("broken") >= 3 and calls.count("fine") >= 3)
    for work in works.values():
        work.set_result(None)
    await asyncio.sleep(0.02)

    assert indicators.sent == calls.count("fine") - 1  # only those that went through are counted
    assert indicators.sent >= 2
    await indicators.close()


async def test_close_cancels_sends_under_way_forgets_every_chat_and_is_idempotent():
    calls: list[Hashable] = []
    cancelled: list[Hashable] = []
    never = asyncio.Event()

    async def send(target: Hashable, action: str) -> None:
        calls.append(target)
        try:
            await never.wait()  # a platform that does not answer
        except asyncio.CancelledError:
            cancelled.append(target)
            raise

    indicators = ActivityIndicators(send, after_s=0.0, every_s=10.0, per_second=100, tick_s=0.005)
    loop = asyncio.get_running_loop()
    works = [loop.create_future() for _ in range(3)]
    for chat, work in enumerate(works):
        indicators.track(chat, "typing", work)
    assert await until(lambda: len(calls) == 3)
    assert len(indicators) == 3

    await indicators.close()
    assert sorted(cancelled) == [0, 1, 2]
    assert len(indicators) == 0
    assert indicators.sent == 0
    assert [t for t in asyncio.all_tasks() if t.get_name() == "activity-indicators" and not t.done()] == []

    works[0].set_result(None)  # a forgotten chat's work ending is no error
    await asyncio.sleep(0.03)
    assert len(calls) == 3  # nothing more is sent
    await indicators.close()  # again: nothing to do
    assert len(indicators) == 0

    later = loop.create_future()  # and it can be used again
    indicators.track("new", "typing", later)
    assert await until(lambda: calls[-1:] == ["new"])
    later.set_result(None)
    await indicators.close()
