"""The ``studio`` scene backend: a CPU compositor that needs no weights.

``StudioBackend.__call__`` reads as the steps it takes:
 1. render the theme's backdrop surface at the output size;
 2. harmonise the backdrop to the product (tint toward its hue, keep it separable in lightness);
 3. darken it with a contact shadow and a soft cast shadow from the product's silhouette;
 4. optionally add a floor reflection;
 5. add the theme's film grain and quantise.
The product itself is never touched here: restore pastes it over this plate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from pipeline.config import SceneConfig, ShadowConfig
from pipeline.scene.shadows import cast_shadow, contact_shadow, reflection
from pipeline.scene.surfaces import SURFACES
from pipeline.scene.themes import Theme
from pipeline.registry import lookup
from pipeline.types import ControlMaps, PlacedProduct, SceneResult

log = logging.getLogger(__name__)

MIN_LIGHTNESS_GAP = 10.0  # ΔL between product and the backdrop around it


def _lab(rgb01: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb01.astype(np.float32), cv2.COLOR_RGB2Lab)


def harmonise_backdrop(backdrop: np.ndarray, product_rgb: np.ndarray, product_alpha: np.ndarray,
                       strength: float) -> np.ndarray:
    """Tint ``backdrop`` (HWC float32 0..255) toward the product's mean hue and, if the two are
    too close in lightness, shift the backdrop's lightness away from the product's.

    Only the backdrop changes: the product is the reference and is never recoloured.
    """
    weights = product_alpha >= 0.5
    if strength <= 0 or not weights.any():
        return backdrop
    product_lab = _lab(product_rgb[weights][None].astype(np.float32) / 255.0)[0]
    p_l, p_a, p_b = (float(v) for v in np.median(product_lab, axis=0))
    lab = _lab(np.clip(backdrop, 0, 255) / 255.0)
    lab[..., 1] += strength * 0.25 * (p_a - float(np.median(lab[..., 1])))
    lab[..., 2] += strength * 0.25 * (p_b - float(np.median(lab[..., 2])))
    gap = float(np.median(lab[..., 0])) - p_l
    if abs(gap) < MIN_LIGHTNESS_GAP:
        direction = -1.0 if p_l > 50 else 1.0
        lab[..., 0] += direction * (MIN_LIGHTNESS_GAP - abs(gap)) * min(1.0, 2 * strength)
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255.0


def apply_shadows(backdrop: np.ndarray, placed: PlacedProduct, shadow: ShadowConfig) -> np.ndarray:
    """Multiply the backdrop (HWC float32) by the contact and cast shadows of ``placed``."""
    contact = contact_shadow(placed.alpha)
    cast = cast_shadow(placed.alpha, shadow.light_azimuth_deg, shadow.light_elevation_deg,
                       shadow.softness, placed.placement.horizon_y)
    darken = 1.0 - np.clip(shadow.contact_strength * contact + shadow.cast_strength * cast, 0.0, 0.9)
    out = backdrop * darken[..., None]
    if shadow.reflection:
        refl_rgb, refl_w = reflection(placed.rgb, placed.alpha)
        w = (shadow.reflection_strength * refl_w)[..., None]
        out = out * (1 - w) + refl_rgb * w
    return out


class StudioBackend:
    """CPU studio compositor; see the module docstring for its steps."""

    name = "studio"

    def __init__(self, config: SceneConfig | None = None):
        self.config = config or SceneConfig()

    def __call__(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
    ) -> SceneResult:
        h, w = placed.placement.out_hw
        rng = np.random.default_rng(seed)
        surface = lookup(SURFACES, theme.surface, "theme surface")
        backdrop = surface(h, w, theme.rgb_colors(), placed.placement.horizon_y, rng).astype(np.float32)
        backdrop = harmonise_backdrop(backdrop, placed.rgb, placed.alpha, self.config.harmonise)
        plate = apply_shadows(backdrop, placed, self.config.shadow)
        if theme.grain > 0:
            plate = plate + rng.normal(0.0, theme.grain, plate.shape[:2])[..., None]
        image = np.clip(np.rint(plate), 0, 255).astype(np.uint8)
        info = {"theme": theme.name, "surface": theme.surface, "seed": seed,
                "reflection": self.config.shadow.reflection}
        return SceneResult(image=image, backend=self.name, product_altered=False, info=info)
