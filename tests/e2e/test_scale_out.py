"""Scale-out acceptance test (issue 14): three ``nemobot run`` instances share one PostgreSQL.

The instances run as subprocesses in Telegram webhook mode behind a round-robin forwarder
(:mod:`tests.fakes.forwarder`) in front of the fake Bot API, so any instance may receive any
update and the work runs wherever procrastinate's workers take it (:mod:`bot.shared_work`).
Thirty private chats each send a short clip with "add background music" and then ``/export``;
while the renders are pending, the instance running the most jobs is killed with SIGKILL.

What must hold: every video is delivered exactly once, every progress/status message ends in a
final state, no agent run is sent twice and no render submitted twice; the killed instance's
jobs run again on the others within the stalled-job time (plus the watch's tick and a fetch
poll) and deliver no later after their render completes than the exports nobody dropped; the
survivors stop cleanly on SIGTERM, and no token reaches a log. The figures (and the time from
the kill to the last taken-over video, which includes the rest of the renders) are written to
``bench/results/scale_out_kill.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from emulator.media import make_sample_clip
from tests.fakes.forwarder import RoundRobinForwarder
from tests.fakes.telegram import FakeTelegram
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

CONVERSATIONS = 30
INSTANCES = 3
STALLED_JOB_S = 3.0
"""``STALLED_JOB_S`` of the instances: a worker silent this long is dead, its jobs run elsewhere."""
TAKEOVER_MARGIN_S = 4.0
"""Allowed on top of ``STALLED_JOB_S`` from the kill until every job of the killed instance runs
again on another: the last heartbeat's age, the stalled-job watch's tick (``STALLED_JOB_S`` / 4)
and a worker's fetch poll (1 s), on a loaded 2-core machine."""
DELIVERY_SLACK_S = 3.0
"""A taken-over export delivers its video at most this much later after its render completed
(or after the take-over, if the render was done first) than the slowest export no instance
dropped: a poll, the download, a thumbnail and the upload, while 30 renders end together."""
RENDER_PENDING_S = 5.0
"""How long the emulator keeps each render pending: the kill lands while they all are."""
ASKING_AFTER_KILL = 6
"""Chats that send ``/credits`` right after the kill (answered by the survivors)."""
SECRET = "scale-out-webhook-secret-7"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "scale_out_kill.json"
JOB_STARTED = re.compile(r"Starting job nemobot\.conversation_message\[(\d+)\]")
IN_PROGRESS = (
    "🎬 Working on it",  # working
    "⏳ Still working",  # still_working
    "🎞️ Rendering",  # rendering, rendering_pct
    "🎞️ The first render failed",  # render_retry
    "🎥 Generating video",  # stage_generate
    "🎵 Making the music",  # stage_music
    "✂️ Editing the timeline",  # stage_edit
    "🔍 Analysing your footage",  # stage_analysis
    "⚙️ Working",  # stage_other
    "📡 Lost the connection",  # stream_dropped_wait
)
"""How a progress or status message reads while its work goes on (bot/locales/en)."""


@dataclass
class Instance:
    """One ``nemobot run`` subprocess."""

    name: str
    port: int
    log: Path
    proc: asyncio.subprocess.Process | None = None
    killed: bool = False
    exit_code: int | None = None

    def started_jobs(self) -> list[int]:
        """Ids of the procrastinate jobs this instance started, from its log (a take-over twice)."""
        if not self.log.exists():
            return []
        return [int(m) for m in JOB_STARTED.findall(self.log.read_text(errors="replace"))]


