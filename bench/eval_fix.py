"""Simulated reviewer for cut-out fixes: how many clicks turn a bad cut-out into a good one.

    python bench/eval_fix.py [--images DIR --masks DIR] [--no-samples] [--config YAML]
                             [--methods geodesic,grabcut,flood] [--max-clicks 20] [--sheets DIR]
                             [--reviewer clicks|strokes]

The standard protocol of interactive segmentation (Xu et al. 2016; RITM): start from the
segmenter's mask (the segmenter is built from the config, like ``run``); each click goes at the
interior point (maximum of the distance transform) of the largest error region, "keep" in a
missed region, "remove" in a wrongly kept one; stop at IoU 0.97 or after ``--max-clicks``.

Per set (``--images``/``--masks``, default ../shared/products/images and masks; and the generated
samples with exact ground truth), per classical method:
  * a per-image table, worst first: start IoU, clicks to 0.95 and 0.97, IoU after 1, 2, 3, 5 clicks;
  * NoC@0.95 / NoC@0.97 (mean clicks over the photos starting below IoU 0.95, 20 where never
    reached), mean IoU after 0, 1, 2, 3, 5 clicks, and the "no click makes a good mask worse"
    check: every photo starting at IoU >= 0.98 gets one "keep" click inside the product;
  * the server time per click on the photos resampled to 1 MP, one thread (refine + re-render:
    placement, control maps, scene, restore, score, gate): median and p90 over the first
    ``--timed-clicks`` clicks of the bad photos;
  * last, per set (and method), a ``# <set>, method <name>`` line and the summary line:
    ``n=.. n_bad=.. noc95=.. noc97=.. over5=.. never97=.. click_ms_median=.. click_ms_p90=..``
``--reviewer strokes`` replaces the clicks by brush strokes, the page's other way to mark: each
stroke is one drag along the medial axis (skeleton) of the largest error region, at most
``STROKE_MAX_SHARE`` of the photo's long side, with the page's brush narrowed to stay inside the
region. Everything is then counted in strokes (NoS@0.95 / NoS@0.97, ``nos95=``, ``stroke_ms_...``);
it is not the standard protocol, so its numbers are not comparable with published NoC.
Contact sheets (original with the clicks, initial mask, final mask, final composite) go to
``--sheets`` (default bench/out/fix/): sheets of real photos are derived from licensed photos, keep
them out of the repository.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import track

from pipeline.compose import build_stages, segment_image
from pipeline.config import PipelineConfig, load_config
from pipeline.fix import rerender
from pipeline.imaging import iou
from pipeline.io.imageio import decode_image, encode_png
from pipeline.io.storage import IMAGE_SUFFIXES, atomic_write_file
from pipeline.samples import write_samples
from pipeline.segment.refine import ClassicalRefiner, Click, RefineSession, build_refiner, photo_sha256
from pipeline.segment.refine.methods import METHODS
from pipeline.types import Segmentation

PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "products"
DEFAULT_SHEETS = Path(__file__).resolve().parent / "out" / "fix"
BAD_IOU = 0.95  # a cut-out below this needs fixing (the definition)
TARGETS = (0.95, 0.97)
GOOD_IOU = 0.98  # a cut-out at or above this must stay there after one "keep" click on the product
DROP_WARN = 0.01  # a click that lowers the IoU by more than this is counted: a click should only fix
CURVE_AT = (0, 1, 2, 3, 5)  # clicks after which the mean IoU is reported
SHEET_ROW_PX = 240
CLICK_DOT_FRAC = 0.012  # drawn click radius on the contact sheet, share of the photo's long side
# The brush reviewer (--reviewer strokes): what one drag on the review page can be.
STROKE_MAX_SHARE = 0.25  # a stroke's length at most this share of the photo's long side (one drag, not a tracing)
BRUSH_SHARE = 0.01  # the page's brush radius (7 CSS px) on a photo drawn about 700 CSS px on its long side
STROKE_MIN_RADIUS_PX = 1.0  # the thinnest brush (input px); narrower error regions get this one
STROKE_SIMPLIFY_PX = 1.0  # the stroke's polyline keeps the skeleton path within this many px (Douglas-Peucker)


def progress(items, desc: str):
    """A progress bar on stderr (stdout keeps the tables)."""
    return track(items, description=desc, console=Console(stderr=True), transient=True)


@dataclass
class Item:
    name: str
    data: bytes
    truth: np.ndarray


@dataclass
class Trace:
    """One photo's run: IoU after 0..k clicks, the clicks, the final segmentation."""

    name: str
    ious: list[float]
    clicks: list[Click] = field(default_factory=list)
    initial: Segmentation | None = None
    final: Segmentation | None = None

    def noc(self, target: float, max_clicks: int) -> int:
        return next((k for k, v in enumerate(self.ious) if v >= target), max_clicks)

    def at(self, k: int) -> float:
        return self.ious[min(k, len(self.ious) - 1)]


