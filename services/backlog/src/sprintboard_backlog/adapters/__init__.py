"""Adapters: PostgreSQL tables, repositories, the unit of work with its outbox, migrations, NATS."""
