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
