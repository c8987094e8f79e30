"""Typed configuration: pydantic models for every stage, the YAML loader and the shipped files.

:mod:`.models` (one section per stage, composed into :class:`PipelineConfig`), :mod:`.diffusion`
(the ``backends.diffusion`` section), :mod:`.sources` (where weights come from), :mod:`.themes`
(scene looks), :mod:`.names` (the names each registry accepts), :mod:`.load` (``load_config``),
:mod:`.bundled` (files shipped as package data), :mod:`.defaults` (writes ``configs/default.yaml``),
:mod:`.errors` (:class:`ConfigError`, one line per problem).

This package imports no stage package: it sits below all of them.
"""

from pipeline.config.diffusion import (
                                       UNION_CONTROL_MODES,
                                       AccelConfig,
                                       ControlNetSpec,
                                       DiffusionConfig,
                                       IPAdapterSpec,
                                       diffusion_config,
)
from pipeline.config.errors import ConfigError, explain_validation_error
from pipeline.config.load import load_config
from pipeline.config.models import (
                                       ASPECTS,
                                       MAX_OUTPUT_SIDE,
                                       BackendsConfig,
                                       ControlConfig,
                                       DecodeConfig,
                                       GateConfig,
                                       OutputConfig,
                                       PipelineConfig,
                                       PlacementConfig,
                                       RestoreConfig,
                                       RunConfig,
                                       SceneConfig,
                                       ScoreConfig,
                                       SegmentConfig,
                                       ShadowConfig,
)
from pipeline.config.sources import ModelSource
from pipeline.config.themes import Theme, get_theme, load_themes

__all__ = [
    "ASPECTS", "MAX_OUTPUT_SIDE", "UNION_CONTROL_MODES", "AccelConfig", "BackendsConfig", "ConfigError", "ControlConfig",
    "ControlNetSpec", "DecodeConfig", "DiffusionConfig", "GateConfig", "IPAdapterSpec", "ModelSource", "OutputConfig",
    "PipelineConfig", "PlacementConfig", "RestoreConfig", "RunConfig", "SceneConfig", "ScoreConfig", "SegmentConfig",
    "ShadowConfig", "Theme", "diffusion_config", "explain_validation_error", "get_theme", "load_config", "load_themes",
]
