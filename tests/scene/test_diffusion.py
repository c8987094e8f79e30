"""Diffusion scene backend on tiny random-weight models (CPU, float32, 2 steps, offline).

Random weights paint noise, so the tests assert what must hold anyway: output shapes and dtypes,
the product never in the inpaint region, seeds reproduce, the gate passes in exact mode, logo
SSIM comes back in harmonised mode, provenance is recorded, models load through the real code.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from tests.needs import needs

needs("diffusion")

from pipeline.config import ControlConfig, PipelineConfig, PlacementConfig
from pipeline.control.depth import PseudoDepth
from pipeline.control.maps import build_control_maps
from pipeline.errors import BackendUnavailableError
from pipeline.models.cache import cached_keys
from pipeline.place.placement import compute_placement, place_product
from pipeline.scene import build_scene_backend
from pipeline.scene.diffusion.backend import DiffusionBackend, build_diffusion_backend
from pipeline.config.diffusion import DiffusionConfig, diffusion_config
from pipeline.scene.diffusion.inputs import (
    from_work,
    inpaint_mask,
    keep_region,
    prepare_inputs,
    to_work,
    work_geometry,
)
from pipeline.scene.diffusion.schedulers import SCHEDULERS, make_scheduler
from pipeline.config.themes import Theme
from pipeline.segment.classical import ClassicalSegmenter
from tests.fixtures.tiny_models import diffusion_section, fake_hub_cache
from tests.synthetic import bottle_on_white

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:diffusers.*"),
              pytest.mark.usefixtures("one_torch_thread")]

OUT_WH = (100, 76)  # neither side a multiple of 8
THEME = Theme(name="tiny", surface="sweep", colors=("#e0ddd8", "#c8c4bc"),
              prompt="a {colour} {category} on a table", negative_prompt="blurry {category}")
META = {"category": "bottle", "colour": "blue"}




@pytest.fixture(scope="module")
def product():
    """(placed product with one logo box, control maps, source background) at OUT_WH."""
    rgb, _ = bottle_on_white(120, 100)
    seg = ClassicalSegmenter()(rgb)
    placement = compute_placement(seg.mask, PlacementConfig(size=OUT_WH, product_scale=0.8))
    placed = place_product(seg.foreground, seg.alpha, placement, ((36, 55, 64, 80),))
    control = build_control_maps(placed, PseudoDepth(), ControlConfig())
    return placed, control, seg.background_rgb


def _config(tiny, mode: str = "exact", **section) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {"scene": {"backend": "diffusion"}, "restore": {"mode": mode},
         "placement": {"size": list(OUT_WH)}, "backends": {"diffusion": diffusion_section(tiny, **section)}}
    )


@pytest.fixture(scope="module")
def exact_backend(tiny, monkeypatch_module) -> DiffusionBackend:
    return build_diffusion_backend(_config(tiny))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield mp
    mp.undo()


# ----------------------------------------------------------------------------- config + inputs


def test_config_validation_names_the_problem(tiny):
    good = diffusion_section(tiny)
    DiffusionConfig.model_validate(good)
    with pytest.raises(ValueError, match="union"):
        DiffusionConfig.model_validate({**good, "controlnets": [{"name": "union", "source": "/x"}]})
    with pytest.raises(ValueError, match="at most once"):
        DiffusionConfig.model_validate({**good, "controlnets": [good["controlnets"][0]] * 2})
    with pytest.raises(ValueError, match="guidance_start"):
        DiffusionConfig.model_validate({**good, "controlnets": [{"name": "canny", "source": "/x",
                                                                 "guidance_start": 0.9, "guidance_end": 0.5}]})
    with pytest.raises(ValueError, match="Extra inputs"):
        DiffusionConfig.model_validate({**good, "stepz": 3})
    with pytest.raises(ValueError, match="scheduler"):
        DiffusionConfig.model_validate({**good, "scheduler": "plms"})
    with pytest.raises(ValueError, match="reference_path"):
        DiffusionConfig.model_validate({**good, "ip_adapters": [{"source": "/x", "reference": "path"}]})
    with pytest.raises(ValueError, match="needs a 'backends"):
        diffusion_config(PipelineConfig())


def test_relight_strength_reads_the_old_key(tiny, caplog):
    """The diffusion pass of harmonised mode was `harmonise_strength`: still read, with a warning."""
    section = diffusion_section(tiny)
    old = {k: v for k, v in section.items() if k != "relight_strength"} | {"harmonise_strength": 0.3}
    assert DiffusionConfig.model_validate(old).relight_strength == 0.3
    assert "backends.diffusion.harmonise_strength is now backends.diffusion.relight_strength" in caplog.text
    with pytest.raises(ValueError, match="renamed to 'relight_strength'"):
        DiffusionConfig.model_validate(section | {"harmonise_strength": 0.3})


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_builds_from_the_base_config(tiny, name):
    base = json.loads((tiny.sd15_base / "scheduler" / "scheduler_config.json").read_text())
    sched = make_scheduler(name, base)
    sched.set_timesteps(4)
    assert len(sched.timesteps) >= 4
    if name == "dpmpp_2m_karras":
        assert sched.config.use_karras_sigmas and sched.config.algorithm_type == "dpmsolver++"


def test_unknown_scheduler_lists_valid_names():
    with pytest.raises(ValueError, match="ddim, dpmpp_2m_karras, euler_a, unipc"):
        make_scheduler("plms", {})


@pytest.mark.parametrize("out_hw,long_side", [((76, 100), None), ((1000, 750), 768), ((64, 64), None), ((77, 33), 100)])
def test_work_geometry_is_multiple_of_8_and_round_trips(out_hw, long_side):
    geom = work_geometry(out_hw, long_side)
    assert geom.work_hw[0] % 8 == 0 and geom.work_hw[1] % 8 == 0
    img = np.random.default_rng(0).integers(0, 255, (*out_hw, 3), dtype=np.uint8)
    work = to_work(img, geom)
    assert work.shape == (*geom.work_hw, 3)
    back = from_work(work, geom)
    assert back.shape == (*out_hw, 3) and back.dtype == np.uint8
    if long_side is None:
        np.testing.assert_array_equal(back, img)  # pad + crop only: exact


def test_inpaint_mask_never_covers_the_product(product):
    placed, control, _ = product
    cfg = DiffusionConfig.model_validate({"base": "/x", "controlnets": [{"name": "canny", "source": "/c"}],
                                          "mask_dilate_px": 2})
    inputs = prepare_inputs(cfg, placed, control, THEME, META)
    geom = inputs.geometry
    alpha_w = to_work(placed.alpha, geom, pad_value=0.0)
    assert inputs.inpaint_mask.shape == geom.work_hw and inputs.inpaint_mask.dtype == bool
    assert not (inputs.inpaint_mask & (alpha_w > 0)).any(), "product pixels inside the inpaint region"
    assert inputs.inpaint_mask[geom.scaled_hw[0]:, :].all() and inputs.inpaint_mask[:, geom.scaled_hw[1]:].all()
    assert inputs.inpaint_mask.mean() > 0.5  # the background is generated
    # the init image holds the product itself where alpha == 1
    full = alpha_w >= 1.0
    np.testing.assert_array_equal(inputs.init_image[full], to_work(placed.rgb, geom)[full])
    assert inputs.prompt == "a blue bottle on a table" and inputs.negative_prompt == "blurry bottle"
    assert [c.shape for c in inputs.control_images] == [(*geom.work_hw, 3)]


def test_keep_region_grows_by_dilate_px():
    alpha = np.zeros((40, 40), np.float32)
    alpha[15:25, 15:25] = 1.0
    assert keep_region(alpha, 0.02, 0).sum() == 100
    grown = keep_region(alpha, 0.02, 3)
    assert grown[12:28, 15:25].all() and not grown[10, 20]
    geom = work_geometry((40, 40), None)
    assert not (inpaint_mask(alpha, geom, 0.02, 3) & (alpha > 0)).any()


def test_prompt_placeholders_fall_back_to_config(tiny, product):
    placed, control, _ = product
    cfg = DiffusionConfig.model_validate({**diffusion_section(tiny), "category": "mug", "colour": "red"})
    assert prepare_inputs(cfg, placed, control, THEME, {}).prompt == "a red mug on a table"
    assert prepare_inputs(cfg, placed, control, THEME, {"colour": "green"}).prompt == "a green mug on a table"


# ----------------------------------------------------------------------------------- backend


def test_exact_mode_scene_shape_seed_and_provenance(exact_backend, product, tiny):
    placed, control, _ = product
    a = exact_backend(placed, control, THEME, seed=3, item_meta=META)
    b = exact_backend(placed, control, THEME, seed=3, item_meta=META)
    c = exact_backend(placed, control, THEME, seed=4, item_meta=META)
    assert a.image.shape == (OUT_WH[1], OUT_WH[0], 3) and a.image.dtype == np.uint8
    assert a.backend == "diffusion" and a.product_altered is False
    np.testing.assert_array_equal(a.image, b.image)  # same seed, same image
    assert np.abs(a.image.astype(int) - c.image).mean() > 1.0  # different seed, different image
    info = a.info
    assert info["seed"] == 3 and info["scheduler"] == "unipc" and info["steps"] == 2
    assert info["prompt"] == "a blue bottle on a table"
    models = info["models"]
    assert models["pipeline_class"] == "StableDiffusionControlNetInpaintPipeline"
    assert models["base"]["path"] == str(tiny.sd15_base) and len(models["base"]["configs_sha256"]) == 64
    assert [c["name"] for c in models["controlnets"]] == ["canny", "depth"]
    assert len(models["ip_adapters"][0]["sha256"]) == 64
    json.dumps(info)  # plain data, ready for meta.json


def test_exact_mode_product_passes_the_gate(exact_backend, product):
    from pipeline.restore import restore_product
    from pipeline.score import apply_gate, score_composite

    placed, control, bg = product
    config = PipelineConfig()
    scene = exact_backend(placed, control, THEME, seed=1, item_meta=META)
    composite = restore_product(scene, placed, config.restore)
    verdict = apply_gate(score_composite(placed, composite, scene.image, bg, config.score), config.score.gate)
    assert verdict.passed, verdict.reasons
    # The same composite through the pipeline's full gate: the product checks hold; the frame that
    # random weights draw is coloured noise, which the scene checks must flag.
    from pipeline.compose import score_and_gate
    from pipeline.score import failed_metric

    _, full = score_and_gate(placed, composite, scene.image, bg, None, THEME, config)
    failed = {failed_metric(r) for r in full.reasons}
    assert failed and all(m.startswith("scene_") for m in failed), full.reasons


@pytest.fixture(scope="module")
def harmonised(tiny, product, monkeypatch_module):
    """(config, scene, logo SSIM of the raw scene, logo SSIM after restore) in harmonised mode."""
    from pipeline.restore import restore_product
    from pipeline.score import score_composite

    placed, control, bg = product
    config = _config(tiny, mode="harmonised")
    scene = build_diffusion_backend(config)(placed, control, THEME, seed=2, item_meta=META)
    raw = score_composite(placed, scene.image, scene.image, bg, config.score).logo_ssim_min
    fixed = score_composite(placed, restore_product(scene, placed, config.restore), scene.image, bg,
                            config.score).logo_ssim_min
    return config, scene, raw, fixed


def test_harmonised_mode_repaints_and_restore_repairs_logos(harmonised):
    _, scene, raw, fixed = harmonised
    assert scene.product_altered is True and scene.info["relight_strength"] == 0.5
    assert scene.info["mode"] == "harmonised"
    assert raw < 0.5 < fixed and fixed - raw > 0.5  # random weights wreck the logo; restore brings it back


def test_harmonised_mode_logo_ssim_above_the_gate(harmonised):
    config, _, _, fixed = harmonised
    assert fixed >= config.score.gate.logo_ssim_min


def test_variants_use_seed_plus_k_and_match_single_calls(exact_backend, product):
    placed, control, _ = product
    many = exact_backend.generate(placed, control, THEME, seed=10, item_meta=META, variants=2)
    assert [r.info["seed"] for r in many] == [10, 11] and [r.info["variant"] for r in many] == [0, 1]
    single = exact_backend(placed, control, THEME, seed=11, item_meta=META)
    np.testing.assert_array_equal(many[1].image, single.image)  # batch_size 1: each variant alone


def test_batched_variants_reproduce(tiny, product, monkeypatch_module):
    placed, control, _ = product
    backend = build_diffusion_backend(_config(tiny, batch_size=2, variants=2, scheduler="euler_a"))
    a = backend.generate(placed, control, THEME, seed=5, item_meta=META)
    b = backend.generate(placed, control, THEME, seed=5, item_meta=META)
    assert len(a) == 2
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
    assert np.abs(a[0].image.astype(int) - a[1].image).mean() > 1.0


def test_models_loaded_once_and_locked_across_threads(exact_backend, product, tiny):
    placed, control, _ = product
    before = cached_keys()
    again = build_scene_backend(_config(tiny))  # through the registry; same sources -> cache hit
    assert cached_keys() == before and again._entry is exact_backend._entry
    results: dict[int, np.ndarray] = {}

    def work(seed: int) -> None:
        results[seed] = again(placed, control, THEME, seed=seed, item_meta=META).image

    threads = [threading.Thread(target=work, args=(s,)) for s in (20, 21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(results[20], exact_backend(placed, control, THEME, seed=20, item_meta=META).image)


def test_two_ip_adapters_and_reference_images(tiny, product, tmp_path, monkeypatch_module):
    from PIL import Image

    placed, control, _ = product
    style = tmp_path / "style.png"
    Image.fromarray(np.full((40, 40, 3), (200, 120, 60), np.uint8)).save(style)
    section = diffusion_section(tiny, ip_adapters=2)
    section["ip_adapters"][1].update(reference="path", reference_path=str(style))
    section["ip_adapters"][0].update(reference="theme")
    config = PipelineConfig.model_validate({"backends": {"diffusion": section}})
    theme = Theme(name="styled", surface="sweep", colors=("#ffffff", "#eeeeee"), style_image=str(style))
    scene = build_diffusion_backend(config)(placed, control, theme, seed=0, item_meta={})
    refs = [a["reference"] for a in scene.info["ip_adapters"]]
    assert refs == [f"theme:{style}", f"path:{style}"]
    assert [a["scale"] for a in scene.info["ip_adapters"]] == [0.5, 0.6]
    assert len(scene.info["models"]["ip_adapters"]) == 2


def test_hub_id_loads_offline_from_the_cache(tiny, product, tmp_path, monkeypatch):
    placed, control, _ = product
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    commit = fake_hub_cache(cache, "tiny-org/sd15-inpainting", tiny.sd15_base)
    section = diffusion_section(tiny, ip_adapters=0, cache_dir=str(cache))
    section["base"] = {"repo": "tiny-org/sd15-inpainting", "revision": "main"}
    backend = build_diffusion_backend(PipelineConfig.model_validate({"backends": {"diffusion": section}}))
    base = backend.provenance["base"]
    assert base["source"] == "hub" and base["commit"] == commit and base["pinned"] is False
    assert backend(placed, control, THEME, seed=0, item_meta={}).image.shape == (OUT_WH[1], OUT_WH[0], 3)
    section["base"] = {"repo": "tiny-org/not-cached"}
    with pytest.raises(BackendUnavailableError, match="not in the Hugging Face cache"):
        build_diffusion_backend(PipelineConfig.model_validate({"backends": {"diffusion": section}}))


def test_single_file_controlnet(tiny, product, monkeypatch_module):
    placed, control, _ = product
    section = diffusion_section(tiny, ip_adapters=0)
    section["controlnets"] = [{"name": "canny", "source": {"path": str(tiny.canny_single_file),
                                                           "config": str(tiny.canny)}}]
    backend = build_diffusion_backend(PipelineConfig.model_validate({"backends": {"diffusion": section}}))
    assert backend.provenance["controlnets"][0]["source"] == "file"
    assert backend(placed, control, THEME, seed=0, item_meta={}).image.dtype == np.uint8


def test_half_precision_on_cpu_is_refused(tiny):
    with pytest.raises(ValueError, match="needs a GPU"):
        build_diffusion_backend(_config(tiny, dtype="float16", device="cpu"))


def test_bad_inputs_name_the_argument(exact_backend, product):
    placed, control, _ = product
    with pytest.raises(ValueError, match="seed"):
        exact_backend(placed, control, THEME, seed=-1, item_meta={})
    bad = type(control)(canny=control.canny[:10], depth=control.depth, canny_thresholds=(1, 2), depth_backend="x")
    with pytest.raises(ValueError, match="control.canny"):
        exact_backend(placed, bad, THEME, seed=0, item_meta={})


@pytest.mark.parametrize("union", [False, True], ids=["sdxl-pair", "sdxl-union"])
def test_sdxl_tiny(tiny, product, union, monkeypatch_module):
    placed, control, _ = product
    config = _config(tiny, family="sdxl", union=union)
    backend = build_diffusion_backend(config)
    a = backend(placed, control, THEME, seed=7, item_meta=META)
    assert a.image.dtype == np.uint8 and a.info["models"]["family"] == "sdxl"
    expected = "StableDiffusionXLControlNetUnionInpaintPipeline" if union else "StableDiffusionXLControlNetInpaintPipeline"
    assert a.info["models"]["pipeline_class"] == expected
    assert a.image.shape == (OUT_WH[1], OUT_WH[0], 3)


def test_union_needs_a_4_channel_base(tiny, monkeypatch_module):
    section = diffusion_section(tiny, family="sdxl", union=True, ip_adapters=0)
    section["base"] = {"path": str(tiny.sdxl_base)}  # the 9-channel inpainting UNet
    with pytest.raises(ValueError, match="4-channel SDXL base"):
        build_diffusion_backend(PipelineConfig.model_validate({"backends": {"diffusion": section}}))


# ------------------------------------------------------------------------- end to end: the CLI


def _cli_modules():
    from pipeline import cli  # a broken import fails the test, never skips it
    from pipeline.samples import write_samples

    return cli, write_samples


def _run_cli(cli, src, dest, preset, batch_id: str, seed: int, mode: str = "exact") -> dict:
    rc = cli.main(["run", str(src), str(dest), "--config", str(preset), "--backend", "diffusion",
                   "--seed", str(seed), "--mode", mode, "--batch-id", batch_id, "--no-progress"])
    assert rc == 0
    return json.loads((dest / batch_id / "report.json").read_text())


def test_cli_run_diffusion_end_to_end(tiny, tmp_path, monkeypatch):
    """``product-scene run --backend diffusion --config <tiny preset>`` over a sample photo, with
    SAM (tiny; its fallback recorded) and the depth model (tiny Depth Anything)."""
    import yaml

    cli, write_samples = _cli_modules()
    from pipeline.score import failed_metric

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src, dest = tmp_path / "in", tmp_path / "out"
    write_samples(src, names=["bottle_teal"])
    preset = tmp_path / "tiny-sd15.yaml"
    preset.write_text(yaml.safe_dump({
        "scene": {"backend": "diffusion"},
        "placement": {"size": [100, 76]},
        "segment": {"backend": "sam", "sam_checkpoint": str(tiny.sam_checkpoint), "sam_min_agreement_iou": 1.0},
        "control": {"depth_backend": "model", "depth_model": str(tiny.depth_model)},
        "run": {"device": "cpu", "dtype": "float32"},
        "backends": {"diffusion": diffusion_section(tiny)},
    }))
    first = _run_cli(cli, src, dest, preset, "b1", seed=1)
    items = [i for i in first["items"] if not i["source"].startswith("ground_truth/")]
    assert [i["status"] for i in items] == ["ok"], items
    # The product region passes the gate: colour, detail, logos, halo and the cut-out (judged from
    # the photo) all hold. What random weights draw around it is coloured noise: "expansion"
    # (scene content continuing the product) and the scene checks are about that frame, so they
    # are the checks left out here; the cut-out and appearance checks can still fail this test.
    failed = {failed_metric(r) for r in items[0]["reasons"]}
    assert all(m == "expansion" or m.startswith("scene_") for m in failed), items[0]["reasons"]
    assert items[0]["metrics"]["cutout_confidence"] is not None
    item_dir = dest / "b1" / items[0]["id"]
    meta = json.loads((item_dir / "meta.json").read_text())
    assert meta["scene_info"]["backend"] == "diffusion" and meta["scene_info"]["mode"] == "exact"
    assert meta["scene_info"]["models"]["base"]["path"] == str(tiny.sd15_base)
    assert meta["scene_info"]["prompt"].startswith("a teal bottle")  # from the sidecar JSON
    assert meta["segment_info"]["fallback_reason"].startswith("SAM disagrees")  # random SAM: fallback recorded
    assert meta["backends"]["scene"] == "diffusion" and meta["backends"]["depth"] == "model"

    _run_cli(cli, src, dest, preset, "b3", seed=1, mode="harmonised")
    meta = json.loads((dest / "b3" / items[0]["id"] / "meta.json").read_text())
    assert meta["scene_info"]["mode"] == "harmonised" and meta["scene_info"]["relight_strength"] == 0.5
