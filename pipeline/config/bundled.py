"""The YAML files shipped inside the package, and reading one YAML mapping with clear errors.

The repository keeps them in its top-level ``configs/`` folder; ``pipeline/config/data`` links
to it, so the wheel installs them as package data and :func:`bundled_file` finds them through
``importlib.resources`` wherever the package is installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from pipeline.config.errors import ConfigError

DATA_DIR = "data"
"""Folder of ``pipeline.config`` that holds the shipped files (``configs/`` in the repository)."""


def bundled_file(name: str) -> Path:
    """The shipped file ``name`` (``default.yaml``, ``themes.yaml``, ``sd15.yaml``, ...).

    The package is installed as files (a wheel or an editable install), so the resource is a
    real path that can be hashed and named in messages.
    """
    return Path(str(files("pipeline.config").joinpath(DATA_DIR, name)))


def bundled_presets() -> list[str]:
    """File names of the shipped model presets (every ``*.yaml`` but the defaults and the themes)."""
    folder = files("pipeline.config").joinpath(DATA_DIR)
    names = (entry.name for entry in folder.iterdir() if entry.name.endswith(".yaml"))
    return sorted(n for n in names if n not in ("default.yaml", "themes.yaml"))


def read_yaml_mapping(path: Path, *, what: str) -> dict[str, Any]:
    """The mapping in the YAML file ``path`` (empty file: ``{}``); :class:`ConfigError` names the
    file (``what``: "config", "themes file") and the line for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of keys to values, got {type(data).__name__}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: the problem and where (1-based line and column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem
