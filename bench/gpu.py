"""Stock diffusers vs this project's diffusion backend, side by side, on full-size random weights.

Builds the SD1.5 and SDXL ControlNet-inpaint architectures (UNet with 9 input channels, two
ControlNets, VAE; prompt embeddings given, so text encoding is not timed) with random weights
directly on the device, and in one run times, for each workload (resolution, batch):

- ``stock``: diffusers' StableDiffusion(XL)ControlNetInpaintPipeline, called directly;
- ``ours`` and its lever rows: the same modules driven by ``DiffusionBackend`` (the code users run)
  with the ``backends.diffusion.accel`` switches of that row.

Settings (the issue's): float16, two ControlNets, UniPC, CFG 7.5, 20 steps, strength 1.0.
Equality checks in the same run: exact rows report max / mean |difference| against stock under the
same seeds (float16 tolerance); approximation rows (``--approx``) report the product region's
consistency metrics and a perceptual distance (1 - SSIM, mean CIEDE2000) between the two scenes.
The table is printed last; ``--results`` appends it to bench/RESULTS.md with date, card and commit;
``--out`` writes every number as JSON.

    python bench/gpu.py --device cuda --out gpu.json --results bench/RESULTS.md   # on a GPU
    python bench/gpu.py --tiny --out /tmp/gpu.json                                # CPU smoke test

``--tiny`` (chosen automatically with ``--device cpu``) runs the same code on the tiny shapes of
tests/fixtures/tiny_models.py in float32 with 2 steps: a check that it runs, not a measurement.
Timing does not depend on the weight values; quality does (random weights paint noise).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np

logger = logging.getLogger("bench.gpu")

# name -> (family, side px at full size, batch); tiny sizes are side / 8.
WORKLOADS: dict[str, tuple[str, int, int]] = {
    "sd15-512-b1": ("sd15", 512, 1),
    "sd15-512-b4": ("sd15", 512, 4),
    "sd15-768-b1": ("sd15", 768, 1),
    "sdxl-1024-b1": ("sdxl", 1024, 1),
}
GOALS_S_PER_IMAGE = {"sd15-512-b1": 0.35, "sd15-512-b4": 0.12, "sd15-768-b1": 0.5, "sdxl-1024-b1": 1.0}
# The issue's stock measurements on an H100 (diffusers 0.42.1, 2026-11-27), for reference only.
ISSUE_STOCK_H100 = {"sd15-512-b1": 1.33, "sd15-512-b4": 0.39, "sd15-768-b1": 1.40, "sdxl-1024-b1": 3.55}

KERNELS = {"channels_last": True, "fuse_qkv": True}


@dataclass(frozen=True)
class Row:
    """One configuration to time. accel: backends.diffusion.accel switches (None: stock diffusers)."""

    name: str
    accel: dict[str, Any] | None
    approx: bool = False
    steps: int | None = None  # None: the run's --steps


ROWS: dict[str, Row] = {r.name: r for r in (
    Row("stock", None),
    Row("ours", {}),
    Row("ours+kernels", dict(KERNELS)),
    Row("ours+graphs", {**KERNELS, "cuda_graphs": True}),
    Row("ours+compile+graphs", {**KERNELS, "compile": "regional", "cuda_graphs": True}),
    Row("ours+compile", {**KERNELS, "compile": "regional"}),
    Row("ours+compile-full-ro", {**KERNELS, "compile": "full", "compile_mode": "reduce-overhead"}),
    Row("approx:deepcache3", {**KERNELS, "deepcache_interval": 3}, approx=True),
    Row("approx:cn-stop0.6", {**KERNELS, "cuda_graphs": True, "controlnet_stop_at": 0.6}, approx=True),
    Row("approx:steps10", {**KERNELS, "cuda_graphs": True}, approx=True, steps=10),
)}
# Cheapest one-time cost first: a run cut short by --budget-s still has the rows that matter most.
DEFAULT_ROWS = ("stock", "ours", "ours+kernels", "ours+graphs", "ours+compile+graphs")
APPROX_ROWS = ("approx:deepcache3", "approx:cn-stop0.6", "approx:steps10")
CONTROL_SCALES = (0.5, 0.6)


@dataclass
class Result:
    workload: str
    row: str
    status: str = "ok"
    s_per_call: float | None = None
    s_per_image: float | None = None
    first_call_s: float | None = None
    calls_s: list[float] = field(default_factory=list)
    peak_gib: float | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    repeat_max_abs_diff: float | None = None
    approx: dict[str, Any] | None = None
    applied: dict[str, Any] | None = None


# ------------------------------------------------------------------------------------ inputs


@dataclass
class Workload:
    name: str
    family: str
    side: int
    batch: int
    inputs: Any  # DiffusionInputs at side x side
    placed: Any
    background: tuple[float, float, float]


def make_workload(name: str, tiny: bool) -> Workload:
    """A generated sample product, segmented, placed and turned into pipeline inputs (the user path)."""
    from pipeline.config import ControlConfig, PlacementConfig
    from pipeline.control.depth import PseudoDepth
    from pipeline.control.maps import build_control_maps
    from pipeline.place.placement import compute_placement, place_product
    from pipeline.samples.render import render_sample
    from pipeline.scene.diffusion.inputs import prepare_inputs
    from pipeline.segment.classical import ClassicalSegmenter

    family, side, batch = WORKLOADS[name]
    side = side // 8 if tiny else side
    sample = render_sample("bottle_teal", seed=0)
    seg = ClassicalSegmenter()(sample.rgb)
    placement = compute_placement(seg.mask, PlacementConfig(size=(side, side), product_scale=0.6))
    placed = place_product(seg.foreground, seg.alpha, placement, ())
    control = build_control_maps(placed, PseudoDepth(), ControlConfig())
    inputs = prepare_inputs(backend_config(family, {}, 20), placed, control, bench_theme(), sample.meta)
    return Workload(name, family, side, batch, inputs, placed, seg.background_rgb)


def bench_theme() -> Any:
    from pipeline.config.themes import Theme

    return Theme(name="bench", surface="sweep", colors=("#d8d4cc", "#bdb6aa"),
                 prompt="a {category} on a stone counter, soft daylight", negative_prompt="blurry, text")


def backend_config(family: str, accel: dict[str, Any], steps: int) -> Any:
    from pipeline.config.diffusion import DiffusionConfig

    return DiffusionConfig.model_validate({
        "family": family, "base": {"path": "random-weights"}, "scheduler": "unipc", "steps": steps,
        "guidance_scale": 7.5, "strength": 1.0, "batch_size": 4, "work_long_side": None,
        "controlnets": [
            {"name": "canny", "source": {"path": "random-weights"}, "conditioning_scale": CONTROL_SCALES[0]},
            {"name": "depth", "source": {"path": "random-weights"}, "conditioning_scale": CONTROL_SCALES[1]},
        ],
        "accel": accel,
    })


# ------------------------------------------------------------------------------------ runners


class Runner:
    """Builds one row's pipeline for one family and runs workloads through it."""

    def __init__(self, row: Row, family: str, size: str, device: str, dtype: Any, steps: int) -> None:
        from bench.arch import build_modules, prompt_embeddings, stock_pipeline

        self.row, self.family, self.device, self.tiny = row, family, device, size == "tiny"
        self.steps = row.steps or steps
        self.embeds = prompt_embeddings(family, size, device, dtype)
        self.pipe = stock_pipeline(family, build_modules(family, size, device, dtype))
        self.backend = None
        if row.accel is not None:
            self.backend = self._backend(row, dtype)

    def _backend(self, row: Row, dtype: Any) -> Any:
        from pipeline.models.cache import CachedModel
        from pipeline.scene.diffusion.accel import does_cfg, prepare_pipeline, prompt_key
        from pipeline.scene.diffusion.backend import DiffusionBackend
        from pipeline.scene.diffusion.pipelines import LoadedPipeline

        accel_cfg = dict(row.accel)
        if self.tiny and accel_cfg.get("compile", "off") != "off":
            accel_cfg["compile_backend"] = "eager"  # trace only: a smoke test, not minutes of CPU codegen
        cfg = backend_config(self.family, accel_cfg, self.steps)
        accel = prepare_pipeline(self.pipe, cfg.accel, n_ip_adapters=0, union=False)
        loaded = LoadedPipeline(pipe=self.pipe, family=self.family, union=False,
                                scheduler_config=dict(self.pipe.scheduler.config), control_names=("canny", "depth"),
                                n_ip_adapters=0, device=self.device, dtype=str(dtype).removeprefix("torch."),
                                accel=accel)
        self._prompt_key = partial(prompt_key, clip_skip=cfg.clip_skip, do_cfg=does_cfg(self.pipe, cfg.guidance_scale))
        self._accel = accel
        return DiffusionBackend(cfg, CachedModel(key=f"bench-{row.name}", value=loaded), "exact")

    def __call__(self, work: Workload, seeds: list[int]) -> list[np.ndarray]:
        if self.backend is not None:
            # prompt embeddings given: cached per theme, as across a batch of products
            self._accel.put_prompt(self._prompt_key(work.inputs.prompt, work.inputs.negative_prompt), self.embeds)
            return self.backend.run_inputs(work.inputs, seeds)
        return self._stock(work, seeds)

    def _stock(self, work: Workload, seeds: list[int]) -> list[np.ndarray]:
        import torch

        from pipeline.models.devices import generator_device
        from pipeline.scene.diffusion.accel import to_pil

        inp = work.inputs
        gdev = generator_device(self.pipe.unet.device)
        with torch.inference_mode():
            out = self.pipe(
                image=to_pil(inp.init_image), mask_image=to_pil(inp.inpaint_mask.astype(np.uint8) * 255),
                control_image=[to_pil(c) for c in inp.control_images], height=work.side, width=work.side,
                strength=1.0, num_inference_steps=self.steps, guidance_scale=7.5,
                num_images_per_prompt=len(seeds), generator=[torch.Generator(gdev).manual_seed(s) for s in seeds],
                controlnet_conditioning_scale=list(CONTROL_SCALES), control_guidance_start=[0.0, 0.0],
                control_guidance_end=[1.0, 1.0], output_type="np", **self.embeds,
            )
        return [np.clip(im * 255.0 + 0.5, 0, 255).astype(np.uint8) for im in out.images]