@dataclass
class Watch:
    """What the test sees happen, when (Unix time, as the emulator records renders)."""

    videos: dict[int, list[float]] = field(default_factory=dict)
    """chat id -> when each ``sendVideo`` to it was seen."""
    restarted: dict[int, float] = field(default_factory=dict)
    """job id of the killed instance -> when it was seen running again (or finished) elsewhere."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(
    emulator: Any, tg: FakeTelegram, forwarder: RoundRobinForwarder, database_url: str, port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "TELEGRAM_", "DISCORD_"))}
    env.update(
        NEMO_API_URL=emulator.url,
        DATABASE_URL=database_url,
        STALLED_JOB_S=str(STALLED_JOB_S),
        HEALTH_PORT="off",
        TELEGRAM_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        TELEGRAM_WEBHOOK_URL=f"{forwarder.url}/hook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(port),
        TELEGRAM_EDIT_INTERVAL_S="0.5",
        PROGRESS_EDIT_INTERVAL_S="1.0",
        RENDER_POLL_INITIAL_S="0.3",
        RENDER_POLL_MAX_S="0.6",
        LOG_LEVEL="INFO",
        PYTHONWARNINGS="error,ignore:'audioop' is deprecated:DeprecationWarning",
    )
    return env


async def start(instance: Instance, env: dict[str, str], cwd: Path) -> None:
    with open(instance.log, "ab") as err:  # the child keeps its own copy of the descriptor
        instance.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )


def log_tail(instance: Instance, chars: int = 3000) -> str:
    return instance.log.read_text(errors="replace")[-chars:] if instance.log.exists() else ""


async def push_forever(tg: FakeTelegram) -> None:
    """Telegram delivering queued updates to the webhook, again and again (kept until answered 2xx)."""
    while True:
        if tg.webhook is not None:
            try:
                await tg.push_webhook()
            except Exception as exc:  # the forwarder answers 502 rather than fail; anything else: try again
                print(f"push_webhook failed: {exc!r}")
        await asyncio.sleep(0.2)


async def fetch(db: asyncpg.Pool, sql: str, *args: Any) -> list[asyncpg.Record]:
    try:
        return list(await db.fetch(sql, *args))
    except asyncpg.UndefinedTableError:  # procrastinate's tables are not created yet
        return []


async def watch(tg: FakeTelegram, db: asyncpg.Pool, state: Watch, victim_jobs: dict[int, int]) -> None:
    """Record when videos arrive, and when the killed instance's jobs run again elsewhere."""
    seen = 0
    while True:
        videos = tg.calls_of("sendVideo")
        now = time.time()
        for call in videos[seen:]:
            if call.ok:
                state.videos.setdefault(int(call.params["chat_id"]), []).append(now)
        seen = len(videos)
        waiting = [job for job in victim_jobs if job not in state.restarted]
        if waiting:
            rows = {
                r["id"]: r
                for r in await fetch(
                    db, "SELECT id, status, worker_id FROM procrastinate_jobs WHERE id = ANY($1)", waiting
                )
            }
            for job in waiting:
                row = rows.get(job)
                if row is None or (row["status"] == "doing" and row["worker_id"] not in (None, victim_jobs[job])):
                    state.restarted[job] = now  # deleted once it succeeded, or running on another worker
        await asyncio.sleep(0.05)


async def workers_of(db: asyncpg.Pool, instances: list[Instance]) -> dict[int, Instance]:
    """procrastinate worker id -> instance, from the jobs each instance's log says it started."""
    rows = await fetch(db, "SELECT id, worker_id FROM procrastinate_jobs WHERE worker_id IS NOT NULL")
    started = {job: inst for inst in instances for job in inst.started_jobs()}
    return {r["worker_id"]: started[r["id"]] for r in rows if r["id"] in started}


def delivery_lags(tg: FakeTelegram, emulator: Any, state: Watch) -> dict[int, float]:
    """chat id -> seconds from its render's completion (emulator) to its video (the video's
    file name carries the render id: ``nemovideo-<id[:12]>.mp4``, bot/renders.py)."""
    completed = {rec.id.removeprefix("render_")[:12]: rec.completed_at for rec in emulator.state.renders.values()}
    lags = {}
    for call in tg.calls_of("sendVideo"):
        chat = int(call.params["chat_id"])
        name = call.files["video"].filename
        done = completed[name.removeprefix("nemovideo-").removesuffix(".mp4")]
        assert done is not None, f"{name} was sent before its render completed"
        lags[chat] = state.videos[chat][0] - done
    return lags


def texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text or m.caption or "" for m in tg.bot_messages(chat_id)]


