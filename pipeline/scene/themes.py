"""Themes: named looks for a scene (backdrop surface, colours, prompts, style image).

Themes are values in YAML (``configs/themes.yaml``); the ``surface`` field names an entry of
``pipeline.scene.studio.surfaces.SURFACES``, never a class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_THEMES_FILE = Path(__file__).resolve().parents[2] / "configs" / "themes.yaml"


@dataclass(frozen=True)
class Theme:
    """A scene look.

    surface: procedural backdrop kind (sweep, gradient, marble, wood, concrete, linen).
    colors:  two or more ``#rrggbb`` colours, backdrop first, floor/accent after.
    prompt / negative_prompt: for the diffusion backend; ``{category}`` and ``{colour}``
             placeholders are filled per item.
    style_image: optional path to an IP-Adapter reference image.
    """

    name: str
    surface: str
    colors: tuple[str, ...]
    prompt: str = "a {colour} {category}, professional product photography"
    negative_prompt: str = "blurry, distorted, deformed product, extra objects, text, watermark"
    style_image: str | None = None
    grain: float = 0.0

    def rgb_colors(self) -> list[tuple[int, int, int]]:
        return [_hex_to_rgb(c) for c in self.colors]


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    v = value.lstrip("#")
    if len(v) != 6:
        raise ValueError(f"colour must be '#rrggbb', got {value!r}")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def load_themes(extra_file: str | Path | None = None) -> dict[str, Theme]:
    """All themes: the project's ``configs/themes.yaml`` with ``extra_file`` merged over it."""
    raw: dict[str, Any] = {}
    for path in (DEFAULT_THEMES_FILE, extra_file):
        if path is None:
            continue
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"themes file {path} must map names to themes")
        raw.update(data)
    themes = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or "surface" not in spec or "colors" not in spec:
            raise ValueError(f"theme {name!r} needs at least 'surface' and 'colors'")
        spec = dict(spec)
        spec["colors"] = tuple(spec["colors"])
        themes[name] = Theme(name=name, **spec)
    return themes


def get_theme(name: str, extra_file: str | Path | None = None) -> Theme:
    """The theme called ``name``; ValueError lists the valid names."""
    themes = load_themes(extra_file)
    if name not in themes:
        raise ValueError(f"unknown theme {name!r}; valid names: {', '.join(sorted(themes))}")
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
