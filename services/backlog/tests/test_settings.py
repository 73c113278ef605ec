"""Settings: the `BACKLOG_` prefix, the shared names, and database URL normalisation."""

from __future__ import annotations

import pytest

from sprintboard_backlog.settings import BacklogSettings

SHARED = (
    "DATABASE_URL",
    "NATS_URL",
    "SPRINTBOARD_JWT_SECRET",
    "SPRINTBOARD_DEV_AUTH",
    "BACKLOG_DATABASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SHARED:
        monkeypatch.delenv(name, raising=False)


def test_shared_names_and_url_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db:5432/board")
    monkeypatch.setenv("NATS_URL", "nats://bus:4222")
    monkeypatch.setenv("SPRINTBOARD_JWT_SECRET", "s3cret")
    monkeypatch.setenv("SPRINTBOARD_DEV_AUTH", "true")
    monkeypatch.setenv("BACKLOG_PORT", "9001")
    monkeypatch.setenv("BACKLOG_CORS_ORIGINS", "http://a.test, http://b.test")
    settings = BacklogSettings()
    assert settings.database_url == "postgresql+asyncpg://app@db:5432/board"
    assert settings.asyncpg_dsn == "postgresql://app@db:5432/board"
    assert (settings.nats_url, settings.jwt_secret, settings.dev_auth, settings.port) == (
        "nats://bus:4222",
        "s3cret",
        True,
        9001,
    )
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    assert settings.relay_enabled is True and settings.migrate_on_start is False


def test_prefixed_name_wins_and_field_names_work_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://shared@db/x")
    monkeypatch.setenv("BACKLOG_DATABASE_URL", "postgres://own@db/y")
    assert BacklogSettings().database_url == "postgresql+asyncpg://own@db/y"
    assert (
        BacklogSettings(database_url="postgresql://code@db/z").database_url
        == "postgresql+asyncpg://code@db/z"
    )
    with pytest.raises(ValueError):
        BacklogSettings(database_url="mysql://nope")


def test_a_nats_cluster_is_a_comma_separated_list_of_servers() -> None:
    cluster = BacklogSettings(nats_url="nats://a:4222, nats://b:4222,nats://c:4222")
    assert cluster.nats_servers == ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
    assert BacklogSettings(nats_url="nats://one:4222").nats_servers == ["nats://one:4222"]
