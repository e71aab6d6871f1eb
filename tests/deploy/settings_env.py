"""The environment variables each process reads, derived from its Settings class."""

import importlib
from typing import Any

from pydantic import AliasChoices

PROCESSES = ("partners", "funding", "feedback", "gateway")
NOT_CONFIGURABLE = {"service_name"}


def settings_class(process: str) -> Any:
    return importlib.import_module(f"services.{process}.config").Settings


def env_names(process: str) -> dict[str, Any]:
    """``{ENV_NAME: default}`` for every setting of ``process``."""
    cls = settings_class(process)
    prefix = cls.model_config.get("env_prefix", "")
    names: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if name in NOT_CONFIGURABLE:
            continue
        alias = field.validation_alias
        env = alias.choices[0] if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper()
        names[str(env)] = field.default
    return names


def all_env_names() -> set[str]:
    return {name for process in PROCESSES for name in env_names(process)}
