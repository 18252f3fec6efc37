"""Exports are delivered at most once: one export per conversation, and a delivery whose outcome is
unknown is reported with a link, never re-sent (issue 10, item 4). Render outputs and pasted links
follow the outbound rules (item 3). Against the emulator, on real clips."""

from __future__ import annotations

import asyncio

from bot.app import open_runtime
from bot.boundary import Attachment, ChannelError, ConversationKey, IncomingMessage, OutgoingVideo, SentRef
from store import open_store
from tests.conftest import chat_message, clip, fast_settings
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="d1")


def msg(text: str = "", *attachments: Attachment, message_id: str = "m") -> IncomingMessage:
    return chat_message(KEY, text, *attachments, message_id=message_id)


async def jobs(settings):
    async with open_store(settings.database_url) as store:
        return await store.list_renders()


async def ready(rt, channel) -> None:
    await rt.engine.handle(msg("", clip()), channel)
    await rt.engine.handle(msg("add background music"), channel)


async def test_a_second_export_meanwhile_is_told_about_the_first(runtime, emulator, tmp_path):
    channel = RecordingChannel(keep_dir=tmp_path / "out")
    await ready(runtime, channel)
    emulator.config.render_pending_s = 1.0
    first = asyncio.create_task(runtime.engine.handle(msg("/export", message_id="e1"), channel))
    second = asyncio.create_task(runtime.engine.handle(msg("/export", message_id="e2"), channel))
    await asyncio.wait_for(asyncio.gather(first, second), 60)
    await runtime.engine.wait_idle()
    assert len(emulator.state.renders) == 1 and len(channel.files) == 1
    assert sum("already running" in t for t in channel.texts()) == 1
    # once it is delivered, /export renders again
    await runtime.engine.handle(msg("/export", message_id="e3"), channel)
    assert len(emulator.state.renders) == 2 and len(channel.files) == 2


class AcceptedThenFailed(RecordingChannel):
    """The platform took the file, then the call failed (a timeout after the upload)."""

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        await RecordingChannel.send_file(self, video, caption=caption)
        raise ChannelError("Timed out")


async def test_a_delivery_that_may_have_failed_is_reported_with_a_link_and_never_resent(emulator, settings, tmp_path):
    channel = AcceptedThenFailed(keep_dir=tmp_path / "out")
    async with open_runtime(settings, platform="console") as rt:
        await ready(rt, channel)
        await rt.engine.handle(msg("/export"), channel)
    [job] = await jobs(settings)
    assert job.status == "uncertain" and not job.delivered
    note = channel.texts()[-1]
    assert note.startswith("📦 I couldn't confirm that your video reached this chat") and job.output_url in note
    assert len(channel.files) == 1

    async def channel_for(key):
        return channel

    async with open_runtime(settings, platform="console") as rt:
        assert await rt.engine.resume("console", channel_for) == 0  # nothing is sent again
    assert len(channel.files) == 1


class Hangs(RecordingChannel):
    """The upload to the platform never returns (the process is stopped meanwhile)."""

    async def send_file(self, video: OutgoingVideo, *, caption: str = "") -> SentRef:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_restart_in_the_middle_of_sending_reports_instead_of_resending(emulator, settings, tmp_path):
    hanging = Hangs()
    async with open_runtime(settings, platform="console") as rt:
        await ready(rt, hanging)
        export = asyncio.create_task(rt.engine.handle(msg("/export"), hanging))
        for _ in range(600):
            found = await rt.store.list_renders()
            if found and found[0].status == "sending":
                break
            await asyncio.sleep(0.05)
    assert export.done()
    [job] = await jobs(settings)
    assert job.status == "sending"

    channel = RecordingChannel(keep_dir=tmp_path / "out")

    async def channel_for(key):
        return channel

    async with open_runtime(settings, platform="console") as rt:
        assert await rt.engine.resume("console", channel_for) == 1
        await rt.engine.wait_idle()
    assert channel.files == []
    assert channel.texts()[-1].startswith("📦 I couldn't confirm")
    [job] = await jobs(settings)
    assert job.status == "uncertain"
    assert len(emulator.state.renders) == 1


async def test_an_output_url_at_a_private_address_is_never_fetched(emulator, tmp_path):
    # the backend names an internal address as the output: the API's own download is used instead
    emulator.config.public_url = "http://169.254.169.254:9"
    settings = fast_settings(emulator.url, tmp_path)
    channel = RecordingChannel(keep_dir=tmp_path / "out")
    async with open_runtime(settings, platform="console") as rt:
        await ready(rt, channel)
        await rt.engine.handle(msg("/export"), channel)
    [job] = await jobs(settings)
    assert job.status == "delivered" and job.output_url.endswith(f"/api/render/proxy/{job.render_id}/download")
    assert len(channel.files) == 1 and channel.files[0].stat().st_size > 10_000
    assert "169.254" not in "\n".join(channel.texts())


async def test_pasted_links_follow_the_outbound_rules(emulator, tmp_path, monkeypatch):
    from bot.nemo.client import NemoClient

    asked: list[list[str]] = []
    original = NemoClient.upload_urls

    async def spy(self, sid, urls, **kwargs):
        asked.append(list(urls))
        return await original(self, sid, urls, **kwargs)

    monkeypatch.setattr(NemoClient, "upload_urls", spy)
    settings = fast_settings(emulator.url, tmp_path, fetch_allowed_hosts="127.0.0.2")
    channel = RecordingChannel()
    bad = [
        Attachment(filename="a.mp4", public_url="http://169.254.169.254/latest/a.mp4", pasted=True),
        Attachment(filename="b.mp4", public_url=f"{emulator.url}/b.mp4", pasted=True),  # loopback, not allowed
        Attachment(filename="c.mp4", public_url="http://localhost/c.mp4", pasted=True),
    ]
    many = [
        Attachment(filename=f"{i}.mp4", public_url=f"https://cdn{i}.example.org/{i}.mp4", pasted=True)
        for i in range(11)
    ]
    async with open_runtime(settings, platform="console") as rt:
        await rt.engine.handle(msg("", *bad), channel)
        await rt.engine.handle(msg("", *many, message_id="m2"), channel)
        # an allowed host the backend cannot fetch from: one fixed sentence, not the backend's text
        await rt.engine.handle(
            msg(
                "",
                Attachment(filename="gone.mp4", public_url="http://127.0.0.2:9/gone.mp4", pasted=True),
                message_id="m3",
            ),
            channel,
        )
    texts = channel.texts()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        line = f"I only fetch links to public web addresses (http or https), so I skipped {name}. Send the file itself instead."
        assert line in texts
    assert any(t.startswith("That's 11 links in one message; I take at most 10") for t in texts)
    assert texts[-1].startswith("I couldn't get gone.mp4 from that link.")
    assert asked == [["http://127.0.0.2:9/gone.mp4"]]  # nothing else was handed to NemoVideo
    assert not any("127.0.0.2:9" in t or "Connect" in t for t in texts)
