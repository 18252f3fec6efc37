"""adapters.pacing.EditPacer: the newest text wins, and an idle chat keeps no lane."""

from __future__ import annotations

import asyncio

from adapters.pacing import EditPacer


async def test_newest_edit_wins_and_the_lane_goes_when_idle():
    pacer = EditPacer(lambda chat_id: 0.05)
    applied: list[str] = []

    def edit(text: str):
        async def do() -> None:
            applied.append(text)

        return do

    await pacer.edit(1, 10, edit("first"), final=False)
    await pacer.edit(1, 10, edit("second"), final=False)  # replaces the queued one if not applied yet
    await pacer.edit(1, 10, edit("final"), final=True)
    assert applied == ["final"]  # queued edits of one message collapse into the newest
    assert len(pacer) == 1
    for _ in range(100):
        if len(pacer) == 0:
            break
        await asyncio.sleep(0.02)
    assert len(pacer) == 0
    await pacer.close()


async def test_progress_edits_share_a_budget_and_final_edits_are_not_held_by_it():
    pacer = EditPacer(lambda chat_id: 0.0, progress_per_second=20)
    applied: list[tuple[int, float]] = []
    loop = asyncio.get_running_loop()

    def edit(chat: int):
        async def do() -> None:
            applied.append((chat, loop.time()))

        return do

    start = loop.time()
    for chat in range(200):  # 200 chats each with a progress edit: 10 s of budget
        await pacer.edit(chat, 1, edit(chat), final=False)
    await asyncio.sleep(0.5)
    progress_sent = len(applied)
    assert 5 <= progress_sent <= 20 + 12  # one second's burst at most, then 20/s
    await asyncio.wait_for(pacer.edit(999, 1, edit(999), final=True), 0.5)  # a result goes at once
    assert next(at for chat, at in applied if chat == 999) - start < 1.0
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("edit")]
    assert len(tasks) <= 3  # one loop, not a task per waiting chat
    await pacer.close()


async def test_a_newer_progress_text_replaces_one_waiting_for_the_budget():
    pacer = EditPacer(lambda chat_id: 0.0, progress_per_second=2)
    applied: list[str] = []

    def edit(text: str):
        async def do() -> None:
            applied.append(text)

        return do

    for chat in range(4):
        await pacer.edit(chat, 1, edit(f"{chat}:10%"), final=False)
    await asyncio.sleep(0.05)
    for chat in range(4):
        await pacer.edit(chat, 1, edit(f"{chat}:50%"), final=False)
    await asyncio.sleep(1.6)
    assert "3:10%" not in applied and "3:50%" in applied  # the waiting edit took the newest text
    await pacer.close()
