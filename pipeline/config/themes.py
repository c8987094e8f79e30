"""Themes: named looks for a scene (backdrop surface, colours, prompts, style image).

Themes are values in YAML: the package's ``themes.yaml`` (``configs/themes.yaml`` in the
repository), with a user's ``scene.themes_file`` merged over it. The ``surface`` field names an
entry of ``pipeline.scene.studio.surfaces.SURFACES`` (checked against
:data:`pipeline.config.names.SurfaceName`), never a class. Every theme in both files is validated
when a config is built, so a bad colour, an unknown surface or a typo in a field fails at load.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from pipeline.config.base import Strict
from pipeline.config.bundled import bundled_file, read_yaml_mapping
from pipeline.config.errors import ConfigError, explain_validation_error
from pipeline.config.names import SurfaceName

DEFAULT_THEMES_FILE = bundled_file("themes.yaml")
"""The package's themes (``configs/themes.yaml`` in the repository)."""

GRAIN_MAX = 16.0
"""Largest film-grain std, in 0..255 pixel units (6% of full scale). The shipped themes use 0.6 to
1.2; far above this the grain is the picture (and the gate's ``scene_noise_max`` fails it)."""

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class Theme(Strict):
    """A scene look.

    surface: procedural backdrop kind (sweep, gradient, marble, wood, concrete, linen).
    colors:  two or more ``#rrggbb`` colours, backdrop first, floor/accent after.
    prompt / negative_prompt: for the diffusion backend; ``{category}`` and ``{colour}``
             placeholders are filled per item.
    style_image: optional path to an IP-Adapter reference image.
    grain:   film-grain std in 0..255 pixel units (0 = none).
    """

    name: str
    surface: SurfaceName
    colors: tuple[str, ...] = Field(min_length=2)
    prompt: str = "a {colour} {category}, professional product photography"
    negative_prompt: str = "blurry, distorted, deformed product, extra objects, text, watermark"
    style_image: str | None = None
    grain: float = Field(0.0, ge=0.0, le=GRAIN_MAX)

    @field_validator("colors")
    @classmethod
    def _hex_colours(cls, colours: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in colours if not _HEX_COLOUR.match(c)]
        if bad:
            raise ValueError(f"colours must be '#rrggbb' (six hex digits), got {', '.join(map(repr, bad))}")
        return colours

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _template(cls, template: str) -> str:
        try:
            fill_prompt(template, {}, {})
        except (ValueError, IndexError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a prompt template ({{category}} and {{colour}} are filled in): {exc}") from None
        return template

    def rgb_colors(self) -> list[tuple[int, int, int]]:
        return [_hex_to_rgb(c) for c in self.colors]


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    v = value.lstrip("#")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


_CACHE: dict[tuple[Any, ...], dict[str, Theme]] = {}


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def load_themes(extra_file: str | Path | None = None) -> dict[str, Theme]:
    """All themes: the package's ``themes.yaml`` with ``extra_file`` merged over it.

    Raises :class:`ConfigError` naming the file, the theme and the field for a missing or
    malformed file or an invalid theme. Parsed files are cached while their size and mtime stay.
    """
    paths = [Path(DEFAULT_THEMES_FILE)]
    if extra_file is not None:
        extra = Path(extra_file).expanduser()
        if not extra.is_file():
            raise ConfigError(f"scene.themes_file: themes file not found: {extra}")
        paths.append(extra)
    key = tuple(_stamp(p) for p in paths)
    if key not in _CACHE:
        themes: dict[str, Theme] = {}
        for path in paths:
            for name, spec in read_yaml_mapping(path, what="themes file").items():
                themes[str(name)] = _theme(path, str(name), spec)
        _CACHE.clear()  # one entry: configs rarely switch themes files within a process
        _CACHE[key] = themes
    return dict(_CACHE[key])


def _theme(path: Path, name: str, spec: Any) -> Theme:
    if not isinstance(spec, dict):
        raise ConfigError(f"themes file {path}: theme {name!r} must be a mapping of fields, got {type(spec).__name__}")
    try:
        return Theme.model_validate({**spec, "name": name})
    except ValidationError as exc:
        raise ConfigError(f"themes file {path}: theme {name!r}: {explain_validation_error(exc, Theme)}") from None


def get_theme(name: str, extra_file: str | Path | None = None) -> Theme:
    """The theme called ``name``; :class:`ConfigError` lists the valid names (and the nearest)."""
    themes = load_themes(extra_file)
    if name not in themes:
        close = difflib.get_close_matches(name, list(themes), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown theme {name!r}{hint}; valid names: {', '.join(sorted(themes))}")
    return themes[name]


def fill_prompt(template: str, item_meta: dict[str, Any], defaults: dict[str, str]) -> str:
    """``template`` with ``{category}``/``{colour}`` from item metadata, then config defaults."""
    values = {"category": "product", "colour": ""}
    values.update({k: str(v) for k, v in defaults.items()})
    values.update({k: str(v) for k, v in item_meta.items() if isinstance(v, str | int | float)})
    text = template.format_map(_KeepMissing(values))
    return " ".join(text.split())


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return ""
