"""The conversation engine through a recording channel, against the emulator on real clips."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from bot.boundary import Attachment, Button, ChannelLimits, ConversationKey, IncomingMessage
from bot.pictures import poster
from tests.conftest import BIKES, BUNNY
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="t1")


def msg(text: str = "", *files: Path, key: ConversationKey = KEY, locale: str | None = None, **att) -> IncomingMessage:
    attachments = tuple(
        Attachment(
            filename=att.get("filename", f.name),
            size=att.get("size", f.stat().st_size),
            path=f,
            content_type="video/mp4",
        )
        for f in files
    )
    return IncomingMessage(
        conversation=key, sender="u", text=text, attachments=attachments, message_id="m", locale=locale
    )


@pytest.fixture
def channel(tmp_path) -> RecordingChannel:
    return RecordingChannel(keep_dir=tmp_path / "delivered")


def all_text(channel: RecordingChannel) -> str:
    return "\n".join(text for _, _, text in channel.events)


async def owner_client(runtime, key=KEY):
    """The client of the conversation owner's own NemoVideo identity (sessions are per identity)."""
    conv = await runtime.store.get_conversation(str(key))
    return await runtime.engine.identities.client_for(conv.owner)


async def session_of(runtime, key=KEY) -> str:
    conv = await runtime.store.get_conversation(str(key))
    assert conv and conv.session_id
    return conv.session_id


async def test_full_flow_upload_edit_status_export(runtime, emulator, channel):
    engine = runtime.engine
    await engine.handle(msg("", BUNNY), channel)
    assert "Added bigbuckbunny.mp4 (5.3 s, 1280x720)" in all_text(channel)

    await engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    sid = await session_of(runtime)
    assert emulator.state.runs_per_session[sid] == 1
    texts = channel.texts()
    assert any(t.startswith("✅ Done in") for t in texts)  # the progress message ended as done
    answer = texts[-1]
    assert channel.buttons[max(channel.messages, key=int)] == (Button.EXPORT, Button.STATUS, Button.CREDITS, Button.NEW)
    assert "click" not in answer.lower() and "button" not in answer.lower()

    await engine.handle(msg("/status"), channel)
    status = channel.texts()[-1]
    assert status.startswith("📋 Timeline (")
    assert "Leaderboard" in status and "bigbuckbunny.mp4" in status
    # the timeline came as a picture, the text summary its caption, the buttons under it
    [(picture, caption)] = channel.photos
    assert caption == status and channel.buttons[max(channel.messages, key=int)] == (Button.EXPORT, Button.CREDITS)
    with Image.open(io.BytesIO(picture.data)) as image:
        assert image.format == "PNG" and image.size == (picture.width, picture.height) and picture.width == 1280

    await engine.handle(msg("/export"), channel)
    assert len(channel.files) == 1
    out = channel.files[0]
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (1920, 1080)
        assert abs(c.duration / 1e6 - 5.3) < 0.3
    file_event = next(e for e in channel.events if e[0] == "file")
    assert "Video ready (1920x1080" in file_event[2]
    assert "https://nemovideo.com/workspace/claim?ct=clm_" in file_event[2]
    jobs = await runtime.store.list_renders(conversation_key=str(KEY))
    assert [(j.status, j.delivered, j.delivered_as) for j in jobs] == [("delivered", True, "file")]
    # attribution headers reached the backend on the export
    assert "nmv_usr_" not in all_text(channel)


async def test_progress_message_is_edited_in_place(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY), channel)
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    progress_ref = next(ref for kind, ref, text in channel.events if kind == "send" and text.startswith("🎬"))
    edits = [text for kind, ref, text in channel.events if kind == "edit" and ref == progress_ref]
    assert edits and edits[-1].startswith("✅ Done in")
    assert sum(1 for kind, ref, _ in channel.events if kind == "send" and ref == progress_ref) == 1


async def test_silent_run_is_answered_from_the_draft_diff(runtime, emulator, channel):
    emulator.config.silent_share = 1.0
    await runtime.engine.handle(msg("", BUNNY), channel)
    await runtime.engine.handle(msg("make a short example clip with title 'Final Standings'"), channel)
    answer = channel.texts()[-1]
    assert answer.startswith("Done. Here is what changed:")
    assert 'Added title "Final Standings"' in answer


