"""The diffusion path at the real geometry: what the tiny models (100x76 px, no resizing) hide.

Random-weight SD1.5 models with the real shapes but CI-sized channel widths (bench/arch.py, size
``ci``): the VAE's 8x down-sampling at the preset's 768 px work size, the upscale to a 1024 px
output, 77 CLIP text positions and a 224 px IP-Adapter image. A generated sample runs through
``process_product`` (what ``product-scene run`` calls) with configs/sd15.yaml on the CPU in
float32, 2 steps, ``restore.mode: harmonised``: the scene pass, the relight pass over the whole
product (random weights repaint it as colour noise), then the logo rebuild at the output size.

It checks what issue 19 found at full size: logos survive the relight at real size (logo SSIM >=
0.95 with the true boxes), the noise frame fails the gate on noise, the blank masked image of the
relight pass and the control images are not encoded more than needed, and no spurious diffusers
warning is printed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.compose import build_stages, process_product
from pipeline.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
OUT_SIDE = 1024  # configs/sd15.yaml: placement.long_side
WORK_SIDE = 768  # configs/sd15.yaml: work_long_side
LOGO_SSIM_MIN = 0.95  # issue 19's goal at real size (the gate's own limit is lower)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def real_geometry(tmp_path_factory):
    """(config, stages, meter) with the ci-size models loaded through the preset; ``meter`` records
    the inputs each model saw and the warnings printed while loading."""
    import torch

    from bench.arch import save_random_models

    root = tmp_path_factory.mktemp("ci-models")
    models = save_random_models(root, "sd15", "ci", "cpu", torch.float32)
    preset = root / "sd15-ci.yaml"
    preset.write_text(yaml.safe_dump({
        "extends": str(CONFIGS / "sd15.yaml"),
        "run": {"device": "cpu", "dtype": "float32"},
        "restore": {"mode": "harmonised"},
        "backends": {"diffusion": {
            "base": {"repo": None, "revision": None, "path": str(models["base"])},
            "controlnets": [
                {"name": "canny", "source": {"path": str(models["canny"])}, "conditioning_scale": 0.5,
                 "guidance_end": 0.8},
                {"name": "depth", "source": {"path": str(models["depth"])}, "conditioning_scale": 0.6}],
            "ip_adapters": [{"source": {"path": str(models["ip_adapter_root"])}, "subfolder": "models",
                             "weight_name": "ip-adapter.safetensors", "scale": 0.4, "reference": "product"}],
            "steps": 2,
        }},
    }))
    config = load_config(preset)
    assert config.placement.long_side == OUT_SIDE
    warnings = _Records()
    logging.getLogger("diffusers").addHandler(warnings)
    try:
        stages = build_stages(config)
    finally:
        logging.getLogger("diffusers").removeHandler(warnings)
    pipe = stages.scene._entry.value.pipe
    meter: dict = {"warnings": warnings.messages, "text_tokens": [], "image_px": [], "vae_encodes": 0}
    pipe.text_encoder.register_forward_pre_hook(
        lambda _m, args, kwargs: meter["text_tokens"].append(tuple((args or [kwargs["input_ids"]])[0].shape)),
        with_kwargs=True)
    pipe.image_encoder.register_forward_pre_hook(lambda _m, args: meter["image_px"].append(tuple(args[0].shape[-2:])))
    pipe.vae.encoder.register_forward_hook(lambda *_: meter.__setitem__("vae_encodes", meter["vae_encodes"] + 1))
    meter["nets"] = list(pipe.controlnet.nets)
    return config, stages, meter


def _run(real_geometry, rgb: np.ndarray, name: str, logo_boxes, seed: int):
    import cv2

    config, stages, meter = real_geometry
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    before = {"vae": meter["vae_encodes"], "cond": [n.cond_images for n in meter["nets"]],
              "calls": sum(b.calls for b in stages.scene._entry.value.accel.buckets.values())}
    result = process_product(png.tobytes(), name=name, config=config, stages=stages, seed=seed,
                             sidecar={"logo_boxes": [list(b) for b in logo_boxes]})
    return result, before


@pytest.fixture(scope="module")
def sample_run(real_geometry):
    from pipeline.samples.render import render_sample

    sample = render_sample("bottle_teal")
    return _run(real_geometry, sample.rgb, "bottle_teal.png", sample.logo_boxes, seed=1)


def test_runs_at_the_real_geometry(real_geometry, sample_run):
    _, _, meter = real_geometry
    result, _ = sample_run
    assert result.composite.shape == (OUT_SIDE, OUT_SIDE, 3)
    assert result.scene.info["work_hw"] == [WORK_SIDE, WORK_SIDE]  # generated at 768, resized to 1024
    assert result.scene.info["mode"] == "harmonised" and result.scene.product_altered
    assert meter["text_tokens"] and all(shape[-1] == 77 for shape in meter["text_tokens"])  # prompt + negative
    assert meter["image_px"] == [(224, 224)]  # the IP-Adapter reference, encoded once
    json.dumps(result.scene.info)


def test_logos_survive_the_relight_at_real_size(sample_run):
    """Issue 19 point 1: the relight pass repaints the product at 768 px and the frame is resized to
    1024; the logo boxes come back from the original at the output size."""
    from pipeline.config import ScoreConfig
    from pipeline.score import score_composite

    result, _ = sample_run
    assert len(result.placed.logo_boxes) == 3
    raw = score_composite(result.placed, result.scene.image, result.scene.image,
                          result.segmentation.background_rgb, ScoreConfig()).logo_ssim_min
    assert raw < 0.5  # random weights destroyed the logos in the frame
    assert result.metrics.logo_ssim_min >= LOGO_SSIM_MIN
    full = result.placed.alpha >= 1.0
    repainted = np.abs(result.composite[full].astype(int) - result.placed.rgb[full]).mean()
    assert repainted > 20  # the rest of the product is the relit (here: noise) one, as harmonised mode keeps it


def test_no_wasted_encodes(real_geometry, sample_run):
    """Issue 19 points 2 and 5: the scene pass encodes the masked image, the relight pass its init
    image and, for the first product of a work size only, the blank masked image (all-ones mask);
    each ControlNet embeds its control image once per call (not once per CFG / variant copy)."""
    _, stages, meter = real_geometry
    _, before = sample_run
    assert meter["vae_encodes"] - before["vae"] == 3
    calls = sum(b.calls for b in stages.scene._entry.value.accel.buckets.values()) - before["calls"]
    assert calls == 2  # the scene pass and the relight pass
    embedded = [n.cond_images - b for n, b in zip(meter["nets"], before["cond"], strict=True)]
    assert all(1 <= e <= calls for e in embedded), embedded
    assert stages.scene._entry.value.accel.blank_cache  # kept for the next product of this work size


def test_no_spurious_diffusers_warning(real_geometry):
    """Issue 19 point 6: "modules ... should be kept in float32: []" printed on every load."""
    _, _, meter = real_geometry
    assert not [m for m in meter["warnings"] if "kept in float32" in m], meter["warnings"]


def test_the_noise_frame_fails_on_noise(sample_run):
    """Issue 19 point 3: random weights paint blotchy colour noise, upscaled; the gate must name it."""
    result, _ = sample_run
    assert not result.verdict.passed
    assert any("noise" in reason.lower() for reason in result.verdict.reasons), result.verdict.reasons


@pytest.mark.real_photos
def test_real_photo_logos_with_the_true_boxes(real_geometry, products_dir):
    """A real photo with vertical text and a graphic mark (ck_mug_blue), its hand-drawn boxes."""
    from pipeline.io.imageio import decode_image

    truth = json.loads((products_dir / "text_regions" / "ck_mug_blue.json").read_text())
    photo = products_dir / truth["file"]
    rgb = decode_image(photo.read_bytes(), name=photo.name).rgb
    result, _ = _run(real_geometry, rgb, photo.name, [r["box"] for r in truth["regions"]], seed=2)
    assert len(result.placed.logo_boxes) == len(truth["regions"])
    assert result.metrics.logo_ssim_min >= LOGO_SSIM_MIN
