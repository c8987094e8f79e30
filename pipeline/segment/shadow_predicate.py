"""One answer to "is this pixel a shadow cast on that backdrop colour?", with named presets.

A shadow darkens the surface it falls on without changing its hue much: its lightness is a share
of the backdrop's (between ``min_ratio`` and ``max_ratio``) and its a*b* stay within
``base_chroma`` + ``chroma_per_dl`` x (darkening in ΔL) of the backdrop's. The presets differ
because their callers ask different questions:

- ``FLOOD``: where the backdrop flood may pass and which grey faces to test for flatness
  (``segment.classical``), and "not product left outside" in the cut-out signals
  (``score.cutout``). A pixel that passes is let through, so the test is narrow: at least 45% of
  the backdrop's lightness, no lighter than it, chroma within 6 ΔC*ab.
- ``PEEL``: candidates for a shadow or reflection to peel off a mask (``segment.shadows``). A
  candidate is only peeled when the region as a whole is lit like a shadow, so the colour test is
  wider: down to 30% of the backdrop (hard cast shadows on grey sweeps), up to 2% lighter (noise),
  and a tint bounced off the product that grows with the darkening (4 + 0.35 per ΔL).
- ``EXPANSION``: a band pixel of a composite that is shadow on one of the scene's colours is not
  product growth (``score.resegment``). Scenes are coloured and their shadows pick up more of the
  scene's tint, so chroma may differ by 8 ΔC*ab; lightness as ``FLOOD``.

The numbers are those each caller used before they shared this function (segment: issue 7's
measurements on the generated samples and the 30 first real photos; scorer: the gate's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShadowPreset:
    """min_ratio <= L / L_backdrop < max_ratio, and ΔC*ab <= base_chroma + chroma_per_dl * max(ΔL, 0)."""

    min_ratio: float
    max_ratio: float
    base_chroma: float
    chroma_per_dl: float = 0.0


FLOOD = ShadowPreset(min_ratio=0.45, max_ratio=1.0, base_chroma=6.0)
PEEL = ShadowPreset(min_ratio=0.3, max_ratio=1.02, base_chroma=4.0, chroma_per_dl=0.35)
EXPANSION = ShadowPreset(min_ratio=0.45, max_ratio=1.0, base_chroma=8.0)


def is_shadow(light: np.ndarray, a: np.ndarray, b: np.ndarray, bg_light, bg_a, bg_b,
              preset: ShadowPreset) -> np.ndarray:
    """Bool array (broadcast shape): Lab pixels (``light`` 0..100, ``a``, ``b``) that are a shadow on
    the backdrop colour (``bg_light``, ``bg_a``, ``bg_b``: arrays or scalars) under ``preset``.

    Lightness is compared as products (``L >= min_ratio * L_bg``), chroma as squares: no division,
    no square root.
    """
    da, db = a - bg_a, b - bg_b
    chroma2 = da * da + db * db
    ok = (light >= preset.min_ratio * bg_light) & (light < preset.max_ratio * bg_light)
    if preset.chroma_per_dl:
        limit = preset.base_chroma + preset.chroma_per_dl * np.maximum(bg_light - light, 0)
        return ok & (chroma2 <= limit * limit)
    return ok & (chroma2 <= preset.base_chroma * preset.base_chroma)


def is_shadow_lab(lab: np.ndarray, bg_lab: np.ndarray, preset: ShadowPreset) -> np.ndarray:
    """``is_shadow`` for Lab arrays whose last axis is (L, a, b): HWC or N x 3 -> HW or N bool."""
    return is_shadow(lab[..., 0], lab[..., 1], lab[..., 2], bg_lab[..., 0], bg_lab[..., 1], bg_lab[..., 2], preset)
