"""Storage: the one door to the database (SQLAlchemy 2 async, Alembic migrations)."""
