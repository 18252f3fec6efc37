"""A 402 during export and a run POST without an answer (issue 11, item 4), against the emulator."""

from __future__ import annotations

from bot.boundary import Attachment, ConversationKey, IncomingMessage
from tests.conftest import chat_message, clip, fast_settings
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="r1")


def msg(text: str = "", *attachments: Attachment) -> IncomingMessage:
    return chat_message(KEY, text, *attachments)


async def test_402_during_export_is_one_message_and_no_resubmission(runtime, emulator):
    channel = RecordingChannel()
    await runtime.engine.handle(msg("", clip()), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    emulator.config.renders_need_paid_plan = True
    seen = len(channel.texts())
    await runtime.engine.handle(msg("/export"), channel)
    new = channel.texts()[seen:]
    assert new[0] == "⏹️ Not rendered."  # the status message is finished, not left "Rendering..."
    assert len([t for t in new if "plan" in t.lower()]) == 1
    assert emulator.state.renders == {}
    [job] = await runtime.store.list_renders()
    assert job.status == "failed"

    async def channel_for(key):
        return channel

    assert await runtime.engine.resume("console", channel_for) == 0  # nothing is submitted again
    assert emulator.state.renders == {}


async def test_a_run_post_without_an_answer_reads_the_state_and_is_never_resent(emulator, tmp_path):
    from bot.app import open_runtime

    # the edit lands while the bot reads the state: give it up to 30 s on a loaded machine (it stops at the change)
    settings = fast_settings(emulator.url, tmp_path, drop_max_unchanged_reads=150)
    channel = RecordingChannel()
    async with open_runtime(settings, platform="console") as rt:
        await rt.engine.handle(msg("", clip()), channel)
        conv = await rt.store.get_conversation(str(KEY))
        emulator.config.cut_run_before_answer = True
        await rt.engine.handle(msg("add background music"), channel)
    assert emulator.state.runs_per_session[conv.session_id] == 1  # accepted once, never re-sent
    last = channel.texts()[-1]
    assert "Something went wrong" not in last and "try again" not in last.lower()
    assert last.startswith("The editor finished after the connection dropped") and "bgm" in last.lower()
