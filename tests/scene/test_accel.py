"""Speed levers of the diffusion backend (pipeline/scene/diffusion/accel.py) on the tiny random-weight models.

Exact levers must give the unoptimised output: bit for bit where they keep diffusers' arithmetic
(caches, skipped inactive ControlNets), within float32 rounding where they change the kernels
(channels_last, fused QKV, SDPA backend, torch.compile traced with the eager backend). Each lever
must also do what it claims (fewer text-encoder / VAE / ControlNet passes). Approximations must
change the output, by less than a different seed does, and say what they skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.needs import needs

needs("diffusion")

from pipeline.config import load_config
from pipeline.scene.diffusion.backend import build_diffusion_backend, controlnet_window
from pipeline.config.diffusion import AccelConfig, ControlNetSpec, diffusion_config
from tests.scene.test_diffusion import META, THEME, _config, monkeypatch_module, product  # noqa: F401

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:diffusers.*"),
              pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.usefixtures("one_torch_thread")]

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ALL_OFF = {"cache_prompt_embeds": False, "cache_ip_embeds": False, "cache_control_embeddings": False,
           "skip_inactive_controlnets": False, "encode_once": False}
BIT_EXACT = {"dedupe_control_images": False}  # the default levers but the one that rounds differently


def _backend(tiny, accel: dict, mode: str = "exact", **section):
    return build_diffusion_backend(_config(tiny, mode=mode, accel=accel, **section))


def _count_calls(module) -> list[int]:
    counter = [0]
    module.register_forward_hook(lambda *_: counter.__setitem__(0, counter[0] + 1))
    return counter


def _images(backend, placed, control, seed: int, variants: int = 2) -> list[np.ndarray]:
    return [r.image for r in backend.generate(placed, control, THEME, seed=seed, item_meta=META, variants=variants)]


@pytest.fixture(scope="module")
def reference(tiny, product, monkeypatch_module):  # noqa: F811
    """Images of the unoptimised backend (every lever off): exact mode 2 variants, harmonised 1."""
    placed, control, _ = product
    exact = _images(_backend(tiny, ALL_OFF), placed, control, seed=3)
    harmonised = _images(_backend(tiny, ALL_OFF, mode="harmonised"), placed, control, seed=3, variants=1)
    return exact, harmonised


def test_default_levers_are_exact_and_bit_identical(tiny, product, reference, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    assert AccelConfig().exact
    backend = _backend(tiny, BIT_EXACT)
    pipe = backend._entry.value.pipe
    text_calls = _count_calls(pipe.text_encoder)
    encoder_calls = _count_calls(pipe.vae.encoder)
    cond_calls = [_count_calls(net.controlnet_cond_embedding.conv_in) for net in pipe.controlnet.nets]
    runner = backend._entry.value.accel.controlnet
    runs_before = runner.runs
    images = _images(backend, placed, control, seed=3)
    for got, want in zip(images, reference[0], strict=True):
        np.testing.assert_array_equal(got, want)
    # 2 variants x 2 steps: the prompt is encoded once, the masked image once, each control image
    # once per call, and the canny net (guidance_end 0.8) is not run at the second step.
    assert text_calls[0] == 2  # prompt + negative prompt, once
    assert encoder_calls[0] == 1
    assert [c[0] for c in cond_calls] == [2, 2]
    assert runner.runs - runs_before == 2 * (2 + 2) - 2
    info = backend(placed, control, THEME, seed=3, item_meta=META).info
    assert info["accel"]["applied"]["controlnet_runner"] == "fast" and info["accel"]["config"]["encode_once"]


def test_control_images_embedded_once_per_call(tiny, product, monkeypatch_module):  # noqa: F811
    """The default levers embed each control image once per call, not once per copy in the CFG pair
    or the variant batch: the same maths on a batch of one, so within rounding of every copy embedded."""
    placed, control, _ = product
    every_copy = _images(_backend(tiny, BIT_EXACT, batch_size=2), placed, control, seed=3)
    backend = _backend(tiny, {}, batch_size=2)
    nets = backend._entry.value.pipe.controlnet.nets
    seen: list[int] = []
    for net in nets:
        net.controlnet_cond_embedding.conv_in.register_forward_hook(lambda _m, args, _o: seen.append(args[0].shape[0]))
    before = [net.cond_images for net in nets]
    images = _images(backend, placed, control, seed=3)  # 2 variants in one call, with CFG: 4 copies per net
    assert seen == [1, 1]  # one image through each net's embedding
    assert [net.cond_images - b for net, b in zip(nets, before, strict=True)] == [1, 1]
    for got, want in zip(images, every_copy, strict=True):
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= 2 and diff.mean() < 0.01, (diff.max(), diff.mean())
    assert backend._entry.value.accel.applied["dedupe_control_images"]


def test_default_levers_bit_identical_in_harmonised_mode(tiny, product, reference, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    backend = _backend(tiny, BIT_EXACT, mode="harmonised")
    vae_encodes = _count_calls(backend._entry.value.pipe.vae.encoder)
    images = _images(backend, placed, control, seed=3, variants=1)
    np.testing.assert_array_equal(images[0], reference[1][0])
    # scene pass: the masked image; relight pass: the init image and the blank masked image (all-ones mask)
    assert vae_encodes[0] == 3
    again = _images(backend, placed, control, seed=4, variants=1)  # the next product: the blank one is cached
    assert vae_encodes[0] == 3 + 2 and not np.array_equal(again[0], images[0])


@pytest.mark.parametrize("union", [False, True], ids=["sdxl-pair", "sdxl-union"])
def test_default_levers_bit_identical_on_sdxl(tiny, product, union, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    off = _images(_backend(tiny, ALL_OFF, family="sdxl", union=union), placed, control, seed=5)
    on = _images(_backend(tiny, BIT_EXACT, family="sdxl", union=union), placed, control, seed=5)
    for got, want in zip(on, off, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("accel", [
    {"channels_last": True, "fuse_qkv": True, "sdpa_backend": "math"},
    {"compile": "regional", "compile_backend": "eager"},
    {"compile": "full", "compile_backend": "eager", "channels_last": True},
], ids=["layout-fuse-sdpa", "compile-regional", "compile-full"])
def test_kernel_levers_match_within_float32_rounding(tiny, product, reference, accel, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    backend = _backend(tiny, accel)
    images = _images(backend, placed, control, seed=3)
    for got, want in zip(images, reference[0], strict=True):
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= 2 and diff.mean() < 0.05, (diff.max(), diff.mean())
    applied = backend._entry.value.accel.applied
    if "fuse_qkv" in accel:  # the tiny preset has an IP-Adapter: its processors stay, the UNet is not fused
        assert applied["fuse_qkv"] == ["vae", "controlnet0", "controlnet1"]
    if "compile" in accel:
        assert applied["compile"]["how"] == accel["compile"] and applied["compile"]["modules"]
        bucket = backend._entry.value.accel.buckets
        assert sum(b.calls for b in bucket.values()) >= 2


def _seed_gap(reference) -> float:
    """How far apart two seeds' scenes are: the scale an approximation must stay well inside."""
    return float(np.abs(reference[0][0].astype(int) - reference[0][1]).mean())


