"""The gate against real cut-out quality: of the real photos as the segmenter cuts them, how many
bad cut-outs does the gate fail, and how many good ones?

``confusion_rows(products, config)`` runs every photo that has a ground-truth mask through the
pipeline (the configured segmenter, not injected) and measures its mask's IoU against the truth;
``confusion_table(rows)`` renders the table (markdown). Bad: IoU < 0.95 (goal: >= 90% fail);
good: IoU >= 0.98 (goal: <= 10% fail). ``../shared/tools/cutout_table.py`` prints the same from a
batch's report.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2

from pipeline.compose import build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.imaging import iou

BAD_IOU = 0.95
GOOD_IOU = 0.98


@dataclass(frozen=True)
class ConfusionRow:
    name: str
    iou: float
    passed: bool
    reasons: tuple[str, ...]


def confusion_rows(products: Path, config: PipelineConfig | None = None, every: int = 1) -> list[ConfusionRow]:
    """One row per photo in ``products/images`` with a mask in ``products/masks`` (every n-th)."""
    config = config or PipelineConfig()
    stages = build_stages(config)
    rows = []
    for mask_path in sorted((products / "masks").glob("*.png"))[::every]:
        photo = next((p for p in (products / "images").glob(mask_path.stem + ".*")), None)
        if photo is None:
            continue
        truth = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
        truth = (truth[..., -1] if truth.ndim == 3 else truth) >= 128
        result = process_product(photo.read_bytes(), name=photo.name, config=config, stages=stages, seed=0)
        rows.append(ConfusionRow(mask_path.stem, iou(result.segmentation.mask, truth), result.verdict.passed,
                                 result.verdict.reasons))
    return rows


def confusion_table(rows: Sequence[ConfusionRow]) -> str:
    """Markdown: the confusion summary, then one line per photo, worst IoU first."""
    bad = [r for r in rows if r.iou < BAD_IOU]
    good = [r for r in rows if r.iou >= GOOD_IOU]
    mid = [r for r in rows if BAD_IOU <= r.iou < GOOD_IOU]

    def failed(rs: Sequence[ConfusionRow]) -> str:
        k = sum(not r.passed for r in rs)
        return f"{k}/{len(rs)}" + (f" = {100 * k / len(rs):.0f}%" if rs else "")

    lines = [
        "| cut-out IoU vs ground truth | photos | failed by the gate | goal |",
        "|---|---:|---:|---|",
        f"| < {BAD_IOU} (bad) | {len(bad)} | {failed(bad)} | ≥ 90% |",
        f"| {BAD_IOU} – {GOOD_IOU} | {len(mid)} | {failed(mid)} | |",
        f"| ≥ {GOOD_IOU} (good) | {len(good)} | {failed(good)} | ≤ 10% |",
        "",
        "| photo | IoU | verdict | reasons |",
        "|---|---:|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r.iou):
        lines.append(f"| {r.name} | {r.iou:.3f} | {'pass' if r.passed else 'fail'} | {'; '.join(r.reasons)} |")
    return "\n".join(lines)
