"""SAM backend on a tiny random-weight SAM (real segment-anything modules, 64 px input).

A random SAM's masks are noise, so its agreement with the classical mask decides the path: with
``sam_min_agreement_iou: 0`` the SAM mask is used, with 1.0 the fallback is taken; both are
checked, plus missing / unsafe / wrong checkpoints.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tests.needs import needs

needs("sam")

import torch

from pipeline.config import PipelineConfig
from pipeline.errors import BackendUnavailableError
from pipeline.models.sam_loader import KNOWN_ARCHS, arch_name, infer_sam_arch, load_sam, read_sam_state_dict
from pipeline.segment import build_segmenter
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.segment.sam import SamSegmenter, build_sam_segmenter, sam_prompts
from tests.synthetic import bottle_on_white


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return bottle_on_white(96, 80)[0]


def _config(checkpoint, min_iou: float) -> PipelineConfig:
    return PipelineConfig().with_overrides({"segment.backend": "sam", "segment.sam_checkpoint": str(checkpoint),
                                            "segment.sam_min_agreement_iou": min_iou})


def test_prompts_box_and_interior_point():
    mask = np.zeros((50, 60), bool)
    mask[10:40, 20:50] = True
    box, points, labels = sam_prompts(mask)
    np.testing.assert_array_equal(box, [20, 10, 50, 40])
    x, y = points[0].astype(int)
    assert mask[y, x] and labels.tolist() == [1]
    with pytest.raises(ValueError, match="empty"):
        sam_prompts(np.zeros((5, 5), bool))


@pytest.mark.parametrize("name", sorted(KNOWN_ARCHS))
def test_arch_read_from_published_checkpoint_shapes(name):
    from segment_anything import sam_model_registry

    with torch.device("meta"):  # the real vit_b/l/h layouts, no memory, no download
        model = sam_model_registry[name]()
    arch = infer_sam_arch(model.state_dict())
    assert arch == KNOWN_ARCHS[name] and arch_name(arch) == name


def test_tiny_checkpoints_load_safely(tiny):
    for path in (tiny.sam_checkpoint, tiny.sam_checkpoint_safetensors):
        entry = load_sam(path, "vit_b", "cpu")
        assert entry.provenance["arch"] == "custom" and len(entry.provenance["sha256"]) == 64
        assert entry.value.image_encoder.img_size == 64
    assert load_sam(tiny.sam_checkpoint, "vit_b", "cpu") is load_sam(tiny.sam_checkpoint, "vit_b", "cpu")


class _Payload:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_pickled_objects_are_refused(tmp_path, capsys):
    evil = tmp_path / "evil.pth"
    torch.save({"image_encoder.x": _Payload()}, evil)
    with pytest.raises(pickle.UnpicklingError):
        read_sam_state_dict(evil)
    assert "pickle code ran" not in capsys.readouterr().out


def test_not_a_sam_checkpoint(tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a SAM"):
        load_sam(other, "vit_b", "cpu")
    with pytest.raises(BackendUnavailableError, match="not found"):
        load_sam(tmp_path / "missing.pth", "vit_b", "cpu")


def test_sam_mask_used_when_it_agrees(tiny, photo):
    seg = build_segmenter(_config(tiny.sam_checkpoint, 0.0))(photo)
    assert seg.backend == "sam" and "fallback_reason" not in seg.info
    assert seg.alpha.shape == photo.shape[:2] and seg.alpha.dtype == np.float32
    assert seg.mask.dtype == bool and seg.foreground.shape == photo.shape
    assert 0.0 <= seg.alpha.min() and seg.alpha.max() <= 1.0
    assert len(seg.info["ious"]) == 3 and seg.info["chosen"] == int(np.argmax(seg.info["ious"]))
    assert seg.info["sam"]["path"] == str(tiny.sam_checkpoint)


def test_falls_back_when_sam_disagrees(tiny, photo, caplog):
    seg = build_sam_segmenter(_config(tiny.sam_checkpoint, 1.0))(photo)
    classical = ClassicalSegmenter()(photo)
    assert seg.backend == "classical" and seg.info["requested_backend"] == "sam"
    assert seg.info["fallback_reason"].startswith("SAM disagrees with the classical mask")
    np.testing.assert_array_equal(seg.mask, classical.mask)
    assert "SAM fallback" in caplog.text


@pytest.mark.parametrize("checkpoint,reason", [(None, "not set"), ("/nonexistent/sam.pth", "not found")])
def test_falls_back_when_checkpoint_missing(photo, checkpoint, reason):
    config = PipelineConfig().with_overrides({"segment.backend": "sam", "segment.sam_checkpoint": checkpoint})
    seg = build_segmenter(config)(photo)
    assert seg.backend == "classical" and reason in seg.info["fallback_reason"]


def test_falls_back_when_sam_raises(tiny, photo):
    broken = load_sam(tiny.sam_checkpoint, "vit_b", "cpu")
    seg = SamSegmenter(ClassicalSegmenter(), type(broken)(key="x", value=object()), 0.0)(photo)
    assert seg.backend == "classical" and seg.info["fallback_reason"].startswith("SAM prediction failed")


def test_constructor_checks():
    with pytest.raises(ValueError, match="load_error"):
        SamSegmenter(ClassicalSegmenter(), None, 0.5)
    with pytest.raises(ValueError, match="min_iou"):
        SamSegmenter(ClassicalSegmenter(), None, 1.5, "x")
