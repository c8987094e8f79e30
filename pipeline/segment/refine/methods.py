"""Classical refinement methods at the work resolution: one click in, the region it flips out.

Every method has the signature ``(work, prior, seeds, last, kind) -> HW bool``:

- work: :class:`~pipeline.segment.refine.work.WorkImage`;
- prior: HW bool, the current mask at the work size (the prior);
- seeds: HW int8, every click so far (``KEEP`` / ``REMOVE`` / ``NONE``);
- last: HW bool, the pixels of the newest click; kind: its label (``KEEP`` or ``REMOVE``).

and returns the new mask at the work size. The clicked label only spreads into the region of
the opposite label that the newest click touches (its 4-connected component, the *target*); the
rest of the prior is left as it is, so a click on a correct region changes nothing. The hard
constraints (every click's pixels) are applied afterwards by the caller.

Candidates (measured side by side by ``bench/eval_fix.py --methods``; ``ladder`` won, see README):

- ``ladder`` (the default): geodesic balls around the click, growing; a path pays for the outline
  strength it crosses (``step``: ramps such as a shadow's are free). The ball taken is the first
  whose new outline lies on the photo's outlines (remove) or the largest such ball short of the
  backdrop evidence (keep); a remove click stops before the ball is mostly clear product colour
  or over ``REMOVE_MAX_SHARE`` of the cut-out, a keep click before the frame or open backdrop.
  With no ball ending on outlines, the one that comes closest is taken; a keep click's is then
  cut to twice the click's own distance from the cut-out (:func:`unclosed_keep_reach`).
- ``geodesic``: geodesic competition. Inside the target, every pixel goes to whichever seed set
  it reaches more cheaply: the click (plus earlier clicks of its kind), or the competitor
  evidence (:func:`competitor_seeds`).
- ``flood``: a colour flood from the click (neighbour-to-neighbour tolerance), the largest
  tolerance of a ladder that does not reach the competitor evidence.
- ``grabcut``: OpenCV GrabCut in a box around the target, clicks as definite labels, the prior as
  probable labels; the changes connected to the click are kept.
- ``geodesic+grabcut``: the geodesic region as GrabCut's starting labels.
- ``rerun``: the classical segmenter's backdrop flood re-run locally with the click forced.
- ``graphcut``: a min-cut (PyMaxflow, the ``bench`` extra) with the prior, the click's geodesic
  pull, the other label's evidence and contrast-sensitive neighbour terms.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from pipeline.imaging import delta_e76
from pipeline.segment.background import shadow_like
from pipeline.segment.refine.strokes import KEEP, REMOVE
from pipeline.segment.refine.work import WorkImage

Method = Callable[[WorkImage, np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]

COLOUR_FAR_DE = 12.0  # ΔE76 from the clicked colour past which a target pixel may be competitor evidence
BACKDROP_NEAR_DE = 2.5  # ΔE76 to the fitted backdrop under which a pixel is plainly backdrop (or 3x its noise)
GEO_REACH_DE = 20.0  # outline strength (summed step ΔE76) a keep click's region may not cross
FAR_FROM_MASK = 0.08  # backdrop this far (share of the long side) from the cut-out is evidence for a keep click
GEO_COLOUR_K = 0.02  # ladder: path cost per pixel per ΔE76 off the clicked colour (or its blend with the backdrop)
GEO_EPS = 0.001  # geodesic cost per pixel on a flat area (ΔE76 units): a tie-break by distance, not a term
# Set by hand, then checked side by side on the real photos and the samples with
# bench/eval_fix.py (the photos the team measures on are others).
ROI_MARGIN = 0.06  # box around the target, padded by this share of the work image's long side
FLOOD_LADDER = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)  # RGB step tolerances tried, in order
GRABCUT_ITERS = 3
GC_PRIOR = 0.1  # min-cut: cost per pixel of changing the current label
GC_PULL = 1.0  # min-cut: the click's pull on the pixels it reaches at no cost
GC_PULL_DE = 6.0  # min-cut: geodesic ΔE76 over which the pull falls by e
GC_EVIDENCE = 1.0  # min-cut: extra cost per pixel of flipping clear evidence of the other label
GC_SIGMA = 2.0  # min-cut: |∇Lab| (ΔE76/px) at which a cut costs 1/e of a cut on flat colour
LADDER_DE = tuple(round(0.5 * 1.25 ** k, 3) for k in range(26))  # ball radii tried, ΔE76: 0.5 to 133, 25% apart
REMOVE_MAX_SHARE = 0.3  # a remove click flips at most this share of the current cut-out
EVIDENCE_MAX_SHARE = 0.4  # a remove click's region stops growing once this share of it is clearly product
UNCLOSED_KEEP_DEPTH_K = 2.0  # a keep region no outline closes reaches this many times the click's distance from the
# cut-out (a click sits mid-way into what is missing): 2 by that geometry, then checked with bench/eval_fix.py
KEEP_REACH = 0.15  # a keep click's region stops before reaching this far (share of the photo's long side) from the cut-out
EDGE_MIN_DE = 0.3  # ΔE76 per pixel: the faintest step counted as an outline
EDGE_NOISE_K = 3.0  # an outline's step is at least this many times the backdrop's 90th percentile
EDGE_CLOSED_SHARE = 0.7  # share of a region's new outline on photo edges for it to count as closed
RERUN_EDGE_DE = 1.5  # step (ΔE76 per pixel) that counts as a sharp outline for the re-run flood
RERUN_REMOVE_PX = 3  # passage width (work pixels) of the flood restarted from a remove click
RERUN_WIDTHS = (7, 11, 15, 21, 31, 45)  # passage widths tried for a keep click (7: the segmenter's own)


def target_region(prior: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """HW bool: the 4-connected parts of the opposite label (``~prior`` for a keep click) that the
    newest click's pixels ``last`` touch; all False when the click lies on its own label only."""
    opposite = ~prior if kind == KEEP else prior
    hit = last & opposite
    if not hit.any():
        return np.zeros_like(prior)
    _, labels = cv2.connectedComponents(opposite.astype(np.uint8), connectivity=4)
    ids = np.unique(labels[hit])
    ids = ids[ids > 0]
    return np.isin(labels, ids)


