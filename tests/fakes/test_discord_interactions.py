"""The fake Discord's interactions against a real discord.py 2.7 client: callbacks, follow-ups, edits."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from tests.fakes.discord import (
    FLAG_LOADING,
    FakeDiscord,
    MiB,
)
from tests.fakes.discord_client import (
    BIKES,
    CANCEL_ID,
    CH0,
    CH2,
    GUILD2,
    CancelView,
    running,
)


async def test_slash_command_defers_edits_original_and_button_updates_it(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        await bot.tree.sync()
        assert [c["name"] for c in fake.synced_commands[None]] == ["edit", "render"]
        attachment = fake.add_attachment(b"video-bytes", filename="clip.mp4")
        payload = await fake.interaction_create(
            name="edit",
            options=[
                {"name": "prompt", "type": 3, "value": "trim"},
                {"name": "video", "type": 11, "value": attachment["id"]},
            ],
            channel_id=CH2,
            resolved_attachments=[attachment],
        )
        iid = int(payload["id"])
        await fake.wait_until(lambda: len(fake.interaction_responses.get(iid, [])) >= 2)
        callback, edit = fake.interaction_responses[iid]
        assert (callback["kind"], callback["type"], edit["kind"]) == ("callback", 5, "edit_original")
        assert fake.calls_to("POST", "/interactions/{id}/{token}/callback")[0].query == {"with_response": "1"}
        (record,) = fake.bot_messages(CH2)
        assert record["interaction_id"] == iid and record["id"] == callback["message_id"] == edit["message_id"]
        assert record["content"] == "Editing clip.mp4: trim" and not record["flags"] & FLAG_LOADING
        assert record["components"][0]["components"][0]["custom_id"] == CANCEL_ID
        interaction = bot.interactions[0]
        assert interaction.filesize_limit == 50 * MiB and interaction.guild_id == GUILD2

        press = await fake.button_press(custom_id=CANCEL_ID, message_id=record["id"], channel_id=CH2)
        await fake.wait_until(lambda: int(press["id"]) in fake.interaction_responses)
        (answer,) = fake.interaction_responses[int(press["id"])]
        assert (answer["type"], answer["data"]["content"]) == (4, "Cancelled.")
        _, cancelled = fake.bot_messages(CH2)
        assert (
            cancelled["ephemeral"]
            and cancelled["content"] == "Cancelled."
            and cancelled["interaction_id"] == int(press["id"])
        )
        assert not [m for m in bot.own if m.id == cancelled["id"]]  # ephemeral: not on the gateway
        assert [e.get("content") for e in record["edits"]] == ["Editing clip.mp4: trim"]

        fake.expire_interaction_tokens()
        with pytest.raises(discord.HTTPException) as caught:
            await interaction.edit_original_response(content="too late")
        assert (caught.value.status, caught.value.code) == (401, 50027)
        # after the token expired, the channel route still edits the (non-ephemeral) reply
        await bot.get_channel(CH2).get_partial_message(record["id"]).edit(content="Still here.")
        assert record["content"] == "Still here."


async def test_followups_after_defer_replace_the_thinking_message_and_respect_the_limit(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        payload = await fake.interaction_create(name="render", channel_id=CH0)
        iid = int(payload["id"])
        await fake.wait_until(lambda: len(fake.interaction_responses.get(iid, [])) >= 3)
        kinds = [e["kind"] for e in fake.interaction_responses[iid]]
        assert kinds == ["callback", "followup", "followup"]
        callback, first, second = fake.interaction_responses[iid]
        assert first["message_id"] == callback["message_id"] != second["message_id"]
        original, extra = fake.bot_messages(CH0)
        assert original["content"] == "Done" and original["attachments"][0].read_bytes() == BIKES.read_bytes()
        assert extra["content"] == "Anything else?"
        assert fake.calls_to("POST", "/webhooks/{app}/{token}")[0].query["wait"] == "1"

        small = await fake.interaction_create(name="render", channel_id=CH0, attachment_size_limit=100_000)
        await fake.wait_until(lambda: bot.errors)
        error = bot.errors.pop()
        assert isinstance(error.original, discord.HTTPException)
        assert (error.original.status, error.original.code) == (413, 40005)
        assert bot.interactions[-1].filesize_limit == 100_000 and bot.interactions[-1].id == int(small["id"])


async def test_late_guild_buttons_and_interaction_rules(fake: FakeDiscord) -> None:
    new_guild, new_channel = 500000000000000000, 500000000000000001
    async with running(fake) as bot:
        fake.add_guild(new_guild, name="Later", premium_tier=1, channels=[new_channel])
        await fake.wait_until(lambda: bot.get_guild(new_guild) is not None)
        assert bot.get_guild(new_guild).filesize_limit == 10 * MiB
        posted = await bot.get_channel(new_channel).send("Pick one", view=CancelView())

        # a button nobody handles: answer it by hand to check Discord's rules
        ignored = await fake.button_press(custom_id="nobody", message_id=posted.id, channel_id=new_channel)
        other = await fake.button_press(custom_id="nobody", message_id=posted.id, channel_id=new_channel)
        url = f"{fake.api_url}/interactions/{ignored['id']}/{ignored['token']}/callback"
        hook = f"{fake.api_url}/webhooks/{fake.application_id}/{ignored['token']}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{hook}?wait=true", json={"content": "early"}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10015
            async with http.post(url, json={"type": 5}) as resp:  # no ?with_response: 204
                assert resp.status == 204 and fake.bot_messages(new_channel)[-1]["flags"] & FLAG_LOADING
            async with http.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == 40060
            other_url = f"{fake.api_url}/interactions/{other['id']}/{other['token']}/callback"
            async with http.post(other_url, json={"type": 8, "data": {"choices": []}}) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == 50035  # autocomplete type
            async with http.post(other_url, json={"type": 7, "data": {"content": "x"}}) as resp:
                assert resp.status == 400 and "does not emulate" in (await resp.json())["message"]
            async with http.post(f"{hook}?wait=true", json={"content": "later"}) as resp:
                body = await resp.json()  # the first follow-up replaces the "thinking" message
                assert resp.status == 200 and body["content"] == "later" and not body["flags"] & FLAG_LOADING
            async with http.post(f"{hook}?wait=true", json={"content": "more"}) as resp:
                more = await resp.json()
                assert resp.status == 200 and more["id"] != body["id"]
            async with http.patch(f"{hook}/messages/{more['id']}", json={"content": "more!"}) as resp:
                assert resp.status == 200 and (await resp.json())["content"] == "more!"
            async with http.patch(f"{hook}/messages/{posted.id}", json={"content": "x"}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10008  # not this interaction's
            fake.expire_interaction_tokens(int(ignored["id"]))
            async with http.patch(f"{hook}/messages/@original", json={"content": "x"}) as resp:
                assert resp.status == 401 and await resp.json() == {"message": "Invalid Webhook Token", "code": 50027}
            fake.expire_interaction_tokens()
            async with http.post(other_url, json={"type": 5}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10062
        kinds = [e["kind"] for e in fake.interaction_responses[int(ignored["id"])]]
        assert kinds == ["callback", "followup", "followup", "edit"]
        assert [m["content"] for m in fake.bot_messages(new_channel)] == ["Pick one", "later", "more!"]
