"""Recall of the automatic logo/text finder (``pipeline.place.regions.find_logo_regions``).

    python bench/logo_recall.py [--products ../shared/products]

- Generated samples: their sidecar ``logo_boxes`` are the truth. A true box is found when the
  found boxes cover at least half of it; a found box is right when at least 30% of it lies in
  true boxes. The finder sees the segmenter's mask, as in a run.
- Real photos: ``sources.csv`` says which carry logos or text (``logo_text`` starting "yes" or
  "minor"); there are no boxes, so recall is per photo (at least one box found), and the photos
  without text show how often the finder invents a region.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

from pipeline.io.imageio import decode_image
from pipeline.place.regions import find_logo_regions
from pipeline.samples import write_samples
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.io.storage import IMAGE_SUFFIXES

DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "products"


def _cover(box, boxes, hw) -> float:
    """Share of ``box`` covered by the union of ``boxes`` (xyxy)."""
    x0, y0, x1, y1 = box
    canvas = np.zeros(hw, bool)
    for b in boxes:
        canvas[b[1]:b[3], b[0]:b[2]] = True
    area = max((x1 - x0) * (y1 - y0), 1)
    return float(canvas[y0:y1, x0:x1].sum()) / area


def sample_recall() -> tuple[int, int, int, int, list[str]]:
    """(true boxes found, true boxes, found boxes right, found boxes, per-sample lines)."""
    seg = ClassicalSegmenter()
    found_true = n_true = right = n_found = 0
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in write_samples(Path(tmp)):
            truth = [tuple(b) for b in json.loads(p.with_suffix(".json").read_text())["logo_boxes"]]
            rgb = decode_image(p.read_bytes(), name=p.name).rgb
            found = find_logo_regions(rgb, seg(rgb).mask)
            hw = rgb.shape[:2]
            ft = sum(_cover(b, found, hw) >= 0.5 for b in truth)
            rt = sum(_cover(b, truth, hw) >= 0.3 for b in found)
            found_true, n_true, right, n_found = found_true + ft, n_true + len(truth), right + rt, n_found + len(found)
            lines.append(f"| {p.stem} | {ft}/{len(truth)} | {rt}/{len(found)} |")
    return found_true, n_true, right, n_found, lines


def real_recall(products: Path) -> tuple[list[str], int, int, int, int]:
    """(per-photo lines, text photos with a box, text photos, no-text photos with a box, no-text photos)."""
    seg = ClassicalSegmenter()
    lines, hit, n_text, fp, n_plain = [], 0, 0, 0, 0
    with (products / "sources.csv").open() as f:
        for row in csv.DictReader(f):
            path = products / "images" / row["file"]
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.exists():
                continue
            has_text = row["logo_text"].strip().lower().startswith(("yes", "minor"))
            rgb = decode_image(path.read_bytes(), name=path.name).rgb
            found = find_logo_regions(rgb, seg(rgb).mask)
            if has_text:
                n_text += 1
                hit += bool(found)
            else:
                n_plain += 1
                fp += bool(found)
            lines.append(f"| {path.stem} | {row['logo_text'][:48]} | {len(found)} |")
    return lines, hit, n_text, fp, n_plain


def logo_recall_tables(products: Path) -> str:
    """Markdown for docs/gate.md."""
    ft, nt, rt, nf, sample_lines = sample_recall()
    out = ["Generated samples (sidecar boxes are the truth):", "",
           f"- box recall **{ft}/{nt} = {100 * ft / max(nt, 1):.0f}%**, precision {rt}/{nf} = "
           f"{100 * rt / max(nf, 1):.0f}%", "",
           "| sample | true boxes found | found boxes right |", "|---|---:|---:|", *sample_lines, ""]
    if (products / "sources.csv").exists():
        lines, hit, n_text, fp, n_plain = real_recall(products)
        out += ["Real photos (`sources.csv` logo_text; per photo):", "",
                f"- photos with text where a region is found: **{hit}/{n_text} = {100 * hit / max(n_text, 1):.0f}%**;"
                f" photos without text given a region anyway: {fp}/{n_plain}", "",
                "| photo | logo/text (sources.csv) | regions found |", "|---|---|---:|", *lines]
    else:
        out.append("(no real photos: skipped)")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    print(logo_recall_tables(parser.parse_args().products))


if __name__ == "__main__":
    main()