def _box(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    ys, xs = np.nonzero(region)
    h, w = region.shape
    return (slice(max(0, ys.min() - margin), min(h, ys.max() + margin + 1)),
            slice(max(0, xs.min() - margin), min(w, xs.max() + margin + 1)))


def _segment_distance(lab: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """HW float32: ΔE76 from each pixel of ``lab`` (HWC) to the Lab segment from ``a`` (3,) to
    ``b`` (HWC, per pixel): the colours a blend of the two can take."""
    ab = b - a
    t = np.clip(((lab - a) * ab).sum(axis=2) / np.maximum((ab * ab).sum(axis=2), 1e-6), 0.0, 1.0)
    return delta_e76(lab, a + t[..., None] * ab)


def competitor_seeds(work: WorkImage, prior: np.ndarray, target: np.ndarray, seeds: np.ndarray,
                     last: np.ndarray, kind: int) -> np.ndarray:
    """HW bool: evidence for the other label inside ``target``, plus every earlier click of the
    other kind.

    - remove click: target pixels whose colour is no blend of the clicked colour (median Lab under
      ``last``) and the fitted backdrop (more than ``COLOUR_FAR_DE`` from that Lab segment): a
      shadow, a floor reflection and their fading edges are such blends, the product is not;
    - keep click: the frame, and target pixels more than ``FAR_FROM_MASK`` of the long side from
      the current mask (a missed part is attached to or near the cut-out), and pixels that match
      the fitted backdrop while being far from the clicked colour.
    """
    clicked = np.median(work.lab[last], axis=0)
    bg = work.background
    if kind == REMOVE:
        evidence = _segment_distance(work.lab, clicked, bg.lab) > COLOUR_FAR_DE
    else:
        far_px = FAR_FROM_MASK * max(prior.shape)
        away = cv2.distanceTransform((~prior).astype(np.uint8), cv2.DIST_L2, 3) > far_px
        plain = ((delta_e76(work.lab, bg.lab) < max(BACKDROP_NEAR_DE, 3.0 * bg.noise))
                 & (delta_e76(work.lab, clicked) > COLOUR_FAR_DE))
        evidence = away | plain | work.frame
    comp = (evidence & target) | (seeds == (REMOVE if kind == KEEP else KEEP))
    return comp & ~last


def _connected_to(region: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The 8-connected parts of ``region`` that touch ``seed``."""
    _, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    ids = np.unique(labels[seed & region])
    return np.isin(labels, ids[ids > 0])


def _geodesic(cost: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """HW float64: least path cost from any ``starts`` pixel (skimage's minimum-cost-path, 8-neighbour)."""
    from skimage.graph import MCP_Geometric

    points = np.argwhere(starts)
    if points.size == 0:
        return np.full(cost.shape, np.inf)
    dist, _ = MCP_Geometric(cost, fully_connected=True).find_costs(points)
    return dist


def geodesic(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """Geodesic competition between the click and the competitor evidence (module docstring)."""
    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    win = _box(target | last, int(ROI_MARGIN * max(prior.shape)))
    t, lst = target[win], last[win]
    own = (lst | ((seeds[win] == kind) & t))
    comp = competitor_seeds(work, prior, target, seeds, last, kind)[win]
    cost = (work.step[win] + GEO_EPS).astype(np.float64)
    cost[~(t | lst)] = np.inf  # paths stay inside the target
    d_own = _geodesic(np.where(np.isinf(cost), 1e9, cost), own)
    d_comp = _geodesic(np.where(np.isinf(cost), 1e9, cost), comp)
    won = t & (d_own < d_comp)
    if kind == KEEP:
        won &= d_own < GEO_REACH_DE
    flip = _connected_to(won | lst, lst) & t
    out = prior.copy()
    out[win] = np.where(flip, kind == KEEP, prior[win])
    return out


def flood(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """Colour flood from the click (module docstring)."""
    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    comp = competitor_seeds(work, prior, target, seeds, last, kind)
    start = np.argwhere(last & target)
    y, x = start[len(start) // 2]
    h, w = prior.shape
    best = np.zeros_like(prior)
    for tol in FLOOD_LADDER:
        ff = np.ones((h + 2, w + 2), np.uint8)
        ff[1:-1, 1:-1] = ~target  # non-zero blocks the fill
        cv2.floodFill(work.small.copy(), ff, (int(x), int(y)), 0, (tol,) * 3, (tol,) * 3,
                      4 | cv2.FLOODFILL_MASK_ONLY | (2 << 8))
        region = ff[1:-1, 1:-1] == 2
        if (region & comp).any():
            break
        best = region
    out = prior.copy()
    out[best] = kind == KEEP
    return out


def grabcut(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """GrabCut in a box around the target, clicks definite, prior probable (module docstring)."""
    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    region = target if kind == REMOVE else (target & cv2.dilate(prior.astype(np.uint8), np.ones((3, 3)),
                                                                 iterations=int(0.15 * max(prior.shape))) > 0)
    win = _box(region | last, int(ROI_MARGIN * max(prior.shape)))
    p = prior[win]
    labels = np.where(p, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    s = seeds[win]
    labels[s == KEEP] = cv2.GC_FGD
    labels[s == REMOVE] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models' k-means from OpenCV's RNG: fixed, so a rerun matches
    try:
        cv2.grabCut(cv2.cvtColor(work.small[win], cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, GRABCUT_ITERS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a model with too few samples of one label: keep the prior
        return prior
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    changed = (fg != p) & target[win]
    flip = _connected_to(changed | last[win], last[win]) & target[win]
    out = prior.copy()
    out[win] = np.where(flip, kind == KEEP, p)
    return out


def geodesic_grabcut(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray,
                     kind: int) -> np.ndarray:
    """The geodesic region as GrabCut's starting labels: the colour models learn the clicked
    region from it, and GrabCut extends it to the rest of what looks the same in the target."""
    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    first = geodesic(work, prior, seeds, last, kind)
    grown = (first != prior) & target
    flip_label = kind == KEEP
    win = _box(target | last, int(ROI_MARGIN * max(prior.shape)))
    t, p = target[win], prior[win]
    definite_flip = cv2.GC_FGD if flip_label else cv2.GC_BGD
    definite_stay = cv2.GC_BGD if flip_label else cv2.GC_FGD
    probable_flip = cv2.GC_PR_FGD if flip_label else cv2.GC_PR_BGD
    probable_stay = cv2.GC_PR_BGD if flip_label else cv2.GC_PR_FGD
    labels = np.where(t, probable_stay, definite_flip).astype(np.uint8)  # outside the target: already flipped
    labels[grown[win]] = probable_flip
    s = seeds[win]
    labels[s == kind] = definite_flip
    labels[(s != 0) & (s != kind)] = definite_stay
    if not ((labels == probable_stay) | (labels == definite_stay)).any():
        return first
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(cv2.cvtColor(work.small[win], cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, GRABCUT_ITERS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return first
    now_fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    flipped = (now_fg == flip_label) & t
    flip = _connected_to(flipped | last[win], last[win]) & t
    out = prior.copy()
    out[win] = np.where(flip, flip_label, p)
    return out


def _passable(work: WorkImage) -> tuple[np.ndarray, np.ndarray]:
    """(passable, clearly product), HW bool, the classical segmenter's way: a pixel blocks the
    backdrop flood when it is unlike the fitted backdrop and not shadow-like, or on a sharp
    outline (``step`` above ``RERUN_EDGE_DE``)."""
    bg = work.background
    dist = delta_e76(work.lab, bg.lab)
    product = (dist > max(2.2, 3.5 * bg.noise)) & ~shadow_like(work.lab, bg.lab)
    return ~(product | (work.step > RERUN_EDGE_DE)), product


def rerun(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """The classical segmenter's backdrop flood re-run locally with the click forced.

    remove: the flood restarts from the click through the target's passable pixels (passages at
    least ``RERUN_REMOVE_PX`` wide), plus the outline pixels next to it that are not clearly product;
    keep: the flood from the frame is re-run with ever wider passages (``RERUN_WIDTHS``) until it
    no longer reaches the click; what it then leaves around the click is product.
    Falls back to ``geodesic`` when the click sits on no passable region."""
    from pipeline.segment.pockets import flood_from_border

    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    passable, product = _passable(work)
    region = np.zeros_like(prior)
    if kind == REMOVE:
        open_ = (passable & target) | last
        region = flood_from_border(open_, last, RERUN_REMOVE_PX) | last
        near = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        region |= near & target & ~passable & ~product
    else:
        frame = work.frame
        open_ = passable & ~last & ~(seeds == KEEP)
        around = cv2.dilate(last.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        for width in RERUN_WIDTHS:
            reach = flood_from_border(open_, frame & open_, width)
            if not (reach & around).any():
                region = _connected_to(target & ~reach, last)
                break
    region &= target
    if not (region & ~last).any():
        return geodesic(work, prior, seeds, last, kind)
    out = prior.copy()
    out[region] = kind == KEEP
    return out


def new_outline_on_edges(region: np.ndarray, stay: np.ndarray, edges: np.ndarray) -> float:
    """Share of the outline a flipped ``region`` would create (its pixels next to ``stay``, the
    target pixels that keep their label) lying within one pixel of ``edges``; 1.0 when the region
    creates no outline (it fills the whole target)."""
    grown = cv2.dilate(stay.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    outline = region & grown
    if not outline.any():
        return 1.0
    near = cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return float(near[outline].mean())


def edge_threshold(work: WorkImage, prior: np.ndarray) -> float:
    """``step`` above which a pixel is on an outline: ``EDGE_NOISE_K`` times the backdrop's own
    ``step`` (its 90th percentile: JPEG blocks, paper grain), at least ``EDGE_MIN_DE``."""
    backdrop = work.step[~prior]
    noise = float(np.percentile(backdrop, 90)) if backdrop.size else 0.0
    return max(EDGE_MIN_DE, EDGE_NOISE_K * noise)


def unclosed_keep_reach(from_mask: np.ndarray, last: np.ndarray) -> np.ndarray:
    """HW bool: where a keep click's region may go when no ball of the ladder ends on the photo's
    outlines. ``from_mask``: HW float32, each pixel's distance (px) from the cut-out; ``last``: HW
    bool, the click's pixels.

    Without an outline nothing in the photo says where the missed part ends, and on a clean
    backdrop the balls then run on through open backdrop until some limit stops them (the
    ``KEEP_REACH`` leash, an earlier "remove" click): a faint glass rim missed along a cup's top
    came back with a blob of backdrop ten times its size. A reviewer clicks inside what is
    missing, so the click's own distance from the cut-out (``d``, at its farthest pixel) is about
    half the missing part's thickness: the region keeps to pixels within ``UNCLOSED_KEEP_DEPTH_K``
    times ``d`` of the cut-out and of the click. A large missing part (a white bowl's half on a
    white cloth, clicked in its middle) keeps its reach; a thin one stays thin."""
    reach = UNCLOSED_KEEP_DEPTH_K * float(from_mask[last].max())
    from_click = cv2.distanceTransform((~last).astype(np.uint8), cv2.DIST_L2, 3)
    return (from_mask <= reach) & (from_click <= reach)


def ladder(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """Geodesic balls around the click, growing: the region flipped is the one whose new outline
    lies on the photo's outlines (``EDGE_CLOSED_SHARE``).

    The cost of a path is the outline strength it crosses (``step``: ramps are free), so the ball
    of radius r covers everything the click reaches without crossing more than r ΔE76 of outline.
    remove: the smallest edge-closed ball (a kept shadow or gap ends at the product's outline);
    keep: the largest edge-closed ball that does not reach the backdrop evidence (the frame, remove
    clicks), so a product's own printed lines do not stop it but its outline does."""
    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    win = _box(target | last, int(ROI_MARGIN * max(prior.shape)))
    t, lst = target[win] | last[win], last[win]
    clicked = np.median(work.lab[last], axis=0)
    if kind == REMOVE:  # off the blend of the clicked colour and the backdrop: a shadow's ramp is on it
        off_colour = _segment_distance(work.lab[win], clicked, work.background.lab[win])
    else:
        off_colour = delta_e76(work.lab[win], clicked)
    cost = np.where(t, work.step[win] + GEO_COLOUR_K * off_colour + GEO_EPS, 1e9).astype(np.float64)
    d = _geodesic(cost, lst)
    edges = work.step[win] > edge_threshold(work, prior)
    other = seeds[win] == (REMOVE if kind == KEEP else KEEP)
    evidence = np.zeros_like(t)
    if kind == KEEP:  # the frame, and open backdrop far from the cut-out: a missed part is attached to it
        other |= work.frame[win] & t
        from_mask = cv2.distanceTransform((~prior).astype(np.uint8), cv2.DIST_L2, 3)[win]
        other |= (from_mask > KEEP_REACH * work.long_side_px) & t
    else:  # product evidence: colours that are no blend of the clicked colour and the backdrop
        evidence = off_colour > COLOUR_FAR_DE
    regions: list[np.ndarray] = []
    areas: list[float] = []
    shares: list[float] = []  # share of each ball's new outline on photo edges
    limit = REMOVE_MAX_SHARE * float(prior.sum()) if kind == REMOVE else np.inf
    for radius in LADDER_DE:
        region = _connected_to(t & (d <= radius), lst)
        area = float(region.sum())
        if areas and area <= areas[-1]:
            continue
        if ((region & other).any() or area > limit
                or (kind == REMOVE and evidence[region].mean() > EVIDENCE_MAX_SHARE)):
            break
        regions.append(region)
        areas.append(area)
        shares.append(new_outline_on_edges(region, t & ~region, edges))
    if not regions:
        return prior
    closed = [i for i, v in enumerate(shares) if v >= EDGE_CLOSED_SHARE]
    if closed:
        best = regions[closed[-1] if kind == KEEP else closed[0]]
    else:  # no ball ends on outlines: the one that comes closest
        best = regions[int(np.argmax(shares))]
        if kind == KEEP:  # ... cut to what the click itself says (unclosed_keep_reach)
            best = _connected_to(best & unclosed_keep_reach(from_mask, lst), lst)
    out = prior.copy()
    out[win] = np.where(best & target[win], kind == KEEP, prior[win])
    return out


def graphcut(work: WorkImage, prior: np.ndarray, seeds: np.ndarray, last: np.ndarray, kind: int) -> np.ndarray:
    """Min-cut over the target (PyMaxflow, Boykov-Kolmogorov): every target pixel pays
    ``GC_PRIOR`` to change its label (the prior), the click pulls pixels it reaches cheaply
    (``GC_PULL * exp(-d / GC_PULL_DE)``, d the geodesic |∇Lab| path cost from the click), colours
    that are clearly the other label's (``competitor`` evidence for a remove click) pay
    ``GC_EVIDENCE`` more, and neighbours with different labels pay ``exp(-(g / GC_SIGMA)^2)`` (g
    the larger |∇Lab| of the two): cuts follow the photo's outlines. Pixels outside the target keep
    their label; clicks are hard."""
    try:
        import maxflow
    except ImportError as exc:
        raise ImportError("the graphcut refinement needs PyMaxflow: pip install 'product-scene[bench]'") from exc

    target = target_region(prior, last, kind)
    if not target.any():
        return prior
    win = _box(target | last, int(ROI_MARGIN * max(prior.shape)))
    t, lst, p = target[win] | last[win], last[win], prior[win]
    clicked_label = kind == KEEP
    grad = work.grad[win].astype(np.float64)
    cost = np.where(t, grad + GEO_EPS, 1e9)
    d = _geodesic(cost, lst)
    pull = GC_PULL * np.exp(-np.minimum(d, 1e6) / GC_PULL_DE)
    flip_cost = np.full(t.shape, GC_PRIOR)
    if kind == REMOVE:
        clicked = np.median(work.lab[last], axis=0)
        evidence = _segment_distance(work.lab[win], clicked, work.background.lab[win]) > COLOUR_FAR_DE
        flip_cost += GC_EVIDENCE * evidence
    big = 1e9
    s = seeds[win]
    # sink = "has the clicked label": a node in the sink segment pays its source capacity.
    source_cap = np.where(t, flip_cost, 0.0)
    sink_cap = np.where(t, pull, 0.0)
    fixed_clicked = (~t & (p == clicked_label)) | lst | (s == kind)
    fixed_other = (~t & (p != clicked_label)) | ((s != 0) & (s != kind) & ~lst)
    source_cap[fixed_clicked], sink_cap[fixed_clicked] = 0.0, big
    source_cap[fixed_other], sink_cap[fixed_other] = big, 0.0
    wgt = np.exp(-(grad / GC_SIGMA) ** 2)
    g = maxflow.Graph[float]()
    ids = g.add_grid_nodes(t.shape)
    right = np.zeros((3, 3)); right[1, 2] = 1
    down = np.zeros((3, 3)); down[2, 1] = 1
    w_right = np.minimum(wgt, np.roll(wgt, -1, axis=1))
    w_down = np.minimum(wgt, np.roll(wgt, -1, axis=0))
    g.add_grid_edges(ids, weights=w_right, structure=right, symmetric=True)
    g.add_grid_edges(ids, weights=w_down, structure=down, symmetric=True)
    g.add_grid_tedges(ids, source_cap, sink_cap)
    g.maxflow()
    has_clicked = g.get_grid_segments(ids)
    flip = _connected_to(has_clicked & t, lst) & target[win]
    out = prior.copy()
    out[win] = np.where(flip, clicked_label, p)
    return out


METHODS: dict[str, Method] = {"graphcut": graphcut, "ladder": ladder, "rerun": rerun, "geodesic": geodesic, "flood": flood, "grabcut": grabcut,
                              "geodesic+grabcut": geodesic_grabcut}
