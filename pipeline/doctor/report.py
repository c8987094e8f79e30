"""``product-scene doctor``: every check for a config, and the plain-text table the CLI prints."""

from __future__ import annotations

from pipeline.config import PipelineConfig, load_config
from pipeline.config.bundled import bundled_file
from pipeline.doctor.backends import (
    check_depth_model,
    check_device,
    check_diffusion,
    check_fused,
    check_hub,
    check_onnx,
    check_packages,
    check_sam,
    check_worker_memory,
)
from pipeline.doctor.orchestration import check_orchestration
from pipeline.doctor.result import DoctorCheck

PRESETS = ("sd15.yaml", "sdxl.yaml")
"""Shipped diffusion presets checked when the config has no ``backends.diffusion`` section."""


def run_doctor(config: PipelineConfig | None = None, *, bucket: str | None = None,
               endpoint_url: str | None = None) -> list[DoctorCheck]:
    """Every check for ``config`` (default config when None), then orchestration (Prefect, s3fs,
    the Prefect API, and ``bucket`` via ``endpoint_url`` when given). Loads no weights but the
    ONNX model."""
    config = config or PipelineConfig()
    checks = check_packages() + check_device(config) + [check_hub()]
    checks += [
        DoctorCheck("segment: classical", True, "no weights needed"),
        DoctorCheck("depth: pseudo", True, "no weights needed"),
        DoctorCheck("scene: studio", True, "no weights needed (CPU)"),
        check_sam(config),
        onnx := check_onnx(config),
        check_fused(onnx),
        check_depth_model(config),
    ]
    if config.backends.diffusion is not None:
        checks += [check_diffusion(config, "config"), check_worker_memory(config, "config")]
    else:
        for preset in PRESETS:
            preset_config = load_config(bundled_file(preset))
            checks += [check_diffusion(preset_config, preset), check_worker_memory(preset_config, preset)]
    return checks + check_orchestration(bucket, endpoint_url)


def format_doctor(checks: list[DoctorCheck]) -> str:
    """A plain-text table: ``ok``/``--`` per check, hints indented under failures."""
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"[{'ok' if c.ok else '--'}] {c.name.ljust(width)}  {c.detail}")
        if not c.ok and c.hint:
            lines.append(f"     {''.ljust(width)}  hint: {c.hint}")
    usable = [c.name for c in checks if c.ok and c.name.split(":")[0] in ("segment", "depth", "scene")]
    lines.append(f"usable backends: {', '.join(usable) if usable else 'none'}")
    return "\n".join(lines)
