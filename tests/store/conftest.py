"""Store test fixtures: a real PostgreSQL server for the run, a fresh database per test."""

from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]
