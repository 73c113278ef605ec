"""Embedded PostgreSQL and NATS servers for tests and the dev stack."""