# ------------------------------------------------------------------------------------ metrics


def diff_stats(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[float, float]:
    """(max, mean) |a - b| in 8-bit levels over all images."""
    d = np.concatenate([np.abs(x.astype(np.int16) - y).ravel() for x, y in zip(a, b, strict=True)])
    return float(d.max()), float(d.mean())


def approx_report(work: Workload, stock: np.ndarray, scene: np.ndarray) -> dict[str, Any]:
    """What an approximation changes: the gate metrics of the product region (after the exact
    paste-back) for both scenes, and a perceptual distance between the scenes."""
    from skimage.color import deltaE_ciede2000, rgb2lab
    from skimage.metrics import structural_similarity

    from pipeline.config import PipelineConfig
    from pipeline.restore import restore_product
    from pipeline.score import apply_gate, score_composite
    from pipeline.types import SceneResult

    config = PipelineConfig()
    out: dict[str, Any] = {}
    for name, image in (("stock", stock), ("approx", scene)):
        result = SceneResult(image=image, backend="diffusion", product_altered=False, info={})
        composite = restore_product(result, work.placed, config.restore)
        metrics = score_composite(work.placed, composite, image, work.background, config.score)
        out[name] = {"metrics": metrics.as_dict(), "gate_passed": apply_gate(metrics, config.score.gate).passed}
    gray = [np.asarray(x, np.float64).mean(axis=2) for x in (stock, scene)]
    out["one_minus_ssim"] = float(1.0 - structural_similarity(gray[0], gray[1], data_range=255.0))
    out["delta_e00_mean"] = float(deltaE_ciede2000(rgb2lab(stock), rgb2lab(scene)).mean())
    return out


def peak_gib(device: str) -> float | None:
    import torch

    if not device.startswith("cuda"):
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------ driver


def run(args: argparse.Namespace, on_progress: Any = None) -> dict[str, Any]:
    """Time every (row, workload); ``on_progress(report)`` after each row and family (partial saves)."""
    import torch

    tiny = args.tiny
    size = "tiny" if tiny else "full"
    dtype = torch.float32 if tiny else getattr(torch, args.dtype)
    steps = 2 if tiny and args.steps is None else (args.steps or 20)
    repeats = 1 if tiny and args.repeats is None else (args.repeats or 3)
    rows = [ROWS[r] for r in args.rows]
    works = {name: make_workload(name, tiny) for name in args.workloads}
    families = [f for f in ("sd15", "sdxl") if any(WORKLOADS[w][0] == f for w in works)]
    t_start = time.perf_counter()
    results: list[Result] = []
    stock_images: dict[str, list[np.ndarray]] = {}
    for row in rows:
        for family in families:
            names = [w for w in works if WORKLOADS[w][0] == family]
            if args.budget_s and time.perf_counter() - t_start > args.budget_s:
                results += [Result(w, row.name, status="skipped: time budget") for w in names]
                continue
            try:
                runner = Runner(row, family, size, args.device, dtype, steps)
            except Exception as exc:  # a lever that cannot be built here: say so, go on
                logger.exception("row %s (%s) failed to build", row.name, family)
                results += [Result(w, row.name, status=f"error: {type(exc).__name__}: {exc}"[:200]) for w in names]
                continue
            for name in names:
                prof = args.profile_out if f"{row.name}:{name}" in args.profile else None
                results.append(time_one(runner, works[name], row, repeats, args.device, stock_images, prof))
                logger.info("%s", _line(results[-1]))
            del runner
            if on_progress is not None:
                on_progress({"meta": run_meta(args, size, steps, repeats, time.perf_counter() - t_start),
                             "results": [r.__dict__ for r in results], "partial": True})
            gc.collect()
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
            torch._dynamo.reset()
    return {"meta": run_meta(args, size, steps, repeats, time.perf_counter() - t_start),
            "results": [r.__dict__ for r in results]}


def profile_call(runner: Runner, work: Workload, seeds: list[int], device: str, path: Path, title: str) -> None:
    """One more call under torch.profiler; appends the top operators and the GPU-busy share to ``path``."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    _sync(device)
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        runner(work, seeds)
        _sync(device)
    wall = time.perf_counter() - t0
    events = prof.key_averages()
    sort = "device_time_total" if device.startswith("cuda") else "cpu_time_total"
    try:
        text = events.table(sort_by=sort, row_limit=25)
    except (KeyError, AttributeError, ValueError):  # older torch: cuda_time_total
        text = events.table(sort_by="cuda_time_total" if device.startswith("cuda") else sort, row_limit=25)
    kernel_us = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) for e in events)
    busy = f"GPU kernels {kernel_us / 1e6:.3f} s of {wall:.3f} s wall ({100 * kernel_us / 1e6 / wall:.0f} % busy)"
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\n==== {title} (profiled call, {busy if device.startswith('cuda') else 'cpu'})\n{text}\n")


def time_one(runner: Runner, work: Workload, row: Row, repeats: int, device: str,
             stock_images: dict[str, list[np.ndarray]], profile_to: Path | None = None) -> Result:
    import torch

    res = Result(work.name, row.name)
    seeds = [1000 + k for k in range(work.batch)]
    try:
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        outputs, times = [], []
        for _ in range(1 + repeats):  # the first call pays one-time costs (compile, autotune, graphs)
            _sync(device)
            t0 = time.perf_counter()
            outputs.append(runner(work, seeds))
            _sync(device)
            times.append(time.perf_counter() - t0)
    except Exception as exc:
        logger.exception("%s on %s failed", row.name, work.name)
        res.status = f"error: {type(exc).__name__}: {exc}"[:200]
        return res
    res.first_call_s = round(times[0], 4)
    res.calls_s = [round(t, 4) for t in times[1:]]
    res.s_per_call = round(statistics.median(times[1:]), 4)
    res.s_per_image = round(res.s_per_call / work.batch, 4)
    res.peak_gib = peak_gib(device)
    res.repeat_max_abs_diff = diff_stats(outputs[0], outputs[-1])[0]
    if profile_to is not None:
        profile_call(runner, work, seeds, device, profile_to, f"{row.name} on {work.name}")
    if runner.backend is not None:
        res.applied = runner.backend._entry.value.accel.applied
    images = outputs[-1]
    if row.accel is None:
        stock_images[work.name] = images
    elif work.name in stock_images:
        res.max_abs_diff, res.mean_abs_diff = diff_stats(images, stock_images[work.name])
        if row.approx:
            res.approx = approx_report(work, stock_images[work.name][0], images[0])
    return res


def run_meta(args: argparse.Namespace, size: str, steps: int, repeats: int, wall_s: float) -> dict[str, Any]:
    import diffusers
    import torch

    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu ({platform.processor() or 'cpu'})"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "card": card, "commit": git_commit(),
        "size": size, "dtype": "float32" if args.tiny else args.dtype, "steps": steps, "repeats": repeats,
        "scheduler": "unipc", "guidance_scale": 7.5, "controlnets": 2, "wall_s": round(wall_s, 1),
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "python": platform.python_version()},
    }


def git_commit() -> str:
    """BENCH_COMMIT (a copy of the tree without .git, as on the device machine), else git's HEAD."""
    import os

    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ------------------------------------------------------------------------------------ output


def table(report: dict[str, Any]) -> str:
    """Markdown table: one line per (workload, row)."""
    stock = {r["workload"]: r["s_per_image"] for r in report["results"] if r["row"] == "stock" and r["s_per_image"]}
    head = ("| workload | row | s/image | × vs stock | goal | peak GiB | first call s | max/mean abs Δ vs stock "
            "| approx: 1-SSIM, ΔE00, gate |")
    lines = [head, "|" + "---|" * 9]
    for r in report["results"]:
        if r["status"] != "ok":
            lines.append(f"| {r['workload']} | {r['row']} | {r['status']} | | | | | | |")
            continue
        base = stock.get(r["workload"])
        speed = f"{base / r['s_per_image']:.2f}×" if base and r["row"] != "stock" else ""
        goal = GOALS_S_PER_IMAGE.get(r["workload"]) if report["meta"]["size"] == "full" else None
        goal_txt = f"≤ {goal} {'met' if r['s_per_image'] <= goal else 'missed'}" if goal else ""
        diff = "" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.0f} / {r['mean_abs_diff']:.3f}"
        approx = ""
        if r["approx"]:
            a = r["approx"]
            approx = (f"{a['one_minus_ssim']:.3f}, {a['delta_e00_mean']:.2f}, "
                      f"{'pass' if a['approx']['gate_passed'] else 'fail'} (stock "
                      f"{'pass' if a['stock']['gate_passed'] else 'fail'})")
        peak = "" if r["peak_gib"] is None else f"{r['peak_gib']:.1f}"
        lines.append(f"| {r['workload']} | {r['row']} | {r['s_per_image']:.3f} | {speed} | {goal_txt} | {peak} "
                     f"| {r['first_call_s']:.2f} | {diff} | {approx} |")
    return "\n".join(lines)


