"""Initial schema: users, projects, sprints, stories, tasks (invariants as CHECKs) and the outbox."""

from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE users (
  tenant_id text NOT NULL,
  id uuid NOT NULL,
  subject text NOT NULL,
  issuer text,
  name text NOT NULL,
  email text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE projects (
  id uuid PRIMARY KEY,
  tenant_id text NOT NULL,
  org_id text,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
  description text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX projects_tenant_idx ON projects (tenant_id, created_at);

CREATE TABLE sprints (
  id uuid PRIMARY KEY,
  tenant_id text NOT NULL,
  project_id uuid NOT NULL REFERENCES projects (id),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
  goal text NOT NULL,
  status text NOT NULL CHECK (status IN ('planning', 'active', 'review', 'completed')),
  capacity_points integer NOT NULL CHECK (capacity_points > 0),
  start_date timestamptz NOT NULL,
  end_date timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT sprints_length_check
    CHECK (end_date - start_date BETWEEN interval '1 day' AND interval '28 days')
);
CREATE INDEX sprints_project_idx ON sprints (project_id, start_date);
CREATE UNIQUE INDEX sprints_one_active_per_project ON sprints (project_id) WHERE status = 'active';

CREATE TABLE stories (
  id uuid PRIMARY KEY,
  tenant_id text NOT NULL,
  project_id uuid NOT NULL REFERENCES projects (id),
  title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
  description text,
  status text NOT NULL CHECK (status IN ('draft', 'needsrefinement', 'ready', 'committed', 'inprogress',
    'taskscomplete', 'deployed', 'awaitingacceptance', 'accepted')),
  labels text[] NOT NULL DEFAULT '{}',
  acceptance_criteria jsonb NOT NULL DEFAULT '[]',
  story_points integer CHECK (story_points BETWEEN 1 AND 8),
  sprint_id uuid REFERENCES sprints (id),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz,
  CONSTRAINT stories_committed_has_sprint_check CHECK (status <> 'committed' OR sprint_id IS NOT NULL)
);
CREATE INDEX stories_project_idx ON stories (project_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX stories_sprint_idx ON stories (sprint_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE tasks (
  id uuid PRIMARY KEY,
  tenant_id text NOT NULL,
  project_id uuid NOT NULL REFERENCES projects (id),
  story_id uuid NOT NULL REFERENCES stories (id),
  title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
  description text,
  acceptance_criteria_refs text[] NOT NULL CHECK (cardinality(acceptance_criteria_refs) >= 1),
  status text NOT NULL CHECK (status IN ('available', 'owned', 'inprogress', 'completed')),
  owner_user_id uuid,
  estimated_hours integer CHECK (estimated_hours BETWEEN 1 AND 40),
  version integer NOT NULL CHECK (version >= 1),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  owned_at timestamptz,
  completed_at timestamptz,
  CONSTRAINT tasks_owner_check CHECK (
    (status = 'available' AND owner_user_id IS NULL AND owned_at IS NULL)
    OR (status <> 'available' AND owner_user_id IS NOT NULL AND owned_at IS NOT NULL)
  ),
  CONSTRAINT tasks_completed_check CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX tasks_story_idx ON tasks (story_id, created_at);
CREATE INDEX tasks_owner_idx ON tasks (tenant_id, owner_user_id) WHERE owner_user_id IS NOT NULL;

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  task_id uuid NOT NULL,
  subject text NOT NULL,
  payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
"""


def upgrade() -> None:
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in ("outbox", "tasks", "stories", "sprints", "projects", "users"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