def read_mask(path: Path) -> np.ndarray:
    """HW bool from an 8-bit PNG (its alpha channel when it has one); >= 128 is product."""
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if m is None:
        raise ValueError(f"cannot read mask {path}")
    if m.ndim == 3:
        m = m[..., 3] if m.shape[2] == 4 else m[..., 0]
    return m >= 128


def folder_items(images: Path, masks: Path) -> list[Item]:
    """Every photo in ``images`` with a same-stem PNG in ``masks``."""
    items = []
    for photo in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        mask = masks / f"{photo.stem}.png"
        if mask.is_file():
            items.append(Item(photo.name, photo.read_bytes(), read_mask(mask)))
    return items


def sample_items() -> list[Item]:
    with tempfile.TemporaryDirectory() as tmp:
        return [Item(p.name, p.read_bytes(), read_mask(Path(tmp) / "_ground_truth" / f"{p.stem}_mask.png"))
                for p in write_samples(Path(tmp))]


def _largest_error(pred: np.ndarray, truth: np.ndarray) -> tuple[str, np.ndarray] | None:
    """("keep" or "remove", HW bool) for the largest 8-connected error region; None without errors."""
    best = None
    for err, kind in ((truth & ~pred, "keep"), (pred & ~truth, "remove")):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(err.astype(np.uint8), connectivity=8)
        if n > 1:
            i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            if best is None or stats[i, cv2.CC_STAT_AREA] > best[0]:
                best = (stats[i, cv2.CC_STAT_AREA], kind, labels == i)
    return None if best is None else (best[1], best[2])


def _depth(region: np.ndarray) -> np.ndarray:
    """HW float32: distance (px) from each pixel of ``region`` to the nearest pixel outside it."""
    return cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]


def click_in(kind: str, region: np.ndarray) -> Click:
    """A click of ``kind`` at the interior point of ``region`` (HW bool): its distance transform's maximum."""
    depth = _depth(region)
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return Click.at(kind, float(x), float(y))


