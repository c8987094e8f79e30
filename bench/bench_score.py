"""Time ``score_composite`` on a 1024x1024 composite with a ~40% product area.

    taskset -c 0 python bench/bench_score.py [--runs 20]
    taskset -c 0 python bench/bench_score.py --compare ../main [--rounds 3]

``--compare TREE`` times the classical segmentation and the whole gate (cut-out signals, appearance
metrics, scene and composition checks, apply_gate) of this tree and of another checkout (e.g. main
before a change) side by side, in CPU time of one thread: each round runs both, in turn (which goes
first alternates: on a busy machine the order shows), in a fresh subprocess on the same input
(a 1 MP generated sample: a product on its backdrop), and prints the medians and their ratio.
Quote only such side-by-side ratios from a busy machine.

Also times the whole gate per 1 MP image: score_composite + the cut-out signals (on the photo) +
the scene checks + apply_gate (``cost_markdown``; one core: run it under ``taskset -c 0``).

Two cases: an exact paste (most product pixels identical to the reference, the CPU default) and a
harmonised composite (every product pixel shifted, so every ΔE00 and SSIM strip is computed).
Also times the SSIM map against ``skimage.metrics.structural_similarity`` on a 700x700 crop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np

from pipeline.config import GateConfig, ScoreConfig, SegmentConfig
from pipeline.score import apply_gate, cutout_signals, scene_signals, score_composite, with_checks
from pipeline.score.composition import frame_cut, touches_frame
from pipeline.score.cutout_stability import unstable_share
from pipeline.score.ssim import ssim_map
from pipeline.types import PlacedProduct, Placement


def _scene(size: int = 1024) -> tuple[PlacedProduct, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    m = np.zeros((size, size), np.uint8)
    cv2.ellipse(m, (size // 2, int(size * 0.55)), (int(size * 0.29), int(size * 0.43)), 0, 0, 360, 1, -1)
    alpha = cv2.GaussianBlur(m.astype(np.float32), (5, 5), 1.0)
    alpha[alpha < 0.02] = 0
    alpha[alpha > 0.98] = 1
    mask = alpha >= 0.5
    yy, xx = np.mgrid[0:size, 0:size]
    ref = np.stack([(xx * 0.2 + 100) % 256, (yy * 0.15 + 30) % 256, 80 + 40 * np.sin(xx / 30.0)], -1)
    ref = np.clip(ref + rng.integers(-6, 7, ref.shape), 0, 255).astype(np.uint8)
    plate = np.full((size, size, 3), (235, 228, 220), np.uint8)
    a3 = alpha[..., None]
    exact = np.clip(ref * a3 + plate * (1 - a3) + 0.5, 0, 255).astype(np.uint8)
    shifted = np.clip(exact.astype(np.int16) + [4, 1, -3], 0, 255).astype(np.uint8)
    harmonised = np.where(mask[..., None], shifted, exact)
    placement = Placement(matrix=np.eye(2, 3), out_hw=(size, size), box_xyxy=(0, 0, size, size), horizon_y=size // 2)
    boxes = ((400, 400, 520, 460), (450, 700, 600, 760))
    placed = PlacedProduct(rgb=ref, alpha=alpha, mask=mask, placement=placement, logo_boxes=boxes)
    return placed, exact, harmonised, plate


def _time(fn, runs: int) -> str:
    """Median / min wall time and median CPU time of this process (CPU time is what one core
    spends, unaffected by other processes competing for it)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    wall_s = f"wall median {statistics.median(wall):.1f} ms (min {min(wall):.1f})"
    return f"{wall_s}, CPU median {statistics.median(cpu):.1f} ms"


def _cpu_ms(fn, runs: int) -> float:
    fn()
    cpu = []
    for _ in range(runs):
        c0 = time.process_time()
        fn()
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(cpu)


def cost_markdown(runs: int = 10) -> str:
    """Markdown table: CPU ms (one thread) of each part of the gate on a 1024x1024 image."""
    cv2.setNumThreads(1)
    placed, exact, _, plate = _scene()
    config, gate = ScoreConfig(), GateConfig()
    photo = exact  # a 1 MP photo of the product on a plain backdrop, its mask the product's
    palette = [(235, 228, 220), (200, 190, 180)]
    parts = {
        "score_composite (exact paste)": lambda: score_composite(placed, exact, plate, (255.0,) * 3, config),
        "cut-out signals": lambda: cutout_signals(photo, placed.mask),
        "second look (classical segmenter at 5/8 size)": lambda: unstable_share(photo, placed.mask, SegmentConfig()),
        "scene checks": lambda: scene_signals(exact, placed.mask, placed.placement.horizon_y, palette),
    }
    ms = {name: _cpu_ms(fn, runs) for name, fn in parts.items()}

    def whole():
        m = score_composite(placed, exact, plate, (255.0,) * 3, config)
        cut = cutout_signals(photo, placed.mask).with_stability(unstable_share(photo, placed.mask, SegmentConfig()))
        m = with_checks(m, cut, scene_signals(exact, placed.mask, placed.placement.horizon_y, palette), gate,
                        frame_cut(placed.mask, placed.placement) if touches_frame(placed.placement) else 0.0)
        apply_gate(m, gate)

    ms["whole gate"] = _cpu_ms(whole, runs)
    lines = ["| part (1024x1024, product 39% of the frame, one thread) | CPU ms (median) |", "|---|---:|"]
    lines += [f"| {name} | {v:.1f} |" for name, v in ms.items()]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return ("\n".join(lines) + f"\n\nGoal: the whole gate under 40 ms per 1 MP image on one core. Measured with "
            f"load average {load} on the machine (CPU time still grows under contention; rerun "
            "`taskset -c 0 python bench/bench_score.py` on a quiet machine).")


