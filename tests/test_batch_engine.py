"""The batch engine on issue 16's findings, through ``run_batch`` and the CLI on local folders:
no bad file stops a batch, every key accounted for, nothing committed goes missing from the
reports, reruns that cost nothing. (The same through the flow and on S3: tests/flows.)"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pipeline.batch.item as item_module
from pipeline.batch import item_id_for_key, run_batch
from pipeline.cli import main
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger, Owner
from pipeline.ledger.identities import item_identity, item_name
from pipeline.models.fingerprints import config_hash
from tests.fixtures.bad_inputs import product_photo
from tests.flows.checks import reported_items

CONFIG = PipelineConfig().with_overrides({"placement.long_side": 128})
SIZE = ["--size", "128x128"]


def jpeg(rgb: np.ndarray | None = None, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(product_photo() if rgb is None else rgb).save(buf, fmt, **params)
    return buf.getvalue()


def photos(src: Path, n: int, start: int = 0) -> list[str]:
    keys = []
    for i in range(start, start + n):
        colour = (20 + 23 * i % 200, 60, 180 - 11 * i % 150)
        (src / f"p{i:02d}.jpg").write_bytes(jpeg(product_photo(colour=colour)))
        keys.append(f"p{i:02d}.jpg")
    return keys


def report_of(out: Path, batch_id: str) -> dict:
    return json.loads((out / batch_id / "report.json").read_text())


def rows_of(out: Path, batch_id: str) -> dict[str, dict]:
    return {item["source"]: item for item in report_of(out, batch_id)["items"]}


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def unreadable(monkeypatch):
    """Files named ``locked*`` refuse to open (PermissionError), as for a non-root user after chmod 000
    (the suite may run as root, which reads anything)."""
    real_os_open, real_open = os.open, builtins.open

    def refuse(path):
        if os.path.basename(str(path)).startswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))

    def os_open(path, *args, **kwargs):
        refuse(path)
        return real_os_open(path, *args, **kwargs)

    def open_(file, *args, **kwargs):
        if isinstance(file, str | os.PathLike):
            refuse(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)


# ----------------------------------------------------------------------------- bad files never stop a batch


def test_bad_files_never_stop_the_cli_batch_and_a_rerun_processes_nothing(tmp_path, unreadable, capsys):
    """A 1,000-deep sidecar (RecursionError), a folder where the sidecar should be, a dangling
    symlink, a FIFO and an unreadable file each get their row; the photos after them are processed;
    exit 0; a rerun processes nothing and writes no batch."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    good = photos(src, 3)
    (src / "a_deep.jpg").write_bytes(jpeg())
    (src / "a_deep.json").write_bytes(b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}")
    (src / "b_folder.jpg").write_bytes(jpeg())
    (src / "b_folder.json").mkdir()
    os.symlink(src / "gone.jpg", src / "c_dangling.jpg")
    os.mkfifo(src / "d_pipe.jpg")
    (src / "locked.jpg").write_bytes(jpeg())
    before = {k: v for k, v in tree(src).items() if not k.startswith("locked")}
    assert main(["run", str(src), str(out), "--batch-id", "b1", "--no-progress", "--workers", "1", *SIZE]) == 0
    rows = rows_of(out, "b1")
    assert set(rows) == {*good, "a_deep.jpg", "b_folder.jpg", "c_dangling.jpg", "d_pipe.jpg", "locked.jpg"}
    assert all(rows[k]["status"] == "ok" for k in good)
    reasons = {k: rows[k]["error"] for k in rows if k not in good}
    assert "sidecar a_deep.json is nested more than" in reasons["a_deep.jpg"]
    assert reasons["b_folder.jpg"] == "b_folder.jpg: sidecar b_folder.json is a folder, not a file"
    assert "broken symbolic link" in reasons["c_dangling.jpg"]
    assert "not a regular file but a named pipe (FIFO)" in reasons["d_pipe.jpg"]
    assert reasons["locked.jpg"] == "could not read locked.jpg: permission denied"
    assert all("\n" not in r and "Traceback" not in r for r in reasons.values())
    assert "Traceback" not in capsys.readouterr().err  # bad files are not bugs: no traceback even in the log
    assert {k: v for k, v in tree(src).items() if not k.startswith("locked")} == before  # inputs unchanged

    assert main(["run", str(src), str(out), "--batch-id", "b2", "--no-progress", "--workers", "1", *SIZE]) == 0
    assert not (out / "b2").exists()  # nothing new: no empty batch
    captured = capsys.readouterr()
    assert captured.out == "" and "nothing new" in captured.err and "8 done before" in captured.err


