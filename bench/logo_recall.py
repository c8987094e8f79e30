"""Recall and false boxes of the logo/text region sources, against hand-drawn boxes.

    python bench/logo_recall.py [--products ../shared/products] [--max-regions 6]

Truth: ``PRODUCTS/text_regions/<photo>.json`` (see its README): one box per text line or graphic
mark, ``subtle`` for tone-on-tone, tiny or cut-off marks, and ``ignore`` areas (a phone screen, an
all-over print) where found boxes count neither right nor wrong; 12 photos have no logo or text.
The sources see the classical segmenter's mask, as in a run:

- ``finder``: the edge-density finder (``pipeline.place.regions``), always available;
- ``detector``: RapidOCR's PP-OCRv4 text detector (``pipeline.place.text_detector``, the
  ``[ocr]`` extra; skipped when it is not installed);
- ``both``: what ``restore.text_detector: rapidocr`` runs (detector boxes first, then the finder's).

Each is capped at ``--max-regions`` boxes (the config's ``restore.max_logo_regions``) and also
measured uncapped. A true box is found when the found boxes cover at least ``COVER_MIN`` of it; a
found box is right when at least ``RIGHT_MIN`` of it lies in true boxes, ignored when at least
``IGNORE_MIN`` of it lies in ``ignore`` areas, and false otherwise. The generated samples'
sidecar boxes are measured the same way (no ignore areas).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.io.imageio import decode_image
from pipeline.place.regions import find_logo_regions
from pipeline.place.text_detector import detector_available
from pipeline.samples import write_samples
from pipeline.segment.classical import ClassicalSegmenter

DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "products"
COVER_MIN = 0.5  # share of a true box the found boxes must cover
RIGHT_MIN = 0.3  # share of a found box inside true boxes for it to be right
IGNORE_MIN = 0.5  # share of a found box inside ignore areas for it to be ignored
UNCAPPED = 64  # restore.max_logo_regions' upper bound


def _coverage(box, boxes, hw) -> float:
    """Share of ``box`` covered by the union of ``boxes`` (xyxy)."""
    x0, y0, x1, y1 = box
    canvas = np.zeros(hw, bool)
    for b in boxes:
        canvas[max(0, b[1]):b[3], max(0, b[0]):b[2]] = True
    area = max((x1 - x0) * (y1 - y0), 1)
    return float(canvas[max(0, y0):y1, max(0, x0):x1].sum()) / area


@dataclass
class Tally:
    """Counts of one source over a set of photos."""

    found: int = 0
    true: int = 0
    found_plain: int = 0  # non-subtle true boxes found
    true_plain: int = 0
    found_text: int = 0
    true_text: int = 0
    right: int = 0
    false: int = 0
    false_on_free: int = 0  # false boxes on photos without logo or text
    free_photos: int = 0
    photos: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, name: str, truth: list[dict], ignore: list, found: tuple, hw) -> None:
        boxes = [tuple(r["box"]) for r in truth]
        hit = [_coverage(b, found, hw) >= COVER_MIN for b in boxes]
        self.found += sum(hit)
        self.true += len(boxes)
        self.found_plain += sum(h for h, r in zip(hit, truth) if not r.get("subtle"))
        self.true_plain += sum(not r.get("subtle") for r in truth)
        self.found_text += sum(h for h, r in zip(hit, truth) if r.get("kind") == "text")
        self.true_text += sum(r.get("kind") == "text" for r in truth)
        false = 0
        for b in found:
            if ignore and _coverage(b, ignore, hw) >= IGNORE_MIN:
                continue
            if boxes and _coverage(b, boxes, hw) >= RIGHT_MIN:
                self.right += 1
            else:
                false += 1
        self.false += false
        self.photos += 1
        if not truth:
            self.free_photos += 1
            self.false_on_free += false
        self.lines.append(f"| {name} | {sum(hit)}/{len(boxes)} | {false} |")

    def summary(self) -> dict[str, float]:
        return {"recall": self.found / max(self.true, 1), "recall_plain": self.found_plain / max(self.true_plain, 1),
                "recall_text": self.found_text / max(self.true_text, 1),
                "precision": self.right / max(self.right + self.false, 1),
                "false_per_free_photo": self.false_on_free / max(self.free_photos, 1),
                "false_per_photo": self.false / max(self.photos, 1)}


def _sources(max_regions: int) -> dict[str, Callable]:
    out = {"finder": lambda rgb, m: find_logo_regions(rgb, m, max_regions)}
    if detector_available():
        from pipeline.place.text_detector import detect_text_boxes

        out["detector"] = lambda rgb, m: detect_text_boxes(rgb, m)[:max_regions]
        out["both"] = lambda rgb, m: find_logo_regions(rgb, m, max_regions, text_detector="rapidocr")
    return out


def real_tallies(products: Path, max_regions: int) -> dict[str, Tally]:
    """One Tally per source over every photo with a ``text_regions`` file."""
    seg = ClassicalSegmenter()
    sources = _sources(max_regions)
    tallies = {k: Tally() for k in sources}
    for path in sorted((products / "text_regions").glob("*.json")):
        spec = json.loads(path.read_text())
        image = products / spec["file"]
        rgb = decode_image(image.read_bytes(), name=image.name).rgb
        mask = seg(rgb).mask
        ignore = [tuple(b) for b in spec.get("ignore", [])]
        for name, fn in sources.items():
            tallies[name].add(path.stem, spec["regions"], ignore, fn(rgb, mask), mask.shape)
    return tallies


def sample_tallies(max_regions: int) -> dict[str, Tally]:
    seg = ClassicalSegmenter()
    sources = _sources(max_regions)
    tallies = {k: Tally() for k in sources}
    with tempfile.TemporaryDirectory() as tmp:
        for p in write_samples(Path(tmp)):
            truth = [{"box": b, "kind": "text"} for b in json.loads(p.with_suffix(".json").read_text())["logo_boxes"]]
            rgb = decode_image(p.read_bytes(), name=p.name).rgb
            mask = seg(rgb).mask
            for name, fn in sources.items():
                tallies[name].add(p.stem, truth, [], fn(rgb, mask), mask.shape)
    return tallies


def _row(label: str, s: dict[str, float], t: Tally) -> str:
    return (f"| {label} | {t.found}/{t.true} = {100 * s['recall']:.0f}% | {100 * s['recall_plain']:.0f}% | "
            f"{100 * s['recall_text']:.0f}% | {100 * s['precision']:.0f}% | {t.false_on_free}/{t.free_photos} = "
            f"{s['false_per_free_photo']:.2f} | {s['false_per_photo']:.2f} |")


def logo_recall_tables(products: Path, max_regions: int = 6) -> str:
    """Markdown for docs/gate.md."""
    header = ["| source | recall (all boxes) | not subtle | text lines | precision | false boxes on logo-free "
              "photos (per photo) | false boxes per photo |", "|---|---:|---:|---:|---:|---:|---:|"]
    out = []
    if (products / "text_regions").is_dir():
        capped = real_tallies(products, max_regions)
        uncapped = real_tallies(products, UNCAPPED)
        n = next(iter(capped.values())).photos
        out += [f"Real photos with hand-drawn boxes (`text_regions/`, {n} photos, "
                f"{next(iter(capped.values())).free_photos} without logo or text):", "", *header]
        for name in capped:
            out.append(_row(f"{name}, at most {max_regions}", capped[name].summary(), capped[name]))
            out.append(_row(f"{name}, uncapped", uncapped[name].summary(), uncapped[name]))
        if "detector" not in capped:
            out += ["", "(the `[ocr]` extra is not installed: the detector was not measured)"]
        out += ["", f"Per photo (at most {max_regions} boxes; true boxes found, false boxes):", "",
                "| photo | " + " | ".join(f"{k} found | {k} false" for k in capped) + " |",
                "|---|" + "---:|---:|" * len(capped)]
        per = [t.lines for t in capped.values()]
        for rows in zip(*per):
            name = rows[0].split("|")[1].strip()
            cells = " | ".join(" | ".join(r.split("|")[2:4]).strip() for r in rows)
            out.append(f"| {name} | {cells} |")
    else:
        out.append("(no real photos: skipped)")
    samples = sample_tallies(max_regions)
    out += ["", "Generated samples (sidecar boxes are the truth):", "", *header]
    for name, t in samples.items():
        out.append(_row(name, t.summary(), t))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    parser.add_argument("--max-regions", type=int, default=6)
    args = parser.parse_args()
    print(logo_recall_tables(args.products, args.max_regions))


if __name__ == "__main__":
    main()
