"""ONNX backend on tiny fixed-weight models with each rembg family's layout (tests/fixtures/tiny_onnx.py).

The tiny model marks what differs from the backdrop colour, after undoing the family's
normalisation, so its mask is checked against ground truth: it comes out right only when the
pipeline applies the family's real size, std and sigmoid. Every model goes through the user path:
config -> registry -> segmenter -> photo -> mask.
"""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.doctor import format_doctor  # noqa: E402
from pipeline.doctor.backends import PACKAGES, check_onnx  # noqa: E402
from pipeline.models.cache import CachedModel  # noqa: E402
from pipeline.models.onnx_loader import OnnxLayout, load_onnx  # noqa: E402
from pipeline.imaging import iou  # noqa: E402
from pipeline.segment import build_segmenter  # noqa: E402
from pipeline.segment.classical import ClassicalSegmenter  # noqa: E402
from pipeline.segment.onnx import OnnxSegmenter  # noqa: E402
from pipeline.segment.onnx_presets import PRESETS, family_for_file, get_preset, postprocess, preprocess  # noqa: E402
from tests.fixtures.tiny_onnx import tiny_salient_model  # noqa: E402
from tests.synthetic import bottle_on_white  # noqa: E402

# (input side, std is 1, sigmoid on the output) as rembg's sessions/*.py and BRIA's utilities.py have them.
REMBG = {
    "u2net": (320, False, False), "u2netp": (320, False, False), "u2net_human_seg": (320, False, False),
    "silueta": (320, False, False), "isnet-general-use": (1024, True, False), "isnet-anime": (1024, True, False),
    "birefnet-general": (1024, False, True), "birefnet-general-lite": (1024, False, True),
    "birefnet-portrait": (1024, False, True), "birefnet-dis": (1024, False, True),
    "birefnet-hrsod": (1024, False, True), "birefnet-cod": (1024, False, True),
    "birefnet-massive": (1024, False, True), "bria-rmbg-2.0": (1024, False, False),
    "bria-rmbg-1.4": (1024, True, False),
}


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, np.ndarray]:
    """A blue bottle with a white label on near-white, no shadow: (rgb, ground-truth mask)."""
    return bottle_on_white(240, 200, shadow=False)


def _config(model, family: str | None = None, min_iou: float = 0.5) -> PipelineConfig:
    return PipelineConfig().with_overrides({"segment.backend": "onnx", "segment.onnx_model": str(model),
                                            "segment.onnx_family": family, "segment.onnx_min_agreement_iou": min_iou})


def test_presets_hold_rembgs_constants():
    assert set(PRESETS) == set(REMBG)
    for family, (side, unit_std, sigmoid) in REMBG.items():
        p = get_preset(family)
        assert p.size == (side, side) and (p.std == (1.0, 1.0, 1.0)) == unit_std and p.sigmoid == sigmoid, family
    with pytest.raises(ValueError, match="valid names: .*u2net"):
        get_preset("u2-net")


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_preprocess_size_scale_and_normalisation(family):
    p = PRESETS[family]
    rgb = np.full((30, 40, 3), (200, 50, 0), np.uint8)  # the image's maximum is 200, on the red channel
    x = preprocess(rgb, p)
    assert x.shape == (1, 3, *p.size) and x.dtype == np.float32 and x.flags.c_contiguous
    scale = 200 if p.scale == "max" else 255  # rembg divides by the image's maximum, BRIA by 255
    want = [(v / scale - m) / s for v, m, s in zip((200, 50, 0), p.mean, p.std)]  # RGB order
    np.testing.assert_allclose(x[0, :, 7, 9], want, atol=1e-5)
    np.testing.assert_allclose(x.min(axis=(0, 2, 3)), x.max(axis=(0, 2, 3)), atol=1e-5)


def test_postprocess_sigmoid_minmax_and_resize():
    logits = np.array([[[[-4.0, 0.0], [2.0, 4.0]]]], np.float32)
    with_sigmoid = postprocess(logits, get_preset("birefnet-general"), (2, 2))
    s = 1 / (1 + np.exp(-logits[0, 0]))
    np.testing.assert_allclose(with_sigmoid, (s - s.min()) / (s.max() - s.min()), atol=1e-6)
    plain = postprocess(logits, get_preset("isnet-general-use"), (2, 2))  # min-max only
    np.testing.assert_allclose(plain, [[0.0, 0.5], [0.75, 1.0]], atol=1e-6)
    big = postprocess(np.pad(logits, ((0, 0), (0, 0), (4, 4), (4, 4)), constant_values=-4), get_preset("u2net"),
                      (37, 53))
    assert big.shape == (37, 53) and big.dtype == np.float32 and 0 <= big.min() and big.max() <= 1
    assert postprocess(logits[:, 0], get_preset("u2net"), (2, 2)).shape == (2, 2)  # (1, h, w) outputs too
    for bad, match in [(np.zeros((2, 2)), "shape"), (np.full((1, 1, 2, 2), np.nan), "NaN"),
                       (np.ones((1, 1, 2, 2)), "constant")]:
        with pytest.raises(ValueError, match=match):
            postprocess(bad, get_preset("u2net"), (2, 2))


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_each_family_segments_the_photo(tmp_path, photo, family):
    rgb, truth = photo
    model = tiny_salient_model(tmp_path / "model.onnx", PRESETS[family])
    seg = build_segmenter(_config(model, family))(rgb)
    assert seg.backend == "onnx" and "fallback_reason" not in seg.info, seg.info
    assert seg.alpha.shape == truth.shape and seg.alpha.dtype == np.float32 and seg.foreground.shape == rgb.shape
    assert iou(seg.mask, truth) >= 0.97
    assert seg.info["family"] == family and seg.info["onnx"]["input_shape"] == [1, 3, *PRESETS[family].size]