def test_sidecar_problems_name_the_sidecar_and_the_field(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    sidecars = {"big": b'{"notes": "' + b"x" * (2 << 20) + b'"}', "nan": b'{"logo_boxes": [[1, 2, NaN, 4]]}',
                "inf": b'{"logo_boxes": [[1, 2, Infinity, 4]]}',
                "digits": b'{"logo_boxes": [[1, ' + b"9" * 5000 + b', 3, 4]]}'}
    for stem, data in sidecars.items():
        (src / f"{stem}.jpg").write_bytes(jpeg())
        (src / f"{stem}.json").write_bytes(data)
    _, _, records = run_batch(str(src), str(out), CONFIG, batch_id="b", skip_done=True)
    errors = {r.source: r.error for r in records}
    assert errors["big.jpg"] == f"sidecar big.json is too large: {len(sidecars['big'])} bytes (at most 1048576)"
    assert errors["nan.jpg"].startswith("sidecar nan.json: field logo_boxes[0][2] is not a usable number (NaN")
    assert errors["inf.jpg"].startswith("sidecar inf.json: field logo_boxes[0][2] is not a usable number (Infinity")
    assert errors["digits.jpg"].startswith("sidecar digits.json: field logo_boxes[0][1] is not a usable number")


def test_tiny_extreme_and_rotated_images(tmp_path):
    """2048x8 and 9000x8: a one-line reason (not an OpenCV traceback); a 32x32 product in exact mode:
    no colour drift (ΔE00 read 7.77 where it must read 0: its soft, 30x-upscaled edge was counted);
    a TIFF stored on its side with EXIF orientation 6 decodes upright (was "1 of 2 strips missing")."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    strip = np.full((8, 9000, 3), 255, np.uint8)
    strip[:, 2000:7000] = (40, 60, 200)
    (src / "strip_9000x8.png").write_bytes(jpeg(strip, "PNG"))
    (src / "strip_2048x8.png").write_bytes(jpeg(np.ascontiguousarray(strip[:, :2048]), "PNG"))
    (src / "tiny_32x32.png").write_bytes(jpeg(product_photo(32, 32), "PNG"))
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = product_photo(160, 120)
    (src / "rotated.tif").write_bytes(jpeg(np.rot90(upright).copy(), "TIFF", exif=exif.tobytes()))
    config = CONFIG.with_overrides({"restore.mode": "exact"})
    _, _, records = run_batch(str(src), str(out), config, batch_id="b")
    rows = {r.source: r for r in records}
    for key in ("strip_9000x8.png", "strip_2048x8.png"):
        assert rows[key].status == "error" and rows[key].error.startswith("image too narrow: "), rows[key].error
        assert "OpenCV" not in rows[key].error and "internal error" not in rows[key].error
    tiny = rows["tiny_32x32.png"]
    assert tiny.status == "ok" and tiny.metrics["delta_e00_p95"] == 0.0 and tiny.metrics["delta_e00_mean"] == 0.0
    assert not any(r.startswith("colour drift") for r in tiny.reasons)
    rotated = rows["rotated.tif"]
    assert rotated.status == "ok", rotated.error
    meta = json.loads((out / "b" / item_id_for_key("rotated.tif") / "meta.json").read_text())
    assert meta["decode_info"]["orientation"] == 6 and meta["decode_info"]["size"] == [120, 160]


def test_names_that_got_no_row_get_one_and_ignored_keys_are_printed_and_reported(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "_ground_truth").mkdir(parents=True)
    for key in ("photo.jfif", "no_extension", "trailing space.jpg ", "_ground_truth/mask.png", ".hidden.jpg"):
        (src / key).write_bytes(jpeg())
    (src / "lonely.json").write_text("{}")
    assert main(["run", str(src), str(out), "--batch-id", "b", "--no-progress", *SIZE]) == 0
    rows = rows_of(out, "b")
    assert {k: r["status"] for k, r in rows.items()} == {"photo.jfif": "ok", "no_extension": "ok",
                                                          "trailing space.jpg ": "ok"}
    ignored = {i["key"]: i for i in report_of(out, "b")["extra"]["ignored"]}
    assert set(ignored) == {"_ground_truth/", ".hidden.jpg", "lonely.json"}
    assert ignored["_ground_truth/"]["rule"].startswith("in a folder whose name starts with _ or .")
    printed = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    for key, entry in ignored.items():
        assert f"ignored {key}" in printed and entry["rule"] in printed


# ----------------------------------------------------------------------------- identity and reserved names


def test_a_sidecar_rewritten_mid_run_is_not_committed_under_the_old_identity(tmp_path, monkeypatch):
    """While the first photo is processed, the second one's sidecar is rewritten. The second is
    committed under the identity of the sidecar it was computed with, and that is the one its
    outputs used; the rerun then sees the rewrite as new."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.jpg").write_bytes(jpeg())
    (src / "b.jpg").write_bytes(jpeg(product_photo(colour=(150, 40, 40))))
    (src / "b.json").write_text(json.dumps({"logo_boxes": [[50, 45, 100, 60]]}))
    new_sidecar = json.dumps({"logo_boxes": [[10, 10, 40, 40]]})
    real = item_module.process_product

    def rewrite_during_a(data, *, name, **kwargs):
        if name == "a.jpg":
            (src / "b.json").write_text(new_sidecar)
        return real(data, name=name, **kwargs)

    monkeypatch.setattr(item_module, "process_product", rewrite_during_a)
    _, _, records = run_batch(str(src), str(out), CONFIG, batch_id="b1", skip_done=True)
    assert [r.source for r in records] == ["a.jpg", "b.jpg"]
    meta = json.loads((out / "b1" / item_id_for_key("b.jpg") / "meta.json").read_text())
    used = [[50, 45, 100, 60]] if meta["logo_boxes_input"] == [[50, 45, 100, 60]] else json.loads(new_sidecar)[
        "logo_boxes"]
    used_bytes = (json.dumps({"logo_boxes": [[50, 45, 100, 60]]}) if used == [[50, 45, 100, 60]]
                  else new_sidecar).encode()
    photo_hash = hashlib.sha256((src / "b.jpg").read_bytes()).hexdigest()
    name = item_name(item_identity(photo_hash, hashlib.sha256(used_bytes).hexdigest(), "b.jpg"), config_hash(CONFIG))
    ledger = Ledger(Bucket(out))
    assert ledger.get_done(name) is not None, "committed under the identity of another sidecar than the one used"
    monkeypatch.undo()
    _, _, again = run_batch(str(src), str(out), CONFIG, batch_id="b2", skip_done=True)
    assert [r.source for r in again] == ([] if used_bytes == new_sidecar.encode() else ["b.jpg"])