async def test_gui_phrasing_is_translated(runtime, emulator, channel):
    emulator.config.gui_phrasing = True
    await runtime.engine.handle(msg("", BUNNY), channel)
    for request in ("add background music", "add a ranked leaderboard overlay showing the top performers"):
        await runtime.engine.handle(msg(request), channel)
        answer = channel.texts()[-1].lower()
        for word in ("click", "drag", "open the", "点击"):
            assert word not in answer


async def test_unsupported_empty_and_fake_files(runtime, emulator, channel, tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video at all")
    await runtime.engine.handle(msg("", txt), channel)
    assert "I can't use notes.txt" in channel.texts()[-1] and "mp4, mov" in channel.texts()[-1]
    await runtime.engine.handle(msg("", empty), channel)
    assert "empty.mp4 is empty (0 bytes)" in channel.texts()[-1]
    await runtime.engine.handle(msg("", fake), channel)
    assert "could not read fake.mp4" in channel.texts()[-1]
    assert emulator.state.runs_per_session == {} or sum(emulator.state.runs_per_session.values()) == 0


async def test_oversize_attachment_refused_before_upload(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY, size=600 * 1024 * 1024), channel)
    text = channel.texts()[-1]
    assert "600 MB, over the 500 MB limit" in text and "Trim it or compress it" in text
    assert not emulator.state.uploads


async def test_two_clips_go_up_in_one_call(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY, BIKES), channel)
    text = channel.texts()[-1]
    assert "bigbuckbunny.mp4" in text and "bikes.mp4" in text
    sid = await session_of(runtime)
    state = await (await owner_client(runtime)).state(sid)
    assert [i["filename"] for i in state.video_infos] == ["bigbuckbunny.mp4", "bikes.mp4"]


async def test_empty_and_too_long_messages(runtime, emulator, channel):
    await runtime.engine.handle(msg("   "), channel)
    assert channel.texts()[-1].startswith("I got an empty message.")
    await runtime.engine.handle(msg("x" * 10_000), channel)
    assert "too long (10000 characters; the limit is 4000)" in channel.texts()[-1]
    assert sum(emulator.state.runs_per_session.values()) == 0


async def test_export_with_empty_draft_refuses(runtime, emulator, channel):
    await runtime.engine.handle(msg("/export"), channel)
    assert channel.texts()[-1].startswith("Nothing to export yet")
    await runtime.engine.handle(msg("", BUNNY), channel)
    await runtime.engine.handle(msg("export"), channel)
    assert channel.texts()[-1].startswith("Nothing to export yet")
    assert not emulator.state.renders


async def test_expired_token_mid_conversation_is_renewed(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY), channel)
    emulator.expire_tokens()
    await runtime.engine.handle(msg("add background music"), channel)
    assert channel.texts()[-1] and "sign in" not in channel.texts()[-1]
    ident = await runtime.store.load_identity(await runtime.store.person_for("console:u"))  # the person's own
    assert ident.token and ident.token.startswith("nmv_usr_")
    assert "nmv_usr_" not in all_text(channel)


@pytest.mark.parametrize("dialect", ["1010", "1011", "http401"])
async def test_expired_token_every_dialect(runtime, emulator, channel, dialect):
    emulator.config.auth_failure = dialect
    await runtime.engine.handle(msg("/credits"), channel)
    emulator.expire_tokens()
    await runtime.engine.handle(msg("/credits"), channel)
    assert channel.texts()[-1].startswith("💳 Credits:")


async def test_lost_session_is_recreated_and_user_told(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY), channel)
    old = await session_of(runtime)
    emulator.drop_session(old)
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    assert "the old timeline is gone" in all_text(channel)
    new = await session_of(runtime)
    assert new != old
    assert emulator.state.runs_per_session.get(old, 0) == 0


