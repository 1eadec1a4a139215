"""Every test here runs on SQLite and on PostgreSQL."""

from tests.support.databases import both_backends_db as db  # noqa: F401