def test_reserved_batch_ids_are_refused_before_anything_is_written(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photos(src, 1)
    for bad in ("_ledger", ".hidden", "_manifests", "a/b", "../x"):
        with pytest.raises(ValueError, match="batch id"):  # the engine refuses them, whoever calls it
            run_batch(str(src), str(out), CONFIG, batch_id=bad, skip_done=True)
        with pytest.raises(SystemExit) as exited:  # the CLI before anything runs (a usage error)
            main(["run", str(src), str(out), "--batch-id", bad, "--no-progress"])
        assert exited.value.code == 2
    assert not out.exists()


def test_skipped_items_do_not_log_none(tmp_path, caplog):
    """An item another live run holds is skipped; the plain log (--no-progress) says why, not None."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photos(src, 2)
    ledger = Ledger(Bucket(out))
    data = (src / "p00.jpg").read_bytes()
    name = item_name(item_identity(hashlib.sha256(data).hexdigest(), None, "p00.jpg"), config_hash(CONFIG))
    held = ledger.acquire(name, "another-live-run")  # this very process: alive
    assert held is not None and Owner.current("x").alive() is not False
    caplog.set_level(logging.INFO)
    from pipeline.progress import batch_progress

    with batch_progress(enabled=False) as (on_start, on_item):
        _, report, records = run_batch(str(src), str(out), CONFIG, batch_id="b", skip_done=True, progress=on_item,
                                       on_start=on_start)
    held.release()
    ledger.close()
    assert [r.source for r in records] == ["p01.jpg"] and report["extra"]["skipped"] == {"leased": 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "pipeline.batch"]
    assert any(line.endswith("skipped: leased") for line in lines), lines
    assert not any(line.endswith(": None") for line in lines), lines


# ----------------------------------------------------------------------------- cheap reruns


def _forbid_work(monkeypatch):
    import pipeline.batch.run as run_module

    def no(*args, **kwargs):
        raise AssertionError("nothing new: nothing may be built, read or started")

    monkeypatch.setattr(item_module, "build_stages", no)
    monkeypatch.setattr(Bucket, "open_read", no, raising=False)
    monkeypatch.setattr(run_module, "run_groups_in_pool", no)


def test_a_rerun_with_nothing_new_builds_no_stage_reads_no_photo_and_writes_no_batch(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photos(src, 3)
    (src / "p01.json").write_text('{"sku": "x"}')
    assert main(["run", str(src), str(out), "--batch-id", "b1", "--no-progress", "--workers", "1", *SIZE]) == 0
    written = tree(out)
    _forbid_work(monkeypatch)
    cli_config = PipelineConfig().with_overrides({"placement.size": (128, 128)})  # what the CLI ran with
    _, report, records = run_batch(str(src), str(out), cli_config, batch_id="b2", skip_done=True, workers=2)
    assert records == [] and report["paths"] == {} and report["extra"]["skipped"] == {"done": 3}
    assert tree(out) == written  # no empty batch, no ledger writes
    assert main(["run", str(src), str(out), "--no-progress", "--workers", "2", *SIZE]) == 0  # the CLI too
    assert {k for k in tree(out) if not k.startswith("_ledger/")} == {k for k in written if
                                                                      not k.startswith("_ledger/")}


def test_an_empty_source_builds_nothing(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _forbid_work(monkeypatch)
    _, report, records = run_batch(str(src), str(out), CONFIG, skip_done=True, workers=2)
    assert records == [] and report["paths"] == {} and report["summary"]["total"] == 0
    assert not [p for p in out.rglob("*") if p.is_file() and "_ledger" not in p.parts]


# ----------------------------------------------------------------------------- committed items in a report


def test_a_batch_that_aborts_loses_no_committed_item_from_the_reports(tmp_path):
    """The batch stops on its fourth item (an error outside any one item); every item it committed
    is in its report at once, and after the next run every item is in exactly one report."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    keys = photos(src, 6)
    seen: list[str] = []

    def stops(record):
        seen.append(record.source)
        if len(seen) == 4:
            raise RuntimeError("the terminal went away")

    with pytest.raises(RuntimeError):
        run_batch(str(src), str(out), CONFIG, batch_id="first", skip_done=True, progress=stops)
    first = rows_of(out, "first")
    assert set(first) == set(seen) and len(first) == 4
    assert report_of(out, "first")["extra"]["aborted"].startswith("RuntimeError")
    run_batch(str(src), str(out), CONFIG, batch_id="second", skip_done=True)
    assert dict(reported_items(Bucket(out))) == {k: 1 for k in keys}
    assert Ledger(Bucket(out)).open_batches() == {}


def test_a_batch_id_reused_after_its_run_died_reports_the_earlier_items_too(tmp_path):
    """``run --batch-id nightly`` killed, then the same command again: one report for the batch,
    with the items of both attempts."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    keys = photos(src, 4)

    class Killed(BaseException):
        pass

    seen: list[str] = []

    def killed_after_two(record):
        seen.append(record.source)
        if len(seen) == 2:
            raise Killed

    with pytest.raises(Killed):
        run_batch(str(src), str(out), CONFIG, batch_id="nightly", skip_done=True, progress=killed_after_two)
    assert not (out / "nightly" / "report.json").exists()
    _, report, records = run_batch(str(src), str(out), CONFIG, batch_id="nightly", skip_done=True)
    assert len(records) == 2
    assert sorted(rows_of(out, "nightly")) == keys and report["summary"]["total"] == 4
    assert dict(reported_items(Bucket(out))) == {k: 1 for k in keys}


def test_an_internal_error_in_one_item_is_its_row_with_the_traceback_in_the_log_only(tmp_path, monkeypatch,
                                                                                     capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photos(src, 3)
    real = item_module.process_product

    def bug_on_p01(data, *, name, **kwargs):
        if name == "p01.jpg":
            return {}["a bug"]
        return real(data, name=name, **kwargs)

    monkeypatch.setattr(item_module, "process_product", bug_on_p01)
    assert main(["run", str(src), str(out), "--batch-id", "b", "--no-progress", "--workers", "1", *SIZE]) == 0
    rows = rows_of(out, "b")
    assert rows["p01.jpg"]["error"] == "internal error: KeyError: 'a bug'"
    assert rows["p00.jpg"]["status"] == rows["p02.jpg"]["status"] == "ok"
    log = capsys.readouterr().err
    assert "Traceback" in log and "internal error on p01.jpg" in log and "a bug" in log


def test_stages_that_cannot_be_built_stop_the_batch_with_one_reason_and_commit_nothing(tmp_path, monkeypatch,
                                                                                       capsys):
    """A missing model is the batch's problem, not each photo's: one clear message, exit 1, no item
    committed (so the run after the model is installed processes every photo)."""
    from pipeline.errors import BackendUnavailableError

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photos(src, 3)

    def no_model(config):
        raise BackendUnavailableError("SAM checkpoint /models/sam.pth not found")

    monkeypatch.setattr(item_module, "build_stages", no_model)
    code = main(["run", str(src), str(out), "--batch-id", "b", "--no-progress", "--workers", "1", *SIZE])
    assert code == 1
    log = " ".join(capsys.readouterr().err.split())  # the terminal log wraps lines
    assert "the stages could not be built: SAM checkpoint /models/sam.pth not found" in log
    assert log.count("could not be built") == 1  # once for the batch, not once per photo
    assert Ledger(Bucket(out)).done_names() == set()
    monkeypatch.undo()
    assert main(["run", str(src), str(out), "--batch-id", "b2", "--no-progress", "--workers", "1", *SIZE]) == 0
    assert sorted(r["status"] for r in rows_of(out, "b2").values()) == ["ok"] * 3
