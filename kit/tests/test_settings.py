"""The shared settings pieces: a service's prefix first, then the workspace-wide names; parsing and rules."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings

from sprintboard_kit.settings import (
    SHARED_NAMES,
    DatabaseFields,
    JwtFields,
    NatsFields,
    Origins,
    StreamFields,
    origin_allowed,
    service_config,
)
from sprintboard_kit.tokens import TokenVerifier, mint_dev_token


class DemoSettings(DatabaseFields, NatsFields, JwtFields, StreamFields, BaseSettings):
    model_config = service_config("DEMO_")

    port: int = Field(8000, ge=0)
    origins: Origins = Field(default_factory=list)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SHARED_NAMES.values():
        monkeypatch.delenv(name, raising=False)


def test_the_prefixed_name_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://shared:4222")
    monkeypatch.setenv("SPRINTBOARD_STREAM_REPLICAS", "3")
    monkeypatch.setenv("DEMO_PORT", "9001")
    settings = DemoSettings()
    assert (settings.nats_url, settings.stream_replicas, settings.port) == ("nats://shared:4222", 3, 9001)
    monkeypatch.setenv("DEMO_NATS_URL", "nats://own:4222")
    monkeypatch.setenv("demo_stream_replicas", "5")  # case does not matter, as in pydantic-settings
    assert (DemoSettings().nats_url, DemoSettings().stream_replicas) == ("nats://own:4222", 5)


def test_field_names_work_in_code_and_an_unknown_shared_name_is_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DemoSettings(nats_url="nats://code:4222").nats_url == "nats://code:4222"
    monkeypatch.setenv("PORT", "1")  # no field has a shared name for `port`
    assert DemoSettings().port == 8000


def test_a_nats_cluster_is_a_comma_separated_list() -> None:
    assert DemoSettings(nats_url="nats://a:4222, nats://b:4222,").nats_servers == [
        "nats://a:4222",
        "nats://b:4222",
    ]


def test_database_urls_take_the_asyncpg_driver_and_only_postgresql() -> None:
    settings = DemoSettings(database_url="postgres://app@db:5432/board")
    assert settings.database_url == "postgresql+asyncpg://app@db:5432/board"
    assert settings.asyncpg_dsn == "postgresql://app@db:5432/board"
    for bad in ("mysql://nope", "no-scheme"):
        with pytest.raises(ValidationError):
            DemoSettings(database_url=bad)


def test_origins_come_comma_separated_or_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_ORIGINS", "https://a.example, https://b.example/")
    assert DemoSettings().origins == ["https://a.example", "https://b.example/"]
    monkeypatch.setenv("DEMO_ORIGINS", '["https://j.example"]')
    assert DemoSettings().origins == ["https://j.example"]


def test_origin_allowed() -> None:
    assert origin_allowed([], "https://anything.example")
    assert origin_allowed(["*"], "https://x.example")
    strict = ["https://board.example/"]
    assert origin_allowed(strict, "https://board.example") and origin_allowed(strict, None)
    assert not origin_allowed(strict, "https://evil.example")


def test_the_stream_settings_and_their_rules() -> None:
    settings = DemoSettings(stream_max_age_seconds=3600, stream_replicas=3, stream_max_msgs=1000)
    config = settings.stream_settings().config()
    assert (config.max_age, config.num_replicas, config.max_msgs, config.duplicate_window) == (
        3600,
        3,
        1000,
        120,
    )
    assert DemoSettings().stream_settings().config().max_msgs == -1
    with pytest.raises(ValidationError):
        DemoSettings(stream_duplicate_window_seconds=60)  # JetStream's re-publish window stays >= 2 minutes


def test_the_token_verifier_of_the_settings() -> None:
    secret = "a-test-secret-that-is-long-enough-for-hs256"
    verifier = DemoSettings(jwt_secret=secret, jwt_issuer="https://idp").token_verifier()
    assert isinstance(verifier, TokenVerifier)
    assert (
        verifier.verify(mint_dev_token(secret, "alice", "Alice", None, issuer="https://idp")).subject
        == "alice"
    )
    stand_in = DemoSettings().token_verifier(
        secret=secret
    )  # a service's own fallback (the backlog's dev auth)
    assert stand_in.verify(mint_dev_token(secret, "bob", "Bob", None)).subject == "bob"
    with pytest.raises(RuntimeError, match="SPRINTBOARD_JWT_SECRET"):
        DemoSettings().token_verifier()
