"""Conversation work shared by several nemobot instances on one PostgreSQL database.

With ``DATABASE_URL=postgresql://…`` the messages of platforms whose updates may reach any
instance (Telegram webhooks behind a load balancer) are not run where they arrive: each one
becomes a job of `procrastinate <https://procrastinate.readthedocs.io>`_, a PostgreSQL job
queue, and a worker in one of the instances runs it:

* **One conversation, one instance at a time, in order.** Every job carries its conversation
  key as its procrastinate ``lock``: jobs with the same lock run one at a time, oldest first,
  whichever instance's worker takes them. The queue is the jobs table, not any one process.
* **A dead instance's work is taken over.** Workers send heartbeats; every instance looks for
  jobs whose worker has been silent for ``STALLED_JOB_S`` and sets them to run again
  (``attempts`` + 1) while that worker still holds them (one conditional statement, so two
  instances watching at once never send one run back twice). A job run again is a take-over: the conversation's cut-off agent
  run is reported, never re-sent, and its unfinished render is resumed and delivered once
  (:meth:`bot.engine.ConversationEngine.run_shared`).
* **A stopping instance hands its work on at once.** procrastinate aborts the jobs of a
  stopping worker (reason ``shutdown``) and, since every job may be retried, sets them to run
  again: another instance takes them over without waiting for the stalled-job time.
* **/cancel from any instance.** It asks procrastinate to abort the conversation's running
  job (the instance running it cancels it) and cancels its waiting ones.

Single-process installs (SQLite) do not use this module: the in-process
:class:`bot.scheduler.ConversationScheduler` does the same job in memory, and the engine does
not know which of the two runs a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Job
from procrastinate.schema import SchemaManager

from bot.boundary import IncomingMessage, ReplyChannel
from bot.recovery import queue_items
from bot.scheduler import Submitted, Work
from store.postgres_conn import parse_url
from store.postgres_jobs import COUNT_CONVERSATION_JOBS, SEND_BACK_STALLED, ensure_job_schema, libpq_url

log = logging.getLogger(__name__)

TASK = "nemobot.conversation_message"
"""The one procrastinate task: handle one chat message of one conversation."""
MAX_ATTEMPTS = 5
"""Runs of one job at most: the first, then take-overs (shutdowns, dead instances)."""

RunMessage = Callable[[JobContext, str, dict[str, Any]], Awaitable[None]]
"""Runs one deferred message: ``(context, conversation key, queue item)`` (the engine's
:meth:`~bot.engine.ConversationEngine.run_shared`)."""


def is_user_abort(context: JobContext) -> bool:
    """True when the job was aborted by ``/cancel`` (not by its worker shutting down)."""
    return context.abort_reason() is AbortReason.USER_REQUEST


class SharedWork:
    """The procrastinate app of one instance: deferring messages, a worker per platform, and
    the watch for stalled jobs.

    Args:
        database_url: ``postgresql://…`` (the store's; ``pool_size`` is the store's own).
        run: Runs a deferred message (the engine).
        stalled_s: A worker silent this long is dead; its jobs run again elsewhere (s).
        concurrency: Jobs one instance's worker runs at once (agent runs and renders).
        max_queued: Messages a conversation may have waiting behind its running one.
    """

    def __init__(
        self, database_url: str, run: RunMessage, *, stalled_s: float, concurrency: int, max_queued: int
    ) -> None:
        self._dsn, _, self.where = parse_url(database_url)
        self.stalled_s = stalled_s
        self.concurrency = concurrency
        self.max_queued = max_queued
        self.app = App(connector=PsycopgConnector(conninfo=libpq_url(self._dsn), min_size=1, max_size=10))
        self._run = run
        self.app.task(name=TASK, pass_context=True, retry=RetryStrategy(max_attempts=MAX_ATTEMPTS))(self._job)
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._watch: asyncio.Task[None] | None = None
        self._open = False

    async def open(self) -> None:
        """Create procrastinate's tables once per database (under an advisory lock), open the
        connection pool and start watching for stalled jobs."""
        await ensure_job_schema(self._dsn, SchemaManager.get_schema())
        await self.app.open_async()
        self._open = True
        self._watch = asyncio.create_task(self._watch_stalled(), name="stalled-jobs")

    def serve(self, platform: str) -> None:
        """Start a worker for ``platform``'s queue (once its adapter can reach conversations)."""
        if platform in self._workers:
            return
        self._workers[platform] = asyncio.create_task(
            self.app.run_worker_async(
                queues=[platform],
                name=f"nemobot-{platform}",
                concurrency=self.concurrency,
                install_signal_handlers=False,
                update_heartbeat_interval=max(0.5, self.stalled_s / 4),
                stalled_worker_timeout=self.stalled_s,
                fetch_job_polling_interval=1.0,
                abort_job_polling_interval=1.0,
                shutdown_graceful_timeout=0,  # on stop: abort at once, the jobs run again elsewhere
                delete_jobs="successful",
            ),
            name=f"worker-{platform}",
        )

    async def start(
        self, key: str, msg: IncomingMessage, channel: ReplyChannel, work: Work
    ) -> tuple[Submitted, asyncio.Task[None] | None]:
        """The :class:`~bot.scheduler.WorkQueue` way in: ``msg`` becomes a job (``channel`` and
        ``work`` stay here: the instance that runs it reaches the chat and builds the work
        itself, :meth:`bot.engine.ConversationEngine.run_shared`). Never a local task."""
        return await self.defer(msg.conversation.platform, key, queue_items([msg])[0]), None

    async def defer(self, platform: str, key: str, item: dict[str, Any]) -> Submitted:
        """Queue one message of conversation ``key`` (a :func:`bot.recovery.queue_items` item).

        Returns:
            ``RAN`` when nothing else of the conversation was waiting or running (it starts as
            soon as a worker is free), ``QUEUED`` when it waits behind others, ``FULL`` when
            ``max_queued`` messages already wait (nothing is kept).
        """
        counts = await self.app.connector.execute_query_one_async(COUNT_CONVERSATION_JOBS, lock=key)
        doing, waiting = int(counts["doing"]), int(counts["waiting"])
        if waiting >= self.max_queued and doing:
            return Submitted.FULL
        await self.app.configure_task(TASK, lock=key, queue=platform).defer_async(key=key, item=item)
        return Submitted.QUEUED if doing or waiting else Submitted.RAN

    async def defer_take_over(self, platform: str, key: str) -> int:
        """Queue a take-over of what a stopped instance left of ``key`` (:meth:`bot.engine.
        ConversationEngine.resume_shared`), unless a job of ``key`` runs (a dead instance's
        is taken over when found stalled) or a take-over already waits.

        Returns:
            1 when one was queued, else 0.
        """
        if list(await self.app.job_manager.list_jobs_async(lock=key, status="doing")):
            return 0
        try:
            await self.app.configure_task(TASK, lock=key, queue=platform, queueing_lock=f"take-over:{key}").defer_async(
                key=key, item={"take_over": True}
            )
        except AlreadyEnqueued:
            return 0
        return 1

    async def cancel(self, key: str) -> int | None:
        """``/cancel`` from any instance: abort ``key``'s running job and cancel the waiting ones.

        Returns:
            How many waiting messages were dropped, or ``None`` when nothing was running.
        """
        manager = self.app.job_manager
        doing = list(await manager.list_jobs_async(lock=key, status="doing"))
        if not doing:
            return None
        dropped = 0
        for job in await manager.list_jobs_async(lock=key, status="todo"):
            if job.id is not None and await manager.cancel_job_by_id_async(job.id, delete_job=True):
                dropped += 1
        for job in doing:
            if job.id is not None:
                await manager.cancel_job_by_id_async(job.id, abort=True)
        return dropped

    async def stop_serving(self, platform: str) -> None:
        """Stop ``platform``'s worker: its running jobs are aborted (reason ``shutdown``) and,
        being retryable, run again on another instance at once."""
        task = self._workers.pop(platform, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def busy(self, key: str) -> bool:
        """True while a job of conversation ``key`` runs on any instance."""
        return bool(list(await self.app.job_manager.list_jobs_async(lock=key, status="doing")))

    async def close(self) -> None:
        """Stop the workers (their running jobs are aborted and run again on another instance),
        the watch and the pool. Idempotent."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        workers, self._workers = list(self._workers.values()), {}
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._open:
            self._open = False
            await self.app.close_async()

    async def _job(self, context: JobContext, key: str, item: dict[str, Any]) -> None:
        await self._run(context, key, item)

    async def _watch_stalled(self) -> None:
        """Every quarter of ``stalled_s``: jobs whose worker is silent for ``stalled_s`` run again."""
        manager = self.app.job_manager
        while True:
            await asyncio.sleep(max(0.5, self.stalled_s / 4))
            try:
                stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_s))
            except Exception as exc:  # noqa: BLE001 - the watch must outlive a database hiccup
                log.warning("looking for stalled jobs failed: %r", exc)
                continue
            for job in stalled:
                await self._send_back(job)

    async def _send_back(self, job: Job) -> None:
        """Send a stalled job back to the queue while its stalled worker still holds it.

        Every instance watches; the statement is conditional on the job's worker, so a run
        another instance already sent back (and a live worker took) is not sent back twice.
        """
        try:
            sent = await self.app.connector.execute_query_all_async(
                SEND_BACK_STALLED, job_id=job.id, worker_id=job.worker_id
            )
        except Exception as exc:  # noqa: BLE001 - still stalled: tried again on the next look
            log.warning("taking over job %s failed: %r", job.id, exc)
            return
        if sent:
            log.warning("taking over job %s of %s: its instance stopped answering", job.id, job.lock)
