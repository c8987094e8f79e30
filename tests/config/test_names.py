"""The names the config accepts are exactly the registries' keys, and a wrong one fails at load."""

from __future__ import annotations

import pytest

from pipeline.config import PipelineConfig, load_config
from pipeline.config.names import (
    DepthBackendName,
    OnnxFamilyName,
    SceneBackendName,
    SchedulerName,
    SegmentBackendName,
    SurfaceName,
    names_of,
)
from pipeline.control import DEPTH_BACKENDS
from pipeline.scene import SCENE_BACKENDS
from pipeline.scene.diffusion.schedulers import SCHEDULERS
from pipeline.scene.studio.surfaces import SURFACES
from pipeline.segment import SEGMENTERS
from pipeline.segment.onnx_presets import PRESETS


@pytest.mark.parametrize(("literal", "registry"), [
    (SegmentBackendName, SEGMENTERS), (DepthBackendName, DEPTH_BACKENDS), (SceneBackendName, SCENE_BACKENDS),
    (SurfaceName, SURFACES), (SchedulerName, SCHEDULERS), (OnnxFamilyName, PRESETS),
], ids=["segment", "depth", "scene", "surface", "scheduler", "onnx_family"])
def test_config_names_are_the_registry_keys(literal, registry):
    assert set(names_of(literal)) == set(registry), "add the new name to pipeline/config/names.py too"


@pytest.mark.parametrize(("key", "valid"), [
    ("segment.backend", "classical, sam, onnx"),
    ("control.depth_backend", "pseudo, model"),
    ("scene.backend", "studio, diffusion"),
    ("segment.onnx_family", "u2net, u2netp"),
])
def test_an_unknown_name_is_a_config_error_listing_the_valid_ones(key, valid):
    with pytest.raises(ValueError) as exc:
        PipelineConfig().with_overrides({key: "nope"})
    assert str(exc.value).startswith(f"{key}: 'nope' is not one of {valid}")


def test_an_unknown_backend_in_a_file_names_the_file_and_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("segment:\n  backend: clasical\n")
    with pytest.raises(ValueError, match=r"invalid config .*c\.yaml: segment\.backend: 'clasical' is not one of "
                                         r"classical, sam, onnx, fused; did you mean 'classical'\?"):
        load_config(path)
