"""A small discord.py client shaped like nemobot's Discord adapter, and :func:`running`, for
the fake Discord's own tests (``test_discord_api.py``, ``test_discord_interactions.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path

with warnings.catch_warnings():
    # discord.py 2.7 imports the stdlib audioop (deprecated since 3.11) for voice; pyproject turns
    # warnings into errors, so the import itself would fail.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.fakes.discord import FakeDiscord, patched_discord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BIKES = FIXTURES / "bikes.mp4"
TOKEN = "fake-bot-token.Xy_1234567890"
ANA = 100000000000000101
GUILD0, CH0 = 200000000000000000, 200000000000000001
GUILD2, CH2, CH2B = 300000000000000000, 300000000000000001, 300000000000000002
GUILD3, CH3 = 400000000000000000, 400000000000000001
CANCEL_ID = "nemobot:cancel"


class CancelView(discord.ui.View):
    """A persistent view: one button with a fixed custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.danger, custom_id=CANCEL_ID)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_message("Cancelled.", ephemeral=True)


class Bot(discord.Client):
    """A small bot shaped like nemobot's Discord adapter."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[discord.Message] = []
        self.own: list[discord.Message] = []
        self.downloads: dict[int, bytes] = {}
        self.interactions: list[discord.Interaction] = []
        self.errors: list[BaseException] = []
        self.reply_file: Path | None = None

        @self.tree.command(name="edit", description="Edit a clip")
        @app_commands.describe(prompt="What to do", video="The clip")
        async def edit(interaction: discord.Interaction, prompt: str, video: discord.Attachment | None = None) -> None:
            self.interactions.append(interaction)
            await interaction.response.defer(thinking=True)
            name = video.filename if video else "nothing"
            await interaction.edit_original_response(content=f"Editing {name}: {prompt}", view=CancelView())

        @self.tree.command(name="render", description="Render and upload")
        async def render(interaction: discord.Interaction) -> None:
            self.interactions.append(interaction)
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("Done", file=discord.File(BIKES))
            await interaction.followup.send("Anything else?")

        @self.tree.error
        async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
            self.errors.append(error)

    async def setup_hook(self) -> None:
        self.add_view(CancelView())

    async def on_error(self, event: str, *args: object, **kwargs: object) -> None:
        self.errors.append(sys.exc_info()[1])  # type: ignore[arg-type]

    async def on_message(self, message: discord.Message) -> None:
        assert self.user is not None
        if message.author.id == self.user.id:
            self.own.append(message)
            return
        self.seen.append(message)
        if message.guild is None:
            await message.channel.send(f"Hi {message.author.name}")
        elif self.user in message.mentions and message.attachments:
            self.downloads[message.id] = await message.attachments[0].read()
            thread = await message.create_thread(name="Clip edit", auto_archive_duration=60)
            if self.reply_file is not None:
                await thread.send("On it", file=discord.File(self.reply_file))
            else:
                await thread.send("On it")


async def _until(condition: Callable[[], bool], task: asyncio.Task[None], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if task.done():
            task.result()
            raise RuntimeError("the client stopped")
        if time.monotonic() > deadline:
            raise TimeoutError("client not ready")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, bot: Bot | None = None) -> AsyncIterator[Bot]:
    """Start a real client against the fake; close it cleanly afterwards."""
    bot = bot or Bot()
    async with patched_discord(fake):
        task = asyncio.create_task(bot.start(TOKEN))
        try:
            await _until(lambda: fake.connected, task)
            await _until(bot.is_ready, task)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
    assert not bot.errors, bot.errors
