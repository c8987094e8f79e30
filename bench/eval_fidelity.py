"""Quality numbers for the CPU path: segmentation IoU / boundary F per set, and the gate on real photos.

    python bench/eval_fidelity.py [--products ../shared/products] [--sheets DIR] [--backend classical]
                                  [--work-side 512] [--no-gate] [--no-samples] [--model PATH|auto]

Prints, for each set (real photographs ``ck_*``/``rds_*``, product mockups ``solidus_*``, generated
samples with exact ground truth):
  * a per-image table of IoU and boundary F (tolerance 0.4% of the diagonal, at least 2 px),
    worst first;
  * a summary table: mean IoU, mean boundary F, how many at IoU >= 0.95, the minimum;
  * a contact sheet per set (PNG under ``--sheets``; default ``bench/out/fidelity``): original |
    mask over the photo (green kept, red wrongly kept, blue missed) | composite on dark grey,
    one row per photo, worst first. Sheets of the real photos are derived from licensed photos:
    keep them out of the repository.
Then, unless ``--no-gate``: pass rate, mean ΔE00 and every gate metric in exact mode on all real photos.
And the gate's confusion table: bad cut-outs (IoU < 0.95) failed, good ones (>= 0.98) failed.

``--model PATH`` (an ONNX salient-object model; ``--family``, default isnet-general-use) adds, per set,
classical / model / fused (``segment.backend: fused``) / oracle ("best of the two" per photo) side by
side, with the disagreement fraction; the segmentation tables above are then the fused backend's.
``--model auto`` takes the evaluation model ``bench/fetch_eval_model.sh`` puts in
``~/.cache/product-scene/eval-models/`` (IMG.LY's IS-Net, AGPL-3.0: never commit or ship it). A missing
model or onnxruntime skips the comparison with a line saying why.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from eval_fix import read_mask  # the one reader of ground-truth mask PNGs for the benches
from gate_confusion import ConfusionRow, confusion_table
from pipeline.compose import build_stages, process_product
from pipeline.config import GateConfig, PipelineConfig, SegmentConfig
from pipeline.io.imageio import decode_image, encode_png
from pipeline.samples import write_samples
from pipeline.imaging import iou
from pipeline.score.cutout import cutout_signals
from pipeline.score.mask_metrics import boundary_f_score
from pipeline.segment import build_segmenter
from pipeline.io.storage import IMAGE_SUFFIXES, atomic_write_file
from pipeline.types import Segmentation

DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "products"
DEFAULT_SHEETS = Path(__file__).resolve().parent / "out" / "fidelity"
EVAL_MODEL = Path.home() / ".cache" / "product-scene" / "eval-models" / "imgly-isnet-medium-1.4.5.onnx"
GOOD_IOU = 0.95
SHEET_ROW_PX = 220  # height of one contact-sheet row (the pictures)
CAPTION_PX = 22  # height of the caption strip above each row
COMPOSITE_BG = (58, 62, 70)  # dark slate: white fringes and lost white parts both show


@dataclass(frozen=True)
class Scored:
    """One image's result: name, IoU, boundary F, and a contact-sheet row (HWC uint8)."""

    name: str
    iou: float
    boundary_f: float
    sheet_row: np.ndarray


def sample_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, rgb HWC uint8, truth HW bool) for every generated sample, decoded from its file."""
    with tempfile.TemporaryDirectory() as tmp:
        pairs = []
        for p in write_samples(Path(tmp)):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                rgb = decode_image(p.read_bytes(), name=p.name).rgb
                pairs.append((p.name, rgb, read_mask(Path(tmp) / "_ground_truth" / f"{p.stem}_mask.png")))
    return pairs


def product_sets(products: Path) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The photos of ``products`` that have a ground-truth mask, split into real photographs and
    (``solidus_*``) mockups. Empty dict when the folder is absent."""
    images, masks = products / "images", products / "masks"
    if not images.is_dir() or not masks.is_dir():
        return {}
    sets: dict[str, list] = {"real photographs": [], "mockups": []}
    for m in sorted(masks.glob("*.png")):
        photo = next((images / f"{m.stem}{s}" for s in (".jpg", ".png", ".jpeg", ".webp")
                      if (images / f"{m.stem}{s}").exists()), None)
        if photo is None:
            continue
        rgb = decode_image(photo.read_bytes(), name=photo.name).rgb
        sets["mockups" if m.stem.startswith("solidus_") else "real photographs"].append((photo.name, rgb, read_mask(m)))
    return {k: v for k, v in sets.items() if v}