async def test_three_instances_one_killed_mid_render_every_video_once(emulator, tmp_path, postgres_url):  # noqa: F811
    began = time.time()
    clip = make_sample_clip(tmp_path / "clip.mp4", duration_s=1.0, width=320, height=180)
    instances = [Instance(name, free_port(), tmp_path / f"bot-{name}.log") for name in "abc"[:INSTANCES]]
    state = Watch()
    victim_jobs: dict[int, int] = {}  # job id -> the killed instance's worker id
    tasks: list[asyncio.Task[None]] = []
    db = await asyncpg.create_pool(postgres_url, min_size=1, max_size=3)  # the watch queries alongside the test
    try:
        async with (
            FakeTelegram(files_dir=tmp_path / "tg") as tg,
            RoundRobinForwarder([f"http://127.0.0.1:{i.port}" for i in instances]) as forwarder,
        ):
            try:
                for inst in instances:
                    await start(inst, bot_env(emulator, tg, forwarder, postgres_url, inst.port), tmp_path)
                try:  # every webhook set and every worker registered
                    await tg.wait_until(lambda: len(tg.calls_of("setWebhook")) >= INSTANCES, timeout=60)
                    deadline = time.time() + 30
                    while len(await fetch(db, "SELECT id FROM procrastinate_workers")) < INSTANCES:
                        assert time.time() < deadline, "the workers did not register"
                        await asyncio.sleep(0.1)
                except (TimeoutError, AssertionError):
                    raise AssertionError("\n\n".join(log_tail(i) for i in instances)) from None
                ready = time.time()
                tasks.append(asyncio.create_task(push_forever(tg)))
                tasks.append(asyncio.create_task(watch(tg, db, state, victim_jobs)))

                chats = [tg.private_chat(user_id=50_000 + i, first_name=f"U{i}") for i in range(CONVERSATIONS)]
                file = tg.add_file(clip, file_name="clip.mp4", mime_type="video/mp4")
                for chat in chats:
                    tg.user_media(
                        chat, "video", file, caption="add background music", duration=1, width=320, height=180
                    )
                await tg.wait_until(
                    lambda: all(any(t.startswith("✅ Done in") for t in texts(tg, c["id"])) for c in chats), timeout=90
                )
                edited = time.time()

                emulator.config.render_pending_s = RENDER_PENDING_S  # renders stay in flight while one instance dies
                for chat in chats:
                    tg.user_text(chat, "/export")
                await tg.wait_until(lambda: len(emulator.state.renders) == CONVERSATIONS, timeout=60)
                assert all(r.status == "pending" for r in emulator.state.renders.values())

                # the instance running the most jobs, while it runs them
                doing: dict[int, list[tuple[int, str]]] = {}
                deadline = time.time() + 10
                while True:
                    owners = await workers_of(db, instances)
                    rows = await fetch(db, "SELECT id, lock, worker_id FROM procrastinate_jobs WHERE status = 'doing'")
                    if rows and all(r["worker_id"] in owners for r in rows):
                        break
                    assert time.time() < deadline, f"cannot tell whose jobs these are: {rows}"
                    await asyncio.sleep(0.1)
                for row in rows:
                    doing.setdefault(row["worker_id"], []).append((row["id"], row["lock"]))
                worker, held = max(doing.items(), key=lambda item: len(item[1]))
                victim = owners[worker]
                assert held, "the instance to kill runs no job"
                assert victim.proc is not None
                victim.proc.kill()  # no cleanup at all: its jobs stay 'doing', its heartbeat stops
                killed_at = time.time()
                victim.killed = True
                victim.exit_code = await victim.proc.wait()
                victim_jobs.update({job: worker for job, _ in held})
                victim_locks = dict(held)
                victim_chats = {int(lock.removeprefix("telegram:")) for _, lock in held}
                held_per_instance = {owners[w].name: len(jobs) for w, jobs in doing.items()}
                asking = chats[:ASKING_AFTER_KILL]
                for chat in asking:  # updates keep coming: the forwarder skips the dead instance
                    tg.user_text(chat, "/credits")

                await tg.wait_until(lambda: all(state.videos.get(c["id"]) for c in chats), timeout=90)
                await tg.wait_until(
                    lambda: all(any(t.startswith("💳") for t in texts(tg, c["id"])) for c in asking), timeout=30
                )
                delivered_at = time.time()
                deadline = time.time() + 30
                while await fetch(db, "SELECT id FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"):
                    assert time.time() < deadline, "jobs still queued or running after every delivery"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.5)  # anything duplicated would show up now
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                for inst in instances:
                    if inst.proc is not None and inst.proc.returncode is None:
                        inst.proc.send_signal(signal.SIGTERM)
                for inst in instances:
                    if inst.proc is not None and not inst.killed:
                        try:
                            inst.exit_code = await asyncio.wait_for(inst.proc.wait(), 30)
                        except TimeoutError:
                            inst.proc.kill()
                            await inst.proc.wait()
            stopped = time.time()
    finally:
        await db.close()

    # ------------------------------------------------------------------ what must hold
    survivors = [i for i in instances if not i.killed]
    for inst in survivors:
        assert inst.exit_code == 0, f"{inst.name} exited {inst.exit_code}: {log_tail(inst)}"
    per_chat = Counter(int(c.params["chat_id"]) for c in tg.calls_of("sendVideo") if c.ok)
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    assert per_chat == {c["id"]: 1 for c in chats}, f"every conversation gets its video exactly once: {per_chat}"
    for chat in chats:
        said = texts(tg, chat["id"])
        unfinished = [t for t in said if t.startswith(IN_PROGRESS)]
        assert not unfinished, f"status messages left in progress in {chat['id']}: {said}"
        status = [m.text or "" for m in tg.bot_messages(chat["id"]) if (m.params.get("text") or "").startswith("🎞️")]
        assert len(status) == 1 and status[0].startswith("✅ Rendered in"), said
        assert any(t.startswith("✅ Done in") for t in said), said
        assert not any(t.startswith("⚠️") for t in said), said  # nothing interrupted, failed or uncertain
        assert not any(t.startswith("I restarted while working on") for t in said), said  # no run was cut off
    assert len(emulator.state.runs_per_session) == CONVERSATIONS
    assert set(emulator.state.runs_per_session.values()) == {1}, "no agent run is sent twice"
    assert len(emulator.state.renders) == CONVERSATIONS, "no render is submitted twice"
    assert set(emulator.state.render_attempts.values()) == {1}
    assert set(victim_jobs) <= set(state.restarted), "every job of the killed instance ran again elsewhere"
    restarted_s = max(state.restarted[j] for j in victim_jobs) - killed_at
    assert restarted_s <= STALLED_JOB_S + TAKEOVER_MARGIN_S, (
        f"the killed instance's jobs ran again elsewhere only {restarted_s:.1f} s after the kill"
    )
    lags = delivery_lags(tg, emulator, state)  # chat id -> video seen minus render completed (s)
    restarted_by_chat = {
        int(lock.removeprefix("telegram:")): state.restarted[job] for job, lock in victim_locks.items()
    }
    taken_over_lags = {
        chat: state.videos[chat][0] - max(state.videos[chat][0] - lags[chat], restarted_by_chat[chat])
        for chat in victim_chats
    }
    ordinary_lag = max([v for c, v in lags.items() if c not in victim_chats], default=0.0)
    assert max(taken_over_lags.values()) <= ordinary_lag + DELIVERY_SLACK_S, (
        f"slow deliveries after a take-over: {taken_over_lags} (others: at most {ordinary_lag:.1f} s)"
    )
    victim_delivered_s = max(state.videos[c][0] for c in victim_chats) - killed_at
    for inst in instances:
        text = inst.log.read_text(errors="replace")
        for secret in (tg.token, tg.token.split(":", 1)[1], SECRET):
            assert secret not in text, f"a secret in {inst.name}'s log"
    for inst in survivors:
        text = inst.log.read_text(errors="replace")
        assert "Traceback" not in text and "Task was destroyed" not in text, log_tail(inst)
    unanswered = [c for c in forwarder.calls if c.target is None]
    rerouted = [c for c in forwarder.calls if c.skipped and c.target is not None]
    assert rerouted and all(c.skipped == [instances.index(victim)] for c in rerouted), forwarder.calls[-12:]
    started = {i.name: len(i.started_jobs()) for i in instances}
    all_jobs = {job for i in instances for job in i.started_jobs()}

    results = {
        "test": "tests/e2e/test_scale_out.py",
        "conversations": CONVERSATIONS,
        "instances": INSTANCES,
        "messages_per_conversation": 2,
        "stalled_job_s": STALLED_JOB_S,
        "render_pending_s": RENDER_PENDING_S,
        "jobs": len(all_jobs),
        "job_runs": sum(started.values()),
        "job_runs_per_instance": started,
        "jobs_doing_at_kill_per_instance": held_per_instance,
        "killed_instance": victim.name,
        "killed_instance_jobs": len(victim_jobs),
        "deliveries": sum(per_chat.values()),
        "duplicates": duplicates,
        "agent_runs": sum(emulator.state.runs_per_session.values()),
        "renders": len(emulator.state.renders),
        "updates_forwarded_per_instance": dict(zip([i.name for i in instances], forwarder.per_target(), strict=True)),
        "updates_refused_502": len(unanswered),
        "updates_rerouted_past_the_killed": len(rerouted),
        "kill_to_jobs_restarted_s": round(restarted_s, 2),
        "kill_to_last_takeover_delivery_s": round(victim_delivered_s, 2),
        "kill_to_all_delivered_s": round(delivered_at - killed_at, 2),
        "render_done_to_video_max_s": {
            "taken_over": round(max(taken_over_lags.values()), 2),
            "others": round(ordinary_lag, 2),
        },
        "startup_s": round(ready - began, 2),
        "uploads_and_runs_s": round(edited - ready, 2),
        "wall_s": round(stopped - began, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.system()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print("scale-out kill test:", json.dumps(results, indent=2))
