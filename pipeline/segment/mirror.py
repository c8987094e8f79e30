"""Mirror images on glossy floors: the part of a mask below the product's base line that repeats
the product upside down, dimmer, is a reflection, and goes back to the backdrop.

On a glossy or mirror floor the product's mirror image hangs under its base: crisp, dark for a dark
product, and it fades only slowly, so neither the flood nor the shadow peel (which look for a smooth
fade) removes it. The test compares, for each column and each candidate base row ``a``, the window
of colour deviations from the backdrop *above* ``a`` (rows a-1, a-2, ..., a-D), flipped, with the
window *below* it (rows a, a+1, ..., a+D-1), over a band of columns. Deviations are high-passed
along the columns first (``HIGH_PASS``): a reflection's fade and the product's smooth shading are
slow, its edges, print and highlights are not.

* the pattern matches: centred correlation of the deviations (linear-light RGB, where a reflection
  adds a fraction of the product's light to the floor's) at least ``MIN_CORRELATION``: the same
  edges, highlights and print, upside down;
* it is dimmer: the least-squares gain of the pattern from above to below is between ``MIN_GAIN``
  and ``MAX_GAIN``, and so is the overall difference from the floor (root mean square, before the
  high-pass). A reflection is the floor plus a fraction of the product's light; a product that
  continues downwards (a box face, a symmetric vase, a logo symmetric about its middle) keeps its
  contrast and its difference from the floor, and stays;
* there is a pattern to match: the window above varies along its columns by at least
  ``MIN_STRUCTURE``. Each column is centred on its own mean, so only the pattern along the
  columns counts: a cylinder's shading across it repeats above and below any row, mirror or not.

Columns where some base row passes form the reflection's span; where it covers at least
``MIN_SPAN`` of the product's width there, the base line is the per-column best row (median
smoothed, filled across columns that failed, carried flat past the span to every column where the
product stands right above it), and every mask pixel below it in those columns is backdrop. Mask parts that lie wholly below the base line (a reflected logo left as an island) go
too. When no base line is found (the peel took most of the mirror image), a part that lies
wholly below the largest one and repeats it mirrored about its lowest row is dropped alone.
The search runs on the mask's box resampled to ``ANALYSIS_ROWS`` rows, with windows that are a
share of its height, so it does not depend on the work size (and costs a few ms).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.segment.work_scale import REFERENCE, WorkScale

# Chosen on the glossy-floor samples (mug_teal_glossy, bottle_mirror_floor, 8 seeds each) and the real
# photos with mirror floors (rds_lipstick_intense_matte, rds_blush_compact_lipstick, ck_mug_*).
ANALYSIS_ROWS = 160  # the mask's box is resampled to this many rows for the search (px)
MIN_ROWS = 24  # work px: a mask lower than this has no mirror image worth looking for
WINDOW_SHARE = 0.25  # rows compared on each side of a candidate base row: this share of the box's
# height (long: a band or a text line that is symmetric in itself does not pass for the base) ...
MIN_WINDOW_ROWS = 8  # ... and at least this many analysis rows
BAND_SHARE = 0.025  # half width of the column band a window spans, as a share of the box's height
BASE_FROM = 0.4  # candidate base rows lie below this share of the mask's height (a mirror image is no
# taller than its product; a little less than half, for a reflection kept whole)
SKIP_SHARE = 0.2  # the rows nearest the base line are left out of the comparison: the contact line and
# its shadow differ between a product and its mirror image
HIGH_PASS = 0.15  # the deviations are compared minus their blur along y (sigma: this share of the window)
MIN_CORRELATION = 0.8  # centred correlation of the flipped window above with the window below
MIN_GAIN, MAX_GAIN = 0.08, 0.85  # a reflection repeats the product at this gain (dimmer, not gone)
MIN_STRUCTURE = 2.0  # std (linear RGB, % of white) the window above must have for a pattern to compare
GLANCE_ROWS = 64  # the coarse first pass resamples the box to this many rows ...
GLANCE_CORRELATION = 0.5  # ... and looks further only where some column correlates this well
MIN_SPAN = 0.4  # share of the product's columns right above the base a reflection must cover
SMOOTH_COLUMNS = 5  # analysis columns: the per-column base line is median-smoothed over this many
MIN_ISLAND_PX = 20  # work px: fewest mirrored pixel pairs an island must have to be judged
MIN_ISLAND_CORRELATION = 0.6  # an island already lies wholly under the product (a strong prior for a
# reflection) and is faint, so its pattern match is noisier: 0.72 for mug_teal_glossy's reflected logo
ISLAND_SEARCH_PX = 8  # ref px: an island's mirror axis is searched this far around the product's lowest row


def peel_mirror_image(lab: np.ndarray, bg_lab: np.ndarray, mask: np.ndarray,
                      scale: WorkScale = REFERENCE) -> np.ndarray:
    """Mask (HW bool) without the mirror image below the product (see module doc).

    lab, bg_lab: HWC float32 Lab of the work image and the fitted backdrop; mask: HW bool.
    The base line is searched on a copy of the mask's box resampled to ``ANALYSIS_ROWS`` rows
    (the window is a share of the product's height: work-size free, and cheap), then applied at
    the work size.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size < MIN_ROWS or cols.size < 2:
        return mask
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    m = mask[y0:y1, x0:x1]
    f = max(1.0, (y1 - y0) / ANALYSIS_ROWS)
    size = (max(2, round((x1 - x0) / f)), max(2, round((y1 - y0) / f)))
    raw = _deviation(lab[y0:y1, x0:x1], bg_lab[y0:y1, x0:x1])
    dev = _high_pass(raw)
    if not _worth_a_look(dev, raw, m):
        best, base = np.full(size[0], -1.0), np.zeros(size[0])
    else:
        best, base = _search(dev, raw, m, size)
    found = best >= MIN_CORRELATION
    depth_s = max(MIN_WINDOW_ROWS, int(WINDOW_SHARE * size[1]))
    if found.any():  # the product's width right above the base line the passing columns see
        m_s = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
        level = int(np.median(base[found]))
        width = int(m_s[max(0, level - depth_s):level].any(axis=0).sum())
    if not found.any() or found.sum() < MIN_SPAN * width:
        result = mask.copy()
        if _has_islands(m):
            result[y0:y1, x0:x1] = _drop_mirrored_islands(dev, m, scale.px(ISLAND_SEARCH_PX))
        return result
    span = np.flatnonzero(found)
    # The base line: smoothed through the passing columns, carried flat past their ends to every
    # column where the product stands right above it (its edges, where the window found no pattern).
    line_s = _running_median(np.interp(np.arange(size[0]), span, base[span]), SMOOTH_COLUMNS)
    centres = (np.arange(size[0]) + 0.5) * ((x1 - x0) / size[0]) - 0.5
    line = np.interp(np.arange(x1 - x0), centres, line_s * ((y1 - y0) / size[1]))
    ys = np.arange(y1 - y0)[:, None]
    cut = np.rint(line)[None, :]
    standing = (m & (ys < cut) & (ys >= cut - depth_s * f)).any(axis=0)
    below = (ys >= cut) & standing[None, :]
    result = mask.copy()
    result[y0:y1, x0:x1] = _drop_islands_below(m & ~below, below)
    return result


def _search(dev: np.ndarray, raw: np.ndarray, m: np.ndarray, size: tuple[int, int],
            min_correlation: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(best passing correlation per analysis column or -1, its base row) of the crop (``dev``,
    ``raw``: hwC float32 high-passed and raw deviations; ``m``: hw bool) resampled to ``size``."""
    dev_s = cv2.resize(dev, size, interpolation=cv2.INTER_AREA)  # light averages linearly
    raw_s = cv2.resize(raw, size, interpolation=cv2.INTER_AREA)
    m_s = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    depth_s = max(MIN_WINDOW_ROWS, int(WINDOW_SHARE * size[1]))
    band = max(1, round(BAND_SHARE * size[1]))
    # The mirror axis lies between two analysis rows or on one: both pairings are tried.
    (b0, r0), (b1, r1) = (_best_base_rows(dev_s, raw_s, m_s, depth_s, band, on_row, min_correlation)
                          for on_row in (0, 1))
    return np.maximum(b0, b1), np.where(b1 > b0, r1 + 0.5, r0)


def _worth_a_look(dev: np.ndarray, raw: np.ndarray, m: np.ndarray) -> bool:
    """A coarse pass (``GLANCE_ROWS`` rows, ``GLANCE_CORRELATION``): does any column come near a
    mirror image? Most masks have none, and the full search is the costly part."""
    f = max(1.0, m.shape[0] / GLANCE_ROWS)
    size = (max(2, round(m.shape[1] / f)), max(2, round(m.shape[0] / f)))
    best, _ = _search(dev, raw, m, size, GLANCE_CORRELATION)
    return bool((best >= GLANCE_CORRELATION).any())


def _deviation(lab: np.ndarray, bg_lab: np.ndarray) -> np.ndarray:
    """hwC float32: linear-light RGB of ``lab`` minus that of the backdrop ``bg_lab`` (hwC Lab)."""
    return linear_rgb(lab) - linear_rgb(bg_lab)


def _has_islands(m: np.ndarray) -> bool:
    """True when the mask (hw bool) has a part that starts below its largest part's lowest row."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 2:
        return False
    main = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    base = stats[main, cv2.CC_STAT_TOP] + stats[main, cv2.CC_STAT_HEIGHT]
    return bool((stats[1:, cv2.CC_STAT_TOP] >= base).any())


def _high_pass(dev: np.ndarray) -> np.ndarray:
    """Deviations minus their blur along y (sigma ``HIGH_PASS`` of the box's height): the edges,
    print and highlights along the columns, without a reflection's slow fade or the product's
    own smooth shading. dev: hwC float32."""
    sigma = max(1.0, HIGH_PASS * WINDOW_SHARE * dev.shape[0])
    return dev - cv2.GaussianBlur(dev, (1, 2 * int(3 * sigma) + 1), sigmaX=0.1, sigmaY=sigma)


def linear_rgb(lab: np.ndarray) -> np.ndarray:
    """HWC float32 Lab -> HWC float32 linear-light RGB in percent of white (0..100): light adds up
    linearly there, so a reflection is the floor plus a fraction of the product's light."""
    srgb = cv2.cvtColor(np.ascontiguousarray(lab, np.float32), cv2.COLOR_Lab2RGB)
    np.clip(srgb, 0.0, 1.0, out=srgb)
    out = srgb + 0.055  # in place from here: the same float32 operations, half the memory traffic
    out /= 1.055
    np.power(out, 2.4, out=out)
    np.divide(srgb, 12.92, out=out, where=srgb <= 0.04045)  # the linear toe
    out *= 100.0
    return out


def _best_base_rows(dev: np.ndarray, raw: np.ndarray, m: np.ndarray, depth: int, band: int,
                    on_row: int = 0, min_correlation: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per column of the crop: (best correlation of a passing candidate base row, or -1; that row).

    on_row 0: the axis lies between rows a-1 and a (row a-d pairs with a+d-1); 1: on row a (a-d
    pairs with a+d).

    dev: hwC float32 deviation from the backdrop (high-passed linear RGB); raw: the same before the
    high-pass (for the overall strength below vs above); m: hw bool mask. Candidate rows lie in the lower
    ``BASE_FROM`` of the mask's rows (a reflection is no taller than its product) with ``depth``
    rows on each side."""
    h, w = m.shape
    lo, hi = max(depth, int(BASE_FROM * h)), h - depth + 1 - on_row
    if hi <= lo:
        return np.full(w, -1.0), np.zeros(w)
    n, ch = hi - lo, dev.shape[2]
    s_a = np.zeros((ch, n, w), np.float32)  # per channel: centring is per channel
    s_b = np.zeros_like(s_a)
    s_aa, s_bb, s_ab, s_w, r_aa, r_bb = (np.zeros((n, w), np.float32) for _ in range(6))
    mf = m.astype(np.float32)
    planes = np.ascontiguousarray(dev.transpose(2, 0, 1))  # one contiguous plane per channel
    raw_planes = np.ascontiguousarray(raw.transpose(2, 0, 1))
    a, b, t = (np.empty((n, w), np.float32) for _ in range(3))  # scratch: no allocation per step
    wgt = np.empty((n, w), np.float32)
    for d in range(1 + int(SKIP_SHARE * depth), depth + 1):
        e = d - 1 + on_row
        np.multiply(mf[lo - d:hi - d], mf[lo + e:hi + e], out=wgt)
        for c in range(ch):  # the same products and sums, in the same order, as element by element
            up, dn = planes[c, lo - d:hi - d], planes[c, lo + e:hi + e]
            np.multiply(up, wgt, out=a)
            np.multiply(dn, wgt, out=b)
            s_a[c] += a
            s_b[c] += b
            s_aa += np.multiply(a, up, out=t)
            s_bb += np.multiply(b, dn, out=t)
            s_ab += np.multiply(a, dn, out=t)
            ra, rb = raw_planes[c, lo - d:hi - d], raw_planes[c, lo + e:hi + e]
            np.multiply(ra, ra, out=t)
            r_aa += np.multiply(t, wgt, out=t)
            np.multiply(rb, rb, out=t)
            r_bb += np.multiply(t, wgt, out=t)
        s_w += wgt
    size = (2 * band + 1, 1)

    def box(v: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(v, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)

    # Centre each column on its own mean over the window: only the pattern *along* the column
    # counts (a cylinder's shading across it is the same above and below any row, mirror or not).
    nw_col = np.maximum(s_w, 1.0)
    var_a = box(s_aa - sum(s_a[c] * s_a[c] for c in range(ch)) / nw_col)
    var_b = box(s_bb - sum(s_b[c] * s_b[c] for c in range(ch)) / nw_col)
    cov = box(s_ab - sum(s_a[c] * s_b[c] for c in range(ch)) / nw_col)
    s_w = box(s_w)
    nw = np.maximum(s_w, 1.0)
    var_a, var_b, cov = var_a / nw, var_b / nw, cov / nw  # spread along the columns, above / below
    corr = cov / np.sqrt(np.maximum(var_a * var_b, 1e-6))
    gain = cov / np.maximum(var_a, 1e-6)
    strength = np.sqrt(box(r_bb) / np.maximum(box(r_aa), 1e-6))  # overall difference from the floor, below / above
    enough = s_w >= 0.5 * (1.0 - SKIP_SHARE) * depth * (2 * band + 1)
    ok = (enough & (var_a >= MIN_STRUCTURE ** 2) & (gain >= MIN_GAIN) & (gain <= MAX_GAIN)
          & (strength <= MAX_GAIN) & (corr >= (MIN_CORRELATION if min_correlation is None else min_correlation)))
    score = np.where(ok, corr, -1.0)
    row = np.argmax(score, axis=0)
    return score[row, np.arange(w)], (row + lo).astype(np.float64)


def _drop_mirrored_islands(dev: np.ndarray, m: np.ndarray, search: int) -> np.ndarray:
    """``m`` (hw bool) without the parts that lie wholly below the largest part and repeat it
    mirrored about a row within ``search`` rows of its lowest one (a reflected logo left over when
    the peel took the rest of the mirror image; the largest part may still hold a contact-shadow
    line under the real base). dev: hwC float32 high-passed linear-RGB deviation from the backdrop."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 2:
        return m
    main = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    base = int(stats[main, cv2.CC_STAT_TOP] + stats[main, cv2.CC_STAT_HEIGHT])  # first row under it
    product = labels == main
    out = m.copy()
    for i in range(1, n):
        if i == main or stats[i, cv2.CC_STAT_TOP] < base:
            continue
        ys, xs = np.nonzero(labels == i)
        for axis in range(base - search, min(base + search, int(ys.min())) + 1):
            src = 2 * axis - 1 - ys  # the row mirrored about the base line between axis-1 and axis
            ok = (src >= 0) & product[np.clip(src, 0, None), xs]
            if ok.sum() < MIN_ISLAND_PX:
                continue
            a, b = dev[src[ok], xs[ok]], dev[ys[ok], xs[ok]]
            a, b = a - a.mean(axis=0), b - b.mean(axis=0)
            var_a, var_b, cov = float((a * a).sum()), float((b * b).sum()), float((a * b).sum())
            corr, gain = cov / max(np.sqrt(var_a * var_b), 1e-6), cov / max(var_a, 1e-6)
            if corr >= MIN_ISLAND_CORRELATION and MIN_GAIN <= gain <= MAX_GAIN:
                out &= labels != i
                break
    return out


def _running_median(values: np.ndarray, size: int) -> np.ndarray:
    """1-D running median over ``size`` (odd) samples, edges repeated."""
    if size <= 1 or values.size < 2:
        return values
    padded = np.pad(values, size // 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, size), axis=1)


def _drop_islands_below(mask: np.ndarray, below: np.ndarray) -> np.ndarray:
    """``mask`` without its 8-connected parts that lie wholly inside ``below`` (HW bool each)."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    outside = np.bincount(labels[mask & ~below], minlength=n) > 0
    outside[0] = False
    return outside[labels]