async def test_render_that_fails_once_is_retried(runtime, emulator, channel):
    emulator.config.fail_first_render = True
    await runtime.engine.handle(msg("", BIKES), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    await runtime.engine.handle(msg("/export"), channel)
    assert len(channel.files) == 1
    assert "trying once more" in all_text(channel)
    jobs = await runtime.store.list_renders()
    assert [(j.attempt, j.status) for j in jobs] == [(1, "failed"), (2, "delivered")]


async def test_dropped_stream_is_not_resent(runtime, emulator, channel):
    runtime.settings.drop_max_unchanged_reads = 150  # up to 30 s for the edit to land on a loaded machine
    await runtime.engine.handle(msg("", BUNNY), channel)
    emulator.config.drop_stream_after = 2
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    sid = await session_of(runtime)
    assert emulator.state.runs_per_session[sid] == 1
    text = all_text(channel)
    assert "Lost the connection to the editor" in text
    assert "The editor finished after the connection dropped" in text
    assert "Added leaderboard" in channel.texts()[-1]


async def test_messages_during_a_run_are_queued_in_order(runtime, emulator, channel):
    emulator.config.step_delay_s = 0.05
    await runtime.engine.handle(msg("", BUNNY), channel)
    first = asyncio.create_task(
        runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    )
    while not runtime.engine.is_busy(str(KEY)):
        await asyncio.sleep(0.01)
    await runtime.engine.handle(msg("add background music"), channel)
    assert "I'll do this right after it" in channel.texts()[-1]
    await asyncio.wait_for(first, 60)
    sid = await session_of(runtime)
    assert emulator.state.runs_per_session[sid] == 2
    state = await (await owner_client(runtime)).state(sid)
    assert {t["tt"] for t in state.draft["t"]} >= {0, 1, 7}


async def test_out_of_credits_gives_registration_link(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY), channel)
    own = await owner_client(runtime)  # the person's own anonymous identity: its bind link is theirs to use
    emulator.set_credits(own.user_id, 0)
    await runtime.engine.handle(msg("add background music"), channel)
    assert f"https://nemovideo.com/register?bind={own.user_id}" in channel.texts()[-1]


