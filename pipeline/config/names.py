"""The names a config may use for each registry, so a wrong name fails at load (exit 2), not mid-batch.

Each registry is a literal dict in its stage package (``SEGMENTERS``, ``DEPTH_BACKENDS``,
``SCENE_BACKENDS``, ``SURFACES``, ``SCHEDULERS``, the ONNX ``PRESETS``); the config package sits
below the stages and imports none of them, so it spells their keys once more here as ``Literal``
types. pydantic then rejects any other name at load with the valid ones listed, and
``tests/config/test_names.py`` fails when a registry and its name list here disagree (add a new
backend in both places).
"""

from __future__ import annotations

from typing import Literal, get_args

SegmentBackendName = Literal["classical", "sam", "onnx", "fused"]
"""``segment.backend``: keys of ``pipeline.segment.SEGMENTERS``."""

DepthBackendName = Literal["pseudo", "model"]
"""``control.depth_backend``: keys of ``pipeline.control.DEPTH_BACKENDS``."""

SceneBackendName = Literal["studio", "diffusion"]
"""``scene.backend``: keys of ``pipeline.scene.SCENE_BACKENDS``."""

SurfaceName = Literal["sweep", "gradient", "marble", "wood", "concrete", "linen"]
"""A theme's ``surface``: keys of ``pipeline.scene.studio.surfaces.SURFACES``."""

SchedulerName = Literal["unipc", "dpmpp_2m_karras", "euler_a", "ddim"]
"""``backends.diffusion.scheduler``: keys of ``pipeline.scene.diffusion.schedulers.SCHEDULERS``."""

OnnxFamilyName = Literal[
    "u2net", "u2netp", "u2net_human_seg", "silueta", "isnet-general-use", "isnet-anime",
    "birefnet-general", "birefnet-general-lite", "birefnet-portrait", "birefnet-dis", "birefnet-hrsod",
    "birefnet-cod", "birefnet-massive", "bria-rmbg-2.0", "bria-rmbg-1.4",
]
"""``segment.onnx_family``: keys of ``pipeline.segment.onnx_presets.PRESETS``."""


def names_of(literal: object) -> tuple[str, ...]:
    """The names a ``Literal`` type allows, in the order written."""
    return tuple(get_args(literal))
