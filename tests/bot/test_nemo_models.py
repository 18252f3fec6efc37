"""Render statuses normalised once (contract sections 5 and 9) and outcomes built from them."""

from __future__ import annotations

import pytest

from bot.nemo import errors as E
from bot.nemo.models import RenderOutcome, RenderState, RenderStatus, parse_render_status

FALLBACK = "https://api.example/api/render/proxy/render_1/download"


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ({"success": True, "data": {"id": "r", "status": "pending", "progress": 0}}, RenderState.PENDING),
        ({"status": "processing", "progress": 40, "output": {}}, RenderState.PROCESSING),
        ({"taskId": "r", "status": "COMPLETED", "output": {"url": "u"}}, RenderState.COMPLETED),
        ({"status": "failed", "error": "lambda crashed"}, RenderState.FAILED),
        ({"status": "cancelled"}, RenderState.CANCELLED),
        ({"status": "canceled"}, RenderState.CANCELLED),
        ({"status": "failed", "error": "cancelled"}, RenderState.CANCELLED),
        ({"success": True, "data": {"status": "failed", "error": " Canceled "}}, RenderState.CANCELLED),
        ({"status": "queued"}, RenderState.PENDING),
        ({"status": "succeeded", "outputUrl": "u"}, RenderState.COMPLETED),
        ({"status": "exploded"}, RenderState.UNKNOWN),
        ({"status": 3}, RenderState.UNKNOWN),
        ({"progress": 10}, RenderState.UNKNOWN),
        ("<html>busy</html>", RenderState.UNKNOWN),
        (None, RenderState.UNKNOWN),
    ],
)
def test_states_are_normalised_where_parsed(body, state):
    status = parse_render_status(body)
    assert status.status is state
    assert status.cancelled == (state is RenderState.CANCELLED)
    assert status.done == (state in {RenderState.COMPLETED, RenderState.FAILED, RenderState.CANCELLED})


def test_state_is_a_string():
    status = parse_render_status({"status": "completed", "outputUrl": "u"})
    assert status.status == "completed" and f"{status.status}" == "completed"
    assert status.status in {"completed", "failed"}


def test_plain_strings_become_states():
    assert RenderStatus("r", "completed").status is RenderState.COMPLETED  # type: ignore[arg-type]
    assert RenderStatus("r", "canceled").status is RenderState.CANCELLED  # type: ignore[arg-type]
    assert RenderStatus("r", "whatever").status is RenderState.UNKNOWN  # type: ignore[arg-type]


def test_polled_id_fills_in_a_missing_one():
    assert parse_render_status({"status": "pending"}, render_id="render_1").render_id == "render_1"
    assert parse_render_status({"id": "render_2", "status": "pending"}, render_id="render_1").render_id == "render_2"
    assert parse_render_status(None, render_id="render_1").render_id == "render_1"


def test_progress_is_clamped_and_tolerant():
    assert parse_render_status({"status": "processing", "progress": 140}).progress == 100
    assert parse_render_status({"status": "processing", "progress": "n/a"}).progress == 0
    assert parse_render_status({"status": "processing", "progress": float("nan")}).progress == 0


def test_outcome_from_a_status_with_output_url():
    status = parse_render_status(
        {
            "taskId": "render_1",
            "status": "completed",
            "output": {"url": "https://cdn/x.mp4", "size": 123, "duration": 4.5},
        }
    )
    outcome = RenderOutcome.from_status(status, FALLBACK, attempts=2)
    assert outcome == RenderOutcome("render_1", "https://cdn/x.mp4", False, 123, 4.5, 2)


def test_outcome_falls_back_to_the_download_endpoint():
    outcome = RenderOutcome.from_status(RenderStatus("render_1", RenderState.COMPLETED), FALLBACK)
    assert outcome.download_url == FALLBACK and outcome.needs_auth and outcome.attempts == 1
    # a stored fallback URL (a resumed job) still needs the bearer
    again = RenderOutcome.from_status(RenderStatus("render_1", RenderState.COMPLETED, 100, FALLBACK), FALLBACK)
    assert again.needs_auth


def test_outcome_render_id_given_wins_and_is_needed():
    status = parse_render_status({"status": "completed", "outputUrl": "u"})
    assert RenderOutcome.from_status(status, FALLBACK, render_id="render_9").render_id == "render_9"
    with pytest.raises(ValueError, match="render id"):
        RenderOutcome.from_status(status, FALLBACK)
    with pytest.raises(ValueError, match="not completed"):
        RenderOutcome.from_status(RenderStatus("r", RenderState.FAILED), FALLBACK)


def test_render_failed_carries_the_status():
    status = parse_render_status({"id": "render_1", "status": "failed", "error": "boom"})
    exc = E.NemoRenderFailed("boom", status=status)
    assert exc.status is status and exc.message == "boom" and exc.code is None
    assert "failed" in repr(exc) and isinstance(exc, E.NemoError)
    assert E.NemoRenderFailed("render failed").status is None
