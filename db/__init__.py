"""Data access: asyncpg pool, embedded PostgreSQL, migrations and one query module per
table group. Nothing here imports the rest of the application."""
