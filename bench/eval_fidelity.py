"""Quality numbers for the CPU path: segmentation IoU / boundary F, and the gate on real photos.

    python bench/eval_fidelity.py [--products ../shared/products]

Prints, per image and in summary:
  * IoU and boundary F-score of the classical segmenter on the generated samples (exact ground
    truth) and on the real photos that have ground-truth masks;
  * pass rate, mean ΔE00 and every metric of the gate in exact mode on all real photos;
  * the gate's confusion table: bad cut-outs (IoU < 0.95) failed, good ones (>= 0.98) failed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import cv2
import numpy as np

from gate_confusion import confusion_rows, confusion_table
from pipeline.compose import build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.imageio import decode_image
from pipeline.samples import write_samples
from pipeline.score.mask_metrics import boundary_f_score, iou
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.storage import IMAGE_SUFFIXES

DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "products"


def _read_mask(path: Path) -> np.ndarray:
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if m.ndim == 3:
        m = m[..., 3] if m.shape[2] == 4 else m[..., 0]
    return m >= 128


def segmentation_table(pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[float, float]:
    seg = ClassicalSegmenter()
    ious, fs = [], []
    print("| image | IoU | boundary F |")
    print("|---|---:|---:|")
    for name, rgb, truth in pairs:
        pred = seg(rgb).mask
        ious.append(iou(pred, truth))
        fs.append(boundary_f_score(pred, truth))
        print(f"| {name} | {ious[-1]:.4f} | {fs[-1]:.4f} |")
    print(f"| **mean** | **{statistics.mean(ious):.4f}** | **{statistics.mean(fs):.4f}** |")
    return statistics.mean(ious), statistics.mean(fs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        paths = [p for p in write_samples(Path(tmp)) if p.suffix.lower() in IMAGE_SUFFIXES]
        pairs = []
        for p in paths:
            d = decode_image(p.read_bytes(), name=p.name)
            pairs.append((p.name, d.rgb, _read_mask(Path(tmp) / "_ground_truth" / f"{p.stem}_mask.png")))
    print("\n## Classical segmentation on the generated samples")
    segmentation_table(pairs)

    images = args.products / "images"
    if not images.is_dir():
        print(f"\n(no real photos at {images}: skipped)")
        return
    masks = sorted((args.products / "masks").glob("*.png"))
    print("\n## Classical segmentation on the real photos with ground-truth masks")
    segmentation_table([(m.name, decode_image((images / m.name).read_bytes()).rgb, _read_mask(m)) for m in masks])

    print("\n## Gate in exact mode on every real photo (studio backend, default config)")
    config = PipelineConfig()
    stages = build_stages(config)
    rows, errors = [], 0
    print("| image | verdict | ΔE00 mean | ΔE00 p95 | SSIM | logo SSIM | expansion | halo | reasons |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for p in sorted(images.iterdir()):
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            r = process_product(p.read_bytes(), name=p.name, config=config, stages=stages, seed=0)
        except ValueError as exc:
            errors += 1
            print(f"| {p.name} | error | | | | | | | {exc} |")
            continue
        m = r.metrics
        rows.append(r)
        logo = "–" if m.logo_ssim_min is None else f"{m.logo_ssim_min:.3f}"
        print(f"| {p.name} | {r.verdict.label} | {m.delta_e00_mean:.3f} | {m.delta_e00_p95:.3f} | {m.ssim:.4f} | "
              f"{logo} | {m.expansion:.4f} | {m.halo:.3f} | {'; '.join(r.verdict.reasons)} |")
    passed = sum(r.verdict.passed for r in rows)
    print(f"\npass rate {passed}/{len(rows)} = {passed / max(len(rows), 1):.3f}; errors {errors}; "
          f"mean ΔE00 {statistics.mean(r.metrics.delta_e00_mean for r in rows):.4f}")

    print("\n## The gate against cut-out quality (real photos as segmented; goals: bad >= 90% fail, good <= 10%)")
    print(confusion_table(confusion_rows(args.products, config)))


if __name__ == "__main__":
    main()
