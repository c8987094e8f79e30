"""SAM refinement on the tiny random-weight SAM, loaded through the batch's own path.

A random SAM's masks are noise, so these tests check the plumbing SamPredictor is meant to get:
one embedding per item, every click as a point prompt, the previous low-resolution logits as
``mask_input``, and the clicks' own pixels forced in the result.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")
pytest.importorskip("segment_anything", reason="SAM needs the diffusion extra (segment-anything, torch)")

from pipeline.config import PipelineConfig
from pipeline.segment import build_segmenter
from pipeline.segment.refine import Click, RefineSession, build_refiner
from pipeline.segment.refine.sam import POINTS_PER_STROKE, SamRefiner, mask_to_logits, stroke_points
from tests.synthetic import bottle_on_white

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def calls(monkeypatch):
    """Records every SamPredictor.set_image and .predict call (the originals still run)."""
    from segment_anything import SamPredictor

    seen: dict[str, list] = {"set_image": [], "predict": []}
    set_image, predict = SamPredictor.set_image, SamPredictor.predict

    def spy_set_image(self, image, *args, **kwargs):
        seen["set_image"].append(image.shape)
        return set_image(self, image, *args, **kwargs)

    def spy_predict(self, *args, **kwargs):
        out = predict(self, *args, **kwargs)
        seen["predict"].append({**kwargs, "returned_low_res": out[2]})
        return out

    monkeypatch.setattr(SamPredictor, "set_image", spy_set_image)
    monkeypatch.setattr(SamPredictor, "predict", spy_predict)
    return seen


@pytest.fixture()
def sam_config(tiny) -> PipelineConfig:
    return PipelineConfig().with_overrides({"segment.backend": "sam", "segment.sam_checkpoint": str(tiny.sam_checkpoint),
                                            "segment.sam_min_agreement_iou": 0.0})


def test_points_and_mask_input_reach_predict_embedding_once(sam_config, calls):
    photo = bottle_on_white(96, 80)[0]
    seg = build_segmenter(sam_config)(photo)
    assert seg.backend == "sam"
    refiner = build_refiner(sam_config, seg.backend)
    assert isinstance(refiner, SamRefiner) and refiner.version.startswith("sam-")
    calls["set_image"].clear()
    calls["predict"].clear()

    session = RefineSession(refiner, photo, seg, "a" * 64)
    first = session.add(Click.at("remove", 5.0, 6.0))
    second = session.add(Click.at("keep", 40.0, 50.0))
    assert len(calls["set_image"]) == 1  # the embedding, once per item
    assert len(calls["predict"]) == 2
    p1, p2 = calls["predict"]
    np.testing.assert_array_equal(p1["point_coords"], [[5.0, 6.0]])
    np.testing.assert_array_equal(p1["point_labels"], [0])
    np.testing.assert_array_equal(p2["point_coords"], [[5.0, 6.0], [40.0, 50.0]])
    np.testing.assert_array_equal(p2["point_labels"], [0, 1])
    # first click: the current mask stands in for the logits; then the previous step's logits
    np.testing.assert_array_equal(p1["mask_input"], mask_to_logits(seg.mask, session.context.predictor))
    np.testing.assert_array_equal(p2["mask_input"], p1["returned_low_res"])
    assert p1["mask_input"].shape == (1, *session.context.predictor.model.prompt_encoder.mask_input_size)
    # the clicks are hard constraints whatever the random model says
    assert not first.mask[6, 5] and second.mask[50, 40] and not second.mask[6, 5]
    assert second.info["refined"]["method"] == "sam" and second.info["refined"]["clicks"] == 2

    # undo then a new click: the logits of the step it builds on, no new embedding
    session.undo()
    session.add(Click.at("keep", 30.0, 40.0))
    np.testing.assert_array_equal(calls["predict"][-1]["mask_input"], p1["returned_low_res"])
    # a second session on the same photo (same sha) reuses the cached embedding
    RefineSession(refiner, photo, seg, "a" * 64).add(Click.at("keep", 30.0, 40.0))
    assert len(calls["set_image"]) == 1 and refiner.embeddings_computed == 1


def test_brush_stroke_becomes_spread_points():
    stroke = Click("keep", tuple((float(x), 2.0 * x) for x in range(50)), radius_px=4)
    pts = stroke_points(stroke)
    assert pts.shape == (POINTS_PER_STROKE, 2)
    np.testing.assert_allclose(pts[0], [0, 0]) and np.testing.assert_allclose(pts[-1], [49, 98])


def test_sam_refiner_falls_back_to_classical_without_checkpoint():
    from pipeline.segment.refine import ClassicalRefiner

    config = PipelineConfig().with_overrides({"segment.backend": "sam"})
    assert isinstance(build_refiner(config, "sam"), ClassicalRefiner)
