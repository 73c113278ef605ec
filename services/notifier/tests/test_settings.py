"""Settings come from the environment: the notifier's own prefix and the variables shared with the backlog."""

from __future__ import annotations

import pytest

from sprintboard_notifier.settings import NotifierSettings

pytestmark = pytest.mark.unit


def test_shared_variables_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://nats.internal:4222")
    monkeypatch.setenv("SPRINTBOARD_JWT_SECRET", "s3cret")
    monkeypatch.setenv("SPRINTBOARD_JWT_ISSUER", "https://id.example")
    monkeypatch.setenv("NOTIFIER_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    settings = NotifierSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8001)
    assert settings.nats_url == "nats://nats.internal:4222"
    assert settings.jwt_secret == "s3cret" and settings.jwt_issuer == "https://id.example"
    assert settings.allowed_origins == ["https://a.example", "https://b.example/"]
    assert (settings.heartbeat_seconds, settings.auth_timeout_seconds, settings.max_frame_bytes) == (
        20,
        5,
        65536,
    )
    monkeypatch.setenv("NOTIFIER_NATS_URL", "nats://own:4222")
    assert NotifierSettings().nats_url == "nats://own:4222"


def test_origins() -> None:
    open_dev = NotifierSettings(allowed_origins=[])
    assert open_dev.origin_allowed("https://anything.example")
    assert NotifierSettings(allowed_origins=["*"]).origin_allowed("https://x.example")
    strict = NotifierSettings(allowed_origins=["https://board.example"])
    assert strict.origin_allowed("https://board.example") and strict.origin_allowed(None)
    assert not strict.origin_allowed("https://evil.example")
    assert NotifierSettings.model_validate({"allowed_origins": '["https://j.example"]'}).allowed_origins == [
        "https://j.example"
    ]


def test_a_cluster_is_a_comma_separated_list_of_servers() -> None:
    cluster = NotifierSettings(nats_url="nats://a:4222, nats://b:4222,nats://c:4222")
    assert cluster.nats_servers == ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
    assert NotifierSettings(nats_url="nats://one:4222").nats_servers == ["nats://one:4222"]


def test_the_stream_it_may_create_is_replicated_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NotifierSettings().stream_settings().replicas == 1
    monkeypatch.setenv("NOTIFIER_STREAM_REPLICAS", "3")
    assert NotifierSettings().stream_settings().config().num_replicas == 3
