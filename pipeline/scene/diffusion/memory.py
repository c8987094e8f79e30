"""Expected memory of one worker process running the diffusion backend (issue 19 point 4).

Two parts, because they behave differently when ``run --workers N`` starts N processes:

- ``weights_bytes``: the model weights. diffusers and transformers load safetensors files by
  memory-mapping them; when the file's dtype is the run's dtype the tensors stay views of the
  mapping, so the weights are file-backed pages in the page cache (resident once a first image
  has touched them), counted in every worker's RSS but stored once for all workers that load the
  same files (``SHARED_WEIGHTS``). Weights rewritten at load are private copies instead: a float16
  file run in float32, and the ``channels_last`` / ``fuse_qkv`` levers (off by default).
- ``private_bytes``: everything else, per worker: the torch runtime, copied tensors and the
  activations of one pipeline call, which grow with the work size and the batch.

The parameter counts are those of the published architectures (bench/arch.py builds them); the
working memory was measured on the CPU in float32 with bench/cpu_real_size.py (SD1.5, 768 px
work, 1024 px output, 2 steps; see bench/RESULTS.md). GPU memory is not measured (no GPU run yet):
:func:`diffusion_worker_memory` answers for the CPU only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.diffusion import DiffusionConfig

GIB = 2**30
# Parameters per model, counted on the full-size architectures of bench/arch.py (torch "meta" device).
PARAMS: dict[str, dict[str, int]] = {
    "sd15": {"unet": 859_535_364, "controlnet": 361_279_120, "vae": 83_653_863, "text_encoders": 123_060_480,
             "image_encoder": 632_076_800, "ip_adapter": 22_319_616},
    "sdxl": {"unet": 2_567_478_084, "controlnet": 1_251_014_160, "vae": 83_653_863,
             "text_encoders": 123_060_480 + 694_659_840, "image_encoder": 1_844_907_264, "ip_adapter": 351_285_248},
}
BYTES_PER_PARAM = {"float32": 4, "float16": 2, "bfloat16": 2}
# Measured (bench/cpu_real_size.py, SD1.5, CPU float32, 768^2 work, see bench/RESULTS.md): peak anonymous
# memory of one worker at batch 1, and what each further image in a pipeline call adds.
PRIVATE_BASE_BYTES = int(4.2 * GIB)  # measured: 3.53 GiB in exact mode, 4.13 GiB in harmonised mode (relight pass)
PRIVATE_PER_IMAGE_BYTES = int(1.9 * GIB)  # measured 5.37 GiB in exact mode at 2 images per call: +1.84 GiB
MEASURED_WORK_PIXELS = 768 * 768
# Whether N processes that map the same safetensors files share their pages. Measured with
# ``bench/cpu_real_size.py --share 2`` (two processes, each loading SD1.5 and reading every weight): RSS
# 9.82 GiB each, PSS 5.07 GiB each, 9.33 GiB of each RSS "Shared_Clean": the weights are stored once.
SHARED_WEIGHTS = True


@dataclass(frozen=True)
class WorkerMemory:
    """Bytes one diffusion worker needs: ``weights_bytes`` shared by all workers that load the same
    files (when ``SHARED_WEIGHTS``), ``private_bytes`` each. ``measured``: False where the numbers
    are scaled from the SD1.5 measurement rather than measured."""

    weights_bytes: int
    private_bytes: int
    measured: bool

    @property
    def resident_bytes(self) -> int:
        """What one worker's RSS peaks at (weights included)."""
        return self.weights_bytes + self.private_bytes

    def total_bytes(self, workers: int) -> int:
        """Memory ``workers`` processes need together."""
        shared = self.weights_bytes if SHARED_WEIGHTS else workers * self.weights_bytes
        return shared + workers * self.private_bytes

    def workers_fitting(self, available_bytes: int) -> int:
        """How many workers fit in ``available_bytes`` (at least 1)."""
        if SHARED_WEIGHTS:
            return max(1, (available_bytes - self.weights_bytes) // self.private_bytes)
        return max(1, available_bytes // self.resident_bytes)


def weights_bytes(cfg: DiffusionConfig, dtype: str) -> int:
    """The configured models' weights in ``dtype``: base UNet, VAE, text encoders, one ControlNet per
    entry, and the IP-Adapters with their image encoder."""
    p = PARAMS[cfg.family]
    n = p["unet"] + p["vae"] + p["text_encoders"] + len(cfg.controlnets) * p["controlnet"]
    if cfg.ip_adapters:
        n += p["image_encoder"] + len(cfg.ip_adapters) * p["ip_adapter"]
    return n * BYTES_PER_PARAM[dtype]


def diffusion_worker_memory(cfg: DiffusionConfig, dtype: str) -> WorkerMemory:
    """Expected memory of one CPU worker for ``cfg`` in ``dtype`` (see the module docstring).

    The private part scales with the work frame's pixels and with ``batch_size``; it was measured
    for SD1.5 only (``measured`` is False for SDXL, whose activations are larger per pixel).
    """
    side = cfg.work_long_side or 1024  # None: the output size (1024 px in the presets)
    scale = side * side / MEASURED_WORK_PIXELS
    private = PRIVATE_BASE_BYTES + (cfg.batch_size - 1) * PRIVATE_PER_IMAGE_BYTES
    return WorkerMemory(weights_bytes=weights_bytes(cfg, dtype), private_bytes=int(private * max(scale, 1.0)),
                        measured=cfg.family == "sd15" and side == 768 and cfg.batch_size <= 2)
