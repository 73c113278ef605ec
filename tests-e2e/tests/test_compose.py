"""compose.yaml, its development override and the images, checked without Docker against the code."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sprintboard_e2e import compose
from sprintboard_e2e.compose_project import compose_cli
from sprintboard_e2e.configuration import env_names, settings_classes

FILES = [compose.COMPOSE_FILE, compose.OVERRIDE_FILE]
BASE = compose.load()
OVERRIDE = compose.load(compose.OVERRIDE_FILE)
SERVICES: dict[str, Any] = BASE["services"]
# Read by what the services run on rather than by their settings classes.
SHARED_NAMES = {
    "PGPASSWORD": "libpq's password variable, read by asyncpg when the URL carries none",
    "PYTHONPATH": "development: the mounted source shadows the installed packages",
}
SECRET = re.compile(r"SECRET|PASSWORD|TOKEN", re.IGNORECASE)
HEALTHY, COMPLETED = "service_healthy", "service_completed_successfully"


def ours(name: str) -> str | None:
    """Which of our services a compose service runs (by the Dockerfile it is built from), if any."""
    dockerfile = SERVICES[name].get("build", {}).get("dockerfile", "")
    match = re.fullmatch(r"services/(\w+)/Dockerfile", dockerfile)
    return match[1] if match else None


def one_shots() -> set[str]:
    return {
        target
        for service in SERVICES.values()
        for target, dep in (service.get("depends_on") or {}).items()
        if dep.get("condition") == COMPLETED
    }


def container_port(name: str) -> int:
    """The port the service listens on inside its container: its env setting, else the setting's default."""
    service = ours(name)
    assert service is not None
    value = compose.environment(SERVICES[name]).get(f"{service.upper()}_PORT")
    default = settings_classes()[service].model_fields["port"].default
    return int(value) if value is not None else int(default)


def test_every_service_is_health_checked_or_a_one_shot() -> None:
    for name, service in SERVICES.items():
        if name in one_shots():
            assert service.get("restart") == "no", f"{name}: a one-shot must not be restarted"
        else:
            assert compose.healthcheck_command(service), f"{name} has no healthcheck"


