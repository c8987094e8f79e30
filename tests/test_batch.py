"""End to end: the CLI and the batch on the generated samples and the bad-input corpus."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.batch import BatchRunner, item_id_for_key, run_batch
from pipeline.ledger.identities import sidecar_key
from pipeline.cli import main
from pipeline.config import PipelineConfig
from pipeline.samples import SAMPLE_SPECS, write_samples
from pipeline.imaging import iou
from pipeline.io.storage import Bucket
from tests.fixtures.bad_inputs import CASES, write_corpus

REPORT_ITEM_KEYS = {"id", "source", "status", "error", "verdict", "reasons", "metrics", "outputs", "timings_ms"}
METRIC_KEYS = {"delta_e00_mean", "delta_e00_p95", "ssim", "logo_ssim_min", "expansion", "halo",
               "cutout_edge_off", "cutout_base_off", "cutout_backdrop_in", "cutout_product_out", "cutout_cut_through",
               "cutout_continues_out", "cutout_mirror", "cutout_backdrop_gap", "cutout_panel_hole",
               "cutout_disagreement", "cutout_unstable", "cutout_confidence", "composition_frame_cut",
               "scene_lightness", "scene_detail", "scene_noise", "scene_blotch", "scene_extra_object",
               "scene_palette_de", "scene_contact"}
GOOD_CUTOUT_IOU = 0.985  # a sample cut out this well must pass; a worse one may be failed for its cut-out


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("samples")
    write_samples(d)
    return d


@pytest.fixture(scope="module")
def cli_run(samples_dir, tmp_path_factory, capsys_module=None):
    out = tmp_path_factory.mktemp("out")
    before = {p: p.read_bytes() for p in samples_dir.rglob("*") if p.is_file()}
    rc = main(["run", str(samples_dir), str(out), "--batch-id", "t1", "--no-progress",
               "--size", "512x512", "--theme", "marble-counter", "--debug-outputs"])
    return rc, out / "t1", before


def test_cli_exit_code_and_report_schema(cli_run):
    rc, batch, _ = cli_run
    assert rc == 0
    report = json.loads((batch / "report.json").read_text())
    assert report["batch_id"] == "t1" and report["backend"] == "studio" and report["config_hash"]
    s = report["summary"]
    assert s["total"] == len(report["items"]) == len(SAMPLE_SPECS)
    assert s["passed"] + s["failed"] + s["errors"] == s["total"]
    for item in report["items"]:
        assert REPORT_ITEM_KEYS <= set(item)
        assert set(item["metrics"]) == METRIC_KEYS
        assert set(item["outputs"]) >= {"composite", "mask", "canny", "depth"}


def test_the_gate_agrees_with_the_samples_true_cutouts(cli_run, samples_dir):
    """Every sample whose cut-out matches its ground truth passes; one that fails names its cut-out.

    The gate now judges the cut-out from the photo (not the product as cut against itself), so
    this can fail both ways: a good cut-out or a plain studio scene failed, or a bad reason given.
    """
    _, batch, _ = cli_run
    report = json.loads((batch / "report.json").read_text())
    wrong = []
    n_bad = 0
    for item in report["items"]:
        assert item["status"] == "ok", item["error"]
        mask = cv2.imread(str(batch / item["id"] / "mask.png"), cv2.IMREAD_UNCHANGED) > 127
        stem = Path(item["source"]).stem
        truth = cv2.imread(str(samples_dir / "_ground_truth" / f"{stem}_mask.png"), 0) > 127
        good = iou(mask, truth) >= GOOD_CUTOUT_IOU
        n_bad += not good
        if (good and item["verdict"] != "pass") or (not good and item["verdict"] != "pass"
                                                    and not all(r.startswith("cut-out:") for r in item["reasons"])):
            wrong.append((item["id"], round(iou(mask, truth), 4), item["reasons"]))
    assert not wrong
    passed = sum(i["verdict"] == "pass" for i in report["items"])
    # Only the samples the segmenter cut badly may fail (each is checked above), and most pass.
    assert passed >= len(report["items"]) - n_bad and passed > len(report["items"]) // 2


def test_outputs_per_product(cli_run, samples_dir):
    _, batch, _ = cli_run
    item = batch / item_id_for_key("mug_red.jpg")
    composite = cv2.imread(str(item / "composite.png"))
    assert composite.shape == (512, 512, 3)
    mask = cv2.imread(str(item / "mask.png"), cv2.IMREAD_UNCHANGED)
    photo = cv2.imread(str(samples_dir / "mug_red.jpg"))
    assert mask.shape == photo.shape[:2] and set(np.unique(mask)) <= {0, 255}
    truth = cv2.imread(str(samples_dir / "_ground_truth" / "mug_red_mask.png"), 0) > 127
    assert iou(mask > 127, truth) > 0.97
    for name in ("canny.png", "depth.png"):  # written because of --debug-outputs
        assert cv2.imread(str(item / name)).shape == (512, 512, 3)
    sprite = cv2.imread(str(item / "thumbs.jpg"))  # the report's thumbnails: one tile per view
    assert sprite.shape == (160, 5 * 160, 3)
    meta = json.loads((item / "meta.json").read_text())
    assert meta["config_hash"] and meta["backends"]["scene"] == "studio" and "seed" in meta
    assert meta["versions"]["numpy"]


def test_reports_csv_html_and_no_leftover_temp_files(cli_run):
    _, batch, _ = cli_run
    rows = list(csv.DictReader((batch / "report.csv").open()))
    assert len(rows) == len(SAMPLE_SPECS)
    html = (batch / "report.html").read_text()
    assert f'"id":"{item_id_for_key("mug_red.jpg")}",' in html and '"sprite_views":["original","mask",' in html
    assert "http://" not in html and "data:image" not in html  # thumbnails: each item's thumbs.jpg
    assert not [p for p in batch.rglob("*") if p.name.endswith(".part")]


def test_inputs_untouched(cli_run, samples_dir):
    _, _, before = cli_run
    after = {p: p.read_bytes() for p in samples_dir.rglob("*") if p.is_file()}
    assert after == before


def test_bad_input_corpus_never_crashes_the_batch(tmp_path):
    src = tmp_path / "in"
    paths = write_corpus(src)
    _, report, records = run_batch(str(src), str(tmp_path / "out"), PipelineConfig().with_overrides(
        {"placement.long_side": 256}), batch_id="bad")
    assert report["summary"]["total"] == len(records) >= 20
    by_source = {r.source: r for r in records}
    assert set(by_source) == {str(p.relative_to(src)) for p in paths.values()}  # every file has its row
    for key, path in paths.items():
        record = by_source[str(path.relative_to(src))]
        assert record.status in ("ok", "error")
        if CASES[key].expected == "error":
            assert record.status == "error" and record.error, key
        if record.status == "error":
            assert "\n" not in record.error


def test_segmentation_failure_is_an_error_item(tmp_path):
    src = Bucket(tmp_path / "in")
    src.write_bytes("blank.png", cv2.imencode(".png", np.full((64, 64, 3), 250, np.uint8))[1].tobytes())
    _, report, records = run_batch(str(tmp_path / "in"), str(tmp_path / "out"), PipelineConfig(), batch_id="b")
    assert records[0].status == "error" and "no product" in records[0].error


def test_unsafe_key_is_rejected_not_written(tmp_path):
    runner = BatchRunner(PipelineConfig())
    record = runner.process_key(Bucket(tmp_path), "../../etc/passwd.jpg", Bucket(tmp_path / "out"), "b")
    assert record.status == "error" and "rejected key" in record.error


def test_bad_sidecar_is_an_error_item(tmp_path, samples_dir):
    src = Bucket(tmp_path / "in")
    src.write_bytes("a.jpg", (samples_dir / "mug_red.jpg").read_bytes())
    src.write_bytes("a.json", b"{not json")
    _, _, records = run_batch(str(tmp_path / "in"), str(tmp_path / "out"), PipelineConfig(), batch_id="b")
    assert records[0].status == "error" and "sidecar" in records[0].error


def test_cli_usage_errors(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("scene: {theme: 1, nope: 2}\n")
    assert main(["run", str(tmp_path), str(tmp_path / "o"), "--config", str(bad)]) == 2
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path), str(tmp_path / "o"), "--size", "big"])


def test_helpers():
    assert item_id_for_key("shoes/red shoe.jpg").startswith("shoes__red_shoe.jpg-")
    assert item_id_for_key("../x.jpg").startswith("__x.jpg-")
    assert sidecar_key("a/b.c.jpg") == "a/b.c.json"


def test_variants_are_all_written_and_the_first_passing_one_is_shown(tmp_path, samples_dir):
    from dataclasses import replace

    from pipeline.compose import build_stages
    from pipeline.types import SceneResult

    config = PipelineConfig().with_overrides({"placement.long_side": 256})
    stages = build_stages(config)

    class TwoVariants:
        name = "two-variants"

        def generate(self, placed, control, theme, *, seed, item_meta):
            base = stages.scene(placed, control, theme, seed=seed, item_meta=item_meta)
            # Variant 0 repaints the product (fails the gate in harmonised mode), variant 1 does not.
            broken = base.image.copy()
            broken[placed.mask] = 0
            return [SceneResult(image=broken, backend=self.name, product_altered=True, info={"seed": seed}),
                    SceneResult(image=base.image, backend=self.name, info={"seed": seed + 1})]

        def __call__(self, *args, **kwargs):
            raise AssertionError("generate() is preferred when a backend has it")

    runner = BatchRunner(config.with_overrides({"restore.mode": "harmonised"}),
                         stages=replace(stages, scene=TwoVariants()))
    src = Bucket(tmp_path / "in")
    src.write_bytes("mug.jpg", (samples_dir / "mug_red.jpg").read_bytes())
    record = runner.process_key(src, "mug.jpg", Bucket(tmp_path / "out"), "b")
    assert record.verdict == "pass"
    meta = json.loads((tmp_path / "out" / "b" / item_id_for_key("mug.jpg") / "meta.json").read_text())
    assert [v["verdict"] for v in meta["variants"]] == ["fail", "pass"] and meta["variant"] == 1
    assert {"composite_v0", "composite_v1"} <= set(record.outputs)


def test_rerun_skips_done_work_and_picks_up_what_a_killed_run_left(tmp_path, samples_dir):
    src = Bucket(tmp_path / "in")
    for name in ("mug_red.jpg", "jar_gold.jpg", "tote_canvas.jpg"):
        src.write_bytes(name, (samples_dir / name).read_bytes())
    config = PipelineConfig().with_overrides({"placement.long_side": 256})
    runner = BatchRunner(config)

    class Killed(BaseException):
        pass

    calls = []
    real = runner.process_input

    def dies_on_second(item, *args):
        calls.append(item.key)
        if len(calls) == 2:
            raise Killed  # like kill -9: no cleanup, no report
        return real(item, *args)

    runner.process_input = dies_on_second
    with pytest.raises(Killed):
        run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="first", runner=runner,
                  skip_done=True)
    assert not (tmp_path / "out" / "first" / "report.json").exists()
    runner.process_input = real
    _, report, records = run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="second",
                                   runner=runner, skip_done=True)
    # The first run committed one photo; the rerun does the other two (the killed one included)
    # and starts by writing the killed batch's report, which lists the photo it committed.
    assert len(records) == 2 and calls[0] not in {r.source for r in records}
    assert {calls[0]} | {r.source for r in records} == {"mug_red.jpg", "jar_gold.jpg", "tote_canvas.jpg"}
    assert report["extra"]["skipped"] == {"done": 1} and report["recovered_batches"] == ["first"]
    first = json.loads((tmp_path / "out" / "first" / "report.json").read_text())
    assert [i["source"] for i in first["items"]] == [calls[0]]
    _, report3, records3 = run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="third",
                                     runner=runner, skip_done=True)
    assert records3 == [] and report3["extra"]["skipped"] == {"done": 3}
    _, _, again = run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="fourth", runner=runner)
    assert len(again) == 3  # without the ledger (--reprocess) everything runs again


def test_cli_help_for_every_command(capsys):
    for argv in (["--help"], ["run", "--help"], ["samples", "--help"], ["doctor", "--help"], ["serve", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "usage: product-scene" in capsys.readouterr().out
