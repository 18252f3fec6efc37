"""The one mapping from HTTP status + envelope to typed errors (contract sections 1, 5, 7)."""

import pytest

from bot.nemo import errors as E
from bot.nemo.errors import error_for


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "code"),
    [
        (200, {"code": 1001, "message": "token expired"}, None, E.NemoAuthError, 1001),
        (401, {"code": 1010, "message": "bad token"}, None, E.NemoAuthError, 1010),
        (200, {"code": 1011, "message": "token revoked"}, None, E.NemoAuthError, 1011),
        (401, None, None, E.NemoAuthError, None),
        (401, "Unauthorized", None, E.NemoAuthError, None),
        (200, {"code": 1002, "message": "session not found"}, None, E.NemoSessionNotFound, 1002),
        (404, {"detail": "Session not found: abc"}, None, E.NemoSessionNotFound, None),
        (200, {"code": 2001, "message": "insufficient credits"}, None, E.NemoOutOfCredits, 2001),
        (400, {"code": 4001, "message": "unsupported"}, None, E.NemoUnsupportedFile, 4001),
        (413, {"code": 4002, "message": "too large"}, None, E.NemoFileTooLarge, 4002),
        (402, {"message": "export requires a plan"}, None, E.NemoPaymentRequired, None),
        (429, {"message": "slow down"}, {"Retry-After": "7"}, E.NemoRateLimited, None),
        (400, {"code": 400, "message": "missing X-Client-Id header"}, None, E.NemoClientIdMissing, 400),
        (500, "<html>oops</html>", None, E.NemoServerError, None),
        (503, None, None, E.NemoServerError, None),
        (200, {"success": False, "error": "render already in progress"}, None, E.NemoBadRequest, None),
        (409, {"success": False, "error": "render already in progress"}, None, E.NemoBadRequest, None),
        (200, {"code": "2001", "message": "as a string"}, None, E.NemoOutOfCredits, 2001),
        (200, {"code": 9999, "message": "new code"}, None, E.NemoBadRequest, 9999),
    ],
)
def test_error_mapping(status, body, headers, cls, code):
    err = error_for(status, body, headers)
    assert type(err) is cls
    assert err.status == status
    assert err.code == code
    assert err.body == body


@pytest.mark.parametrize(
    "body",
    [{"code": 0, "data": {}}, {"success": True, "data": {"id": "r"}}, {"status": "pending"}, None, "plain"],
)
def test_success_is_none(body):
    assert error_for(200, body) is None


def test_retry_after_parsed():
    assert error_for(429, None, {"Retry-After": "12"}).retry_after == 12.0
    assert error_for(429, None, {"Retry-After": "soon"}).retry_after is None
    assert error_for(429, None, None).retry_after is None


def test_message_is_bounded():
    err = error_for(500, "x" * 10_000)
    assert len(err.message) <= 300


def test_retry_after_as_http_date():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= error_for(429, None, {"Retry-After": soon}).retry_after <= 30
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert error_for(429, None, {"Retry-After": past}).retry_after == 0.0