def test_every_dependency_waits_on_health_or_completion() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a bare list"
        for target, dep in depends.items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = dep.get("condition")
            assert condition in (HEALTHY, COMPLETED), f"{name} -> {target}: {condition}"
            if condition == HEALTHY:
                assert compose.healthcheck_command(SERVICES[target]), f"{target} has no healthcheck"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_variable_is_a_setting_of_its_service(path: Path) -> None:
    for name, service in compose.load(path)["services"].items():
        if (kind := ours(name)) is None:
            continue
        unknown = set(compose.environment(service)) - env_names(kind) - set(SHARED_NAMES)
        assert not unknown, f"{path.name}: {name} sets {unknown}, which {kind}'s settings do not read"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_secret_has_a_default(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for match in compose.VARIABLE.finditer(text):
        if SECRET.search(match["name"]):
            assert match["op"] in (":?", "?"), f"{match[0]} must be required (${{NAME:?message}})"
    for name, service in compose.load(path)["services"].items():
        for key, value in compose.environment(service).items():
            if SECRET.search(key):
                required = compose.VARIABLE.fullmatch(value)
                assert required and required["op"] in (":?", "?"), f"{name}: {key} must come from ${{VAR:?}}"


def test_the_secrets_are_required_to_interpolate() -> None:
    with pytest.raises(compose.MissingVariable, match="SPRINTBOARD_JWT_SECRET"):
        compose.environment(SERVICES["backlog"], {"POSTGRES_PASSWORD": "x"})
    env = compose.environment(SERVICES["backlog"], {"POSTGRES_PASSWORD": "p", "SPRINTBOARD_JWT_SECRET": "s"})
    assert env["SPRINTBOARD_JWT_SECRET"] == "s" and env["PGPASSWORD"] == "p"


def test_ports_match_the_settings_the_healthchecks_and_the_gateway() -> None:
    caddyfile = BASE["configs"]["caddyfile"]["content"]
    for name in ("backlog", "notifier"):
        port = container_port(name)
        service, dev = SERVICES[name], OVERRIDE["services"][name]
        env = compose.environment(service)
        assert env[f"{name.upper()}_HOST"] == "0.0.0.0", f"{name} must listen beyond the container"
        assert [int(p) for p in service["expose"]] == [port]
        assert "ports" not in service, f"{name} replicas must not compete for a host port"
        assert f"127.0.0.1:{port}/health/live" in " ".join(compose.healthcheck_command(service) or [])
        assert f"dynamic a {name} {port}" in caddyfile, f"the gateway must reach {name} on {port}"
        assert [int(str(p).split(":")[-1]) for p in dev.get("ports", [])] == [port]
        assert all(str(p).startswith("127.0.0.1:") for p in dev["ports"]), "dev ports stay on the machine"
        assert f"--port={port}" in (compose.command(dev) or [])
    assert OVERRIDE["services"]["notifier"]["deploy"]["replicas"] == 1, "one replica may publish a port"
    assert "/api/v1/ws/*" in caddyfile


@pytest.mark.parametrize("name", ["backlog", "notifier"])
def test_each_image_is_uv_built_non_root_and_health_checked(name: str) -> None:
    dockerfile = (compose.REPO_ROOT / SERVICES[name]["build"]["dockerfile"]).read_text(encoding="utf-8")
    package = f"sprintboard-{name}"
    lines = [line.strip() for line in dockerfile.replace("\\\n", " ").splitlines()]
    deps = next(i for i, line in enumerate(lines) if "--no-install-workspace" in line)
    assert f"uv sync --frozen --no-dev --no-install-workspace --package {package}" in lines[deps]
    copies = [line.split()[1:] for line in lines[:deps] if line.startswith("COPY ") and "--from" not in line]
    sources = [source for parts in copies for source in parts[:-1]]
    assert sources and all(s.endswith(("pyproject.toml", "uv.lock")) for s in sources), "deps layer: no code"
    members = tomllib.loads(_root_pyproject())["tool"]["uv"]["workspace"]["members"]
    assert {f"{member}/pyproject.toml" for member in members} <= set(sources), "uv reads every member"
    assert f"--no-editable --package {package}" in dockerfile
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and not user[-1].startswith(("root", "0")), "the runtime user is not root"
    health = next(line for line in lines if line.startswith("HEALTHCHECK"))
    assert "/health/live" in health and "python -c" in health and "curl" not in health
    module = f"sprintboard_{name}"
    assert f'CMD ["python", "-m", "{module}"]' in lines
    assert f"EXPOSE {container_port(name)}" in lines
    assert "--mount" not in dockerfile, "docker-py (testcontainers) builds without BuildKit"


def test_the_build_context_holds_what_the_dockerfiles_copy() -> None:
    from docker.utils.build import exclude_paths

    ignore = (compose.REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    context = exclude_paths(str(compose.REPO_ROOT), patterns)
    assert not any(path.startswith((".venv/", ".git/", "bench/", "docs/")) for path in context)
    for name in ("backlog", "notifier"):
        dockerfile = (compose.REPO_ROOT / SERVICES[name]["build"]["dockerfile"]).read_text(encoding="utf-8")
        for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
            for source in sources.split():
                assert source in context or any(p.startswith(f"{source}/") for p in context), source
    assert "services/backlog/src/sprintboard_backlog/entrypoints/asyncapi/asyncapi.json" in context


def _root_pyproject() -> str:
    return (compose.REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_docker_compose_accepts_both_files() -> None:
    """Compose's own parser (no engine needed): both files merge and every required secret is asked for."""
    cli = compose_cli()
    assert cli is not None
    secrets = {"SPRINTBOARD_JWT_SECRET": "x", "POSTGRES_PASSWORD": "y"}
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    for files in ([], ["-f", "compose.yaml"]):
        run = [*cli, *files, "config", "--quiet"]
        ok = subprocess.run(run, cwd=compose.REPO_ROOT, env=env | secrets, capture_output=True, text=True)
        assert ok.returncode == 0 and "error" not in ok.stderr.lower(), ok.stderr
        refused = subprocess.run(run, cwd=compose.REPO_ROOT, env=env, capture_output=True, text=True)
        assert "required variable" in refused.stderr  # (`config` itself may still exit 0)


UPSTREAM = {
    "postgres": "postgres:17-alpine",
    "nats": "nats:2-alpine",
    "gateway": "caddy:2-alpine",
}


def test_every_third_party_image_is_a_variable_defaulting_to_upstream() -> None:
    for name, upstream in UPSTREAM.items():
        image = compose.VARIABLE.fullmatch(SERVICES[name]["image"])
        assert image and image["op"] == ":-" and image["arg"] == upstream, SERVICES[name]["image"]
        assert compose.interpolate(SERVICES[name]["image"], {}) == upstream
    assert set(UPSTREAM) == {name for name in SERVICES if ours(name) is None and name != "migrate"}


@pytest.mark.parametrize("name", ["migrate", "backlog", "notifier"])
def test_the_build_arguments_default_to_the_dockerfiles_own(name: str) -> None:
    build = SERVICES[name]["build"]
    dockerfile = (compose.REPO_ROOT / build["dockerfile"]).read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert {k: compose.interpolate(v, {}) for k, v in build["args"].items()} == defaults


def test_the_dev_stack_leaves_a_local_postgresql_and_nats_their_ports() -> None:
    published = [
        int(compose.interpolate(str(p), {}).split(":")[-2])
        for service in OVERRIDE["services"].values()
        for p in service.get("ports", [])
    ]
    assert not {5432, 4222, 8222} & set(published), published
    for service in OVERRIDE["services"].values():
        for mapping in service.get("ports", []):
            setting = r"127\.0\.0\.1:\$\{SPRINTBOARD_DEV_\w+_PORT:-\d+\}:\d+"
            assert re.fullmatch(setting, str(mapping)), f"{mapping}: the host port is a setting"


def test_the_dev_notifier_serves_sockets_as_production_does() -> None:
    from sprintboard_notifier.app import server_config
    from sprintboard_notifier.settings import NotifierSettings

    config = server_config(NotifierSettings(jwt_secret="x"), app=object())  # type: ignore[arg-type]
    protocol = config.ws
    assert isinstance(protocol, type)
    args = compose.command(OVERRIDE["services"]["notifier"]) or []
    assert f"--ws={protocol.__module__}:{protocol.__qualname__}" in args
    assert f"--ws-max-size={config.ws_max_size}" in args
    assert f"--ws-per-message-deflate={str(config.ws_per_message_deflate).lower()}" in args
    assert config.ws_ping_interval is None and "--ws-ping-interval=0" in args  # 0: no pings either
