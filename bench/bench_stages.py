"""Per-stage CPU timings of the default (no-weights) path, on one core.

Runs every product through decode → segment → place → control → scene → restore → score and
prints the median milliseconds per stage and images per second, for:
  * the generated samples (always), and
  * ../shared/products/images (when present), at native size and resampled to 1.0 megapixel.

    python bench/bench_stages.py [--repeats 3] [--products DIR] [--size 1024]

Threads are pinned to one (OpenCV, BLAS) so the numbers are per core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.compose import build_stages, process_product  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.io.imageio import encode_png  # noqa: E402
from pipeline.samples import write_samples  # noqa: E402
from pipeline.io.storage import IMAGE_SUFFIXES  # noqa: E402

STAGES = ("decode", "segment", "place", "control", "scene", "restore", "score")
DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "products" / "images"


def resample_to_megapixel(data: bytes, megapixels: float = 1.0) -> bytes:
    """Re-encode an image (as PNG) scaled so that width*height is about ``megapixels`` million."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = (megapixels * 1e6 / (h * w)) ** 0.5
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    return encode_png(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def run_set(name: str, items: list[tuple[str, bytes]], config: PipelineConfig, repeats: int) -> None:
    stages = build_stages(config)
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    totals, mps, passed, errors = [], [], 0, 0
    for key, data in items:
        best: dict[str, float] | None = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            try:
                result = process_product(data, name=key, config=config, stages=stages, seed=0)
            except ValueError:
                errors += 1
                break
            wall = (time.perf_counter() - t0) * 1000
            if best is None or wall < best["total"]:
                best = {**result.timings_ms, "total": wall}
                verdict = result.verdict.passed
                mp = result.decoded.rgb.shape[0] * result.decoded.rgb.shape[1] / 1e6
        if best is None:
            continue
        passed += int(verdict)
        mps.append(mp)
        totals.append(best["total"])
        for s in STAGES:
            per_stage[s].append(best.get(s, 0.0))
    if not totals:
        print(f"\n{name}: no images")
        return
    print(f"\n{name}: {len(totals)} images (median {statistics.median(mps):.2f} MP in, output "
          f"{config.placement.output_wh()[0]}x{config.placement.output_wh()[1]}), {passed} passed the gate, "
          f"{errors} errors; best of {repeats} per image, 1 thread")
    print("| stage | median ms | p90 ms |")
    print("|---|---:|---:|")
    for s in STAGES:
        v = sorted(per_stage[s])
        print(f"| {s} | {statistics.median(v):.1f} | {v[int(0.9 * (len(v) - 1))]:.1f} |")
    med = statistics.median(totals)
    print(f"| **total** | **{med:.1f}** | {sorted(totals)[int(0.9 * (len(totals) - 1))]:.1f} |")
    print(f"images/second on one core: {1000.0 / med:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    parser.add_argument("--size", type=int, default=1024, help="output long side")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    config = PipelineConfig().with_overrides({"placement.long_side": args.size})

    with tempfile.TemporaryDirectory() as tmp:
        paths = [p for p in write_samples(Path(tmp)) if p.suffix.lower() in IMAGE_SUFFIXES]
        samples = [(p.name, p.read_bytes()) for p in paths]
    run_set("generated samples", samples, config, args.repeats)

    if args.products.is_dir():
        photos = [(p.name, p.read_bytes()) for p in sorted(args.products.iterdir())
                  if p.suffix.lower() in IMAGE_SUFFIXES]
        run_set(f"real photos ({args.products})", photos, config, args.repeats)
        run_set("real photos resampled to 1.0 MP", [(k, resample_to_megapixel(d)) for k, d in photos],
                config, args.repeats)
    else:
        print(f"\n(no real photos at {args.products}: skipped)")


if __name__ == "__main__":
    main()
