"""Logo SSIM after ``restore.mode: harmonised`` at the real geometry, with the true text boxes.

    python bench/eval_harmonised_logos.py [--products ../shared/products] [--limit N] [--out table.json]

For every real photo with logo/text boxes (``text_regions/``, all kinds, subtle ones included):
segment it with the default segmenter (as ``run`` does), place it on a 1024 px canvas with its true
boxes, and build the frame the relight pass would return, three ways:

- ``relit``: the product on a studio scene under new light (a smooth luma gain of 0.85-1.15 over
  the frame and a colour cast of +-6% per channel), taken through the SD1.5 work size as the
  backend does (area-down to 768 px, a VAE-like softening of sigma 0.7 work px, noise sigma 2,
  cubic back up to 1024): what a good model returns;
- ``random``: what random weights return: the ``ci`` architecture's VAE (bench/arch.py) decoding
  random latents at the 768 px work size, cubic up to 1024 (blotchy colour noise everywhere, the
  product included);
- ``resized``: the product untouched but taken through the work size (only the resolution loss).

Each frame is restored by ``pipeline.restore`` (``ours``), by the previous method kept here for
comparison (``poisson``: detail transfer with a per-pixel gain, then ``cv2.seamlessClone`` over the
box grown by 6 px), and left alone (``none``). The score is the gate's ``logo_ssim_min`` (minimum
over the photo's boxes of the mean luminance SSIM in the box against the original product).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import ControlConfig, PipelineConfig, PlacementConfig, RestoreConfig
from pipeline.control.depth import PseudoDepth
from pipeline.control.maps import build_control_maps
from pipeline.io.imageio import decode_image
from pipeline.place import compute_placement, place_product, read_sidecar_boxes
from pipeline.restore import restore_product
from pipeline.restore.paste import alpha_paste
from pipeline.scene.diffusion.inputs import from_work, to_work, work_geometry
from pipeline.scene.studio.backend import StudioBackend
from pipeline.scene.themes import get_theme
from pipeline.score import score_composite
from pipeline.segment import build_segmenter
from pipeline.types import PlacedProduct, SceneResult

logger = logging.getLogger("bench.eval_harmonised_logos")

DEFAULT_PRODUCTS = ROOT.parent / "shared" / "products"
OUT_SIDE = 1024  # the output canvas (placement.long_side of configs/sd15.yaml)
WORK_SIDE = 768  # the SD1.5 preset's work_long_side
GATE_MIN = 0.95  # issue 19's goal for logo SSIM at real size
FRAMES = ("relit", "random", "resized")
METHODS = ("none", "poisson", "ours")


# ------------------------------------------------------------------------------------ frames


def through_work_size(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """HWC uint8 at the output size -> the work size (area), VAE-like softening and noise -> back
    (cubic), as the diffusion backend's ``to_work`` / ``from_work`` do."""
    geom = work_geometry(image.shape[:2], WORK_SIDE)
    work = to_work(image, geom).astype(np.float32)
    work = cv2.GaussianBlur(work, (0, 0), 0.7) + rng.normal(0.0, 2.0, work.shape).astype(np.float32)
    return from_work(np.clip(work + 0.5, 0, 255).astype(np.uint8), geom)


