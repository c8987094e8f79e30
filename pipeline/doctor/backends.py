"""The doctor's backend checks: which backends are usable here, and what is missing for the others.

Checks packages and versions, the GPU and dtype support, the Hugging Face cache / offline mode,
orchestration (:mod:`pipeline.doctor.orchestration`: Prefect, s3fs, the API, a bucket),
and every model source the config names (SAM checkpoint, depth model, diffusion weights) —
found or not, without loading any weights (but the ONNX segmenter's session, opened to check
that it loads and to read its input shape). With no diffusion section in the config, the bundled
presets (configs/sd15.yaml, configs/sdxl.yaml) are checked instead.
"""

from __future__ import annotations

import importlib
import platform
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.doctor.result import DoctorCheck
from pipeline.errors import BackendUnavailableError

PACKAGES = (
    ("numpy", "core"),
    ("cv2", "core"),
    ("torch", "diffusion, sam, depth model"),
    ("diffusers", "diffusion"),
    ("transformers", "diffusion, depth model"),
    ("safetensors", "diffusion, sam, depth model"),
    ("huggingface_hub", "diffusion, depth model"),
    ("accelerate", "diffusion (faster loading)"),
    ("segment_anything", "sam"),
    ("onnxruntime", "onnx segmentation"),
)


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - any import failure means "not usable"
        return None
    return str(getattr(mod, "__version__", "installed"))


def check_packages() -> list[DoctorCheck]:
    out = [DoctorCheck("python", True, platform.python_version())]
    for module, used_by in PACKAGES:
        version = _version(module)
        pip = {"cv2": "opencv-python-headless", "segment_anything": "segment-anything"}.get(module, module)
        out.append(DoctorCheck(f"package {module}", version is not None, version or "not installed",
                               "" if version else f"pip install {pip}  (needed by: {used_by})"))
    return out


def check_device(config: PipelineConfig) -> list[DoctorCheck]:
    """GPU presence, and whether ``run.device``/``run.dtype`` work here."""
    if _version("torch") is None:
        return [DoctorCheck("gpu", False, "torch not installed", "pip install torch")]
    import torch

    from pipeline.models.devices import resolve_device, resolve_dtype

    checks = []
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        mem = torch.cuda.get_device_properties(0).total_memory / 2**30
        bf16 = torch.cuda.is_bf16_supported()
        checks.append(DoctorCheck("gpu", True, f"CUDA {torch.version.cuda}: {', '.join(names)}; {mem:.0f} GiB; "
                                               f"float16 yes, bfloat16 {'yes' if bf16 else 'no'}"))
    elif torch.backends.mps.is_available():
        checks.append(DoctorCheck("gpu", True, "Apple MPS (float16)"))
    else:
        checks.append(DoctorCheck("gpu", False, "no CUDA/MPS device: CPU only, float32",
                                  "diffusion runs on the CPU in float32 but takes minutes per image"))
    try:
        dev = resolve_device(config.run.device)
        resolve_dtype(config.run.dtype, dev)
        checks.append(DoctorCheck("run device/dtype", True, f"{config.run.device} / {config.run.dtype}"))
    except (ValueError, BackendUnavailableError) as exc:
        checks.append(DoctorCheck("run device/dtype", False, str(exc),
                                  "set run.device: cpu and run.dtype: float32, or run on a GPU machine"))
    return checks


def check_hub() -> DoctorCheck:
    if _version("huggingface_hub") is None:
        return DoctorCheck("hub cache", False, "huggingface_hub not installed", "pip install huggingface_hub")
    from huggingface_hub import constants

    from pipeline.models.sources import hub_offline

    mode = "offline (nothing is downloaded)" if hub_offline() else "online (missing weights download on first use)"
    return DoctorCheck("hub cache", True, f"{constants.HF_HUB_CACHE}; {mode}")


def check_sam(config: PipelineConfig) -> DoctorCheck:
    seg = config.segment
    if _version("segment_anything") is None:
        return DoctorCheck("segment: sam", False, "segment-anything not installed", "pip install segment-anything")
    if not seg.sam_checkpoint:
        return DoctorCheck("segment: sam", False, "segment.sam_checkpoint not set (falls back to classical)",
                           "download sam_vit_b_01ec64.pth (or sam_vit_h_4b8939.pth) from "
                           "https://github.com/facebookresearch/segment-anything#model-checkpoints and set "
                           "segment.sam_checkpoint + segment.sam_model_type")
    path = Path(seg.sam_checkpoint).expanduser()
    if not path.is_file():
        return DoctorCheck("segment: sam", False, f"checkpoint not found: {path}", "fix segment.sam_checkpoint")
    return DoctorCheck("segment: sam", True, f"{seg.sam_model_type} checkpoint {path} ({path.stat().st_size / 2**20:.0f} MiB)")


def check_onnx(config: PipelineConfig) -> DoctorCheck:
    """onnxruntime's version and providers; the configured model: found, loads, its input shape."""
    name = "segment: onnx"
    if _version("onnxruntime") is None:
        return DoctorCheck(name, False, "onnxruntime not installed", "pip install 'product-scene[onnx]'")
    import onnxruntime as ort

    from pipeline.segment.onnx import open_onnx_model

    runtime = f"onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())})"
    model, family, error = open_onnx_model(config.segment, config.run.device)
    if error:
        return DoctorCheck(name, False, f"{runtime}; {error} (falls back to classical)",
                           "download a model, e.g. isnet-general-use.onnx from "
                           "https://github.com/danielgatis/rembg/releases/tag/v0.0.0, and set segment.onnx_model "
                           "(+ segment.onnx_family unless the file keeps its published name); see README")
    layout = model.value[1]
    return DoctorCheck(name, True, f"{runtime}; {family}: {model.provenance['path']} loads, {layout.describe()}, "
                                   f"runs on {model.provenance['providers'][0]}")