def _skeleton_path(region: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(N, 2) int (y, x): the longest path along the skeleton of ``region`` (HW bool) through the
    skeleton branch of its deepest point, from end to end (the skeleton's diameter)."""
    from skimage.graph import MCP_Geometric
    from skimage.morphology import skeletonize

    skel = skeletonize(region)
    if not skel.any():
        return np.argwhere(depth == depth.max())[:1]
    anchor = np.unravel_index(int(np.argmax(np.where(skel, depth, -1.0))), skel.shape)
    cost = np.where(skel, 1.0, np.inf)  # MCP never enters an infinite-cost pixel: paths stay on the skeleton
    dist, _ = MCP_Geometric(cost, fully_connected=True).find_costs([anchor])
    reach = np.where(np.isfinite(dist), dist, -1.0)
    end_a = np.unravel_index(int(np.argmax(reach)), skel.shape)
    mcp = MCP_Geometric(cost, fully_connected=True)
    dist, _ = mcp.find_costs([end_a])
    reach = np.where(np.isfinite(dist), dist, -1.0)
    end_b = np.unravel_index(int(np.argmax(reach)), skel.shape)
    return np.asarray(mcp.traceback(end_b), dtype=np.int64)


def stroke_in(kind: str, region: np.ndarray) -> Click:
    """A brush stroke of ``kind``: one drag along the medial axis (skeleton) of ``region`` (HW bool).

    What a person can draw in one drag: the stroke follows the skeleton's longest path, cut to at
    most ``STROKE_MAX_SHARE`` of the photo's long side around the region's deepest point; the
    brush is the page's (``BRUSH_SHARE`` of the long side) narrowed so that every painted pixel
    stays inside the error region (at least ``STROKE_MIN_RADIUS_PX``). A region whose skeleton is
    a single point gets a click there."""
    depth = _depth(region)
    path = _skeleton_path(region, depth)
    step = np.r_[0.0, np.hypot(*np.diff(path, axis=0).T)]
    along = np.cumsum(step)  # arc length (px) at each path point
    budget = STROKE_MAX_SHARE * max(region.shape)
    if along[-1] > budget:  # the window of that length centred on the deepest path point, inside the path
        centre = along[int(np.argmax(depth[path[:, 0], path[:, 1]]))]
        start = float(np.clip(centre - budget / 2, 0.0, along[-1] - budget))
        keep = (along >= start) & (along <= start + budget)
        path = path[keep]
    on_path = depth[path[:, 0], path[:, 1]]
    brush = max(STROKE_MIN_RADIUS_PX, min(BRUSH_SHARE * max(region.shape), float(np.median(on_path)) - 1.0))
    margin = 1.0 + STROKE_SIMPLIFY_PX  # the drawn disc's rounding, and the polyline's distance from the skeleton
    inside = np.nonzero(on_path >= brush + margin)[0]  # the skeleton's ends run into corners: the drag stops short
    if inside.size:
        path, on_path = path[inside[0]:inside[-1] + 1], on_path[inside[0]:inside[-1] + 1]
    radius = float(np.clip(on_path.min() - margin, STROKE_MIN_RADIUS_PX, brush))
    if len(path) == 1:
        y, x = path[0]
        return Click.at(kind, float(x), float(y), radius)
    xy = cv2.approxPolyDP(path[:, ::-1].reshape(-1, 1, 2).astype(np.int32), STROKE_SIMPLIFY_PX, False)
    return Click(kind, tuple((float(x), float(y)) for x, y in xy.reshape(-1, 2)), radius)


MARKS = {"clicks": click_in, "strokes": stroke_in}  # --reviewer: how the simulated reviewer marks a region


def next_mark(pred: np.ndarray, truth: np.ndarray, reviewer: str = "clicks") -> Click | None:
    """The simulated reviewer's next mark (None: no error left): a click at the interior point of
    the largest error region ("clicks", the standard protocol), or a stroke along its medial axis
    ("strokes"); "keep" in a missed region, "remove" in a wrongly kept one."""
    found = _largest_error(pred, truth)
    return None if found is None else MARKS[reviewer](*found)


def next_click(pred: np.ndarray, truth: np.ndarray) -> Click | None:
    """The standard protocol's click (see :func:`next_mark`)."""
    return next_mark(pred, truth, "clicks")


def simulate(refiner, rgb: np.ndarray, sha: str, initial: Segmentation, truth: np.ndarray, max_clicks: int,
             target: float, name: str = "", reviewer: str = "clicks") -> Trace:
    session = RefineSession(refiner, rgb, initial, sha)
    trace = Trace(name, [iou(initial.mask, truth)], initial=initial, final=initial)
    while len(session.clicks) < max_clicks and trace.ious[-1] < target:
        click = next_mark(session.current.mask, truth, reviewer)
        if click is None:
            break
        trace.final = session.add(click)
        trace.clicks.append(click)
        trace.ious.append(iou(trace.final.mask, truth))
    return trace


def good_mask_check(refiner, rgb: np.ndarray, sha: str, seg: Segmentation, truth: np.ndarray,
                    reviewer: str = "clicks") -> float:
    """IoU after one "keep" mark on the product (mask and truth together): a click at its interior
    point, or a stroke along its medial axis."""
    session = RefineSession(refiner, rgb, seg, sha)
    return iou(session.add(MARKS[reviewer]("keep", seg.mask & truth)).mask, truth)


def resample(data: bytes, truth: np.ndarray, megapixels: float = 1.0) -> tuple[bytes, np.ndarray]:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = (megapixels * 1e6 / (h * w)) ** 0.5
    size = (round(w * s), round(h * s))
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    t = cv2.resize(truth.astype(np.float32), size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR) >= 0.5
    return encode_png(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)), t


def time_clicks(refiner, item: Item, config: PipelineConfig, stages, n_clicks: int,
                reviewer: str = "clicks") -> list[tuple[float, float]]:
    """(refine ms, re-render + score + gate ms) per click (or stroke) on ``item`` resampled to 1 MP."""
    data, truth = resample(item.data, item.truth)
    decoded = decode_image(data, name=item.name)
    seg = segment_image(decoded, stages.segmenter, config.segment.use_alpha_channel)
    session = RefineSession(refiner, decoded.rgb, seg, photo_sha256(data))
    out = []
    for _ in range(n_clicks):
        click = next_mark(session.current.mask, truth, reviewer)
        if click is None:
            break
        t0 = time.perf_counter()
        fixed = session.add(click)
        t1 = time.perf_counter()
        rerender(data, fixed, name=item.name, config=config, stages=stages, seed=config.run.seed)
        out.append(((t1 - t0) * 1000.0, (time.perf_counter() - t1) * 1000.0))
    return out


def _overlay(rgb: np.ndarray, mask: np.ndarray, truth: np.ndarray) -> np.ndarray:
    over = rgb.astype(np.float32)
    for region, colour in ((mask & truth, (40, 200, 60)), (mask & ~truth, (235, 30, 30)), (~mask & truth, (30, 80, 255))):
        over[region] = 0.45 * over[region] + 0.55 * np.asarray(colour, np.float32)
    return over.astype(np.uint8)


def sheet_row(trace: Trace, rgb: np.ndarray, truth: np.ndarray, composite: np.ndarray | None,
              unit: str = "clicks") -> np.ndarray:
    """Original with numbered clicks or strokes (green keep, red remove) | initial mask | final mask (green
    kept, red wrongly kept, blue missed) | final composite; captioned."""
    h, w = rgb.shape[:2]
    marked = rgb.copy()
    r = max(3, int(CLICK_DOT_FRAC * max(h, w)))
    for k, c in enumerate(trace.clicks, 1):
        x, y = (round(v) for v in c.points[0])
        colour = (20, 190, 40) if c.kind == "keep" else (230, 30, 30)
        if len(c.points) > 1:  # a stroke: its path, numbered at its start
            line = np.rint(np.asarray(c.points)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(marked, [line], False, (0, 0, 0), max(1, r // 2) + 2, cv2.LINE_AA)
            cv2.polylines(marked, [line], False, colour, max(1, r // 2), cv2.LINE_AA)
            r_dot = max(2, r // 2)
        else:
            r_dot = r
        cv2.circle(marked, (x, y), r_dot, colour, -1, cv2.LINE_AA)
        cv2.circle(marked, (x, y), r_dot, (0, 0, 0), max(1, r // 4), cv2.LINE_AA)
        cv2.putText(marked, str(k), (x + r, y - r), cv2.FONT_HERSHEY_SIMPLEX, r / 10, (0, 0, 0), max(1, r // 4))
    panels = [marked, _overlay(rgb, trace.initial.mask, truth), _overlay(rgb, trace.final.mask, truth)]
    if composite is not None:
        panels.append(composite)
    size = (max(1, round(w * SHEET_ROW_PX / h)), SHEET_ROW_PX)
    gap = np.full((SHEET_ROW_PX, 4, 3), 255, np.uint8)
    parts = []
    for p in panels:
        scaled = cv2.resize(p, (max(1, round(p.shape[1] * SHEET_ROW_PX / p.shape[0])), SHEET_ROW_PX),
                            interpolation=cv2.INTER_AREA) if p is composite else cv2.resize(p, size, interpolation=cv2.INTER_AREA)
        parts += [scaled, gap]
    row = np.concatenate(parts[:-1], axis=1)
    caption = np.full((22, row.shape[1], 3), 255, np.uint8)
    text = f"{trace.name}  IoU {trace.ious[0]:.3f} -> {trace.ious[-1]:.3f} in {len(trace.clicks)} {unit}"
    cv2.putText(caption, text, (6, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([caption, row], axis=0)


def write_sheet(rows: list[np.ndarray], path: Path) -> None:
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    atomic_write_file(path, encode_png(np.concatenate(rows, axis=0)))


def evaluate_set(title: str, items: list[Item], config: PipelineConfig, methods: list[str], args) -> list[str]:
    """Run every method on one set; prints the tables, returns the summary lines."""
    stages = build_stages(config)
    decoded, initial = {}, {}
    for it in progress(items, desc=f"segment {title}"):
        rgb = decode_image(it.data, name=it.name).rgb
        decoded[it.name] = rgb
        initial[it.name] = segment_image(decode_image(it.data, name=it.name), stages.segmenter,
                                         config.segment.use_alpha_channel)
    lines = []
    for method in methods:
        refiner = (ClassicalRefiner(method) if method != "auto" else None)
        traces, worse = [], []
        bad = [it for it in items if iou(initial[it.name].mask, it.truth) < BAD_IOU]
        for it in progress(items, desc=f"{title}: {method}"):
            rgb, seg = decoded[it.name], initial[it.name]
            ref = refiner or build_refiner(config, seg.backend)
            sha = photo_sha256(it.data)
            start = iou(seg.mask, it.truth)
            if start < BAD_IOU:
                traces.append(simulate(ref, rgb, sha, seg, it.truth, args.max_clicks, TARGETS[-1], it.name,
                                       args.reviewer))
            elif start >= GOOD_IOU:
                worse.append((it.name, start, good_mask_check(ref, rgb, sha, seg, it.truth, args.reviewer)))
        ms = []
        for it in progress(bad, desc=f"{title}: {method} timing at 1 MP"):
            ref = refiner or build_refiner(config, initial[it.name].backend)
            ms += time_clicks(ref, it, config, stages, args.timed_clicks, args.reviewer)
        lines.append(report(title, method, items, traces, worse, ms, args.max_clicks, args.reviewer))
        if args.sheets and traces:
            rows = []
            for t in sorted(traces, key=lambda t: (-t.noc(0.97, args.max_clicks), t.ious[-1])):
                it = next(i for i in items if i.name == t.name)
                composite = rerender(it.data, t.final, name=it.name, config=config, stages=stages,
                                     seed=config.run.seed).composite
                rows.append(sheet_row(t, decoded[it.name], it.truth, composite, args.reviewer))
            slug = "".join(ch if ch.isalnum() else "_" for ch in title).strip("_")
            suffix = "" if args.reviewer == "clicks" else f"_{args.reviewer}"
            path = Path(args.sheets) / f"{slug}_{method}{suffix}.png"
            write_sheet(rows, path)
            print(f"contact sheet: {path}")
    return lines


def report(title: str, method: str, items: list[Item], traces: list[Trace], worse: list[tuple[str, float, float]],
           ms: list[tuple[float, float]], max_clicks: int, reviewer: str = "clicks") -> str:
    """Prints the per-image table and the summary; returns the summary line. With the stroke
    reviewer every "click" word and key becomes a stroke one (NoS, nos95, stroke_ms_...)."""
    n_bad = len(traces)
    unit, no, key, heading = (("click", "NoC", "noc", "") if reviewer == "clicks"
                              else ("stroke", "NoS", "nos", f", reviewer {reviewer}"))
    print(f"\n## {title}, method {method}{heading}: the {n_bad} cut-outs below IoU {BAD_IOU}, worst first\n")
    print(f"| image | start IoU | {no}@0.95 | {no}@0.97 | " + " | ".join(f"IoU@{k}" for k in CURVE_AT[1:])
          + " | final IoU |")
    print("|---|---:|---:|---:|" + "---:|" * (len(CURVE_AT) - 1) + "---:|")
    order = sorted(traces, key=lambda t: (-t.noc(0.97, max_clicks), -t.noc(0.95, max_clicks), t.ious[-1]))
    for t in order:
        cells = " | ".join(f"{t.at(k):.3f}" for k in CURVE_AT[1:])
        n95, n97 = t.noc(0.95, max_clicks), t.noc(0.97, max_clicks)
        print(f"| {t.name} | {t.ious[0]:.3f} | {n95 if n95 < max_clicks else 'never'} | "
              f"{n97 if n97 < max_clicks else 'never'} | {cells} | {t.ious[-1]:.3f} |")
    if traces:
        curve = "  ".join(f"@{k}: {statistics.fmean(t.at(k) for t in traces):.3f}" for k in CURVE_AT)
        print(f"\nmean IoU after {unit}s: {curve}")
    losses = sorted(((t.ious[k - 1] - t.ious[k], t.name, k, t.ious[k - 1], t.ious[k]) for t in traces
                     for k in range(1, len(t.ious)) if t.ious[k - 1] - t.ious[k] > DROP_WARN), reverse=True)
    print(f"{unit}s that lower the IoU by more than {DROP_WARN}: {len(losses)}"
          + "".join(f"; {n} {unit} {k}: {a:.3f} -> {b:.3f}" for _, n, k, a, b in losses))
    if worse:
        dropped = [(n, a, b) for n, a, b in worse if b < GOOD_IOU]
        print(f"good cut-outs (IoU >= {GOOD_IOU}) after one keep {unit} on the product: {len(worse) - len(dropped)} "
              f"of {len(worse)} stay >= {GOOD_IOU}; lowest {min(b for *_, b in worse):.4f}"
              + "".join(f"; {n} {a:.4f} -> {b:.4f}" for n, a, b in dropped))
    noc95 = statistics.fmean(t.noc(0.95, max_clicks) for t in traces) if traces else 0.0
    noc97 = statistics.fmean(t.noc(0.97, max_clicks) for t in traces) if traces else 0.0
    over5 = sum(t.noc(0.97, max_clicks) > 5 for t in traces)
    never = sum(t.noc(0.97, max_clicks) >= max_clicks for t in traces)
    total = [a + b for a, b in ms]
    med = statistics.median(total) if total else float("nan")
    p90 = float(np.percentile(total, 90)) if total else float("nan")
    if ms:
        print(f"server time per {unit} at 1 MP, one thread ({len(ms)} {unit}s): median {med:.0f} ms = refine "
              f"{statistics.median(a for a, _ in ms):.0f} ms + re-render, score and gate "
              f"{statistics.median(b for _, b in ms):.0f} ms (medians of each part)")
    return (f"# {title}, method {method}{heading}\n"
            f"n={len(items)} n_bad={n_bad} {key}95={noc95:.2f} {key}97={noc97:.2f} over5={over5} "
            f"never97={never} {unit}_ms_median={med:.0f} {unit}_ms_p90={p90:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--images", type=Path, default=PRODUCTS / "images", help="photos (default %(default)s)")
    parser.add_argument("--masks", type=Path, default=PRODUCTS / "masks",
                        help="ground-truth masks, same stem, PNG, 255 = product (default %(default)s)")
    parser.add_argument("--no-samples", action="store_true", help="skip the generated samples")
    parser.add_argument("--config", type=Path, help="pipeline YAML (default: built-in defaults)")
    parser.add_argument("--methods", default="auto",
                        help=f"comma list of classical methods to compare ({', '.join(METHODS)}), or 'auto': "
                             "the refiner the review page uses for the configured backend (default)")
    parser.add_argument("--reviewer", choices=sorted(MARKS), default="clicks",
                        help="clicks: the standard protocol, a click at the centre of the largest wrong region "
                             "(default); strokes: a brush drag along that region's medial axis, at most "
                             f"{STROKE_MAX_SHARE:.0%} of the photo's long side (reported as NoS, strokes)")
    parser.add_argument("--max-clicks", type=int, default=20, help="clicks (or strokes) per photo before giving up")
    parser.add_argument("--timed-clicks", type=int, default=3, help="clicks timed per bad photo at 1 MP")
    parser.add_argument("--sheets", default=str(DEFAULT_SHEETS), help="contact sheet folder ('' for none)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    config = load_config(args.config)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m != "auto" and m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; valid: auto, {', '.join(METHODS)}")
    sets: dict[str, list[Item]] = {}
    if args.images.is_dir() and args.masks.is_dir():
        sets[f"photos in {args.images}"] = folder_items(args.images, args.masks)
    else:
        print(f"skipping {args.images}: not found", file=sys.stderr)
    if not args.no_samples:
        sets["generated samples"] = sample_items()
    lines = []
    for title, items in sets.items():
        if items:
            lines += evaluate_set(title, items, config, methods, args)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
