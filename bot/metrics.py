"""What the process counts, in the Prometheus format (the ``prometheus-client`` package).

One registry per process (:data:`REGISTRY`), served at ``/metrics`` by :mod:`bot.health`. The
engine and its parts count as they go; gauges of current state (queues, followed renders) are
read when scraped (:func:`watch`). Names follow Prometheus conventions: ``nemobot_`` prefix,
``_total`` counters, ``_seconds`` histograms (https://prometheus.io/docs/practices/naming/).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's metrics (not the client library's global registry, so tests and embeddings
that build several engines see one set)."""

UPDATES = Counter(
    "nemobot_updates", "Messages, commands and button presses taken by the engine.", ["platform"], registry=REGISTRY
)
REFUSALS = Counter(
    "nemobot_refusals",
    "Messages answered without doing the work: access (allowlists, blocks), rate_limit, render_busy, queue_full.",
    ["reason"],
    registry=REGISTRY,
)
RUNS_IN_FLIGHT = Gauge("nemobot_agent_runs_in_flight", "Agent runs streaming from NemoVideo now.", registry=REGISTRY)
RUN_SECONDS = Histogram(
    "nemobot_agent_run_seconds",
    "Length of agent runs, from the request to the answer (s).",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900),
    registry=REGISTRY,
)
RENDERS = Counter(
    "nemobot_renders", "Render jobs that ended: delivered, failed, cancelled, timed_out.", ["status"], registry=REGISTRY
)
RENDER_SECONDS = Histogram(
    "nemobot_render_seconds",
    "Time from an export's start to its video being handed to the chat (s).",
    buckets=(5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800),
    registry=REGISTRY,
)
DELIVERIES = Counter("nemobot_deliveries", "Videos handed to a chat, as a file or a link.", ["kind"], registry=REGISTRY)
BACKEND_ERRORS = Counter(
    "nemobot_backend_errors",
    "NemoVideo errors that ended a message's work, by error class.",
    ["error"],
    registry=REGISTRY,
)
QUEUED = Gauge("nemobot_queued_messages", "Messages waiting behind their conversation's work.", registry=REGISTRY)
BUSY = Gauge("nemobot_busy_conversations", "Conversations with work running.", registry=REGISTRY)
FOLLOWED = Gauge("nemobot_renders_followed", "Resumed renders being polled.", registry=REGISTRY)


def watch(*, queued: Callable[[], float], busy: Callable[[], float], followed: Callable[[], float]) -> None:
    """Read the current-state gauges from these functions when scraped (the engine's own counts)."""
    QUEUED.set_function(queued)
    BUSY.set_function(busy)
    FOLLOWED.set_function(followed)
