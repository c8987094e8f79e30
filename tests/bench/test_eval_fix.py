"""bench/eval_fix.py: the simulated reviewer's click rule and a small end-to-end run."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")

from bench.eval_fix import STROKE_MAX_SHARE, main, next_click, next_mark
from pipeline.io.imageio import encode_png
from pipeline.samples import render_sample

SUMMARY = re.compile(r"^n=(\d+) n_bad=(\d+) noc95=\d+\.\d\d noc97=\d+\.\d\d over5=\d+ never97=\d+ "
                     r"click_ms_median=(\d+|nan) click_ms_p90=(\d+|nan)$")
STROKE_SUMMARY = re.compile(r"^n=(\d+) n_bad=(\d+) nos95=\d+\.\d\d nos97=\d+\.\d\d over5=\d+ never97=\d+ "
                            r"stroke_ms_median=(\d+|nan) stroke_ms_p90=(\d+|nan)$")


def test_click_goes_inside_the_largest_error_region():
    truth = np.zeros((60, 80), bool)
    truth[10:50, 10:40] = True
    pred = truth.copy()
    pred[30:50, 40:70] = True  # wrongly kept: 20 x 30
    pred[10:14, 10:20] = False  # missed: 4 x 10
    click = next_click(pred, truth)
    x, y = click.points[0]
    assert click.kind == "remove" and 30 <= y < 50 and 40 <= x < 70
    assert abs(y - 39.5) <= 1 and 49 <= x <= 60  # on the ridge of the distance transform, 10 px from the edges
    pred[30:50, 40:70] = False
    assert next_click(pred, truth).kind == "keep"
    assert next_click(truth, truth) is None


def test_end_to_end_on_a_folder(tmp_path, capsys):
    images, masks, sheets = tmp_path / "images", tmp_path / "masks", tmp_path / "sheets"
    images.mkdir()
    masks.mkdir()
    for name in ("mug_white", "bottle_teal"):  # the classical cut-out of mug_white is under IoU 0.95
        sample = render_sample(name)
        (images / f"{name}.png").write_bytes(encode_png(sample.rgb))
        cv2.imwrite(str(masks / f"{name}.png"), sample.mask.astype(np.uint8) * 255)
    assert main(["--images", str(images), "--masks", str(masks), "--no-samples", "--max-clicks", "3",
                 "--timed-clicks", "1", "--sheets", str(sheets)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("n=")]
    assert len(lines) == 1, out
    n, n_bad, median, p90 = SUMMARY.match(lines[0]).groups()
    assert (n, n_bad) == ("2", "1") and int(median) > 0 and int(p90) >= int(median)
    assert "| mug_white.png |" in out and "good cut-outs (IoU >= 0.98)" in out
    assert len(list(sheets.glob("*.png"))) == 1


def test_stroke_runs_along_the_middle_of_the_largest_error_region_and_stays_inside():
    from pipeline.segment.refine.strokes import draw_click

    truth = np.zeros((300, 400), bool)
    truth[100:200, 100:300] = True
    pred = truth.copy()
    pred[200:210, 40:360] = True  # a kept shadow strip under the product: 10 x 320 px, longer than one drag
    pred[100:104, 150:160] = False  # missed: 4 x 10
    stroke = next_mark(pred, truth, "strokes")
    pts = np.asarray(stroke.points)
    assert stroke.kind == "remove" and len(pts) >= 2
    length = float(np.hypot(*np.diff(pts, axis=0).T).sum())
    assert 0.8 * STROKE_MAX_SHARE * 400 <= length <= STROKE_MAX_SHARE * 400 + 1  # one drag, as long as allowed
    assert np.all(np.abs(pts[:, 1] - 204.5) <= 1.5)  # along the strip's medial axis
    painted = draw_click(stroke, pred.shape)
    assert painted.sum() > length and not (painted & ~(pred & ~truth)).any()  # a brush, inside the wrong region
    click = next_mark(pred, truth, "clicks")  # the standard protocol marks the same region with one point
    assert click.kind == "remove" and len(click.points) == 1 and 200 <= click.points[0][1] < 210
    assert next_mark(truth, truth, "strokes") is None


def test_end_to_end_with_the_brush_reviewer(tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    sample = render_sample("mug_white")  # its classical cut-out is under IoU 0.95
    (images / "mug_white.png").write_bytes(encode_png(sample.rgb))
    cv2.imwrite(str(masks / "mug_white.png"), sample.mask.astype(np.uint8) * 255)
    assert main(["--images", str(images), "--masks", str(masks), "--no-samples", "--max-clicks", "3",
                 "--timed-clicks", "1", "--sheets", "", "--reviewer", "strokes"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("n=")]
    assert len(lines) == 1 and STROKE_SUMMARY.match(lines[0]), out
    assert "reviewer strokes" in out and "| NoS@0.95 | NoS@0.97 |" in out and "NoC" not in out
