"""Scene backends: draw the world around the placed product.

A backend has a ``name`` and one method, ``generate(placed, control, theme, *, seed, item_meta)``,
which returns the product's scenes: one per variant, variant k made with seed ``seed + k``. The
registry below maps config names to builders. ``studio`` (CPU, no weights; one variant) is the
default; ``diffusion`` (diffusers ControlNet inpainting; ``variants`` of them) is opt-in. Both
also answer ``backend(placed, control, theme, seed=..., item_meta=...)`` with variant 0 alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pipeline.config import PipelineConfig
from pipeline.registry import lookup
from pipeline.config.themes import Theme
from pipeline.types import ControlMaps, PlacedProduct, SceneResult


class SceneBackend(Protocol):
    name: str

    def generate(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
    ) -> list[SceneResult]:
        """The product's scenes, at least one: full frames (HWC uint8 at ``placed.placement.out_hw``),
        variant k made with seed ``seed + k``."""
        ...


def _build_studio(config: PipelineConfig) -> SceneBackend:
    from pipeline.scene.studio.backend import StudioBackend

    return StudioBackend(config.scene, batch_seed=config.run.seed)


def _build_diffusion(config: PipelineConfig) -> SceneBackend:
    from pipeline.scene.diffusion.backend import build_diffusion_backend

    return build_diffusion_backend(config)


SCENE_BACKENDS: dict[str, Callable[[PipelineConfig], SceneBackend]] = {
    "studio": _build_studio,
    "diffusion": _build_diffusion,
}


def build_scene_backend(config: PipelineConfig) -> SceneBackend:
    """The backend named by ``config.scene.backend``; ValueError lists valid names."""
    return lookup(SCENE_BACKENDS, config.scene.backend, "scene backend")(config)
