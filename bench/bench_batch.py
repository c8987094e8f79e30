"""Whole-batch throughput of the real CLI: every output and report written, start-up included.

For the generated samples and (when present) the real photos in ../shared/products/images
resampled to 1.0 megapixel, runs ``product-scene run SRC DEST --reprocess --workers N`` as a
subprocess at N = 1 and at N = all cores, side by side in one run, and prints images/s and the
speed-up. Then one in-process run at one worker splits the wall time into computing, encoding
the outputs, writing them and writing the reports (the "writes" share).

    python bench/bench_batch.py [--products DIR] [--count 30] [--repeats 1] [--format png]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
USER_ENV = dict(os.environ)  # before bench_stages pins threads to one: the CLI runs as a user runs it

from bench.bench_stages import resample_to_megapixel
from pipeline.batch.pool import available_cores

DEFAULT_PRODUCTS = REPO.parent / "shared" / "products" / "images"


def real_photos(folder: Path, count: int, dest: Path) -> int:
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    dest.mkdir(parents=True)
    for p in photos:
        (dest / f"{p.stem}.png").write_bytes(resample_to_megapixel(p.read_bytes()))
    return len(photos)


def sample_photos(dest: Path) -> int:
    from pipeline.samples import write_samples

    return sum(1 for p in write_samples(dest) if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))


def cli_seconds(src: Path, out: Path, workers: int, fmt: str) -> tuple[float, float]:
    """(wall s, CPU s) of one ``product-scene run`` subprocess, interpreter start-up included.
    CPU s: the batch's own count (report.json extra.run.cpu_s: the CLI process and its workers),
    which load from other processes does not inflate the way it inflates wall time."""
    env = {**USER_ENV, "PYTHONPATH": str(REPO) + os.pathsep + USER_ENV.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(src), str(out), "--reprocess", "--no-progress",
           "--workers", str(workers), "--format", fmt, "--batch-id", f"w{workers}-{time.time_ns()}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(Path(done.stdout.strip()).with_name("report.json").read_text())
    return seconds, float(report["extra"]["run"]["cpu_s"])


def write_shares(src: Path, out: Path, fmt: str) -> dict[str, float]:
    """Fractions of one in-process, one-worker batch spent encoding outputs, writing files and
    writing the reports (the rest is decode + stages + thumbnails + hashing)."""
    from pipeline import batch
    from pipeline.config import PipelineConfig
    from pipeline.io.storage import Bucket

    spent = {"encode outputs": 0.0, "write files": 0.0, "reports": 0.0}
    inside_reports = []

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            if name == "write files" and inside_reports:  # report files: counted under reports
                return fn(*args, **kwargs)
            inside_reports.extend([1] if name == "reports" else [])
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
                if name == "reports":
                    inside_reports.clear()
        return wrapper

    originals = (batch.BatchRunner._encode_outputs, Bucket.write_bytes, batch._write_reports)
    batch.BatchRunner._encode_outputs = timed("encode outputs", originals[0])
    Bucket.write_bytes = timed("write files", originals[1])
    batch._write_reports = timed("reports", originals[2])
    try:
        config = PipelineConfig().with_overrides({"output.format": fmt})
        t0 = time.perf_counter()
        batch.run_batch(str(src), str(out), config, batch_id="shares", workers=1)
        total = time.perf_counter() - t0
    finally:
        batch.BatchRunner._encode_outputs, Bucket.write_bytes, batch._write_reports = originals
    return {name: seconds / total for name, seconds in spent.items()} | {"total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    parser.add_argument("--count", type=int, default=30, help="real photos to use (sorted by name)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting; the fastest is kept")
    parser.add_argument("--format", default="png", choices=["png", "jpeg", "webp"])
    args = parser.parse_args()
    cores = available_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cores: {cores}; load average at start: {load:.1f}; composite format: {args.format}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = [("samples", sample_photos, None)]
        if args.products.is_dir():
            sets.insert(0, ("real photos at 1 MP", None, args.products))
        else:
            print(f"(real photos not found at {args.products}; samples only)")
        for name, make, folder in sets:
            src = Path(tmp) / name.replace(" ", "_")
            n = real_photos(folder, args.count, src) if folder else make(src)
            times = {}
            for workers in sorted({1, cores}):
                times[workers] = min((cli_seconds(src, Path(tmp) / "out", workers, args.format)
                                      for _ in range(args.repeats)), key=lambda wc: wc[0])
            shares = write_shares(src, Path(tmp) / "out-shares", args.format)
            rows.append((name, n, times, shares))
    print()
    print("| set | images | workers | wall s | images/s | speed-up | CPU s / image | encode outputs "
          "| write files | reports |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, n, times, shares in rows:
        for workers, (seconds, cpu) in times.items():
            share = (f"{100 * shares['encode outputs']:.0f}% | {100 * shares['write files']:.0f}% | "
                     f"{100 * shares['reports']:.0f}%") if workers == 1 else "| |"
            print(f"| {name} | {n} | {workers} | {seconds:.1f} | {n / seconds:.2f} | "
                  f"{times[1][0] / seconds:.2f}x | {cpu / n:.3f} | {share} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at end: {load:.1f} (other processes on this machine slow every number)")
    print("write shares: one in-process run at --workers 1; the rest is decode, stages, thumbnails, hashing")


if __name__ == "__main__":
    main()
