"""Depth-estimation model backend on a tiny random-weight Depth Anything (offline)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.needs import needs

needs("diffusion")

from pipeline.config import ControlConfig, PipelineConfig
from pipeline.control import build_depth_estimator
from pipeline.control.depth_model import build_depth_model, normalise_inside
from pipeline.control.maps import build_control_maps
from pipeline.errors import BackendUnavailableError
from tests.fixtures.tiny_models import fake_hub_cache


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(model: str) -> PipelineConfig:
    return PipelineConfig().with_overrides({"control.depth_backend": "model", "control.depth_model": model})


@pytest.fixture(scope="module")
def product():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    alpha = np.zeros((90, 120), np.float32)
    alpha[20:70, 30:90] = 1.0
    alpha[19, 30:90] = 0.5
    return rgb, alpha


def test_depth_shape_range_and_zero_outside(tiny, product):
    rgb, alpha = product
    depth = build_depth_estimator(_config(str(tiny.depth_model)))
    out = depth(rgb, alpha)
    assert depth.name == "model"
    assert out.shape == alpha.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0)
    assert not out[alpha == 0].any()
    np.testing.assert_array_equal(out, depth(rgb, alpha))  # deterministic
    assert depth.provenance["model_type"] == "depth_anything"
    assert not depth(rgb, np.zeros_like(alpha)).any()


def test_feeds_the_control_maps(tiny, placed_bottle):
    maps = build_control_maps(placed_bottle, build_depth_model(_config(str(tiny.depth_model))), ControlConfig())
    assert maps.depth.shape == (*placed_bottle.alpha.shape, 3) and maps.depth_backend == "model"


def test_hub_id_offline_from_cache(tiny, tmp_path, monkeypatch, product):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    commit = fake_hub_cache(tmp_path, "tiny-org/depth-anything", tiny.depth_model)
    depth = build_depth_model(_config("tiny-org/depth-anything@main"))
    assert depth.provenance["commit"] == commit and depth.provenance["source"] == "hub"
    assert depth(*product).shape == product[1].shape
    with pytest.raises(BackendUnavailableError, match="not in the Hugging Face cache"):
        build_depth_model(_config("tiny-org/absent"))


def test_errors_name_the_setting(tmp_path, tiny, product):
    with pytest.raises(ValueError, match="control.depth_model"):
        build_depth_model(PipelineConfig().with_overrides({"control.depth_backend": "model"}))
    with pytest.raises(BackendUnavailableError, match="not found"):
        build_depth_model(_config(str(tmp_path / "nope")))
    depth = build_depth_model(_config(str(tiny.depth_model)))
    with pytest.raises(ValueError, match="rgb"):
        depth(product[0][..., 0], product[1])
    with pytest.raises(ValueError, match="alpha"):
        depth(product[0], product[1][:10])


def test_normalise_inside_near_is_one():
    raw = np.array([[0.0, 1.0, 2.0, 3.0]], np.float32)
    mask = np.array([[True, True, True, False]])
    rel = normalise_inside(raw, mask, metric=False)
    met = normalise_inside(raw, mask, metric=True)
    assert rel[0, 2] == pytest.approx(1.0) and rel[0, 3] == 0.0  # larger disparity = nearer
    assert met[0, 0] == pytest.approx(1.0) and met[0, 2] == pytest.approx(0.0)  # metric: smaller = nearer
    flat = normalise_inside(np.ones((2, 2), np.float32), np.ones((2, 2), bool), metric=False)
    assert (flat == 1.0).all()
