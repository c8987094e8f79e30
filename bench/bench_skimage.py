"""Is scikit-image the better tool anywhere the library computes something itself? (issue 17)

    python bench/bench_skimage.py [--size 1024] [--runs 5]

For each job the library does with its own code or OpenCV, times scikit-image's function on the
same 1 MP input side by side (median of ``--runs``, one process) and reports the largest
difference between the two results:

- sRGB -> CIELAB: ``pipeline.score.color.srgb_to_lab`` vs ``skimage.color.rgb2lab``
- ΔE00: ``pipeline.score.color.delta_e00`` vs ``skimage.color.deltaE_ciede2000``
- SSIM map: ``pipeline.score.ssim.ssim_map`` vs ``skimage.metrics.structural_similarity(full=True)``
- connected components: ``cv2.connectedComponentsWithStats`` vs ``skimage.measure.label`` + ``regionprops``
- disc dilation: ``pipeline.imaging.dilate_disc`` (OpenCV) vs ``skimage.morphology.dilation`` with the
  same footprint

Needs the bench extra (scikit-image). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.measure import label, regionprops
from skimage.metrics import structural_similarity
from skimage.morphology import dilation, disk

from pipeline.imaging import dilate_disc, disc
from pipeline.score.color import delta_e00, srgb_to_lab
from pipeline.score.ssim import luminance, ssim_map

DILATE_RADIUS = 7  # px: the size of the score's expansion band at the default output size


def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _inputs(size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), np.uint8), (0, 0), 3)
    shifted = np.clip(rgb.astype(np.int16) + rng.integers(-6, 7, rgb.shape), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    blobs = np.zeros((size, size), bool)
    for cx, cy, r in rng.integers(20, size - 20, (40, 3)):
        blobs |= (xx - cx) ** 2 + (yy - cy) ** 2 < (r % 60 + 5) ** 2
    return {"rgb": rgb, "shifted": shifted, "mask": blobs}


def measure(size: int, runs: int) -> list[tuple[str, float, float, str]]:
    """Rows of (job, library ms, scikit-image ms, agreement)."""
    x = _inputs(size)
    rgb, shifted, mask = x["rgb"], x["shifted"], x["mask"]
    rows = []

    ours, theirs = srgb_to_lab(rgb), rgb2lab(rgb)
    rows.append(("sRGB -> Lab", _median_ms(lambda: srgb_to_lab(rgb), runs), _median_ms(lambda: rgb2lab(rgb), runs),
                 f"max |ΔLab| {np.abs(ours - theirs).max():.1e}"))

    lab1, lab2 = srgb_to_lab(rgb), srgb_to_lab(shifted)
    d_ours, d_theirs = delta_e00(lab1, lab2), deltaE_ciede2000(lab1, lab2)
    rows.append(("ΔE00", _median_ms(lambda: delta_e00(lab1, lab2), runs),
                 _median_ms(lambda: deltaE_ciede2000(lab1, lab2), runs),
                 f"max |diff| {np.abs(d_ours - d_theirs).max():.1e} ΔE00"))

    ya, yb = luminance(rgb), luminance(shifted)

    def skimage_ssim() -> np.ndarray:
        return structural_similarity(ya.astype(np.float64), yb.astype(np.float64), full=True, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False, data_range=255)[1]

    s_ours, s_theirs = ssim_map(ya, yb), skimage_ssim()
    rows.append(("SSIM map", _median_ms(lambda: ssim_map(ya, yb), runs), _median_ms(skimage_ssim, runs),
                 f"max |diff| {np.abs(s_ours - s_theirs).max():.1e}"))

    m8 = mask.astype(np.uint8)
    n_cv = cv2.connectedComponentsWithStats(m8, connectivity=8)[0] - 1

    def skimage_components() -> list[Any]:
        return regionprops(label(mask, connectivity=2))

    rows.append(("connected components + areas",
                 _median_ms(lambda: cv2.connectedComponentsWithStats(m8, connectivity=8), runs),
                 _median_ms(skimage_components, runs), f"same count: {n_cv == len(skimage_components())}"))

    footprint = disc(DILATE_RADIUS).astype(bool)  # the same footprint: only the implementation differs
    same = np.array_equal(dilate_disc(mask, DILATE_RADIUS), dilation(mask, footprint))
    n_disk = int((dilation(mask, disk(DILATE_RADIUS)) != dilate_disc(mask, DILATE_RADIUS)).sum())
    rows.append((f"disc dilation r={DILATE_RADIUS}", _median_ms(lambda: dilate_disc(mask, DILATE_RADIUS), runs),
                 _median_ms(lambda: dilation(mask, footprint), runs),
                 f"identical masks: {same} (skimage's own disk(r) differs in {n_disk} px)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"| job ({args.size}x{args.size}) | library ms | scikit-image ms | skimage / library | agreement |")
    print("|---|---:|---:|---:|---|")
    for job, ours, theirs, agreement in measure(args.size, args.runs):
        print(f"| {job} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.1f}x | {agreement} |")


if __name__ == "__main__":
    main()
