"""The fused backend: region rules on drawn scenes, and the backend end to end on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import PipelineConfig
from pipeline.segment import SEGMENTERS, build_segmenter
from pipeline.segment.fusion import fill_holes, fuse_masks

WHITE = 250


def _photo() -> np.ndarray:
    """A red mug body (rows 60-200, cols 60-180) with a cream print (rows 100-140, cols 90-150), a
    grey floor shadow right of it, on white."""
    rgb = np.full((260, 260, 3), WHITE, np.uint8)
    rgb[60:200, 60:180] = (180, 40, 40)
    rgb[100:140, 90:150] = (240, 230, 200)
    rgb[170:200, 180:240] = 150  # a crisp cast shadow on the floor
    return rgb


def _box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((260, 260), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_model_that_outlined_the_print_keeps_the_classical_mask():
    rgb = _photo()
    classical, model = _box(60, 200, 60, 180), _box(100, 140, 90, 150)  # saliency picked the print
    f = fuse_masks(rgb, classical, model)
    assert "part" in f.how and np.array_equal(f.mask, classical)


def test_classical_shadow_outside_the_model_goes_and_model_only_parts_come():
    rgb = _photo()
    classical = _box(60, 200, 60, 240)  # kept the cast shadow
    model = _box(50, 200, 60, 180)  # right about the shadow, and found a pale top the classical lost
    rgb[50:60, 60:180] = 244  # that pale top
    f = fuse_masks(rgb, classical, model)
    assert not f.mask[175:200, 190:240].any()  # the shadow is gone
    assert f.mask[52:58, 70:170].all() and f.mask[60:200, 60:180].all()  # the top is added, the body kept
    assert f.disagreement == pytest.approx(float((classical ^ model).sum()) / f.mask.sum())
    assert f.dropped == pytest.approx(60 * 140 / classical.sum()) and f.added == pytest.approx(10 * 120 / classical.sum())


def test_holes_the_model_opens_inside_the_product():
    rgb = _photo()
    rgb[150:170, 100:140] = (120, 120, 130)  # a grey mirror set in the product
    model = _box(60, 200, 60, 180)
    model[150:170, 100:140] = False  # the model sees backdrop in it
    f = fuse_masks(rgb, _box(60, 200, 60, 180), model)
    assert f.mask[150:170, 100:140].all()  # not backdrop-coloured: the classical mask's part stays
    rgb[150:170, 100:140] = WHITE  # a real see-through gap the classical mask filled
    f = fuse_masks(rgb, _box(60, 200, 60, 180), model)
    assert not f.mask[152:168, 102:138].any()


def test_model_only_floor_shadow_under_the_product_is_not_added():
    rgb = _photo()
    rgb[200:230, 60:180] = 170  # a shadow or reflection under the base, only the model kept
    f = fuse_masks(rgb, _box(60, 200, 60, 180), _box(60, 230, 60, 180))
    assert not f.mask[203:230].any()


def test_fill_holes():
    ring = _box(50, 150, 50, 150) & ~_box(80, 120, 80, 120)
    assert fill_holes(ring).sum() == 100 * 100 and not fill_holes(_box(0, 0, 0, 0)).any()


def test_registered_and_falls_back_without_a_model():
    assert "fused" in SEGMENTERS
    rgb = _photo()
    seg = build_segmenter(PipelineConfig().with_overrides({"segment.backend": "fused"}))(rgb)
    assert seg.backend == "classical" and seg.info["requested_backend"] == "fused"
    assert "onnx_model is not set" in seg.info["fallback_reason"]


def test_fused_backend_with_a_model(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from pipeline.segment.onnx_presets import PRESETS
    from tests.fixtures.tiny_onnx import tiny_salient_model
    from tests.synthetic import bottle_on_white

    rgb, truth = bottle_on_white(240, 200, shadow=False)
    model = tiny_salient_model(tmp_path / "isnet-general-use.onnx", PRESETS["isnet-general-use"])
    config = PipelineConfig().with_overrides({"segment.backend": "fused", "segment.onnx_model": str(model),
                                              "segment.onnx_min_agreement_iou": 0.99})  # no veto for fused
    seg = build_segmenter(config)(rgb)
    assert seg.backend == "fused" and "fallback_reason" not in seg.info
    assert 0.0 <= seg.info["disagreement"] < 0.1 and seg.info["fusion"] == "regions"
    assert seg.alpha.shape == truth.shape and float((seg.mask & truth).sum() / (seg.mask | truth).sum()) >= 0.97


def test_doctor_lists_the_fused_backend():
    from pipeline.doctor.backends import DoctorCheck, check_fused

    assert check_fused(DoctorCheck("segment: onnx", True, "loads")).ok
    missing = check_fused(DoctorCheck("segment: onnx", False, "not set", "set segment.onnx_model"))
    assert not missing.ok and missing.name == "segment: fused" and missing.hint == "set segment.onnx_model"
