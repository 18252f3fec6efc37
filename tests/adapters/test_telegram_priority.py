"""adapters.telegram.priority: answers overtake progress requests in PTB's rate limiter."""

from __future__ import annotations

import asyncio

from adapters.telegram.priority import PriorityRateLimiter, progress_requests


async def test_an_answer_overtakes_queued_progress_requests():
    limiter = PriorityRateLimiter(overall_max_rate=20, overall_time_period=1, group_max_rate=0)
    await limiter.initialize()
    order: list[str] = []

    def request(name: str, *, progress: bool):
        async def callback(*args: object, **kwargs: object) -> bool:
            order.append(name)
            return True

        async def send() -> None:
            if progress:
                with progress_requests():
                    await limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": 1}, None)
            else:
                await limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": 2}, None)

        return asyncio.create_task(send())

    progress = [request(f"progress{n}", progress=True) for n in range(60)]  # 3 s of the rate limit
    await asyncio.sleep(0.3)
    sent_before = len(order)
    answer = request("answer", progress=False)
    await asyncio.wait_for(answer, 1.0)  # not behind the 30-odd progress requests still waiting
    assert sent_before < 40 and order.index("answer") <= sent_before + 2  # at most the one inside the limiter
    await asyncio.gather(*progress)
    assert len(order) == 61  # progress is held back, never dropped
    await limiter.shutdown()
