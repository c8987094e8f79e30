"""``load_config``: the defaults, overlaid with a YAML file (which may ``extends:`` another).

Every problem raises :class:`~pipeline.config.errors.ConfigError` naming the file and the field:
a missing file, YAML syntax, an unknown key (with the nearest valid one), a value out of range,
an unknown backend, theme or surface name, a bad theme.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.config.bundled import bundled_file, bundled_presets, read_yaml_mapping
from pipeline.config.errors import ConfigError, explain_validation_error
from pipeline.config.models import PipelineConfig


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Defaults, overlaid with the YAML at ``path`` (if given), then dotted ``overrides``
    (``{"scene.theme": "marble-counter"}``).

    ``path`` may also name a preset shipped with the package (``sd15``, ``sdxl.yaml``) when no
    such file exists here. A preset may name a base file with ``extends: other.yaml`` (relative
    to itself). Raises :class:`ConfigError` naming the file and the bad field.
    """
    config = PipelineConfig() if path is None else _load_file(resolve_config_path(path))
    return config.with_overrides(overrides) if overrides else config


def resolve_config_path(path: str | Path) -> Path:
    """``path`` itself when it exists (or names a folder); else the shipped preset of that name."""
    candidate = Path(path).expanduser()
    if candidate.exists() or len(candidate.parts) != 1:
        return candidate
    name = candidate.name if candidate.suffix else f"{candidate.name}.yaml"
    if name in bundled_presets() or name == "default.yaml":
        return bundled_file(name)
    return candidate


def _load_file(path: Path) -> PipelineConfig:
    data = _read_yaml_with_extends(path, seen=())
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:  # re-raised with the file name, one line per problem
        raise ConfigError(f"invalid config {path}: {explain_validation_error(exc, PipelineConfig)}") from None


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml_with_extends(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"config extends loop: {' -> '.join(map(str, seen + (path,)))}")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    data = read_yaml_mapping(path, what="config")
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise ConfigError(f"config {path}: extends must name a YAML file, got {parent!r}")
        beside = path.parent / parent
        base = _read_yaml_with_extends(beside if beside.exists() else resolve_config_path(parent), seen + (path,))
        data = _deep_merge(base, data)
    return data