# Runs inside either tree (old or new scoring API): CPU ms (one thread) of the segmentation and of
# the whole gate of one 1 MP sample. Prints one JSON line.
_STAGE_PROBE = r"""
import json, statistics, time, cv2
cv2.setNumThreads(1)
from pipeline.compose import build_stages, process_product, score_and_gate
from pipeline.config import PipelineConfig
from pipeline.io.imageio import encode_png
from pipeline.samples import render_sample
from pipeline.score import cutout_signals
try:  # the composition check (absent in old trees); its side predicate moved into the placement
    from pipeline.score.composition import frame_cut, touches_frame
    try:
        from pipeline.score.composition import justified_sides
    except ImportError:
        justified_sides = None
except ImportError:
    frame_cut = None
try:  # the classical segmenter's second look (absent in old trees)
    from pipeline.score.cutout_stability import unstable_share
except ImportError:
    unstable_share = None
sample = render_sample("mug_red", size=(1024, 1024))
config = PipelineConfig()
stages = build_stages(config)
r = process_product(encode_png(sample.rgb), name="s.png", config=config, stages=stages, seed=0)
rgb, placed, mask = r.decoded.rgb, r.placed, r.segmentation.mask
def gate():  # what compose's step 6 runs for a classical cut-out
    cut = cutout_signals(rgb, mask)
    if unstable_share is not None:
        cut = cut.with_stability(unstable_share(rgb, mask, config.segment))
    extra = {}
    if frame_cut is not None:
        touches = touches_frame(placed.placement)
        if justified_sides is None:
            extra["frame_cut"] = frame_cut(mask, placed.placement) if touches else 0.0
        else:
            extra["frame_cut"] = frame_cut(mask, placed.placement, justified_sides(rgb, mask)) if touches else 0.0
    score_and_gate(placed, r.composite, r.scene.image, r.segmentation.background_rgb, cut, stages.theme, config, **extra)
def cpu(fn):
    fn()
    out = []
    for _ in range(RUNS):
        t = time.process_time(); fn(); out.append((time.process_time() - t) * 1e3)
    return statistics.median(out)
print(json.dumps({"segment": cpu(lambda: stages.segmenter(rgb)), "score": cpu(gate)}))
"""


def compare(tree: str, rounds: int, runs: int) -> None:
    """Segmentation and gate ms of this tree and ``tree``, side by side (module docstring)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parents[1])
    trees = {"this tree": here, f"{tree}": str(Path(tree).resolve())}
    results: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for i in range(rounds):
        order = list(trees.items())
        for label, root in order if i % 2 == 0 else order[::-1]:  # who goes first alternates (it reads slower)
            env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, "-c", _STAGE_PROBE.replace("RUNS", str(runs))], cwd=root,
                                 env=env, capture_output=True, text=True, check=True).stdout
            results[label].append(json.loads(out.strip().splitlines()[-1]))
    print("| tree | segment CPU ms | gate CPU ms | segment + gate CPU ms |")
    print("|---|---:|---:|---:|")
    med = {}
    for label, rs in results.items():
        seg = statistics.median(r["segment"] for r in rs)
        score = statistics.median(r["score"] for r in rs)
        med[label] = (seg, score)
        print(f"| {label} | {seg:.1f} | {score:.1f} | {seg + score:.1f} |")
    (a_seg, a_score), (b_seg, b_score) = med.values()
    print(f"\nratio this tree / {tree}: gate {a_score / b_score:.2f}, segment + gate "
          f"{(a_seg + a_score) / (b_seg + b_score):.2f} (1 MP sample, {rounds} rounds x {runs} runs, "
          f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--compare", metavar="TREE", help="another checkout to time side by side (e.g. ../main)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.rounds, min(args.runs, 5))
        return
    placed, exact, harmonised, plate = _scene()
    config = ScoreConfig()
    print(f"product area {placed.mask.mean():.1%} of 1024x1024; {args.runs} runs; cv2 threads {cv2.getNumThreads()}")
    for name, comp in (("exact paste", exact), ("harmonised (all product pixels differ)", harmonised)):
        timing = _time(lambda c=comp: score_composite(placed, c, plate, (255.0, 255.0, 255.0), config), args.runs)
        print(f"score_composite, {name}: {timing}")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (700, 700)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 5, x.shape), 0, 255).astype(np.float32)
    print(cost_markdown(args.runs))
    print(f"ssim_map (cv2) 700x700: {_time(lambda: ssim_map(x, y), args.runs)}")
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return
    timing = _time(
        lambda: structural_similarity(
            x, y, full=True, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
        ),
        args.runs,
    )
    print(f"skimage structural_similarity 700x700: {timing}")


if __name__ == "__main__":
    main()
