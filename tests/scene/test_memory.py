"""Expected memory per diffusion worker (pipeline/scene/diffusion/memory.py) and its doctor line."""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.config.diffusion import diffusion_config
from pipeline.scene.diffusion.memory import GIB, PARAMS, WorkerMemory, diffusion_worker_memory, weights_bytes
from tests.scene.test_accel import CONFIGS


def test_parameter_table_matches_the_sd15_architecture():
    """PARAMS counts the full-size architectures bench/arch.py builds (on torch's meta device)."""
    import torch
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

    from bench.arch import IMAGE_ENCODERS, TEXT_ENCODERS, controlnet_config, unet_config, vae_config

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    hidden, layers, heads, inter, proj = TEXT_ENCODERS["full"]["sd15"]
    vh, vl, vheads, vinter, vproj, image_px, patch_px = IMAGE_ENCODERS["full"]["sd15"]
    with torch.device("meta"):
        counted = {
            "unet": count(UNet2DConditionModel(**unet_config("sd15", "full"))),
            "controlnet": count(ControlNetModel(**controlnet_config("sd15", "full"))),
            "vae": count(AutoencoderKL(**vae_config("sd15", "full"))),
            "text_encoders": count(CLIPTextModel(CLIPTextConfig(
                vocab_size=49408, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                num_attention_heads=heads, max_position_embeddings=77, projection_dim=proj))),  # CLIP ViT-L/14's vocabulary
            "image_encoder": count(CLIPVisionModelWithProjection(CLIPVisionConfig(
                hidden_size=vh, num_hidden_layers=vl, num_attention_heads=vheads, intermediate_size=vinter,
                projection_dim=vproj, image_size=image_px, patch_size=patch_px))),
        }
    assert {k: PARAMS["sd15"][k] for k in counted} == counted


def test_sd15_preset_on_the_cpu():
    cfg = diffusion_config(load_config(CONFIGS / "sd15.yaml"))
    mem = diffusion_worker_memory(cfg, "float32")
    assert 8.9 * GIB < mem.weights_bytes < 9.2 * GIB  # 2.44 billion parameters in float32
    assert mem.measured and mem.resident_bytes == mem.weights_bytes + mem.private_bytes
    assert weights_bytes(cfg, "float16") * 2 == mem.weights_bytes
    bigger = diffusion_worker_memory(cfg.model_copy(update={"batch_size": 2, "work_long_side": 1024}), "float32")
    assert bigger.private_bytes > mem.private_bytes and not bigger.measured
    no_ip = cfg.model_copy(update={"ip_adapters": ()})
    assert weights_bytes(no_ip, "float32") == mem.weights_bytes - 4 * (PARAMS["sd15"]["image_encoder"]
                                                                       + PARAMS["sd15"]["ip_adapter"])


@pytest.mark.parametrize("shared", [True, False])
def test_workers_fitting(monkeypatch, shared):
    import pipeline.scene.diffusion.memory as memory

    monkeypatch.setattr(memory, "SHARED_WEIGHTS", shared)
    mem = WorkerMemory(weights_bytes=9 * GIB, private_bytes=3 * GIB, measured=True)
    if shared:  # the mapped weights once, the private part per worker
        assert mem.total_bytes(2) == 15 * GIB and mem.workers_fitting(20 * GIB) == 3
    else:
        assert mem.total_bytes(2) == 24 * GIB and mem.workers_fitting(20 * GIB) == 1
    assert mem.workers_fitting(1 * GIB) == 1


def test_doctor_reports_memory_per_worker(monkeypatch):
    import pipeline.batch.pool as pool
    from pipeline.doctor.backends import check_worker_memory

    cpu = load_config(CONFIGS / "sd15.yaml").with_overrides({"run.device": "cpu", "run.dtype": "float32"})
    monkeypatch.setattr(pool, "available_memory", lambda: 24 * GIB)
    check = check_worker_memory(cpu, "sd15.yaml")
    assert check.ok and "memory-mapped weights, shared by the workers" in check.detail and "fit" in check.detail
    monkeypatch.setattr(pool, "available_memory", lambda: 4 * GIB)
    low = check_worker_memory(cpu, "sd15.yaml")
    assert not low.ok and "0 workers fit" in low.detail and low.hint
    gpu = check_worker_memory(load_config(CONFIGS / "sd15.yaml"), "sd15.yaml")
    assert gpu.ok and "not measured" in gpu.detail

