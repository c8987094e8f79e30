"""The ``studio`` scene backend: a CPU compositor that needs no weights.

``StudioBackend.__call__`` reads as the steps it takes:
 1. render the theme's backdrop surface at the output size;
 2. tint the backdrop toward the product (its hue; and keep the two apart in lightness);
 3. darken it with a contact shadow and a soft cast shadow from the product's silhouette;
 4. optionally add a floor reflection;
 (the backdrop, grain included, is rendered once per batch and cached; see ``backdrop``).
The product itself is never touched here: restore pastes it over this plate.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from pipeline.config import SceneConfig, ShadowConfig
from pipeline.registry import lookup
from pipeline.scene.studio.cast_shadows import cast_shadow, contact_shadow, product_rows, reflection
from pipeline.scene.studio.surfaces import SURFACES
from pipeline.config.themes import Theme
from pipeline.types import ControlMaps, PlacedProduct, SceneResult

log = logging.getLogger(__name__)

MIN_LIGHTNESS_GAP = 10.0  # ΔL between product and the backdrop around it


def _lab(rgb01: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb01.astype(np.float32), cv2.COLOR_RGB2Lab)


def _small(img: np.ndarray, factor: int) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)


def _up(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)


def tint_backdrop(backdrop: np.ndarray, product_rgb: np.ndarray, product_alpha: np.ndarray,
                  strength: float) -> np.ndarray:
    """Tint ``backdrop`` (HWC float32 0..255) toward the product's mean hue and, if the two are
    too close in lightness, shift the backdrop's lightness away from the product's.

    Only the backdrop changes: the product is the reference and is never recoloured. The shift
    is smooth, so it is computed in Lab at 1/4 resolution and added back as an RGB offset.
    """
    weights = product_alpha >= 0.5
    if strength <= 0 or not weights.any():
        return backdrop
    step = max(1, int(weights.sum() // 20000))
    product_lab = _lab(product_rgb[weights][::step][None].astype(np.float32) / 255.0)[0]
    p_l, p_a, p_b = (float(v) for v in np.median(product_lab, axis=0))
    small = np.clip(_small(backdrop, 4), 0, 255) / 255.0
    lab = _lab(small)
    shifted = lab.copy()
    shifted[..., 1] += strength * 0.25 * (p_a - float(np.median(lab[..., 1])))
    shifted[..., 2] += strength * 0.25 * (p_b - float(np.median(lab[..., 2])))
    gap = float(np.median(lab[..., 0])) - p_l
    if abs(gap) < MIN_LIGHTNESS_GAP:
        direction = -1.0 if p_l > 50 else 1.0
        shifted[..., 0] += direction * (MIN_LIGHTNESS_GAP - abs(gap)) * min(1.0, 2 * strength)
    shifted[..., 0] = np.clip(shifted[..., 0], 0, 100)
    offset = (cv2.cvtColor(shifted, cv2.COLOR_Lab2RGB) - small) * 255.0
    return backdrop + _up(offset, backdrop.shape[:2])


def shadow_map(placed: PlacedProduct, shadow: ShadowConfig) -> np.ndarray:
    """HW float32 darkening factor in (0.1, 1] from contact + cast shadows.

    Shadows are soft, so they are computed at 1/4 resolution and upsampled. The base line and
    the product's height are read on the full-resolution alpha: at 1/4, a thin lowest part (a
    dangling lace or cable) averages under 0.5 and the contact shadow would sit above the point
    that touches the floor, leaving it floating (ven_adidas_running_shoe: 20 px too high).
    """
    hw = placed.alpha.shape
    factor = 4 if min(hw) >= 256 else 1
    alpha = _small(placed.alpha, factor) if factor > 1 else placed.alpha
    horizon = placed.placement.horizon_y // factor
    base, height = product_rows(placed.alpha)
    rows = (min(base // factor, alpha.shape[0] - 1), max(1, round(height / factor)))
    contact = contact_shadow(alpha, rows)
    cast = cast_shadow(alpha, shadow.light_azimuth_deg, shadow.light_elevation_deg, shadow.softness, horizon, rows)
    darken = 1.0 - np.clip(shadow.contact_strength * contact + shadow.cast_strength * cast, 0.0, 0.9)
    return _up(darken, hw) if factor > 1 else darken


def apply_shadows(backdrop: np.ndarray, placed: PlacedProduct, shadow: ShadowConfig) -> np.ndarray:
    """Multiply the backdrop (HWC float32) by the shadows of ``placed``; add the reflection."""
    out = backdrop * shadow_map(placed, shadow)[..., None]
    if shadow.reflection:
        refl_rgb, refl_w = reflection(placed.rgb, placed.alpha)
        w = (shadow.reflection_strength * refl_w)[..., None]
        out = out * (1 - w) + refl_rgb * w
    return out


class StudioBackend:
    """CPU studio compositor; see the module docstring for its steps. One variant per product."""

    name = "studio"

    def __init__(self, config: SceneConfig | None = None, *, batch_seed: int = 0):
        self.config = config or SceneConfig()
        self.batch_seed = batch_seed
        self._backdrops: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()

    def backdrop(self, theme: Theme, hw: tuple[int, int], horizon_y: int, seed: int) -> np.ndarray:
        """The theme's surface with grain (HWC float32), cached: a batch shares one backdrop
        unless ``backdrop_per_item`` is set, which gives every product its own variation."""
        key = (theme, hw, horizon_y, seed)
        cached = self._backdrops.get(key)
        if cached is None:
            rng = np.random.default_rng(seed)
            surface = lookup(SURFACES, theme.surface, "theme surface")
            cached = surface(hw[0], hw[1], theme.rgb_colors(), horizon_y, rng).astype(np.float32)
            if theme.grain > 0:
                cached += rng.normal(0.0, theme.grain, hw).astype(np.float32)[..., None]
            self._backdrops[key] = cached
            while len(self._backdrops) > 4:
                self._backdrops.popitem(last=False)
        return cached

    def __call__(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
    ) -> SceneResult:
        backdrop_seed = seed if self.config.backdrop_per_item else self.batch_seed
        backdrop = self.backdrop(theme, placed.placement.out_hw, placed.placement.horizon_y, backdrop_seed)
        backdrop = tint_backdrop(backdrop, placed.rgb, placed.alpha, self.config.backdrop_tint)
        plate = apply_shadows(backdrop, placed, self.config.shadow)
        image = np.clip(plate + 0.5, 0, 255).astype(np.uint8)
        info = {"theme": theme.name, "surface": theme.surface, "backdrop_seed": backdrop_seed,
                "reflection": self.config.shadow.reflection}
        return SceneResult(image=image, backend=self.name, product_altered=False, info=info)

    def generate(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
    ) -> list[SceneResult]:
        """The one scene the studio makes (``SceneBackend.generate``)."""
        return [self(placed, control, theme, seed=seed, item_meta=item_meta)]