def _caption(text: str, width: int) -> np.ndarray:
    """A white strip (CAPTION_PX x width x 3 uint8) with ``text`` in black."""
    strip = np.full((CAPTION_PX, width, 3), 255, np.uint8)
    cv2.putText(strip, text, (6, CAPTION_PX - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def sheet_row(name: str, rgb: np.ndarray, seg: Segmentation, truth: np.ndarray, score: float) -> np.ndarray:
    """Caption over original | mask over the photo (green kept, red wrongly kept, blue missed) |
    composite on dark grey; HWC uint8, CAPTION_PX + SHEET_ROW_PX high."""
    h, w = rgb.shape[:2]
    s = SHEET_ROW_PX / h
    size = (max(1, round(w * s)), SHEET_ROW_PX)
    pred = seg.mask
    over = rgb.astype(np.float32)
    kept, wrong, missed = pred & truth, pred & ~truth, ~pred & truth
    for region, colour in ((kept, (40, 200, 60)), (wrong, (235, 30, 30)), (missed, (30, 80, 255))):
        over[region] = 0.45 * over[region] + 0.55 * np.asarray(colour, np.float32)
    a = seg.alpha[..., None]
    comp = seg.foreground.astype(np.float32) * a + np.asarray(COMPOSITE_BG, np.float32) * (1 - a)
    panels = [cv2.resize(p.astype(np.uint8), size, interpolation=cv2.INTER_AREA) for p in (rgb, over, comp)]
    gap = np.full((SHEET_ROW_PX, 4, 3), 255, np.uint8)
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    return np.concatenate([_caption(f"{name}   IoU {score:.3f}", row.shape[1]), row], axis=0)


def score_set(segmenter, pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> list[Scored]:
    """Segment every (name, rgb, truth) and score it; worst IoU first."""
    rows = []
    for name, rgb, truth in pairs:
        seg = segmenter(rgb)
        score = iou(seg.mask, truth)
        rows.append(Scored(name, score, boundary_f_score(seg.mask, truth), sheet_row(name, rgb, seg, truth, score)))
    return sorted(rows, key=lambda r: r.iou)


@dataclass(frozen=True)
class Compared:
    """One image under ``--model``: IoU of the classical, model and fused masks, the disagreement
    fraction, how the fused mask was chosen, and the fused backend's row."""

    name: str
    classical: float
    model: float
    fused: float
    disagreement: float
    how: str
    scored: Scored
    by_confidence: float = float("nan")  # IoU of whichever of the three cutout_confidence rates highest

    @property
    def oracle(self) -> float:
        return max(self.classical, self.model)


def compare_set(fused, pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> list[Compared]:
    """Run the fused backend (``FusedSegmenter``) on every pair; worst fused IoU first. Also scores
    the per-photo choice by ``cutout_confidence`` among classical, model and fused."""
    rows = []
    for name, rgb, truth in pairs:
        run = fused.run(rgb)
        seg = run.fused
        score = iou(seg.mask, truth)
        model = iou(run.model.mask, truth) if run.model is not None else float("nan")
        candidates = [m for m in (run.classical.mask, None if run.model is None else run.model.mask, seg.mask)
                      if m is not None and m.any()]
        gate = GateConfig()  # the default limits the confidence is read under
        picked = max(candidates, key=lambda m: cutout_signals(rgb, m).confidence(gate))
        scored = Scored(name, score, boundary_f_score(seg.mask, truth), sheet_row(name, rgb, seg, truth, score))
        rows.append(Compared(name, iou(run.classical.mask, truth), model, score,
                             float(seg.info.get("disagreement", float("nan"))), str(seg.info.get("fusion", "")),
                             scored, iou(picked, truth)))
    return sorted(rows, key=lambda r: r.fused)


def print_comparison(title: str, rows: list[Compared], model: Path) -> None:
    """Per image, then the set's means: classical, model, fused, oracle (best of the two per photo)."""
    print(f"\n## {title}: classical, model ({model.name}), fused, oracle; worst fused first\n")
    print("| image | classical | model | fused | oracle | picked by confidence | disagreement | fused by |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r.name} | {r.classical:.4f} | {r.model:.4f} | {r.fused:.4f} | {r.oracle:.4f} | "
              f"{r.by_confidence:.4f} | {r.disagreement:.3f} | {r.how} |")


def print_comparison_summary(sets: dict[str, list[Compared]], model: Path) -> None:
    print(f"\n## Classical vs model ({model.name}) vs fused, per set (mean IoU)\n")
    print("| set | images | classical | model | fused | oracle | picked by confidence | fused − oracle | "
          "fused − classical | min fused |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for title, rows in sets.items():
        c, m, f, o, p = (statistics.mean(getattr(r, k) for r in rows)
                         for k in ("classical", "model", "fused", "oracle", "by_confidence"))
        print(f"| {title} | {len(rows)} | {c:.3f} | {m:.3f} | {f:.3f} | {o:.3f} | {p:.3f} | {f - o:+.4f} | "
              f"{f - c:+.4f} | {min(r.fused for r in rows):.3f} |")


def load_fused(model: Path, family: str, work_side: int):
    """The fused segmenter on ``model``, or None with a printed reason (model or onnxruntime missing)."""
    if not model.is_file():
        print(f"(no model at {model}: classical only; bench/fetch_eval_model.sh fetches the evaluation model)")
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("(onnxruntime not installed: classical only; pip install 'product-scene[onnx]')")
        return None
    from pipeline.segment.fused import build_fused_segmenter

    config = PipelineConfig(segment=SegmentConfig(backend="fused", work_side=work_side, onnx_model=str(model),
                                                  onnx_family=family))
    seg = build_fused_segmenter(config)
    if seg.onnx.model is None:
        print(f"(model {model} unusable: {seg.onnx.load_error}; classical only)")
        return None
    return seg


def print_image_table(title: str, rows: list[Scored]) -> None:
    print(f"\n## {title}: per image, worst first\n")
    print("| image | IoU | boundary F |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r.name} | {r.iou:.4f} | {r.boundary_f:.4f} |")


def print_summary_table(sets: dict[str, list[Scored]]) -> None:
    print("\n## Summary per set\n")
    print(f"| set | images | mean IoU | mean boundary F | IoU ≥ {GOOD_IOU} | min IoU |")
    print("|---|---:|---:|---:|---:|---:|")
    for title, rows in sets.items():
        ious = [r.iou for r in rows]
        mean_f = statistics.mean(r.boundary_f for r in rows)
        print(f"| {title} | {len(rows)} | {statistics.mean(ious):.3f} | {mean_f:.3f} | "
              f"{sum(i >= GOOD_IOU for i in ious)} | {min(ious):.3f} |")


def write_contact_sheet(rows: list[Scored], path: Path) -> None:
    """Stack the rows (already worst first) into one PNG at ``path``, rows padded to one width."""
    width = max(r.sheet_row.shape[1] for r in rows)
    padded = [np.pad(r.sheet_row, ((0, 4), (0, width - r.sheet_row.shape[1]), (0, 0)), constant_values=255)
              for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_file(path, encode_png(np.concatenate(padded, axis=0)))


def gate_table(products: Path) -> None:
    """Gate in exact mode (studio backend, default config) on every photo in ``products/images``,
    then the confusion table of the gate against each cut-out's IoU with ``products/masks``."""
    images, masks = products / "images", products / "masks"
    print("\n## Gate in exact mode on every real photo (studio backend, default config)\n")
    config = PipelineConfig()
    stages = build_stages(config)
    rows, confusion, errors = [], [], 0
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
        if (mask := masks / f"{p.stem}.png").is_file():
            confusion.append(ConfusionRow(p.stem, iou(r.segmentation.mask, read_mask(mask)), r.verdict.passed,
                                          r.verdict.reasons))
        logo = "–" if m.logo_ssim_min is None else f"{m.logo_ssim_min:.3f}"
        print(f"| {p.name} | {r.verdict.label} | {m.delta_e00_mean:.3f} | {m.delta_e00_p95:.3f} | {m.ssim:.4f} | "
              f"{logo} | {m.expansion:.4f} | {m.halo:.3f} | {'; '.join(r.verdict.reasons)} |")
    passed = sum(r.verdict.passed for r in rows)
    print(f"\npass rate {passed}/{len(rows)} = {passed / max(len(rows), 1):.3f}; errors {errors}; "
          f"mean ΔE00 {statistics.mean(r.metrics.delta_e00_mean for r in rows):.4f}")

    print("\n## The gate against cut-out quality (real photos as segmented; goals: bad >= 90% fail, good <= 10%)")
    print(confusion_table(confusion))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS, help="folder with images/ and masks/")
    parser.add_argument("--sheets", type=Path, default=DEFAULT_SHEETS, help="folder for the contact-sheet PNGs")
    parser.add_argument("--backend", default="classical", help="segmentation backend to score (segment.backend)")
    parser.add_argument("--no-gate", action="store_true", help="skip the gate table (the slow part)")
    parser.add_argument("--no-samples", action="store_true", help="skip the generated samples")
    parser.add_argument("--work-side", type=int, default=SegmentConfig().work_side, help="segment.work_side")
    parser.add_argument("--model", help="ONNX model for classical/model/fused/oracle tables ('auto': the "
                                        "evaluation model of bench/fetch_eval_model.sh)")
    parser.add_argument("--family", default="isnet-general-use", help="segment.onnx_family of --model")
    args = parser.parse_args()

    segmenter = build_segmenter(PipelineConfig(segment=SegmentConfig(backend=args.backend, work_side=args.work_side)))
    inputs = product_sets(args.products)
    if not inputs:
        print(f"(no real photos with masks under {args.products}: skipped)")
    if not args.no_samples:
        inputs["generated samples"] = sample_pairs()
    fused = None
    if args.model:
        model = EVAL_MODEL if args.model == "auto" else Path(args.model)
        fused = load_fused(model, args.family, args.work_side)
    if fused is not None:
        compared = {title: compare_set(fused, pairs) for title, pairs in inputs.items()}
        for title, rows in compared.items():
            print_comparison(title, rows, model)
        print_comparison_summary(compared, model)
        scored = {f"{title} (fused)": sorted((r.scored for r in rows), key=lambda r: r.iou)
                  for title, rows in compared.items()}
    else:
        scored = {title: score_set(segmenter, pairs) for title, pairs in inputs.items()}
    for title, rows in scored.items():
        print_image_table(title, rows)
        sheet = args.sheets / f"{title.replace(' ', '_')}.png"
        write_contact_sheet(rows, sheet)
        print(f"\ncontact sheet: {sheet}")
    print_summary_table(scored)

    if not args.no_gate and (args.products / "images").is_dir():
        gate_table(args.products)


if __name__ == "__main__":
    main()
