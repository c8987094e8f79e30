"""Whole-batch throughput of the real CLI, this code beside a baseline (main's code), in one run.

The real photos in ../shared/products/images resampled to 1.0 megapixel (and, with ``--copies 2``,
each also mirrored left-right: as many distinct photos again, so the fixed start-up weighs as it
does in a real batch of hundreds) go through ``product-scene run SRC DEST --reprocess --workers N``
as a subprocess, at N = 1 and N = all cores, for this checkout and for ``--baseline`` (a git ref
exported with ``git archive``; ``none`` to skip it). Runs are interleaved (baseline, this, per
worker count and repeat) so both see the same load. Printed per run: wall s, images/s, the
speed-up from 1 worker to all cores, and CPU s per image (the batch's own count, ``report.json``
``extra.run.cpu_s``, which other processes on the machine do not inflate the way they do wall
time). Default outputs on both sides (today: this code writes no control maps unless
``--debug-outputs``; main writes them always).

``--split`` adds one in-process run of this code at one worker that splits the CPU time into the
stages, encoding the outputs, writing files and the reports. ``--encoders`` times every output
encoder setting considered (zlib levels, PNG row filters, WebP lossless, JPEG) on the same photos.

    python bench/bench_batch.py                         # 48 photos x 2 (mirrored), baseline main
    python bench/bench_batch.py --baseline c8c6965 --repeats 3 --split --encoders
    python bench/bench_batch.py --format jpeg           # JPEG composites on both sides
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
USER_ENV = dict(os.environ)  # the CLI runs as a user runs it (no thread pinning from this script)

from bench.bench_stages import resample_to_megapixel
from pipeline.batch.pool import available_cores

DEFAULT_PRODUCTS = REPO.parent / "shared" / "products" / "images"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def real_photos(folder: Path, count: int, copies: int, dest: Path) -> int:
    """Write the first ``count`` photos of ``folder`` at 1 MP as PNG into ``dest``; ``copies`` 2
    adds a left-right mirror of each (distinct bytes, the same work). Returns how many."""
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)[:count]
    dest.mkdir(parents=True)
    n = 0
    for p in photos:
        data = resample_to_megapixel(p.read_bytes())
        (dest / f"{p.stem}.png").write_bytes(data)
        n += 1
        if copies > 1:
            mirrored = cv2.flip(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), 1)
            (dest / f"{p.stem}_mirrored.png").write_bytes(cv2.imencode(".png", mirrored)[1].tobytes())
            n += 1
    return n


def sample_photos(copies: int, dest: Path) -> int:
    """The generated sample products (when the real photos are absent), mirrored as above."""
    from pipeline.samples import write_samples

    dest.mkdir(parents=True)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_samples(Path(tmp)):
            if path.suffix.lower() in PHOTO_SUFFIXES:
                img = cv2.imread(str(path), cv2.IMREAD_COLOR)
                for k in range(copies):
                    out = cv2.flip(img, 1) if k else img
                    (dest / f"{path.stem}{'_mirrored' if k else ''}.png").write_bytes(cv2.imencode(".png", out)[1].tobytes())
                    n += 1
    return n


def export_code(ref: str, dest: Path) -> Path:
    """``git archive ref`` of this repository unpacked into ``dest`` (a baseline to run beside
    this checkout)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def cli_run(code: Path, src: Path, out: Path, workers: int, extra: list[str]) -> tuple[float, float, dict]:
    """(wall s, CPU s, report) of one ``product-scene run`` subprocess of the code in ``code``,
    interpreter start-up included."""
    env = {**USER_ENV, "PYTHONPATH": str(code) + os.pathsep + USER_ENV.get("PYTHONPATH", "")}
    batch_id = f"w{workers}-{time.time_ns()}"
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(src), str(out), "--reprocess", "--no-progress",
           "--workers", str(workers), "--batch-id", batch_id, *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=code, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads((out / batch_id / "report.json").read_text())
    return seconds, float(report["extra"]["run"]["cpu_s"]), report