def test_deepcache_skips_deep_blocks_and_stays_closer_than_another_seed(tiny, product, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    exact = _images(_backend(tiny, {}, steps=4), placed, control, seed=3)
    backend = _backend(tiny, {"deepcache_interval": 2}, steps=4)
    state = backend._entry.value.accel
    runs_before = state.controlnet.runs
    approx = _images(backend, placed, control, seed=3)
    assert (state.deepcache.full_steps, state.deepcache.cached_steps) == (4, 4)  # 2 calls x (2 full + 2 cached)
    assert state.controlnet.runs - runs_before < 2 * 4 * 2  # residuals reused on cached steps
    change = float(np.abs(approx[0].astype(int) - exact[0]).mean())
    assert 0.0 < change < _seed_gap((exact,)), change


def test_controlnet_stop_at_runs_fewer_controlnets(tiny, product, reference, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    backend = _backend(tiny, {"controlnet_stop_at": 0.5})
    runner = backend._entry.value.accel.controlnet
    before = runner.runs
    approx = _images(backend, placed, control, seed=3)
    assert runner.runs - before == 2 * 2  # 2 calls, both nets at step 0 only
    change = float(np.abs(approx[0].astype(int) - reference[0][0]).mean())
    assert 0.0 < change < _seed_gap(reference), change


def test_controlnet_window_caps_and_turns_off():
    spec = ControlNetSpec(name="canny", source="/x", conditioning_scale=0.5, guidance_start=0.2, guidance_end=0.9)
    assert controlnet_window(spec, None) == (0.5, 0.2, 0.9)
    assert controlnet_window(spec, 0.95) == (0.5, 0.2, 0.9)
    assert controlnet_window(spec, 0.6) == (0.5, 0.2, 0.6)
    assert controlnet_window(spec, 0.1) == (0.0, 0.2, 0.9)  # closes before it opens: off


def test_vae_tiling_changes_little(tiny, product, reference, monkeypatch_module):  # noqa: F811
    placed, control, _ = product
    backend = _backend(tiny, {"vae_tiling": "on"})  # the tiny VAE tiles above 64 px; the work frame is 104x80
    approx = _images(backend, placed, control, seed=3)
    assert backend._entry.value.pipe.vae.use_tiling
    change = float(np.abs(approx[0].astype(int) - reference[0][0]).mean())
    assert 0.0 < change < _seed_gap(reference), change


def test_accel_switches_are_validated_and_in_the_presets(tiny):
    with pytest.raises(ValueError, match="deepcache_interval"):
        diffusion_config(_config(tiny, accel={"deepcache_interval": 0}))
    with pytest.raises(ValueError, match="Extra inputs"):
        diffusion_config(_config(tiny, accel={"tensorrt": True}))
    assert diffusion_config(_config(tiny, accel={"compile": False, "vae_tiling": False})).accel.compile == "off"  # YAML off
    for family in ("sd15", "sdxl"):  # the family presets list the defaults
        assert diffusion_config(load_config(CONFIGS / f"{family}.yaml")).accel == AccelConfig()
    fast = diffusion_config(load_config(CONFIGS / "fast.yaml"))
    assert fast.accel.exact and fast.accel.channels_last and fast.accel.compile == "regional"
    assert diffusion_config(load_config(CONFIGS / "fast-sdxl.yaml")).family == "sdxl"
    approx = diffusion_config(load_config(CONFIGS / "fast-approx.yaml"))
    assert not approx.accel.exact and approx.accel.deepcache_interval > 1 and approx.steps < fast.steps
    assert approx.accel.channels_last  # extends fast.yaml


def test_cuda_graphs_replay_semantics_bit_identical(tiny, product, reference, monkeypatch):  # noqa: F811
    """With a CPU stand-in that has a graph's semantics (static input buffers, outputs overwritten
    on every replay), the backend's output is unchanged: nothing reads a stale graph output."""
    import pipeline.scene.diffusion.accel as accel
    from pipeline.scene.diffusion.cuda_graphs import eager_capture

    placed, control, _ = product
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(accel, "CPU_CAPTURE", eager_capture)
    backend = _backend(tiny, {"cuda_graphs": True})
    state = backend._entry.value.accel
    images = _images(backend, placed, control, seed=3)
    for got, want in zip(images, reference[0], strict=True):
        np.testing.assert_array_equal(got, want)
    unet, canny, depth = state.graphs
    assert (unet.captures, unet.replays) == (1, 4)  # one bucket; 2 calls x 2 steps
    assert (canny.replays, depth.replays) == (2, 4)  # canny's window closes before the second step
    assert "cache_control_embeddings" not in state.applied  # a cache inside a graph would go stale


def test_cuda_graphs_ignored_on_cpu_and_validated(tiny, monkeypatch_module):  # noqa: F811
    backend = _backend(tiny, {"cuda_graphs": True, "sdpa_backend": "auto"}, ip_adapters=0)
    assert backend._entry.value.accel.applied["cuda_graphs"].startswith("ignored")
    with pytest.raises(ValueError, match="do not combine"):
        AccelConfig(cuda_graphs=True, deepcache_interval=2)
    with pytest.raises(ValueError, match="reduce-overhead"):
        AccelConfig(cuda_graphs=True, compile="full")


def test_graphed_forward_aliases_outputs_and_falls_back(caplog):
    import torch

    from pipeline.scene.diffusion.cuda_graphs import GraphedForward, eager_capture

    lin = torch.nn.Linear(3, 2)
    graphed = GraphedForward(lin, "lin", eager_capture)
    with torch.inference_mode():
        x1, x2 = torch.randn(4, 3), torch.randn(4, 3)
        a = lin(x1).clone()
        b = lin(x2)
        np.testing.assert_allclose(a.numpy(), (x1 @ lin.weight.T + lin.bias).numpy(), rtol=1e-6)
        np.testing.assert_allclose(b.numpy(), (x2 @ lin.weight.T + lin.bias).numpy(), rtol=1e-6)
        assert lin(x1) is b  # the same output tensor, overwritten: as a CUDA graph does
        assert graphed.captures == 1 and graphed.replays == 3
        lin(torch.randn(5, 3))  # a new shape: a new graph
        assert graphed.captures == 2

    def broken(*_):
        raise RuntimeError("operation not permitted when stream is capturing")

    other = torch.nn.Linear(3, 2)
    GraphedForward(other, "other", broken)
    with torch.inference_mode():
        y = other(x1)
        np.testing.assert_allclose(y.numpy(), (x1 @ other.weight.T + other.bias).numpy(), rtol=1e-6)
    assert "not captured" in caplog.text


def _replaced(placed, size, scale: float):
    """The same product placed at another size / scale, with its control maps."""
    from pipeline.config import ControlConfig, PlacementConfig
    from pipeline.control.depth import PseudoDepth
    from pipeline.control.maps import build_control_maps
    from pipeline.place.placement import compute_placement, place_product

    moved = place_product(placed.rgb, placed.alpha, compute_placement(placed.mask, PlacementConfig(
        size=size, product_scale=scale)), ())
    return moved, build_control_maps(moved, PseudoDepth(), ControlConfig())


def test_products_of_one_size_share_a_pipeline_call(tiny, product, monkeypatch_module):  # noqa: F811
    from pipeline.scene.diffusion.backend import SceneRequest

    placed, control, _ = product
    other, other_control = _replaced(placed, (100, 76), 0.6)  # same size: same bucket
    small, small_control = _replaced(placed, (96, 72), 0.6)  # another bucket
    backend = _backend(tiny, {}, batch_size=2)
    unet_calls = _count_calls(backend._entry.value.pipe.unet)
    requests = [SceneRequest(placed, control, THEME, 3, META), SceneRequest(small, small_control, THEME, 5, META),
                SceneRequest(other, other_control, THEME, 4, META)]
    batched = backend.generate_batch(requests)
    assert unet_calls[0] == 2 + 2  # one call for the two 100x76 products, one for the 96x72 one (2 steps each)
    assert [r.info["seed"] for r in batched] == [3, 5, 4] and batched[1].image.shape == (72, 96, 3)
    for req, got in zip(requests, batched, strict=True):
        solo = backend(req.placed, req.control, THEME, seed=req.seed, item_meta=META).image
        diff = np.abs(got.image.astype(int) - solo)
        assert got.image.shape == solo.shape and diff.max() <= 2 and diff.mean() < 0.05, (diff.max(), diff.mean())