def append_results(path: Path, report: dict[str, Any], text: str) -> None:
    m = report["meta"]
    block = (f"\n## {m['date']} · {m['card']} · commit {m['commit']}\n\n"
             f"{m['size']} architectures, random weights, {m['dtype']}, UniPC {m['steps']} steps, CFG "
             f"{m['guidance_scale']}, 2 ControlNets, prompt embeddings given; median of {m['repeats']} calls after "
             f"one warm-up call; torch {m['versions']['torch']}, diffusers {m['versions']['diffusers']}.\n\n"
             f"{text}\n")
    with path.open("a", encoding="utf-8") as f:
        f.write(block)


def _line(r: Result) -> str:
    if r.status != "ok":
        return f"{r.workload} {r.row}: {r.status}"
    return f"{r.workload} {r.row}: {r.s_per_image:.3f} s/image (first call {r.first_call_s:.2f} s)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu (cpu implies --tiny)")
    p.add_argument("--tiny", action="store_true", help="tiny shapes, float32, 2 steps: a smoke test")
    p.add_argument("--dtype", default="float16", choices=("float16", "bfloat16"))
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default 20; tiny 2)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls after the warm-up (default 3; tiny 1)")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS), choices=list(ROWS),
                   help=f"configurations to time (stock first); default {' '.join(DEFAULT_ROWS)}")
    p.add_argument("--approx", action="store_true", help=f"also the approximation presets: {' '.join(APPROX_ROWS)}")
    p.add_argument("--budget-s", type=float, default=0.0, help="skip rows that would start after this many seconds")
    p.add_argument("--out", type=Path, help="write every number as JSON here")
    p.add_argument("--profile", nargs="*", default=[], metavar="ROW:WORKLOAD",
                   help="profile one extra call of these (e.g. stock:sd15-512-b1 ours+graphs:sd15-512-b1)")
    p.add_argument("--profile-out", type=Path, default=Path("profile.txt"), help="where --profile appends its tables")
    p.add_argument("--results", type=Path, help="append the table to this markdown file (bench/RESULTS.md)")
    args = p.parse_args(argv)
    if args.device == "cpu":
        args.tiny = True
    if args.approx:
        args.rows += [r for r in APPROX_ROWS if r not in args.rows]
    # stock (the reference) first, rows with a compile cost last: a run cut short by --budget-s
    # keeps the reference, the cheap levers and the approximation checks
    args.rows = sorted(dict.fromkeys(args.rows), key=lambda r: (r != "stock", "compile" in r))
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            logger.error("--device %s: CUDA is not available here; use --device cpu for the tiny smoke test", args.device)
            return 2
    def save(report: dict[str, Any]) -> None:
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({**report, "table": table(report)}, indent=1))

    report = run(args, on_progress=save)
    text = table(report)
    save(report)
    if args.results:
        append_results(args.results, report, text)
    m = report["meta"]
    sys.stdout.write(f"\n{m['card']} · {m['size']} · {m['dtype']} · {m['steps']} steps · commit {m['commit']}\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
