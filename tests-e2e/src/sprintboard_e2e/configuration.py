"""The services' settings as data (each one's environment names and default), to check docs and compose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings


@dataclass(frozen=True)
class Setting:
    service: str
    field: str
    env_names: tuple[str, ...]  # the service's own name first, then any shared one
    default: Any  # `FACTORY` when computed at start-up
    annotation: str


FACTORY = object()


def settings_classes() -> dict[str, type[BaseSettings]]:
    """Each service's settings class, by the service's name in compose.yaml and the docs."""
    from sprintboard_backlog.settings import BacklogSettings
    from sprintboard_notifier.settings import NotifierSettings

    return {"backlog": BacklogSettings, "notifier": NotifierSettings}


def settings_of(service: str, cls: type[BaseSettings]) -> list[Setting]:
    prefix = str(cls.model_config.get("env_prefix") or "")
    found = []
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            names = [alias]
        else:
            names = [f"{prefix}{name}"]
        default = FACTORY if field.default_factory is not None else field.default
        if field.default_factory is list:
            default = []
        annotation = getattr(field.annotation, "__name__", None) or str(field.annotation)
        found.append(Setting(service, name, tuple(n.upper() for n in names), default, annotation))
    return found


def all_settings() -> list[Setting]:
    return [s for service, cls in settings_classes().items() for s in settings_of(service, cls)]


def env_names(service: str) -> set[str]:
    """Every environment variable the service reads (case-insensitively, as pydantic-settings does)."""
    return {name for s in all_settings() if s.service == service for name in s.env_names}


def render_default(value: Any) -> str:
    """A default as the docs write it: `true`, `8000`, `0.005`, text as is, and `—` for none or empty."""
    if value is FACTORY:
        return "(computed)"
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