def check_fused(onnx: DoctorCheck) -> DoctorCheck:
    """``segment: fused`` runs the classical segmenter and the ONNX model: usable when ``onnx`` is."""
    if onnx.ok:
        return DoctorCheck("segment: fused", True, "classical + the ONNX model above, fused region by region")
    return DoctorCheck("segment: fused", False, "needs the ONNX model (falls back to classical)", onnx.hint)


def check_depth_model(config: PipelineConfig) -> DoctorCheck:
    from pipeline.models.sources import ModelSource, resolve_source

    spec = config.control.depth_model
    if not spec:
        return DoctorCheck("depth: model", False, "control.depth_model not set (pseudo-depth is used)",
                           "set control.depth_backend: model and control.depth_model: "
                           "depth-anything/Depth-Anything-V2-Small-hf (or a local folder)")
    try:
        r = resolve_source(ModelSource.model_validate(spec), local_files_only=True)
    except (ValueError, BackendUnavailableError) as exc:
        return DoctorCheck("depth: model", False, str(exc), "download the model or fix control.depth_model")
    return DoctorCheck("depth: model", True, f"{spec} ({r.kind})")


def check_diffusion(config: PipelineConfig, label: str) -> DoctorCheck:
    """Validate ``backends.diffusion`` and find every weight it names (nothing is loaded)."""
    name = f"scene: diffusion [{label}]"
    for module in ("torch", "diffusers", "transformers"):
        if _version(module) is None:
            return DoctorCheck(name, False, f"{module} not installed", f"pip install {module}")
    from pipeline.config.diffusion import diffusion_config
    from pipeline.models.sources import hub_offline, resolve_source
    from pipeline.scene.diffusion.pipelines import image_encoder_source, ip_weight_source

    try:
        cfg = diffusion_config(config)
    except ValueError as exc:
        return DoctorCheck(name, False, str(exc), "fix the config")
    sources = [("base", cfg.base)] + ([("vae", cfg.vae)] if cfg.vae else [])
    sources += [(f"controlnet {c.name}", c.source) for c in cfg.controlnets]
    sources += [(f"ip-adapter {s.weight_name}", ip_weight_source(s)) for s in cfg.ip_adapters]
    if cfg.ip_adapters:
        sources.append(("image encoder", image_encoder_source(cfg)))
    missing, to_fetch = [], []
    for what, src in sources:
        try:  # local_files_only: the doctor never downloads
            resolve_source(src, cache_dir=cfg.cache_dir, local_files_only=True)
        except BackendUnavailableError:
            (missing if hub_offline(cfg.local_files_only) or src.repo is None else to_fetch).append(f"{what} ({src.describe()})")
        except ValueError as exc:
            missing.append(f"{what}: {exc}")
    if missing:
        repos = sorted({s.repo for _, s in sources if s.repo})
        hint = "on a machine with hub access: " + "; ".join(f"huggingface-cli download {r}" for r in repos)
        return DoctorCheck(name, False, f"{len(missing)} of {len(sources)} weights missing: " + ", ".join(missing), hint)
    if to_fetch:
        return DoctorCheck(name, False, f"{cfg.family}: {len(to_fetch)} of {len(sources)} weights not in the HF cache "
                                        f"(downloaded on first use if the hub is reachable): " + ", ".join(to_fetch),
                           "pre-download with huggingface-cli download, then run with HF_HUB_OFFLINE=1")
    return DoctorCheck(name, True, f"{cfg.family}: all {len(sources)} weights found")


def check_worker_memory(config: PipelineConfig, label: str) -> DoctorCheck:
    """Expected memory per worker of the configured diffusion backend (estimated, loads nothing):
    the mapped weights (shared by workers that load the same files) and each worker's own part,
    against the memory available here. On a GPU only the host side is known: GPU memory is not
    measured yet."""
    name = f"memory per worker [{label}]"
    from pipeline.batch.pool import available_memory
    from pipeline.config.diffusion import diffusion_config
    from pipeline.scene.diffusion.memory import GIB, diffusion_worker_memory

    try:
        cfg = diffusion_config(config)
    except ValueError as exc:
        return DoctorCheck(name, False, str(exc), "fix the config")
    device, dtype = cfg.run_device(config), cfg.run_dtype(config)
    if device != "cpu":
        return DoctorCheck(name, True, f"{cfg.family} on {device}/{dtype}: GPU memory per worker not measured yet "
                                       "(one worker per GPU)")
    mem = diffusion_worker_memory(cfg, dtype)
    work = cfg.work_long_side or "output-size"
    detail = (f"{cfg.family} on cpu/{dtype}, {work} px work, batch {cfg.batch_size}: about "
              f"{mem.resident_bytes / GIB:.1f} GiB resident per worker ({mem.weights_bytes / GIB:.1f} GiB memory-mapped "
              f"weights, shared by the workers; {mem.private_bytes / GIB:.1f} GiB each)"
              + ("" if mem.measured else "; scaled from the SD1.5 768 px measurement"))
    available = available_memory()
    if available is None:
        return DoctorCheck(name, True, detail)
    fits = mem.workers_fitting(available) if available >= mem.resident_bytes else 0
    detail += f"; {available / GIB:.1f} GiB available here: {fits} worker{'s fit' if fits != 1 else ' fits'}"
    return DoctorCheck(name, fits >= 1, detail, "" if fits else "use a machine with more memory, a GPU, or the "
                       "studio backend (about 1 GiB per worker)")