def cpu_split(src: Path, out: Path, extra: dict[str, object]) -> dict[str, float]:
    """CPU seconds of one in-process, one-worker batch of this code, split into encoding the
    outputs, writing files, writing the reports, and the rest (reading, stages, hashing)."""
    import pipeline.batch.item as item_mod
    import pipeline.batch.run as run_mod
    from pipeline.config import PipelineConfig

    spent = {"encode outputs": 0.0, "write files": 0.0, "reports": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - t0
        return wrapper

    patches = [(item_mod, "encode_outputs", "encode outputs"), (item_mod, "write_files", "write files"),
               (run_mod, "write_reports_with_extra", "reports")]
    patches = [(m, attr, name) for m, attr, name in patches if hasattr(m, attr)]
    originals = {(m, attr): getattr(m, attr) for m, attr, _ in patches}
    for m, attr, name in patches:
        setattr(m, attr, timed(name, originals[(m, attr)]))
    try:
        config = PipelineConfig().with_overrides(extra)
        t0 = time.process_time()
        _, _, records = run_mod.run_batch(str(src), str(out), config, batch_id="split", workers=1)
        total = time.process_time() - t0
    finally:
        for (m, attr), fn in originals.items():
            setattr(m, attr, fn)
    spent["rest (read, stages, hash, ledger)"] = total - sum(spent.values())
    return {name: seconds / max(1, len(records)) for name, seconds in spent.items()} | {"total": total / len(records)}


def encoder_table(src: Path, count: int) -> list[tuple[str, str, float, float]]:
    """(output, setting, median ms, mean KB) for every encoder setting considered, on the outputs
    of ``count`` photos (one thread, best of 3 per image)."""
    import io

    from PIL import Image

    from pipeline.compose import build_stages, process_product
    from pipeline.config import PipelineConfig
    from pipeline.review.views import original_in_frame

    cv2.setNumThreads(1)
    config = PipelineConfig()
    stages = build_stages(config)
    arrays: dict[str, list[np.ndarray]] = {"composite": [], "original": [], "mask": [], "canny": [], "depth": []}
    for path in sorted(src.iterdir())[:count]:
        result = process_product(path.read_bytes(), name=path.name, config=config, stages=stages, seed=1)
        arrays["composite"].append(result.composite)
        arrays["original"].append(original_in_frame(result.decoded.rgb, result.placed))
        arrays["mask"].append(result.segmentation.mask.astype(np.uint8) * 255)
        arrays["canny"].append(np.ascontiguousarray(result.control.canny[..., 0]))
        arrays["depth"].append(np.ascontiguousarray(result.control.depth[..., 0]))

    def png(level: int, filt: str | None):
        params = [cv2.IMWRITE_PNG_COMPRESSION, level]
        if filt is not None:
            params += [cv2.IMWRITE_PNG_FILTER, getattr(cv2, f"IMWRITE_PNG_FILTER_{filt}")]
        return lambda a: cv2.imencode(".png", a[..., ::-1] if a.ndim == 3 else a, params)[1]

    def webp_lossless(a):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "WEBP", lossless=True, method=0, quality=0)
        return buf.getvalue()

    settings = {"png zlib 1, libpng picks the filter per row (main)": png(1, None),
                "png zlib 3, per-row filter": png(3, None)}
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):
        settings |= {f"png zlib 1, filter {f.lower()}": png(1, f) for f in ("NONE", "SUB", "UP", "PAETH")}
    settings |= {"webp lossless, method 0": webp_lossless,
                 "jpeg q90": lambda a: cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]}
    rows = []
    for output, images in arrays.items():
        for name, encode in settings.items():
            ms, kb = [], []
            for a in images:
                best = float("inf")
                for _ in range(3):
                    t0 = time.perf_counter()
                    data = encode(a)
                    best = min(best, time.perf_counter() - t0)
                ms.append(1000 * best)
                kb.append(len(data) / 1000)
            rows.append((output, name, float(np.median(ms)), float(np.mean(kb))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    parser.add_argument("--count", type=int, default=48, help="real photos to use (sorted by name)")
    parser.add_argument("--copies", type=int, default=2, choices=[1, 2], help="2: also each photo mirrored")
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting; the fastest is kept")
    parser.add_argument("--baseline", default="main", help="git ref to run beside this code ('none': skip)")
    parser.add_argument("--workers", type=int, nargs="+", help="worker counts (default: 1 and all cores)")
    parser.add_argument("--format", choices=["png", "jpeg", "webp"], help="composite format on both sides")
    parser.add_argument("--split", action="store_true", help="also split this code's CPU time per photo")
    parser.add_argument("--encoders", action="store_true", help="also time every output encoder setting")
    args = parser.parse_args()
    cores = available_cores()
    workers = sorted(set(args.workers or [1, cores]))
    extra = ["--format", args.format] if args.format else []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cores: {cores}; load average at start: {load:.1f}; composite: {args.format or 'default'}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photos"
        if args.products.is_dir():
            n, what = real_photos(args.products, args.count, args.copies, src), "real photos at 1 MP"
        else:
            print(f"(real photos not found at {args.products}: the generated samples instead; --products DIR)")
            n, what = sample_photos(args.copies, src), "generated samples"
        codes = {"this": REPO}
        if args.baseline != "none":
            codes = {f"baseline {args.baseline}": export_code(args.baseline, Path(tmp) / "baseline")} | codes
        best: dict[tuple[str, int], tuple[float, float]] = {}
        for _ in range(args.repeats):
            for w in workers:
                for name, code in codes.items():
                    seconds, cpu, _ = cli_run(code, src, Path(tmp) / "out", w, extra)
                    if (name, w) not in best or seconds < best[(name, w)][0]:
                        best[(name, w)] = (seconds, cpu)
        print(f"\n{n} {what}{' (each also mirrored)' if args.copies > 1 else ''}, best of {args.repeats}\n")
        print("| code | workers | wall s | images/s | speed-up from 1 worker | CPU s / image |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in codes:
            for w in workers:
                seconds, cpu = best[(name, w)]
                ratio = best[(name, workers[0])][0] / seconds
                print(f"| {name} | {w} | {seconds:.1f} | {n / seconds:.2f} | {ratio:.2f}x | {cpu / n:.3f} |")
        if args.split:
            overrides = {"output.format": args.format} if args.format else {}
            split = cpu_split(src, Path(tmp) / "out-split", overrides)
            print("\nCPU ms per photo, this code, one in-process worker (OpenCV threads as a user gets them):\n")
            print("| part | CPU ms / photo |")
            print("|---|---:|")
            for part, seconds in split.items():
                print(f"| {part} | {1000 * seconds:.1f} |")
        if args.encoders:
            print("\nEncoders on the outputs of 12 photos (one thread, best of 3, median over photos):\n")
            print("| output | setting | ms | KB |")
            print("|---|---|---:|---:|")
            for output, setting, ms, kb in encoder_table(src, 12):
                print(f"| {output} | {setting} | {ms:.1f} | {kb:.0f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at end: {load:.1f} (other processes on this machine slow every wall-time number)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