@pytest.mark.parametrize("model_family,read_as", [("birefnet-general", "bria-rmbg-2.0"),  # logits, no sigmoid
                                                  ("bria-rmbg-2.0", "isnet-general-use")])  # ImageNet std read as 1
def test_the_wrong_processing_gives_the_wrong_mask(tmp_path, photo, model_family, read_as):
    rgb, truth = photo
    model = tiny_salient_model(tmp_path / "model.onnx", PRESETS[model_family])
    seg = build_segmenter(_config(model, read_as, min_iou=0.0))(rgb)
    assert seg.backend == "onnx" and iou(seg.mask, truth) < 0.8


def test_saliency_resized_back_dynamic_axes_and_half_input(tmp_path, photo):
    rgb, truth = photo
    preset = get_preset("isnet-general-use")
    for i, kw in enumerate(({"out_stride": 4}, {"dynamic": True}, {"float16": True})):  # 256x256 out; symbolic H, W
        segmenter = build_segmenter(_config(tiny_salient_model(tmp_path / f"m{i}.onnx", preset, **kw),
                                            "isnet-general-use"))
        saliency = segmenter.saliency(rgb, rgb.shape[:2])
        assert saliency.shape == truth.shape and iou(saliency >= 0.5, truth) >= 0.95, kw
        seg = segmenter(rgb)
        assert seg.backend == "onnx" and iou(seg.mask, truth) >= 0.97, kw


def test_family_from_the_published_file_name(tmp_path, photo):
    assert family_for_file("/models/BiRefNet-general-epoch_244.onnx") == "birefnet-general"
    assert family_for_file("U2NETP.onnx") == "u2netp" and family_for_file("model.onnx") is None
    model = tiny_salient_model(tmp_path / "u2netp.onnx", PRESETS["u2netp"])
    seg = build_segmenter(_config(model))(photo[0])
    assert seg.backend == "onnx" and seg.info["family"] == "u2netp"
    unnamed = tiny_salient_model(tmp_path / "model.onnx", PRESETS["u2netp"])
    seg = build_segmenter(_config(unnamed))(photo[0])
    assert seg.backend == "classical" and "set segment.onnx_family" in seg.info["fallback_reason"]


def test_session_loaded_once(tmp_path):
    model = tiny_salient_model(tmp_path / "u2net.onnx", PRESETS["u2net"])
    first = load_onnx(model, "cpu")
    assert load_onnx(model, "cpu") is first
    assert first.provenance["providers"] == ["CPUExecutionProvider"] and len(first.provenance["sha256"]) == 64
    assert build_segmenter(_config(model)).model is first


def test_providers_follow_run_device(monkeypatch, caplog):
    import onnxruntime as ort

    from pipeline.models.onnx_loader import onnx_providers

    assert onnx_providers("cpu") == ["CPUExecutionProvider"]
    with caplog.at_level(logging.WARNING):
        assert onnx_providers("cuda") == ["CPUExecutionProvider"]  # the CPU build of onnxruntime
    assert "no CUDA provider" in caplog.text
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_providers("cuda:1") == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]


def _fallback_models(tmp_path):
    u2 = PRESETS["u2net"]
    (tmp_path / "garbage.onnx").write_bytes(b"not a protobuf")
    (tmp_path / "u2net.pth").write_bytes(b"\x80\x04pickle")
    return {
        "missing": (tmp_path / "gone" / "u2net.onnx", "u2net", "not found"),
        "pickled": (tmp_path / "u2net.pth", "u2net", "refusing 'u2net.pth'"),
        "corrupt": (tmp_path / "garbage.onnx", "u2net", "could not be loaded: InvalidProtobuf"),
        "one channel": (tiny_salient_model(tmp_path / "c1.onnx", u2, channels=1), "u2net", "(N, 3, H, W) input"),
        "2-d output": (tiny_salient_model(tmp_path / "r2.onnx", u2, output_rank=2), "u2net", "(1, h, w) output"),
        "wrong family": (tiny_salient_model(tmp_path / "u2.onnx", u2), "isnet-general-use", "1024x1024 input"),
        "disagrees": (tiny_salient_model(tmp_path / "inv.onnx", u2, invert=True), "u2net", "disagrees"),
    }


@pytest.mark.parametrize("case", ["missing", "pickled", "corrupt", "one channel", "2-d output", "wrong family",
                                  "disagrees"])
