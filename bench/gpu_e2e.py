"""``product-scene run --backend diffusion`` end to end on full-size random-weight models.

For each family (SD1.5, SDXL): saves full-size random-weight model folders laid out like the
published ones (pipeline folder with text encoders and tokenizer, two ControlNets, IP-Adapter in
the h94 layout), writes a preset that points at them with ``path:`` (extending configs/sd15.yaml
or configs/sdxl.yaml, or ``--preset``), renders sample products, then

1. loads the models through ``build_diffusion_backend`` (the code ``run`` uses) and times it;
2. runs the CLI (``pipeline.cli.main``, in this process, so the loaded pipeline is reused) at
   batch size 1 (one image per product) and 4 (``variants: 4``, ``batch_size: 4``: four images
   per product in one pipeline call);
3. reports per stage the median ms per product (from report.json), the scene stage's s/image,
   whole-batch images/s, the load time and peak GPU memory.

    python bench/gpu_e2e.py --out e2e.json                  # on a GPU
    python bench/gpu_e2e.py --tiny --out /tmp/e2e.json      # tiny shapes on the CPU (smoke test)

The weights are random: time does not depend on their values, quality does. The text encoders
have the real widths and depths but the test tokenizer's small vocabulary (no hub here).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

logger = logging.getLogger("bench.gpu_e2e")

SAMPLES = ("bottle_teal", "mug_red", "box_white", "jar_gold")
STAGES = ("decode", "segment", "place", "control", "scene", "restore", "score")


def write_preset(path: Path, family: str, models: dict[str, Path], base_preset: Path, tiny: bool, steps: int,
                 variants: int) -> Path:
    """A preset extending ``base_preset`` whose every model source is a local ``path:``."""
    ip = []
    if "ip_adapter_root" in models:
        ip = [{"source": {"path": str(models["ip_adapter_root"])}, "subfolder": str(models["ip_subfolder"]),
               "weight_name": "ip-adapter.safetensors", "scale": 0.4, "reference": "product"}]
    diffusion: dict[str, Any] = {
        "family": family,
        "base": {"repo": None, "revision": None, "variant": None, "path": str(models["base"])},  # replaces the hub id
        "vae": None,
        "controlnets": [
            {"name": "canny", "source": {"path": str(models["canny"])}, "conditioning_scale": 0.5},
            {"name": "depth", "source": {"path": str(models["depth"])}, "conditioning_scale": 0.6},
        ],
        "ip_adapters": ip,
        "scheduler": "unipc", "steps": steps, "guidance_scale": 7.5,
        "variants": variants, "batch_size": variants,
    }
    data: dict[str, Any] = {"extends": str(base_preset.resolve()), "backends": {"diffusion": diffusion}}
    if tiny:
        data["run"] = {"device": "cpu", "dtype": "float32"}
        data["placement"] = {"long_side": 128}
        diffusion["work_long_side"] = 64
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_family(family: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import torch

    from bench.arch import save_random_models
    from pipeline import cli
    from pipeline.config import load_config
    from pipeline.samples import write_samples
    from pipeline.scene.diffusion.backend import build_diffusion_backend

    cuda = not args.tiny
    device, dtype = ("cuda", torch.float16) if cuda else ("cpu", torch.float32)
    t0 = time.perf_counter()
    models = save_random_models(work / "models", family, "tiny" if args.tiny else "full", device, dtype,
                                ip_adapter=family == "sd15" or args.sdxl_ip_adapter)
    if cuda:
        torch.cuda.empty_cache()
    out: dict[str, Any] = {"family": family, "save_s": round(time.perf_counter() - t0, 1),
                           "ip_adapter": "ip_adapter_root" in models, "runs": []}
    base = args.preset or ROOT / "configs" / f"{family}.yaml"
    src = work / "samples"
    if not src.exists():
        write_samples(src, names=SAMPLES[: args.products])
    for variants in (1, 4):
        preset = write_preset(work / f"{family}-b{variants}.yaml", family, models, base, args.tiny, args.steps, variants)
        config = load_config(preset)
        if variants == 1:  # load once (the CLI run below reuses the process-wide cache)
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            t1 = time.perf_counter()
            build_diffusion_backend(config)
            out["load_s"] = round(time.perf_counter() - t1, 2)
            out["load_peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
        products = args.products if variants == 1 else max(1, args.products // 2)
        run_src = src if products == args.products else _subset(src, work / f"samples-{products}", products)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t1 = time.perf_counter()
        rc = cli.main(["run", str(run_src), str(work / f"out-{family}"), "--config", str(preset), "--backend",
                       "diffusion", "--seed", "1", "--batch-id", f"b{variants}", "--no-progress"])
        wall = time.perf_counter() - t1
        report = json.loads((work / f"out-{family}" / f"b{variants}" / "report.json").read_text())
        out["runs"].append(summarise(report, rc, variants, wall, torch.cuda.max_memory_allocated() if cuda else None))
        logger.info("%s batch %d: %s", family, variants, out["runs"][-1])
    return out


def _subset(src: Path, dest: Path, n: int) -> Path:
    """The first ``n`` sample photos (and their sidecars) of ``src`` in a folder of their own."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    photos = sorted(p for p in src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))[:n]
    for p in photos:
        shutil.copy2(p, dest / p.name)
        side = p.with_suffix(".json")
        if side.exists():
            shutil.copy2(side, dest / side.name)
    return dest


