"""Settings from the environment and .env; bad values fail with one line naming the setting."""

import json
import os
import subprocess
import sys

import pytest

from bot.settings import SettingsError, load_settings


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.nemo_api_url == "https://mega-api-prod.nemovideo.ai"
    assert s.heartbeat_interval_s == 120
    assert s.nemo_token is None
    assert s.database_url == "sqlite:///nemobot.db"
    assert s.max_upload_bytes == 500 * 1024 * 1024


def test_env_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NEMO_API_URL=http://127.0.0.1:9/\nHEARTBEAT_INTERVAL_S=30\n")
    monkeypatch.setenv("NEMO_TOKEN", "nmv_usr_secret")
    s = load_settings()
    assert s.nemo_api_url == "http://127.0.0.1:9"
    assert s.heartbeat_interval_s == 30
    assert s.nemo_token.get_secret_value() == "nmv_usr_secret"
    assert "nmv_usr_secret" not in repr(s)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"NEMO_API_URL": "ftp://x"}, "NEMO_API_URL"),
        ({"HEARTBEAT_INTERVAL_S": "-1"}, "HEARTBEAT_INTERVAL_S"),
        ({"HEARTBEAT_INTERVAL_S": "soon"}, "HEARTBEAT_INTERVAL_S"),
        ({"NEMO_CLIENT_ID": "not-a-uuid"}, "NEMO_CLIENT_ID"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DEFAULT_SKILL": "cooking"}, "DEFAULT_SKILL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_setting_names_itself(monkeypatch, tmp_path, env, name):
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    line = str(info.value)
    assert line.startswith(f"setting {name}: ")
    assert "\n" not in line


def test_cli_reports_bad_setting_in_one_line(tmp_path):
    env = {"PATH": "", "NEMO_API_URL": "nope", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "nemobot: setting NEMO_API_URL: must start with http:// or https://"


def test_env_example_lists_every_setting():
    from pathlib import Path

    from bot.settings import Settings

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    names = {line.split("=", 1)[0].strip() for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert names == {name.upper() for name in Settings.model_fields}


def test_run_without_platform_tokens_says_what_to_set(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "no platform is configured (set TELEGRAM_TOKEN or DISCORD_TOKEN)" in proc.stderr


def test_run_reports_an_adapter_that_cannot_start(tmp_path):
    env = {
        "PATH": "",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "TELEGRAM_TOKEN": "123:secret-token",
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "the telegram adapter failed: NetworkError" in proc.stderr
    assert "secret-token" not in proc.stderr


def test_allowlists_take_telegram_group_ids_and_admin_accounts():
    s = load_settings(telegram_allowed_chat_ids="-100777, 5", admin_user_ids="telegram:1,discord:2")
    assert s.allowlist("telegram_allowed_chat_ids") == {"-100777", "5"}
    assert s.admins == {"telegram:1", "discord:2"}
    with pytest.raises(SettingsError, match="ADMIN_USER_IDS"):
        load_settings(admin_user_ids="123")
    with pytest.raises(SettingsError, match="TELEGRAM_ALLOWED_CHAT_IDS"):
        load_settings(telegram_allowed_chat_ids="abc")


def test_webhook_settings_refuse_a_short_secret_and_plain_http():
    good = {"telegram_webhook_secret": "x" * 16}
    assert load_settings(telegram_webhook_url="https://bot.example.com/tg/hook", **good).telegram_webhook_url
    assert load_settings(telegram_webhook_url="http://127.0.0.1:8443/tg/hook", **good)  # a local proxy or test
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET: must be at least 16"):
        load_settings(telegram_webhook_url="https://bot.example.com/tg/hook", telegram_webhook_secret="short")
    with pytest.raises(SettingsError, match="must be https"):
        load_settings(telegram_webhook_url="http://bot.example.com/tg/hook", **good)


def test_json_logs_to_the_chat_log_file_one_object_a_line_with_secrets_masked(tmp_path):
    log_file = tmp_path / "chat.log"
    code = """
import logging
from bot.cli import _configure_logging
from bot.redact import install, register_secret
from bot.settings import load_settings

_configure_logging(load_settings(), to_file=True)
install()
register_secret("nmv_personal_secret_value")
logging.getLogger("nemobot.test").warning("calling with %s", "nmv_personal_secret_value")
print("the terminal stays the chat's")
"""
    env = {**os.environ, "LOG_FORMAT": "json", "CHAT_LOG_FILE": str(log_file), "DATABASE_URL": "sqlite:///x.db"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == "the terminal stays the chat's\n"
    [line] = log_file.read_text().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["name"] == "nemobot.test"
    assert "nmv_personal_secret_value" not in line and "calling with «redacted»" in record["message"]
