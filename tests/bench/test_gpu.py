"""bench/gpu.py in its tiny CPU mode: the benchmark CI can run (same code as on the GPU)."""

from __future__ import annotations

import json

import pytest

from tests.needs import needs

needs("diffusion")

from bench.gpu import main

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.usefixtures("one_torch_thread")]


def test_tiny_cpu_run_times_stock_and_ours_and_checks_equality(tmp_path, capsys):
    out, results = tmp_path / "gpu.json", tmp_path / "RESULTS.md"
    rc = main(["--device", "cpu", "--workloads", "sd15-512-b1", "sdxl-1024-b1",
               "--rows", "ours", "stock", "approx:deepcache3",
               "--out", str(out), "--results", str(results)])
    assert rc == 0
    report = json.loads(out.read_text())
    rows = {(r["workload"], r["row"]): r for r in report["results"]}
    assert [r["row"] for r in report["results"]][:2] == ["stock", "stock"]  # the reference runs first
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows.values()), rows
    for workload in ("sd15-512-b1", "sdxl-1024-b1"):
        assert rows[workload, "stock"]["s_per_image"] > 0 and rows[workload, "stock"]["max_abs_diff"] is None
        # The default levers: bit-exact on the CPU but dedupe_control_images (a batch-1 convolution rounds
        # differently from the stock batch-2 one: at most a level or two in a few pixels).
        assert rows[workload, "ours"]["max_abs_diff"] <= 2 and rows[workload, "ours"]["mean_abs_diff"] < 0.01
        assert rows[workload, "ours"]["applied"]["controlnet_runner"] == "fast"
        approx = rows[workload, "approx:deepcache3"]["approx"]
        assert approx["one_minus_ssim"] > 0 and set(approx["stock"]["metrics"]) >= {"delta_e00_mean", "ssim"}
    assert report["meta"]["size"] == "tiny" and report["meta"]["steps"] == 2
    text = results.read_text()
    assert report["meta"]["commit"] in text and "| sdxl-1024-b1 | ours |" in text
    assert capsys.readouterr().out.rstrip().endswith(report["table"].splitlines()[-1])  # the table is printed last