def summarise(report: dict[str, Any], rc: int, variants: int, wall_s: float, peak_bytes: int | None) -> dict[str, Any]:
    """Per-stage median ms per product, scene s/image, whole-batch images/s."""
    items = [i for i in report["items"] if not i.get("source", "").startswith("ground_truth/")]
    ok = [i for i in items if i["status"] == "ok"]
    stages = {s: round(statistics.median(i["timings_ms"].get(s, 0.0) for i in ok), 1) for s in STAGES} if ok else {}
    images = len(ok) * variants
    return {
        "batch_size": variants, "exit_code": rc, "products": len(items), "ok": len(ok),
        "errors": [i.get("error") for i in items if i["status"] != "ok"][:3], "images": images,
        "wall_s": round(wall_s, 2), "images_per_s": round(images / wall_s, 3) if wall_s > 0 else None,
        "scene_s_per_image": round(stages.get("scene", 0.0) / 1000.0 / variants, 3) if ok else None,
        "stage_ms_per_product": stages,
        "peak_gib": round(peak_bytes / 2**30, 2) if peak_bytes is not None else None,
    }


def table(families: list[dict[str, Any]]) -> str:
    lines = ["| family | load s | batch | images | wall s | images/s | scene s/image | stage ms per product "
             "(decode/segment/place/control/scene/restore/score) | peak GiB |", "|" + "---|" * 9]
    for fam in families:
        for r in fam["runs"]:
            st = "/".join(f"{r['stage_ms_per_product'].get(s, 0):.0f}" for s in STAGES) if r["ok"] else r["errors"]
            peak = "" if r["peak_gib"] is None else f"{r['peak_gib']:.1f}"
            lines.append(f"| {fam['family']}{'' if fam['ip_adapter'] else ' (no IP-Adapter)'} | {fam.get('load_s', '')} "
                         f"| {r['batch_size']} | {r['images']} | {r['wall_s']} | {r['images_per_s']} "
                         f"| {r['scene_s_per_image']} | {st} | {peak} |")
    return "\n".join(lines)


def save(out: Path | None, results: list[dict[str, Any]]) -> str:
    """Write the numbers so far as JSON (when ``out``); return the table."""
    text = table([r for r in results if r["runs"]])
    for r in results:
        if "error" in r:
            text += f"\n{r['family']}: {r['error']}"
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"families": results, "table": text}, indent=1))
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny models on the CPU (smoke test)")
    p.add_argument("--families", nargs="+", default=["sd15", "sdxl"], choices=["sd15", "sdxl"])
    p.add_argument("--products", type=int, default=4, help="sample products at batch size 1 (half at batch 4)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--preset", type=Path, help="preset to extend (default configs/<family>.yaml)")
    p.add_argument("--sdxl-ip-adapter", action="store_true",
                   help="also build the SDXL IP-Adapter with its ViT-bigG image encoder (3.7 GB more to save/load)")
    p.add_argument("--work", type=Path, help="folder for models, samples and outputs (default: a temp folder)")
    p.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = p.parse_args(argv)
    if not 1 <= args.products <= len(SAMPLES):
        p.error(f"--products must be in [1, {len(SAMPLES)}], got {args.products}")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    if args.tiny and args.steps == 20:
        args.steps = 2
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        work = args.work or Path(tmp)
        results: list[dict[str, Any]] = []
        text = ""
        for family in args.families:
            try:
                results.append(run_family(family, args, work / family))
            except Exception as exc:  # report and go on to the next family
                logger.exception("%s failed", family)
                results.append({"family": family, "error": f"{type(exc).__name__}: {exc}"[:300], "runs": [],
                                "ip_adapter": False})
            text = save(args.out, results)  # after each family: a later timeout keeps what was measured
    sys.stdout.write("\n" + text + "\n")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
