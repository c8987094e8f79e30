"""bench/eval_fix.py: the simulated reviewer's click rule and a small end-to-end run."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")

from bench.eval_fix import main, next_click
from pipeline.io.imageio import encode_png
from pipeline.samples import render_sample

SUMMARY = re.compile(r"^n=(\d+) n_bad=(\d+) noc95=\d+\.\d\d noc97=\d+\.\d\d over5=\d+ never97=\d+ "
                     r"click_ms_median=(\d+|nan) click_ms_p90=(\d+|nan)$")


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
