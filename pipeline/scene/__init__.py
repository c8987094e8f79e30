"""Scene backends: draw the world around the placed product.

A backend is a callable ``(placed, control, theme, *, seed, item_meta) -> SceneResult``; the
registry below maps config names to builders. ``studio`` (CPU, no weights) is the default;
``diffusion`` (diffusers ControlNet inpainting) is opt-in.
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

    def __call__(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
    ) -> SceneResult:
        """Return the full-frame scene (HWC uint8 at ``placed.placement.out_hw``)."""
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
