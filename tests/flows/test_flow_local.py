"""The flow on local folders against a real Prefect server: ledger skips, config changes, bad
files, unsafe keys, retries, moving inputs, artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.needs import needs

needs("flows")

import flows.process_bucket as pb
from flows.artifacts import REPORT_KEY, SUMMARY_KEY, TABLE_KEY
from flows.params import BatchOptions, RunnerParams
from flows.process_bucket import process_bucket
from pipeline.batch import BatchRunner, item_id_for_key
from pipeline.ledger import Ledger
from pipeline.io.storage import Bucket
from tests.flows.checks import assert_exactly_once, flow_run_artifacts, item_folders, task_runs_of
from tests.flows.conftest import write_images

FAST_RETRIES = [0.05] * pb.IO_RETRIES


def run_flow(*args, **kwargs):
    """Run the flow in-process; return (summary, flow_run_id)."""
    state = process_bucket(*args, return_state=True, **kwargs)
    return state.result(), state.state_details.flow_run_id


def test_flow_processes_publishes_and_then_skips_done(prefect_server, tmp_path: Path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 4)
    write_images(src, 1, start=50, prefix="elsewhere")  # outside the watched prefix
    first, run_id = run_flow(str(src), str(dest), config=small_config,
                             options=BatchOptions(runner=RunnerParams(max_workers=2)))
    assert first["processed"] == 4 and first["error"] == 0
    assert sorted(first["items"]) == keys
    assert Path(first["reports"]["html"]).is_file()

    artifacts = {a.key: a for a in flow_run_artifacts(run_id)}
    assert set(artifacts) == {TABLE_KEY, SUMMARY_KEY, REPORT_KEY}
    rows = json.loads(artifacts[TABLE_KEY].data)
    assert sorted(r["id"] for r in rows) == sorted(item_id_for_key(k) for k in keys)
    assert {"verdict", "delta_e00_mean", "ssim"} <= set(rows[0])
    assert "Pass rate" in artifacts[SUMMARY_KEY].data and "Timings per image" in artifacts[SUMMARY_KEY].data
    assert artifacts[REPORT_KEY].data.endswith("/report.html)")  # a markdown link

    second = process_bucket(str(src), str(dest), config=small_config)
    assert second["processed"] == 0 and second["skipped_done"] == 4
    assert_exactly_once(Bucket(dest), keys)
    assert sorted(f"incoming/{p.name}" for p in (src / "incoming").iterdir()) == keys  # inputs untouched


def test_a_new_sidecar_makes_its_item_new_and_copies_get_their_own_item(prefect_server, tmp_path, small_config):
    """The plan's fast path (listing fingerprints) sees sidecar edits too; a copy is its own item."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 2)
    (src / "incoming" / "copy.jpg").write_bytes((src / keys[0]).read_bytes())
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 3
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 0
    (src / keys[1]).with_suffix(".json").write_text('{"logo_boxes": [[10, 10, 40, 40]]}')
    again = process_bucket(str(src), str(dest), config=small_config)
    assert again["processed"] == 1 and again["skipped_done"] == 2


def test_new_config_reprocesses_and_new_files_are_picked_up(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    write_images(src, 2)
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 2
    write_images(src, 1, start=2)
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 1
    other = small_config.with_overrides({"scene.theme": "marble-counter"})
    assert process_bucket(str(src), str(dest), config=other)["processed"] == 3


def test_bad_files_and_unsafe_keys_are_recorded_and_never_retried(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 2)
    (src / "incoming" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (src / "incoming" / "evil\x1b[2Jname.png").write_bytes((src / keys[0]).read_bytes())
    summary, run_id = run_flow(str(src), str(dest), config=small_config)
    assert summary["processed"] == 4 and summary["error"] == 2 and summary["pass"] + summary["fail"] == 2
    report = json.loads(Path(summary["reports"]["json"]).read_text())
    errors = {i["source"]: i["error"] for i in report["items"] if i["status"] == "error"}
    assert any("rejected key" in e for e in errors.values())
    assert any(s.endswith("broken.jpg") for s in errors)
    runs = [t for t in task_runs_of(run_id, at_least=7) if t.name.startswith("product-")]
    assert len(runs) == 4 and all(t.run_count == 1 for t in runs)  # validation errors: no retry
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 0  # recorded once
    assert not [p for p in tmp_path.rglob("*") if not str(p).startswith((str(src), str(dest)))]


def test_transient_errors_are_retried_and_validation_errors_are_not(prefect_server, tmp_path, small_config,
                                                                     monkeypatch):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 2)
    calls: dict[str, int] = {}
    real = BatchRunner.process_input

    def flaky(self, item, dest_bucket, batch_id):
        key = item.key
        calls[key] = calls.get(key, 0) + 1
        if key == keys[0] and calls[key] <= 2:
            raise ConnectionResetError("connection reset by peer")
        if key == keys[1]:
            raise ValueError("a bug that is not a storage error")
        return real(self, item, dest_bucket, batch_id)

    monkeypatch.setattr(BatchRunner, "process_input", flaky)
    monkeypatch.setattr(pb, "process_product", pb.process_product.with_options(retry_delay_seconds=FAST_RETRIES))
    summary = process_bucket(str(src), str(dest), config=small_config)
    assert calls == {keys[0]: 3, keys[1]: 1}
    assert summary["processed"] == 2 and summary["storage_failures"] == 1
    assert len(Ledger(Bucket(dest)).done_names()) == 1  # the failed one is retried next run
    monkeypatch.undo()
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 1


def test_move_inputs_to_processed_and_failed(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    write_images(src, 2)
    (src / "incoming" / "sub").mkdir()
    (src / "incoming" / "sub" / "broken.png").write_bytes(b"\x89PNG truncated")
    summary = process_bucket(str(src), str(dest), config=small_config,
                             options=BatchOptions(on_success="move"))
    assert summary["moved"] == 3
    assert sorted(p.name for p in (src / "processed").iterdir()) == ["product_000.jpg", "product_001.png"]
    assert (src / "failed" / "sub" / "broken.png").is_file()
    assert (src / "failed" / "sub" / "broken.png.error.txt").read_text().strip()
    assert not list((src / "incoming").rglob("*.*"))
    assert item_folders(Bucket(dest)) == {item_id_for_key("incoming/product_000.jpg"): 1,
                                         item_id_for_key("incoming/product_001.png"): 1}


def test_config_and_config_path_are_exclusive(prefect_server, tmp_path, small_config):
    with pytest.raises(ValueError, match="not both"):
        process_bucket(str(tmp_path), str(tmp_path / "d"), config=small_config, config_path="x.yaml")


def test_dest_inside_the_watched_prefix_is_refused(prefect_server, tmp_path, small_config):
    with pytest.raises(ValueError, match="inside the watched prefix"):
        process_bucket(str(tmp_path), str(tmp_path / "incoming" / "out"), config=small_config)
