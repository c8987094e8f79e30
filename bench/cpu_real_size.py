"""The diffusion path at real size on the CPU: per-stage time, FLOPs, model calls and memory.

    python bench/cpu_real_size.py --work /tmp/real-size --out bench/out/cpu_real_size.json
    python bench/cpu_real_size.py --work /tmp/real-size --share 2      # N processes loading the same weights
    python bench/cpu_real_size.py --size ci --work /tmp/ci-size          # the CI-sized shapes (a smoke run)

Builds the SD1.5 ControlNet-inpaint models at full size with random weights (bench/arch.py: the
inpainting UNet, canny and depth ControlNets, VAE, CLIP text encoder and the ViT-H/14 IP-Adapter
image encoder, saved as safetensors in float32, about 9.6 GB; reused from ``--work`` when already
there), then runs one generated sample photo (bottle_teal, with its logo boxes) through
``process_product`` (the code ``product-scene run`` calls) with configs/sd15.yaml on the CPU in
float32, 2 steps, a 768 px work size and a 1024 px output, in three scenarios:

- ``exact``: one image;
- ``exact-v2b2``: ``variants: 2``, ``batch_size: 2`` (two images in one pipeline call);
- ``harmonised``: ``restore.mode: harmonised`` (the relight pass, then the logo rebuild).

Per scenario: wall time, the stage timings ``run`` reports, each model's calls, time and FLOPs
(``torch.utils.flop_counter``), and the peak resident memory split into anonymous memory and
file-backed pages (the safetensors weights torch maps rather than copies), sampled every 50 ms
from /proc/self/status. The load is timed and measured the same way.

``--share N`` starts N processes that each load the same weights (as ``run --workers N`` does,
one model per worker) and read every weight once, and reports each one's RSS and PSS
(proportional set size: pages shared with the others counted 1/N) from /proc/<pid>/smaps_rollup:
whether the mapped weights are stored once for all workers.

Random weights paint noise: times, FLOPs and memory do not depend on the weight values.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml

logger = logging.getLogger("bench.cpu_real_size")

SAMPLE = "bottle_teal"
STAGES = ("decode", "segment", "place", "control", "scene", "restore", "score")
SCENARIOS: dict[str, dict[str, Any]] = {
    "exact": {"mode": "exact", "variants": 1, "batch_size": 1},
    "exact-v2b2": {"mode": "exact", "variants": 2, "batch_size": 2},
    "harmonised": {"mode": "harmonised", "variants": 1, "batch_size": 1},
}
MODELS = ("text_encoder", "image_encoder", "unet", "controlnet_canny", "controlnet_depth", "vae_encoder",
          "vae_decoder")
GIB = 2**30


# ------------------------------------------------------------------------------------ memory


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def smaps_rollup(pid: int | str = "self") -> dict[str, int]:
    """/proc/<pid>/smaps_rollup in bytes (Rss, Pss, Pss_Anon, Pss_File, Shared_Clean, ...)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


class MemorySampler:
    """Peaks of RSS, anonymous and file-backed resident memory, sampled in a thread."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s = every_s
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.every_s)

    def sample(self) -> None:
        st = proc_status()
        for key in ("VmRSS", "RssAnon", "RssFile"):
            self.peak[key] = max(self.peak.get(key, 0), st[key])

    def __enter__(self) -> Self:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def gib(self) -> dict[str, float]:
        return {"peak_rss_gib": round(self.peak["VmRSS"] / GIB, 2), "peak_anon_gib": round(self.peak["RssAnon"] / GIB, 2),
                "peak_file_gib": round(self.peak["RssFile"] / GIB, 2)}


# ------------------------------------------------------------------------------------ models


class ModelMeter:
    """Calls and seconds per model, from forward hooks on the loaded pipeline's modules."""

    def __init__(self, pipe: Any) -> None:
        nets = list(getattr(pipe.controlnet, "nets", [pipe.controlnet]))
        self.modules = {"text_encoder": pipe.text_encoder, "image_encoder": pipe.image_encoder, "unet": pipe.unet,
                        "controlnet_canny": nets[0], "controlnet_depth": nets[1], "vae_encoder": pipe.vae.encoder,
                        "vae_decoder": pipe.vae.decoder}
        self.nets = nets
        self.calls: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self._t0: dict[str, float] = {}
        for name, module in self.modules.items():
            if module is None:
                continue
            module.register_forward_pre_hook(lambda _m, _a, name=name: self._t0.__setitem__(name, time.perf_counter()))
            module.register_forward_hook(lambda _m, _a, _o, name=name: self._done(name))

    def _done(self, name: str) -> None:
        self.calls[name] += 1
        self.seconds[name] += time.perf_counter() - self._t0.pop(name)

    def snapshot(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
                "control_images_embedded": [getattr(n, "cond_images", None) for n in self.nets]}


