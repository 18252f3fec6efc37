"""Fixtures of the fakes' own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord_client import ANA, CH0, CH2, CH2B, CH3, GUILD0, GUILD2, GUILD3


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with user ana and three guilds (boost tiers 0, 2 and 3)."""
    async with FakeDiscord(files_dir=tmp_path / "discord") as dc:
        dc.add_user(ANA, "ana")
        dc.add_guild(GUILD0, name="Plain", premium_tier=0, channels=[CH0])
        dc.add_guild(GUILD2, name="Boosted", premium_tier=2, channels=[CH2, CH2B])
        dc.add_guild(GUILD3, name="Max", premium_tier=3, channels=[CH3])
        yield dc
