"""SQLAlchemy Core tables for queries; the schema itself (constraints included) is the migrations'."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()


def _timestamp(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("subject", Text, nullable=False),
    Column("issuer", Text),
    Column("name", Text, nullable=False),
    Column("email", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("org_id", Text),
    Column("name", Text, nullable=False),
    Column("description", Text),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

sprints = Table(
    "sprints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("goal", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("capacity_points", Integer, nullable=False),
    _timestamp("start_date"),
    _timestamp("end_date"),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("status", Text, nullable=False),
    Column("labels", ARRAY(Text), nullable=False),
    Column("acceptance_criteria", JSONB, nullable=False),
    Column("story_points", Integer),
    Column("sprint_id", Uuid, ForeignKey("sprints.id")),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    _timestamp("deleted_at", nullable=True),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False),
    Column("story_id", Uuid, ForeignKey("stories.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("acceptance_criteria_refs", ARRAY(Text), nullable=False),
    Column("status", Text, nullable=False),
    Column("owner_user_id", Uuid),
    Column("estimated_hours", Integer),
    Column("version", Integer, nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    _timestamp("owned_at", nullable=True),
    _timestamp("completed_at", nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("task_id", Uuid, nullable=False),
    Column("subject", Text, nullable=False),
    Column("payload", Text, nullable=False),
    _timestamp("created_at"),
    _timestamp("published_at", nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status", SmallInteger),
    Column("response_body", Text),
    _timestamp("created_at"),
)
