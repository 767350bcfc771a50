"""SQLAlchemy 2.x tables, repositories, Alembic migrations and the writer thread."""
