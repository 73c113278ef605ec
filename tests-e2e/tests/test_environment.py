"""How the stack is started: containers when Docker answers, embedded otherwise, or as forced."""

from __future__ import annotations

import pytest

from sprintboard_e2e.environment import MODE_VARIABLE, docker_available, select_mode


def answers() -> bool:
    return True


def silent() -> bool:
    return False


def unasked() -> bool:
    raise AssertionError("a forced mode must not probe Docker")


def test_containers_when_a_docker_engine_answers() -> None:
    assert select_mode({}, docker_ping=answers) == "containers"
    assert select_mode({MODE_VARIABLE: "auto"}, docker_ping=answers) == "containers"


def test_embedded_when_no_docker_engine_answers() -> None:
    assert select_mode({}, docker_ping=silent) == "embedded"
    assert select_mode({MODE_VARIABLE: ""}, docker_ping=silent) == "embedded"


@pytest.mark.parametrize("forced", ["containers", "embedded", " Embedded ", "CONTAINERS"])
def test_a_forced_mode_wins_without_probing(forced: str) -> None:
    assert select_mode({MODE_VARIABLE: forced}, docker_ping=unasked) == forced.strip().lower()


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="containers, embedded or auto"):
        select_mode({MODE_VARIABLE: "kubernetes"}, docker_ping=answers)


def test_the_environment_variable_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_VARIABLE, "embedded")
    assert select_mode(docker_ping=unasked) == "embedded"


def test_an_unreachable_engine_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    # The discard port: nothing answers. (An answering engine: tests/containers/.)
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    assert docker_available(timeout=2) is False