def test_falls_back_to_classical_with_a_reason(tmp_path, photo, caplog, case):
    rgb, _ = photo
    path, family, reason = _fallback_models(tmp_path)[case]
    with caplog.at_level(logging.WARNING):
        seg = build_segmenter(_config(path, family))(rgb)
    assert seg.backend == "classical" and seg.info["requested_backend"] == "onnx"
    assert reason in seg.info["fallback_reason"], seg.info["fallback_reason"]
    np.testing.assert_array_equal(seg.mask, ClassicalSegmenter()(rgb).mask)
    assert "ONNX fallback" in caplog.text


def test_falls_back_when_not_set_or_the_model_raises(photo):
    rgb, _ = photo
    seg = build_segmenter(PipelineConfig().with_overrides({"segment.backend": "onnx"}))(rgb)
    assert seg.backend == "classical" and "onnx_model is not set" in seg.info["fallback_reason"]
    layout = OnnxLayout("x", (1, 3, 320, 320), "float32", (1, 1, 320, 320))
    broken = CachedModel(key="x", value=(object(), layout))
    seg = OnnxSegmenter(ClassicalSegmenter(), broken, get_preset("u2net"), 0.5)(rgb)
    assert seg.backend == "classical" and seg.info["fallback_reason"].startswith("ONNX model failed: AttributeError")


def test_config_errors_are_loud(tmp_path):
    with pytest.raises(ValueError, match="segment.onnx_family: 'u2-net' is not one of u2net, .*; did you mean 'u2net'"):
        _config(tmp_path / "x.onnx", "u2-net")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"segment": {"backend": "onnx", "onnx_family": "u2-net"}}))
    from pipeline.cli import main

    assert main(["run", str(tmp_path), str(tmp_path / "out"), "--config", str(bad), "--no-progress"]) == 2
    with pytest.raises(ValueError, match="load_error"):
        OnnxSegmenter(ClassicalSegmenter(), None, None, 0.5)
    with pytest.raises(ValueError, match="min_iou"):
        OnnxSegmenter(ClassicalSegmenter(), None, None, 1.5, load_error="x")


def test_doctor_reports_the_model(tmp_path):
    model = tiny_salient_model(tmp_path / "isnet-general-use.onnx", PRESETS["isnet-general-use"])
    ok = check_onnx(_config(model))
    assert ok.ok and "onnxruntime 1." in ok.detail and "CPUExecutionProvider" in ok.detail
    assert "isnet-general-use" in ok.detail and "loads" in ok.detail and "1x3x1024x1024 float32" in ok.detail
    text = format_doctor([ok])
    assert text.startswith("[ok] segment: onnx") and text.splitlines()[-1] == "usable backends: segment: onnx"
    assert "onnxruntime" in {module for module, _ in PACKAGES}  # its version line
    for config, words in [(PipelineConfig(), "onnx_model is not set"), (_config(tmp_path / "no.onnx"), "not found"),
                          (_config(model, "u2net"), "320x320 input")]:
        check = check_onnx(config)
        assert not check.ok and words in check.detail and check.hint, (words, check)


def test_cli_run_on_samples_with_the_onnx_backend(tmp_path):
    from pipeline.cli import main
    from pipeline.samples import write_samples

    src, dest = tmp_path / "in", tmp_path / "out"
    write_samples(src, names=["tote_canvas", "box_kraft_cropped", "pump_bottle_white"])
    model = tiny_salient_model(tmp_path / "isnet-general-use.onnx", PRESETS["isnet-general-use"], threshold=0.03)
    preset = tmp_path / "onnx.yaml"
    preset.write_text(yaml.safe_dump({"segment": {"backend": "onnx", "onnx_model": str(model)},
                                      "placement": {"size": [256, 256]}}))
    assert main(["run", str(src), str(dest), "--config", str(preset), "--batch-id", "b", "--no-progress"]) == 0
    report = json.loads((dest / "b" / "report.json").read_text())
    items = {i["source"].rsplit(".", 1)[0]: i for i in report["items"]}
    assert all(i["status"] == "ok" for i in items.values()), items
    for name in ("tote_canvas", "box_kraft_cropped"):  # a plain backdrop: the model is right and is used
        meta = json.loads((dest / "b" / items[name]["id"] / "meta.json").read_text())
        assert meta["backends"]["segment"] == "onnx" and meta["segment_info"]["family"] == "isnet-general-use"
        mask = cv2.imread(str(dest / "b" / items[name]["id"] / "mask.png"), cv2.IMREAD_GRAYSCALE) > 127
        truth = cv2.imread(str(src / "_ground_truth" / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
        assert iou(mask, truth) >= 0.95
    # A white bottle on white with a shadow: the colour-distance model keeps the shadow and loses
    # the bottle, so it disagrees with the classical mask and meta.json says why it was not used.
    meta = json.loads((dest / "b" / items["pump_bottle_white"]["id"] / "meta.json").read_text())
    assert meta["backends"]["segment"] == "classical"
    assert meta["segment_info"]["fallback_reason"].startswith("ONNX model disagrees with the classical mask")
