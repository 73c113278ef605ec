"""`compose.yaml` as data: its services, and their settings interpolated the way Docker Compose does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
OVERRIDE_FILE = REPO_ROOT / "compose.override.yaml"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    """A `${NAME:?message}` whose variable is not set: Compose refuses to start, and so do we."""


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Substitute `${...}` in one value; `$$` is a literal `$`."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        given = variables.get(name)
        unset = given is None or (op is not None and op.startswith(":") and given == "")
        if op is None:
            return given or ""
        if op.endswith("-"):
            return arg if unset else str(given)
        if unset:
            raise MissingVariable(f"{name} is required: {arg}")
        return str(given)

    return VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def environment(service: Mapping[str, Any], variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's `environment` (map or `NAME=value` list), raw or interpolated with `variables`."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    values = {str(name): "" if value is None else str(value) for name, value in raw.items()}
    if variables is None:
        return values
    return {name: interpolate(value, variables) for name, value in values.items()}


def command(service: Mapping[str, Any]) -> list[str] | None:
    """A service's `command` as a list (Compose splits a string form like a shell)."""
    raw = service.get("command")
    if raw is None:
        return None
    return raw.split() if isinstance(raw, str) else [str(part) for part in raw]


def healthcheck_command(service: Mapping[str, Any]) -> list[str] | None:
    """The argv a service's healthcheck runs inside its container (`CMD-SHELL` through `sh -c`)."""
    check = service.get("healthcheck") or {}
    test = check.get("test")
    if check.get("disable") or not test or test == ["NONE"]:
        return None
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *args = (str(part) for part in test)
    return ["sh", "-c", " ".join(args)] if kind == "CMD-SHELL" else args