def relit_frame(placed: PlacedProduct, plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The product on ``plate`` under new light (see the module docstring), through the work size."""
    h, w = plate.shape[:2]
    luma = cv2.resize(rng.uniform(0.85, 1.15, (4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    cast = rng.uniform(0.94, 1.06, 3).astype(np.float32)
    lit = alpha_paste(placed.rgb, placed.alpha, plate).astype(np.float32) * luma[..., None] * cast
    return through_work_size(np.clip(lit + 0.5, 0, 255).astype(np.uint8), rng)


def random_frames(out_hw: tuple[int, int], seeds: list[int]) -> list[np.ndarray]:
    """The ci-size random-weight VAE's decode of random latents at the work size, up to ``out_hw``."""
    import torch
    from diffusers import AutoencoderKL

    from bench.arch import vae_config

    geom = work_geometry(out_hw, WORK_SIDE)
    torch.manual_seed(20)
    vae = AutoencoderKL(**vae_config("sd15", "ci")).eval()
    frames = []
    with torch.inference_mode():
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            latents = torch.randn(1, 4, geom.work_hw[0] // 8, geom.work_hw[1] // 8, generator=g)
            img = vae.decode(latents / vae.config.scaling_factor).sample[0]
            work = ((img.clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).numpy()
            frames.append(from_work(work, geom))
    return frames


# ----------------------------------------------------------------------------------- restore


def poisson_restore(frame: np.ndarray, placed: PlacedProduct, sigma: float) -> np.ndarray:
    """The method before issue 19 (kept for comparison): per box, detail transfer with a per-pixel
    gain over box & product, then ``cv2.seamlessClone`` over that region grown by 6 px."""
    seam, gain_range = 6, (0.85, 1.2)
    out = frame
    h, w = placed.mask.shape
    for x0, y0, x1, y1 in placed.logo_boxes:
        margin = seam + int(3 * sigma) + 2
        cx0, cy0, cx1, cy1 = max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
        crop = (slice(cy0, cy1), slice(cx0, cx1))
        pm = placed.mask[crop]
        region = np.zeros(pm.shape, bool)
        region[max(0, y0 - cy0) : y1 - cy0, max(0, x0 - cx0) : x1 - cx0] = True
        region &= pm
        if region.sum() < 16:
            continue
        t, s, wt = out[crop].astype(np.float32), placed.rgb[crop].astype(np.float32), pm.astype(np.float32)

        def blur(img: np.ndarray, wt: np.ndarray = wt) -> np.ndarray:
            return cv2.GaussianBlur(img * wt[..., None], (0, 0), sigma) / np.maximum(
                cv2.GaussianBlur(wt, (0, 0), sigma)[..., None], 1e-3)

        gain = (blur(t) + 4.0) / (blur(s) + 4.0)
        lum = gain.mean(axis=2, keepdims=True)
        gain = np.clip(lum, *gain_range) * np.clip(gain / np.maximum(lum, 1e-3), 0.8, 1.25)
        patched = np.clip(np.rint(np.where(region[..., None], s * gain, t)), 0, 255).astype(np.uint8)
        domain = cv2.dilate(region.astype(np.uint8) * 255, np.ones((2 * seam + 1,) * 2, np.uint8))
        domain[[0, -1], :] = 0
        domain[:, [0, -1]] = 0
        ys, xs = np.nonzero(domain)
        center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
        blended = cv2.seamlessClone(patched, out[crop], domain, center, cv2.NORMAL_CLONE)
        out = out.copy()
        np.copyto(out[crop], blended, where=pm[..., None])
    return out


def restore(method: str, frame: np.ndarray, placed: PlacedProduct) -> np.ndarray:
    sigma = RestoreConfig().detail_sigma
    if method == "none":
        return frame
    if method == "poisson":
        return poisson_restore(frame, placed, sigma)
    scene = SceneResult(image=frame, backend="diffusion", product_altered=True)
    return restore_product(scene, placed, RestoreConfig(mode="harmonised"))


# -------------------------------------------------------------------------------------- run


def photos_with_boxes(products: Path) -> list[tuple[Path, list[list[int]]]]:
    out = []
    for js in sorted((products / "text_regions").glob("*.json")):
        regions = json.loads(js.read_text())["regions"]
        if regions:
            out.append((products / json.loads(js.read_text())["file"], [r["box"] for r in regions]))
    return out


def cases(products: Path, limit: int | None) -> Iterator[tuple[str, PlacedProduct, Any, dict[str, np.ndarray]]]:
    """(photo name, placed product with its true boxes, segmentation, {frame kind: frame}) per photo."""
    config = PipelineConfig()
    segmenter = build_segmenter(config)
    studio = StudioBackend(config.scene)
    theme = get_theme(config.scene.theme, config.scene.themes_file)
    placement_cfg = PlacementConfig(long_side=OUT_SIDE)
    noise = random_frames((OUT_SIDE, OUT_SIDE), seeds=[0, 1])
    for k, (path, boxes) in enumerate(photos_with_boxes(products)[:limit]):
        decoded = decode_image(path.read_bytes(), name=path.name)
        seg = segmenter(decoded.rgb)
        placement = compute_placement(seg.mask, placement_cfg)
        placed = place_product(seg.foreground, seg.alpha, placement,
                               read_sidecar_boxes({"logo_boxes": boxes}, decoded.size_hw) or ())
        if placed.rgb.shape[:2] != noise[0].shape[:2]:
            raise ValueError(f"{path.name}: canvas {placed.rgb.shape[:2]}, expected {noise[0].shape[:2]}")
        control = build_control_maps(placed, PseudoDepth(), ControlConfig())
        plate = studio(placed, control, theme, seed=k, item_meta={}).image
        rng = np.random.default_rng(k)
        frames = {"relit": relit_frame(placed, plate, rng), "random": noise[k % 2],
                  "resized": through_work_size(alpha_paste(placed.rgb, placed.alpha, plate), rng)}
        yield path.stem, placed, seg, frames


def evaluate(products: Path, limit: int | None) -> dict[str, Any]:
    score_cfg = PipelineConfig().score
    rows = []
    for name, placed, seg, frames in cases(products, limit):
        row: dict[str, Any] = {"photo": name, "boxes": len(placed.logo_boxes)}
        for fname in FRAMES:
            for method in METHODS:
                composite = restore(method, frames[fname], placed)
                m = score_composite(placed, composite, frames[fname], seg.background_rgb, score_cfg)
                row[f"{fname}/{method}"] = None if m.logo_ssim_min is None else round(m.logo_ssim_min, 4)
        rows.append(row)
        logger.info("%s", row)
    return {"rows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for fname in FRAMES:
        for method in METHODS:
            vals = [r[f"{fname}/{method}"] for r in rows if r[f"{fname}/{method}"] is not None]
            if vals:
                worst = min(rows, key=lambda r: r[f"{fname}/{method}"] if r[f"{fname}/{method}"] is not None else 9)
                out[f"{fname}/{method}"] = {"n": len(vals), "min": min(vals), "median": round(statistics.median(vals), 4),
                                            "at_least_0.95": sum(v >= GATE_MIN for v in vals),
                                            "worst": worst["photo"]}
    return out


def table(result: dict[str, Any]) -> str:
    lines = [f"| frame | restore | photos | min | median | photos >= {GATE_MIN} | worst |", "|---|---|---:|---:|---:|---:|---|"]
    for key, s in result["summary"].items():
        fname, method = key.split("/")
        lines.append(f"| {fname} | {method} | {s['n']} | {s['min']:.3f} | {s['median']:.3f} | {s['at_least_0.95']} "
                     f"| {s['worst']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    p.add_argument("--limit", type=int, help="only the first N photos with boxes")
    p.add_argument("--out", type=Path, help="write every photo's numbers as JSON here")
    args = p.parse_args(argv)
    if not (args.products / "text_regions").is_dir():
        p.error(f"no text_regions/ under {args.products}")
    result = evaluate(args.products, args.limit)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    sys.stdout.write(table(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