async def test_large_render_is_delivered_as_link(runtime, emulator, tmp_path):
    channel = RecordingChannel(limits=ChannelLimits(max_upload_bytes=10_000))
    await runtime.engine.handle(msg("", BIKES), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    await runtime.engine.handle(msg("/export"), channel)
    assert not channel.files
    [(still, text)] = channel.photos  # the link comes as the caption of a still from the video
    assert "too large to send here" in text and f"{emulator.url}/renders/" in text
    assert "workspace/claim?ct=" in text
    jobs = await runtime.store.list_renders()
    assert jobs[-1].delivered_as == "link"
    with Image.open(io.BytesIO(still.data)) as image:
        assert image.format == "JPEG" and image.size == (still.width, still.height) == (1280, 720)
        render = emulator.state.renders_dir / f"{jobs[-1].render_id}.mp4"
        with av.open(str(render)) as container:
            frame = next(f for f in container.decode(video=0) if f.time >= 1.0).to_image().resize(image.size)
        diff = ImageChops.difference(image.convert("RGB"), frame.convert("RGB"))
        assert sum(ImageStat.Stat(diff).mean) / 3 < 8  # the render's own frame at 1 s


async def test_a_render_without_an_index_up_front_goes_as_a_bare_link(runtime, emulator, tmp_path, monkeypatch):
    """When the first bytes of a video hold no frame (its index at the end, or too few bytes), the link goes alone."""
    monkeypatch.setattr(poster, "HEAD_BYTES", 2048)  # too few bytes for any frame
    channel = RecordingChannel(limits=ChannelLimits(max_upload_bytes=10_000))
    await runtime.engine.handle(msg("", BIKES), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    await runtime.engine.handle(msg("/export"), channel)
    assert not channel.photos and not channel.files
    assert "too large to send here" in channel.texts()[-1]
    assert (await runtime.store.list_renders())[-1].status == "delivered"


async def test_quick_commands(runtime, emulator, channel):
    await runtime.engine.handle(msg("/credits"), channel)
    assert channel.texts()[-1] == "💳 Credits: 100 available, 0 frozen, 100 total."
    await runtime.engine.handle(msg("/link"), channel)
    assert channel.texts()[-1].startswith("There is no project yet")
    await runtime.engine.handle(msg("", BUNNY), channel)
    await runtime.engine.handle(msg("/link"), channel)
    assert channel.texts()[-1].startswith(
        "Open the project in the web editor: https://nemovideo.com/workspace/claim?ct="
    )
    await runtime.engine.handle(msg("/skill game-music"), channel)
    assert "Switched to Game music (game-music)" in channel.texts()[-1]
    await runtime.engine.handle(msg("/help"), channel)
    assert '"add background music"' in channel.texts()[-1]
    await runtime.engine.handle(msg("/skill cooking"), channel)
    assert "Unknown skill" in channel.texts()[-1]
    old = await session_of(runtime)
    await runtime.engine.handle(msg("/new"), channel)
    assert channel.texts()[-1].startswith("🆕 Started a new project")
    conv = await runtime.store.get_conversation(str(KEY))
    assert conv.session_id is None and conv.skill == "game-music"
    await runtime.engine.handle(msg("", BIKES), channel)
    assert await session_of(runtime) != old


async def test_skill_is_sent_as_attribution(runtime, emulator, channel):
    await runtime.engine.handle(msg("/skill game-music"), channel)
    await runtime.engine.handle(msg("", BIKES), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    sid = await session_of(runtime)
    seen = emulator.state.sessions[sid].attribution
    assert seen == {"source": "game-music", "version": "1.0.0", "platform": "console"}


async def test_chinese_user_gets_chinese_texts(runtime, emulator, channel):
    await runtime.engine.handle(msg("", locale="zh-CN"), channel)
    assert channel.texts()[-1].startswith("收到一条空消息")
    await runtime.engine.handle(msg("积分", locale="zh-CN"), channel)
    assert channel.texts()[-1].startswith("💳 积分：可用")
    await runtime.engine.handle(msg("导出", locale="zh-CN"), channel)
    assert channel.texts()[-1].startswith("还没有可导出的内容")


async def test_agent_error_event_is_a_plain_sentence(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY), channel)
    for kind in ("errorCode", "error"):
        emulator.config.fail_next_run_with = kind
        await runtime.engine.handle(msg("add background music"), channel)
        text = channel.texts()[-1]
        assert text.startswith("The editor couldn't finish that request.")
        assert "MALFORMED" not in text and "ValueError" not in text


async def test_long_answers_are_split_at_the_channel_limit(runtime, emulator):
    channel = RecordingChannel(limits=ChannelLimits(max_message_chars=120))
    await runtime.engine.handle(msg("/help"), channel)
    texts = channel.texts()
    assert len(texts) > 1 and all(len(t) <= 120 for t in texts)


async def test_upload_word_without_a_file_explains_how(runtime, channel):
    await runtime.engine.handle(msg("upload"), channel)
    assert channel.texts()[-1].startswith("Send the clip as an attachment")


async def test_dropped_stream_with_no_change_offers_a_retry(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BUNNY), channel)
    emulator.config.drop_stream_after = 1
    await runtime.engine.handle(msg("tell me a joke"), channel)
    sid = await session_of(runtime)
    assert emulator.state.runs_per_session[sid] == 1
    assert channel.texts()[-1].startswith("The connection to the editor dropped and nothing changed")


async def test_still_working_heartbeat_and_no_token_in_logs(runtime, emulator, channel, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    runtime.settings.heartbeat_interval_s = 0.2
    emulator.config.step_delay_s = 0.15
    await runtime.engine.handle(msg("", BUNNY), channel)
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    edits = [text for kind, _, text in channel.events if kind == "edit"]
    assert any("⏳ Still working..." in e for e in edits)
    token = (await runtime.store.load_identity(await runtime.store.person_for("console:u"))).token
    assert token and token not in caplog.text and token not in all_text(channel)


async def test_channel_without_edits_gets_few_new_messages(runtime, emulator):
    channel = RecordingChannel(limits=ChannelLimits(can_edit=False))
    await runtime.engine.handle(msg("", BUNNY), channel)
    await runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    assert not [e for e in channel.events if e[0] == "edit"]
    progress = [t for t in channel.texts() if t.startswith(("🎬", "🔍", "✂️", "✅ Done"))]
    assert progress[0].startswith("🎬") and progress[-1].startswith("✅ Done") and len(progress) <= 5


async def test_chinese_help(runtime, channel):
    await runtime.engine.handle(msg("/help", locale="zh-TW"), channel)
    assert "可以这样说" in channel.texts()[-1]


async def test_attachment_stream_failing_midway_is_reported(runtime, emulator, channel):
    from bot.boundary import ChannelError

    def opener():
        async def gen():
            yield BUNNY.read_bytes()[:100_000]
            raise ChannelError("file download answered HTTP 502")

        return gen()

    att = Attachment(filename="clip.mp4", content_type="video/mp4", size=BUNNY.stat().st_size, open=opener)
    m = IncomingMessage(conversation=KEY, sender="u", attachments=(att,), message_id="1")
    await runtime.engine.handle(m, channel)
    assert channel.texts()[-1] == "I couldn't fetch clip.mp4 from the chat. Nothing was uploaded; please send it again."
    sid = await session_of(runtime)
    assert (await (await owner_client(runtime)).state(sid)).video_infos == []


async def test_cancel_during_a_run_drops_the_queue(runtime, emulator, channel):
    await runtime.engine.handle(msg("/cancel"), channel)
    assert channel.texts()[-1] == "Nothing is running right now."
    await runtime.engine.handle(msg("", BUNNY), channel)
    emulator.config.step_delay_s = 0.3
    run = asyncio.create_task(
        runtime.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
    )
    while not any(t.startswith(("🎬", "🔍")) for t in channel.texts()):
        await asyncio.sleep(0.02)
    await runtime.engine.handle(msg("add background music"), channel)  # queued
    await runtime.engine.handle(msg("cancel"), channel)
    await asyncio.wait_for(run, 10)
    assert channel.texts()[-1].startswith("⏹️ Stopped. 1 queued message(s) dropped.")
    assert "⏹️ Stopped waiting for the editor." in channel.texts()
    sid = await session_of(runtime)
    assert emulator.state.runs_per_session[sid] == 1  # the queued request was never sent
    assert not runtime.engine.is_busy(str(KEY))
    await runtime.engine.handle(msg("/credits"), channel)
    assert channel.texts()[-1].startswith("💳 Credits:")


async def test_cancel_during_an_export_cancels_the_render(runtime, emulator, channel):
    await runtime.engine.handle(msg("", BIKES), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    emulator.config.render_pending_s = 5.0
    export = asyncio.create_task(runtime.engine.handle(msg("/export"), channel))
    while not (await runtime.store.list_renders()):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    await runtime.engine.handle(msg("/cancel"), channel)
    await asyncio.wait_for(export, 10)
    [job] = await runtime.store.list_renders()
    assert job.status == "cancelled" and not job.delivered
    assert emulator.state.renders[job.render_id].status in {"failed", "cancelled"}
    assert "⏹️ Render cancelled." in channel.texts() and not channel.files


async def test_render_resumes_after_a_restart_and_is_delivered_once(emulator, settings, tmp_path):
    from bot.app import open_runtime

    channel = RecordingChannel(keep_dir=tmp_path / "delivered")
    emulator.config.render_pending_s = 1.5
    async with open_runtime(settings) as rt:
        await rt.engine.handle(msg("", BIKES), channel)
        await rt.engine.handle(msg("add background music"), channel)
        export = asyncio.create_task(rt.engine.handle(msg("/export"), channel))
        while not await rt.store.list_renders():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    # the process is gone (runtime closed mid-render); the render goes on at NemoVideo
    assert export.done() and not channel.files
    [job] = await _jobs(settings)
    assert job.status in {"submitting", "pending"} and not job.delivered
    status_ref = job.status_message

    async def channel_for(key):
        return channel if str(key) == str(KEY) else None

    async with open_runtime(settings) as rt:
        assert await rt.engine.resume("console", channel_for) == 1
        await rt.engine.wait_idle()
        assert await rt.engine.resume("console", channel_for) == 0  # delivered: nothing left
    assert len(channel.files) == 1
    [job] = await _jobs(settings)
    assert job.delivered and job.status == "delivered" and job.status_message == status_ref
    assert channel.messages[status_ref].startswith("✅ Rendered in")  # the same status message ended as done
    assert len(emulator.state.renders) == 1  # not submitted twice


async def test_run_cut_off_by_a_restart_is_reported_not_resent(emulator, settings, tmp_path):
    from bot.app import open_runtime

    channel = RecordingChannel()
    async with open_runtime(settings) as rt:
        await rt.engine.handle(msg("", BUNNY), channel)
        emulator.config.step_delay_s = 0.3
        run = asyncio.create_task(
            rt.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
        )
        # under way once NemoVideo has the message (its marker was kept just before it was sent)
        while not emulator.state.runs_per_session:
            await asyncio.sleep(0.02)
    assert run.done()
    await emulator.state.idle()  # NemoVideo finishes the edit on its own

    async def channel_for(key):
        return channel

    async with open_runtime(settings) as rt:
        assert await rt.engine.resume("console", channel_for) == 1
        await rt.engine.wait_idle()
        conv = await rt.store.get_conversation(str(KEY))
    assert "run" not in conv.data
    text = channel.texts()[-1]
    assert (
        text.startswith('I restarted while working on "add a ranked leaderboard overlay')
        and "Added leaderboard" in text
    )
    assert "⚠️ Interrupted by a restart of the bot." in channel.texts()
    assert emulator.state.runs_per_session[conv.session_id] == 1


async def _jobs(settings):
    from store import open_store

    store = open_store(settings.database_url)
    await store.open()
    try:
        return await store.list_renders()
    finally:
        await store.close()


async def test_queued_messages_survive_a_restart_in_order(emulator, settings):
    from bot.app import open_runtime

    channel = RecordingChannel()
    async with open_runtime(settings) as rt:
        await rt.engine.handle(msg("", BUNNY), channel)
        emulator.config.step_delay_s = 0.3
        run = asyncio.create_task(
            rt.engine.handle(msg("add a ranked leaderboard overlay showing the top performers"), channel)
        )
        while not rt.engine.is_busy(str(KEY)):
            await asyncio.sleep(0.02)
        await rt.engine.handle(msg("add background music"), channel)
        await rt.engine.handle(msg("add title 'Encore'"), channel)
        conv = await rt.store.get_conversation(str(KEY))
        assert [q["text"] for q in conv.data["queue"]] == ["add background music", "add title 'Encore'"]
    assert run.done()
    await emulator.state.idle()
    emulator.config.step_delay_s = 0.0

    async def channel_for(key):
        return channel

    async with open_runtime(settings) as rt:
        assert await rt.engine.resume("console", channel_for) == 3  # the cut-off run and two queued messages
        await rt.engine.wait_idle()
        while rt.engine.is_busy(str(KEY)):
            await asyncio.sleep(0.05)
        conv = await rt.store.get_conversation(str(KEY))
        state = await (await owner_client(rt)).state(conv.session_id)
    assert "queue" not in conv.data and "run" not in conv.data
    assert emulator.state.runs_per_session[conv.session_id] == 3, channel.texts()  # leaderboard, music, title
    kinds = {t["tt"] for t in state.draft["t"]}
    assert kinds == {0, 1, 7}
    texts = channel.texts()
    report = next(i for i, t in enumerate(texts) if t.startswith("I restarted while working on"))
    assert report < max(i for i, t in enumerate(texts) if "music" in t.lower() or "Encore" in t)


@pytest.mark.parametrize("backend_knows_it", [False, True])
async def test_unconfirmed_render_is_resubmitted_only_if_unknown(runtime, emulator, backend_knows_it):
    from store import RenderJob

    channel = RecordingChannel()
    await runtime.engine.handle(msg("", BIKES), channel)
    await runtime.engine.handle(msg("add background music"), channel)
    conv = await runtime.store.get_conversation(str(KEY))
    rid = "render_crashed_before_confirmation"
    if backend_knows_it:  # the submit reached NemoVideo, the process died before recording it
        client = await owner_client(runtime)
        await client.submit_render(conv.session_id, (await client.state(conv.session_id)).draft, render_id=rid)
    await runtime.store.save_render(RenderJob(rid, str(KEY), conv.session_id, status="submitting"))

    async def channel_for(key):
        return channel

    assert await runtime.engine.resume("console", channel_for) == 1
    await runtime.engine.wait_idle()
    assert len(channel.files) == 1
    assert list(emulator.state.renders) == [rid]
    assert emulator.state.renders[rid].attempt == 1  # submitted exactly once either way
    job = await runtime.store.get_render(rid)
    assert job.delivered
