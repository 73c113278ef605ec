"""Idempotency keys: the first answer to each (tenant, user, key), kept 24 h so a retried POST replays it."""

from alembic import op

revision = "0002_idempotency_keys"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE idempotency_keys (
  tenant_id text NOT NULL,
  user_id uuid NOT NULL,
  key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
  fingerprint text NOT NULL,
  -- NULL only inside the transaction that claimed the key: it stores the answer before it commits.
  status smallint CHECK (status BETWEEN 200 AND 299),
  response_body text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
"""


def upgrade() -> None:
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS idempotency_keys")
