"""GUI talk becomes action (issue 11, item 2; contract section 6), against the emulator.

The emulator answers in web-editor phrasing (``gui_phrasing``): "Your video is ready! Click
the Export button..." when asked to export, "You can preview it in the timeline, then click
the Export button" after an edit.
"""

from __future__ import annotations

from bot.boundary import Attachment, Button, ConversationKey, IncomingMessage
from tests.conftest import chat_message, clip
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="g1")


def msg(text: str = "", *attachments: Attachment) -> IncomingMessage:
    return chat_message(KEY, text, *attachments)


async def test_press_export_runs_the_export_and_ready_is_never_claimed_before(runtime, emulator, tmp_path):
    channel = RecordingChannel(keep_dir=tmp_path / "out")
    await runtime.engine.handle(msg("", clip()), channel)
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    assert not emulator.state.renders
    # in between a command and an edit: asked; sent to the editor, whose answer says "click Export"
    await runtime.engine.handle(msg("export the video with my edits"), channel)
    assert channel.buttons[max(channel.messages, key=int)] == (Button.EXPORT, Button.EDITOR)
    seen = len(channel.texts())
    await runtime.engine.handle(msg(Button.EDITOR.command), channel)
    assert len(emulator.state.renders) == 1 and len(channel.files) == 1
    texts = "\n".join(channel.texts()[seen:])
    assert "Click" not in texts and "Say /export" not in texts
    assert any(kind == "file" and "✅ Video ready" in text for kind, _, text in channel.events)
    assert "Your video is ready" not in texts  # the backend's claim, made before any render, is dropped


async def test_an_offered_export_is_a_hint_and_the_preview_shows_the_timeline(runtime, emulator):
    channel = RecordingChannel()
    await runtime.engine.handle(msg("", clip()), channel)
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    answer = channel.texts()[-1]
    assert "Say /export when you want the video." in answer
    assert "📋" in answer or "Leaderboard" in answer  # "preview it in the timeline": the track summary
    assert "click" not in answer.lower() and not emulator.state.renders
    assert channel.buttons[max(channel.messages, key=int)][0] is Button.EXPORT


async def test_a_drag_step_is_asked_of_the_agent_once_never_in_a_loop(runtime, emulator, monkeypatch):
    import emulator.agent.leaderboard as leaderboard

    # the backend answers with a step only the web editor can do, every time
    monkeypatch.setattr(leaderboard, "GUI_EXPORT_EN", "Drag the leaderboard to the top right corner.")
    channel = RecordingChannel()
    await runtime.engine.handle(msg("", clip()), channel)
    conv = await runtime.store.get_conversation(str(KEY))
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    assert emulator.state.runs_per_session[conv.session_id] == 2  # the request, and one follow-up
    texts = "\n".join(channel.texts())
    assert "Drag" not in texts
    assert channel.texts()[-1].endswith("Tell me what to move or change and I'll do it.")
