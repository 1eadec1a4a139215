"""The throwaway PostgreSQL server lives in bot/devtools (the fault bench uses it too)."""

from bot.devtools.pgserver import PostgresServer, PostgresUnavailable, running_postgres

__all__ = ["PostgresServer", "PostgresUnavailable", "running_postgres"]