def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {"calls": {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items()},
            "seconds": {k: round(v - before["seconds"].get(k, 0.0), 1) for k, v in after["seconds"].items()},
            "control_images_embedded": [None if a is None else a - (b or 0) for a, b in
                                        zip(after["control_images_embedded"], before["control_images_embedded"],
                                            strict=True)]}


def count_cpu_attention() -> None:
    """torch's FLOP counter knows the CUDA attention kernels but not the CPU one
    (``_scaled_dot_product_flash_attention_for_cpu``, torch 2.14): count it with the same formula."""
    import torch
    from torch.utils.flop_counter import flop_registry, register_flop_formula, sdpa_flop_count

    op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    if op in flop_registry or op.default in flop_registry:
        return

    @register_flop_formula(op)
    def _cpu_sdpa(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, out_shape: Any = None,
                  **kwargs: Any) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)


@contextmanager
def flop_counter(modules: dict[str, Any]) -> Any:
    """Yields a dict filled, on exit, with TFLOPs per model and in total (torch.utils.flop_counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    count_cpu_attention()
    out: dict[str, float] = {}
    with FlopCounterMode(display=False) as counter:
        yield out
    counts = counter.get_flop_counts()
    out["total"] = round(counter.get_total_flops() / 1e12, 3)
    names = {type(m).__name__: k for k, m in modules.items() if m is not None}
    for key, per_op in counts.items():
        leaf = key.split(".")[-1]
        if key.count(".") == 0 and leaf in names:
            out[names[leaf]] = round(sum(per_op.values()) / 1e12, 3)
    out["by_module"] = {k: round(sum(v.values()) / 1e12, 3) for k, v in counts.items() if k.count(".") <= 1}


# -------------------------------------------------------------------------------------- runs


def build_models(work: Path, size: str) -> dict[str, str]:
    import torch

    from bench.arch import save_random_models

    index = work / f"models-{size}.json"
    if index.exists():
        return json.loads(index.read_text())
    t0 = time.perf_counter()
    paths = save_random_models(work / f"models-{size}", "sd15", size, "cpu", torch.float32)
    out = {k: str(v) for k, v in paths.items()}
    index.write_text(json.dumps(out))
    logger.info("models saved in %.0f s: %s", time.perf_counter() - t0, out)
    return out


def write_preset(work: Path, models: dict[str, str], scenario: dict[str, Any]) -> Path:
    """configs/sd15.yaml with every model a local path, on the CPU in float32, 2 steps."""
    diffusion = {
        "base": {"repo": None, "revision": None, "variant": None, "path": models["base"]},
        "controlnets": [
            {"name": "canny", "source": {"path": models["canny"]}, "conditioning_scale": 0.5, "guidance_end": 0.8},
            {"name": "depth", "source": {"path": models["depth"]}, "conditioning_scale": 0.6},
        ],
        "ip_adapters": [{"source": {"path": models["ip_adapter_root"]}, "subfolder": models["ip_subfolder"],
                         "weight_name": "ip-adapter.safetensors", "scale": 0.4, "reference": "product"}],
        "steps": 2, "work_long_side": 768,
        "variants": scenario["variants"], "batch_size": scenario["batch_size"],
    }
    data = {"extends": str(ROOT / "configs" / "sd15.yaml"), "run": {"device": "cpu", "dtype": "float32"},
            "placement": {"long_side": 1024}, "restore": {"mode": scenario["mode"]},
            "backends": {"diffusion": diffusion}}
    path = work / f"preset-{scenario['mode']}-v{scenario['variants']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_scenarios(work: Path, size: str, names: list[str], threads: int) -> dict[str, Any]:
    import torch

    from pipeline.compose import build_stages, process_product
    from pipeline.config import load_config
    from pipeline.samples import write_samples

    torch.set_num_threads(threads)
    models = build_models(work, size)
    samples = work / "samples"
    if not samples.exists():
        write_samples(samples, names=[SAMPLE])
    photo = next(p for p in samples.iterdir() if p.stem == SAMPLE and p.suffix != ".json")
    sidecar = json.loads(photo.with_suffix(".json").read_text())
    result: dict[str, Any] = {"size": size, "threads": threads, "torch": torch.__version__, "scenarios": {},
                              "weights_gib": round(sum(f.stat().st_size for f in Path(work / f"models-{size}").rglob(
                                  "*.safetensors")) / GIB, 2)}
    meter = None
    for name in names:
        scenario = SCENARIOS[name]
        config = load_config(write_preset(work, models, scenario))
        with MemorySampler() as mem:
            t0 = time.perf_counter()
            stages = build_stages(config)  # loads the models the first time, then reuses them
            load_s = time.perf_counter() - t0
            pipe = stages.scene._entry.value.pipe
            if meter is None:
                meter = ModelMeter(pipe)
                result["load"] = {"seconds": round(load_s, 1), **mem.gib(), "status": proc_status()}
                result["load"]["smaps"] = {k: round(v / GIB, 2) for k, v in smaps_rollup().items()
                                           if k in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Anonymous")}
                logger.info("loaded in %.0f s: %s", load_s, result["load"])
            before = meter.snapshot()
            with flop_counter(meter.modules) as flops:
                t0 = time.perf_counter()
                res = process_product(photo.read_bytes(), name=photo.name, config=config, stages=stages, seed=1,
                                      sidecar=sidecar)
                wall = time.perf_counter() - t0
        m = res.metrics
        result["scenarios"][name] = {
            **scenario, "wall_s": round(wall, 1), "stage_s": {s: round(res.timings_ms.get(s, 0.0) / 1000, 1) for s in STAGES},
            "models": diff(meter.snapshot(), before), "tflop": flops, **mem.gib(),
            "images": len(res.variants), "logo_ssim_min": m.logo_ssim_min, "scene_noise": m.scene_noise,
            "reasons": list(res.verdict.reasons),
        }
        logger.info("%s: %s", name, result["scenarios"][name])
    return result


def table(result: dict[str, Any]) -> str:
    """Markdown for bench/RESULTS.md."""
    load = result.get("load", {})
    head = ("| scenario | images | wall s | stage s (decode/segment/place/control/scene/restore/score) | TFLOP | "
            "model calls (text/image enc/UNet/CN canny/CN depth/VAE enc/VAE dec) | model s (same order) | "
            "control images embedded | peak RSS GiB (file/anon) |")
    lines = [f"Load: {load.get('seconds')} s, peak RSS {load.get('peak_rss_gib')} GiB "
             f"({load.get('peak_file_gib')} GiB file-backed, {load.get('peak_anon_gib')} GiB anonymous); "
             f"weights on disk {result['weights_gib']} GiB; torch threads {result['threads']}.", "",
             head, "|---|---:|---:|---|---:|---|---|---|---|"]
    for name, s in result["scenarios"].items():
        calls = "/".join(str(s["models"]["calls"].get(k, 0)) for k in MODELS)
        secs = "/".join(f"{s['models']['seconds'].get(k, 0):.0f}" for k in MODELS)
        stages = "/".join(f"{s['stage_s'][k]:.1f}" for k in STAGES)
        lines.append(f"| {name} | {s['images']} | {s['wall_s']} | {stages} | {s['tflop']['total']} | {calls} | {secs} "
                     f"| {s['models']['control_images_embedded']} | {s['peak_rss_gib']} ({s['peak_file_gib']}/"
                     f"{s['peak_anon_gib']}) |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- FLOPs


def flops_per_call(work_side: int = 768, images: int = 1) -> dict[str, float]:
    """TFLOP of one call of each full-size SD1.5 model at the run's shapes, counted on torch's meta
    device (no weights, no compute; attention included): the text encoder (77 tokens), the image
    encoder (224 px), the VAE encoder (one image at the work size) and decoder (``images``), the
    UNet and a ControlNet with classifier-free guidance (2 x ``images``), and a ControlNet's
    conditioning embedding of one control image."""
    import torch
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

    from bench.arch import IMAGE_ENCODERS, TEXT_ENCODERS, controlnet_config, unet_config, vae_config

    count_cpu_attention()
    lat, batch = work_side // 8, 2 * images
    hidden, layers, heads, inter, proj = TEXT_ENCODERS["full"]["sd15"]
    vh, vl, vheads, vinter, vproj, px, patch = IMAGE_ENCODERS["full"]["sd15"]

    def tflop(fn: Any) -> float:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            fn()
        return round(counter.get_total_flops() / 1e12, 3)

    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config("sd15", "full"))
        net = ControlNetModel(**controlnet_config("sd15", "full"))
        vae = AutoencoderKL(**vae_config("sd15", "full"))
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=hidden, intermediate_size=inter,
                                            num_hidden_layers=layers, num_attention_heads=heads,
                                            max_position_embeddings=77, projection_dim=proj))
        image = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=vh, num_hidden_layers=vl, num_attention_heads=vheads, intermediate_size=vinter,
            projection_dim=vproj, image_size=px, patch_size=patch))
        t = torch.zeros(batch, dtype=torch.long)
        ctx = torch.zeros(batch, 77, 768)
        cond = torch.zeros(1, 3, work_side, work_side)
        embedding = tflop(lambda: net.controlnet_cond_embedding(cond))
        return {
            "text_encoder": tflop(lambda: text(torch.zeros(1, 77, dtype=torch.long))),
            "image_encoder": tflop(lambda: image(torch.zeros(1, 3, px, px))),
            "vae_encoder": tflop(lambda: vae.encoder(torch.zeros(1, 3, work_side, work_side))),
            "vae_decoder": tflop(lambda: vae.decoder(torch.zeros(images, 4, lat, lat))),
            "unet": tflop(lambda: unet(torch.zeros(batch, 9, lat, lat), t, ctx)),
            "controlnet": round(tflop(lambda: net(torch.zeros(batch, 4, lat, lat), t, ctx, cond.expand(batch, -1, -1, -1)))
                                - batch * embedding + embedding, 3),  # the embedding once per call (dedupe)
            "control_embedding": embedding,
        }


def image_cost(per_call: dict[str, float], steps: int, relight_steps: int = 0, canny_end: float = 0.8) -> float:
    """TFLOP of one image (batch 1, CFG) at ``steps`` in exact mode, plus a relight pass of
    ``relight_steps`` denoising steps (harmonised: one more encode of the init image, a decode; the blank
    masked image's encoding is cached per work size): the canny ControlNet runs for ``canny_end`` of the steps."""
    import math

    canny = math.ceil(canny_end * steps)
    total = (2 * per_call["text_encoder"] + per_call["image_encoder"] + per_call["vae_encoder"]
             + steps * per_call["unet"] + (canny + steps) * per_call["controlnet"] + per_call["vae_decoder"])
    if relight_steps:
        total += (per_call["vae_encoder"] + relight_steps * (per_call["unet"] + 2 * per_call["controlnet"])
                  + per_call["vae_decoder"])
    return round(total, 1)


# ------------------------------------------------------------------------------------ sharing


def load_and_wait(work: Path, size: str) -> None:
    """Child of ``--share``: load the backend and read every weight once (a mapped file's pages are
    only resident once touched, as after a first image), print READY, wait until stdin closes."""
    import torch

    from pipeline.compose import build_stages
    from pipeline.config import load_config

    config = load_config(write_preset(work, build_models(work, size), SCENARIOS["exact"]))
    pipe = build_stages(config).scene._entry.value.pipe
    with torch.inference_mode():
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                for tensor in (*module.parameters(), *module.buffers()):
                    tensor.sum()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sys.stdin.read()


def share(work: Path, size: str, n: int) -> dict[str, Any]:
    """N processes each loading the same weights: RSS vs PSS per process (see the module docstring)."""
    build_models(work, size)
    procs = []
    for _ in range(n):
        procs.append(subprocess.Popen([sys.executable, __file__, "--work", str(work), "--size", size, "--load-and-wait"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        if procs[-1].stdout.readline().strip() != "READY":  # one at a time: the peaks of loading do not overlap
            raise RuntimeError("a loader failed")
    rows = [{k: round(v / GIB, 2) for k, v in smaps_rollup(p.pid).items()
             if k in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Clean", "Private_Dirty",
                      "Anonymous")} for p in procs]
    for p in procs:
        p.stdin.close()
        p.wait(timeout=120)
    return {"processes": n, "per_process": rows,
            "sum_rss_gib": round(sum(r["Rss"] for r in rows), 2), "sum_pss_gib": round(sum(r["Pss"] for r in rows), 2)}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True, help="folder for the models (kept), samples and presets")
    p.add_argument("--size", choices=["full", "ci"], default="full")
    p.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    p.add_argument("--share", type=int, metavar="N", help="measure N processes loading the same weights instead")
    p.add_argument("--flops", action="store_true", help="only count FLOPs per model call (meta device, seconds)")
    p.add_argument("--load-and-wait", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.load_and_wait:
        load_and_wait(args.work, args.size)
        return 0
    if args.flops:
        per_call = {f"images_{n}": flops_per_call(768, n) for n in (1, 2)}
        one = per_call["images_1"]
        result = {"tflop_per_call": per_call,
                  "tflop_per_image": {f"{mode} {steps} steps": image_cost(one, steps, relight)
                                      for steps in (2, 20, 30) for mode, relight in (("exact", 0), ("harmonised", 1))}}
        text = json.dumps(result, indent=1)
    elif args.share:
        result = share(args.work, args.size, args.share)
        text = json.dumps(result, indent=1)
    else:
        result = run_scenarios(args.work, args.size, args.scenarios, args.threads)
        text = table(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
