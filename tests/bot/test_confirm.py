"""Messages between a command and an edit are asked about with one-tap buttons (issue 11, item 1)."""

from __future__ import annotations

from bot.boundary import Attachment, Button, ConversationKey, IncomingMessage
from tests.conftest import chat_message, clip
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="q1")


def msg(text: str = "", *attachments: Attachment) -> IncomingMessage:
    return chat_message(KEY, text, *attachments)


async def test_unsure_message_asks_then_the_editor_button_sends_it_to_the_agent(runtime, emulator):
    channel = RecordingChannel()
    await runtime.engine.handle(msg("", clip()), channel)
    conv = await runtime.store.get_conversation(str(KEY))
    await runtime.engine.handle(msg("export the final cut with the music"), channel)
    ref = max(channel.messages, key=int)
    assert channel.messages[ref].startswith("🤔 Export the video now?")
    assert channel.buttons[ref] == (Button.EXPORT, Button.EDITOR)
    assert emulator.state.runs_per_session.get(conv.session_id, 0) == 0 and not emulator.state.renders

    await runtime.engine.handle(msg(Button.EDITOR.command), channel)  # the press sends /editor
    assert emulator.state.runs_per_session[conv.session_id] == 1
    assert not emulator.state.renders
    conv = await runtime.store.get_conversation(str(KEY))
    assert "pending_edit" not in conv.data
    await runtime.engine.handle(msg(Button.EDITOR.command), channel)  # a second press: nothing waiting
    assert channel.texts()[-1] == "There's no message waiting for the editor. Tell me what to change."


async def test_unsure_status_question_in_chinese_and_its_own_button(runtime, emulator):
    channel = RecordingChannel()
    await runtime.engine.handle(msg("", clip()), channel)
    await runtime.engine.handle(
        IncomingMessage(conversation=KEY, sender="u", sender_id="u1", text="any news on the status", locale="zh"),
        channel,
    )
    ref = max(channel.messages, key=int)
    assert channel.messages[ref].startswith("🤔 查看项目状态吗")
    assert channel.buttons[ref] == (Button.STATUS, Button.EDITOR)
    await runtime.engine.handle(msg(Button.STATUS.command), channel)
    assert channel.texts()[-1].startswith("📋")
