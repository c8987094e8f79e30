"""Plain-language reasons: every gate check has one, and the page, report.html and the Prefect
summary say the same sentence."""

from __future__ import annotations

import json
import re

from flows.artifacts import BatchStats, summary_markdown
from pipeline.report import build_report
from pipeline.report.html import render_html
from pipeline.score.gate import CHECKS
from pipeline.score.reasons import EXPLANATIONS, explain_reason, gate_rows, plain_summary
from pipeline.types import ItemRecord

SHADOW = "cut-out: base outline off any edge 31% > 20%"
SENTENCE = ("Part of the floor shadow was kept as product (base outline off the photo's edges: 31%, limit 20%). "
            "Fix the cut-out, or reject.")


def test_every_gate_check_has_a_sentence_and_what_to_do():
    missing = [c.metric for c in CHECKS if c.metric not in EXPLANATIONS]
    assert not missing, f"gate checks with no plain-language sentence in pipeline/score/reasons.py: {missing}"
    for check in CHECKS:
        plain = EXPLANATIONS[check.metric]
        assert plain.says and plain.measure and plain.todo.endswith(".")
        reason = check.reason(0.5, 0.25)
        explained = explain_reason(reason)
        assert explained["metric"] == check.metric and explained["technical"] == reason
        assert explained["sentence"].startswith(plain.says) and explained["sentence"].endswith(plain.todo)


def test_the_issue_example_reads_as_the_shop_should_read_it():
    assert explain_reason(SHADOW)["sentence"] == SENTENCE
    nan = explain_reason("invalid metric: SSIM is NaN")
    assert nan["metric"] == "ssim" and "could not be measured" in nan["sentence"]
    other = explain_reason("something new: x 3 > 2")
    assert other["metric"] is None and "something new" in other["sentence"]


def test_gate_rows_show_every_signal_with_this_batchs_threshold_and_mark_the_failing_ones():
    rows = gate_rows({"cutout_base_off": 0.31, "cutout_edge_off": 0.1, "ssim": 0.99, "logo_ssim_min": None},
                     {"cutout_base_off_max": 0.2, "cutout_edge_off_max": 0.05})
    by = {r["metric"]: r for r in rows}
    assert by["cutout_base_off"]["failing"] and by["cutout_base_off"]["limit"] == "≤ 20%"
    assert by["cutout_edge_off"]["failing"] and by["cutout_edge_off"]["limit"] == "≤ 5%"  # the batch's own gate
    assert not by["ssim"]["failing"] and by["ssim"]["limit"] == "≥ 0.950"  # a default where the batch is silent
    assert not by["logo_ssim_min"]["gated"]
    assert [r["group"] for r in rows] == sorted((r["group"] for r in rows),
                                                key=["Cut-out", "Composition", "Scene", "Product appearance"].index)


def test_report_html_and_the_prefect_summary_use_the_same_sentence():
    record = ItemRecord(id="mug", source="mug.jpg", status="ok", verdict="fail", reasons=(SHADOW,),
                        metrics={"cutout_base_off": 0.31})
    html = render_html(build_report("b", "studio", "h", [record]), [record])
    data = re.search(r'<script type="application/json" id="report-items">(.*?)</script>', html, re.DOTALL)
    assert json.loads(data.group(1))["items"][0]["reasons"] == [[SENTENCE, SHADOW]]  # the page draws both
    summary = summary_markdown([record], BatchStats("b", "studio", "threads"), None)
    assert SENTENCE in summary and plain_summary([SHADOW]) == SENTENCE
