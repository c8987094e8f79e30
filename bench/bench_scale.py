"""Cost per photo from 100 to 10,000 photos: this code beside a baseline (main's code), in one run.

N distinct generated photos of about 384 px (the 13 sample products, each shifted and mirrored so
that every file differs) go through the real CLI, ``product-scene run SRC DEST --workers 2``, with
the ledger as a user runs it, then again with nothing new (the rerun). For every N and code:

- ms per photo of the first run (wall time / N, start-up included) and the rerun's wall time;
- the size of ``report.html`` and ``report.json`` (thumbnails included where the page embeds them);
- the parent process's own CPU seconds and peak RSS (``getrusage`` at its exit: what the parent
  keeps per photo shows here, the workers' share does not);
- the time ``report.html`` takes to open in Chromium (``file://``, until the load event and the
  first card drawn; ``--no-browser`` skips it);
- with ``--s3-size N``: the same on SeaweedFS (``tests/flows/servers.py``) behind a counting proxy
  (``bench/s3_counter.py``): S3 requests per photo by kind on the first run, and on the rerun.

Runs of the two codes are interleaved per N so both see the same machine load.

    python bench/bench_scale.py                                   # N = 100, 1000; S3 at 1000; reports at 1k, 10k
    python bench/bench_scale.py --sizes 100 1000 10000            # the full table (10,000 photos: ~25 min per code idle)
    python bench/bench_scale.py --sizes 100 --s3-size 100 --baseline none   # a quick look at this code alone
    python bench/bench_scale.py --sizes --s3-size 0 --report-sizes 10000    # only the 10,000-item report

``--report-sizes`` also writes the reports of made-up items (no pipeline run) with each code and
times report.html opening in Chromium: the 10,000-item report without a 10,000-photo run.
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

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_batch import export_code

PHOTO_LONG_SIDE = 384  # px: small photos, so the per-photo overhead (not the stages) shows
SHIFT_PX = 24  # largest shift of a variant, px: the product stays inside the frame
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TIMEOUT_S = 180
# Runs the CLI and, at its exit, writes this process's own CPU time and peak RSS to $BENCH_RUSAGE.
CLI_WITH_RUSAGE = """
import atexit, json, os, resource, runpy, sys
def _dump():
    r = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_RUSAGE"], "w") as fh:
        json.dump({"cpu_s": r.ru_utime + r.ru_stime, "rss_mb": r.ru_maxrss / 1024}, fh)
atexit.register(_dump)
sys.argv = ["product-scene"] + sys.argv[1:]
runpy.run_module("pipeline.cli", run_name="__main__")
"""


def generate_photos(n: int, dest: Path) -> list[Path]:
    """``n`` distinct JPEG photos of about PHOTO_LONG_SIDE px in ``dest``: sample product k % 13,
    shifted by a per-index (dx, dy) and mirrored on odd rounds."""
    from pipeline.samples import write_samples

    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bases = []
        for path in write_samples(Path(tmp)):
            if path.suffix.lower() in (".jpg", ".png"):
                img = cv2.imread(str(path), cv2.IMREAD_COLOR)
                scale = PHOTO_LONG_SIDE / max(img.shape[:2])
                bases.append((path.stem, cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)))
    shifts = [(dx, dy) for dx in range(-SHIFT_PX, SHIFT_PX + 1, 2) for dy in range(-SHIFT_PX, SHIFT_PX + 1, 3)]
    out = []
    for i in range(n):
        stem, img = bases[i % len(bases)]
        k = i // len(bases)
        dx, dy = shifts[k % len(shifts)]
        moved = cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), img.shape[1::-1],
                               borderMode=cv2.BORDER_REPLICATE)
        if (k // len(shifts)) % 2:
            moved = cv2.flip(moved, 1)
        path = dest / f"p{i:05d}_{stem}.jpg"
        path.write_bytes(cv2.imencode(".jpg", moved, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())
        out.append(path)
    return out


def first_n(photos: list[Path], n: int, dest: Path) -> Path:
    """A folder with the first ``n`` photos as hard links (regular files, no copy)."""
    dest.mkdir(parents=True)
    for p in photos[:n]:
        os.link(p, dest / p.name)
    return dest


def run_cli(code: Path, src: str, dest: str, batch_id: str, workers: int, env: dict[str, str],
            extra: list[str]) -> dict[str, float]:
    """One ``product-scene run`` of the code in ``code``: wall s, parent CPU s and peak RSS MB."""
    with tempfile.NamedTemporaryFile(suffix=".json") as usage:
        run_env = {**os.environ, **env, "BENCH_RUSAGE": usage.name,
                   "PYTHONPATH": str(code) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, "-c", CLI_WITH_RUSAGE, "run", src, dest, "--no-progress", "--workers", str(workers),
               "--batch-id", batch_id, *extra]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=run_env, capture_output=True, text=True, cwd=code, check=False)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[3:])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return {"wall_s": wall, **json.loads(Path(usage.name).read_text())}


def open_seconds(page_path: Path) -> float | None:
    """Seconds from navigation to the load event and the first card drawn, in Chromium; None when
    it did not open within BROWSER_TIMEOUT_S."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--headless", "--no-sandbox", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 960})
            t0 = time.perf_counter()
            try:
                page.goto(page_path.as_uri(), wait_until="load", timeout=BROWSER_TIMEOUT_S * 1000)
                page.wait_for_selector(".card", timeout=BROWSER_TIMEOUT_S * 1000)
            except PlaywrightTimeout:
                return None
            return time.perf_counter() - t0
        finally:
            browser.close()


# Writes the reports of N made-up items with the code on sys.path (this or the baseline) into a
# folder, as the batch would: thumbnails as data URIs where that code embeds them, as a
# thumbs.jpg sprite in each item folder where it has pipeline.report.thumbnails.
SYNTHETIC_REPORT = """
import json, sys, time, resource
from pathlib import Path
import numpy as np
from pipeline.config import GateConfig
from pipeline.report import build_report, write_reports
from pipeline.types import ItemRecord, Metrics
n, folder = int(sys.argv[1]), Path(sys.argv[2])
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:1024, 0:1024]
view = np.dstack([xx // 4, yy // 4, (xx + yy) // 8]).astype(np.uint8)  # a smooth photo-like frame,
view[256:768, 384:640] = (200, 40, 40)                                  # so thumbnails weigh what real ones do
view = np.clip(view + rng.normal(0, 6, view.shape), 0, 255).astype(np.uint8)
try:
    from pipeline.report.thumbnails import sprite_jpeg
    sprite = sprite_jpeg({"original": view, "mask": view[..., 0] > 128, "composite": view})
    thumbs = None
except ImportError:
    from pipeline.io.imageio import thumbnail_data_uri
    sprite, thumbs = None, {v: thumbnail_data_uri(view) for v in ("original", "mask", "canny", "depth", "composite")}
names = list(Metrics.__dataclass_fields__)
records = []
for i in range(n):
    item = f"p{i:05d}_mug_red.jpg-{i:08x}"
    outputs = {k: str(folder / item / f"{k}.png") for k in ("composite", "mask", "original")}
    if sprite is not None:
        (folder / item).mkdir(parents=True)
        (folder / item / "thumbs.jpg").write_bytes(sprite)
        outputs["thumbs"] = str(folder / item / "thumbs.jpg")
    records.append(ItemRecord(id=item, source=f"p{i:05d}_mug_red.jpg", status="ok",
                              verdict="fail" if i % 4 == 0 else "pass",
                              reasons=("cut-out: outline off any edge 31% > 25%",) if i % 4 == 0 else (),
                              metrics={m: float(rng.random()) for m in names}, outputs=outputs,
                              timings_ms={s: 20.0 for s in ("decode", "segment", "place", "control", "scene", "score")},
                              thumbnails=thumbs or {}))
t0 = time.process_time()
report = build_report("b", "studio", "h", records, extra={"gate": GateConfig().model_dump()})
write_reports(lambda name, data: str((folder / name).write_bytes(data)), "b", report, records)
print(json.dumps({"write_s": time.process_time() - t0}))
"""


def synthetic_report_row(code: Path, n: int, folder: Path, browser: bool) -> dict[str, object]:
    """Report writing time and size for ``n`` made-up items with ``code``, and Chromium's open time."""
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(code) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", SYNTHETIC_REPORT, str(n), str(folder)], env=env, cwd=code,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"synthetic report failed:\n{done.stderr[-3000:]}")
    write_s = json.loads(done.stdout.strip().splitlines()[-1])["write_s"]
    html = folder / "report.html"
    return {"write_ms_per_item": 1000 * write_s / n, "html_mb": html.stat().st_size / 1e6,
            "json_mb": (folder / "report.json").stat().st_size / 1e6,
            "open_s": open_seconds(html) if browser and CHROMIUM.exists() else None}


def local_row(code: Path, src: Path, out: Path, n: int, workers: int, browser: bool) -> dict[str, object]:
    first = run_cli(code, str(src), str(out), "first", workers, {}, [])
    again = run_cli(code, str(src), str(out), "again", workers, {}, [])
    html, js = out / "first" / "report.html", out / "first" / "report.json"
    return {"ms_per_photo": 1000 * first["wall_s"] / n, "rerun_s": again["wall_s"],
            "html_mb": html.stat().st_size / 1e6, "json_mb": js.stat().st_size / 1e6,
            "parent_cpu_s": first["cpu_s"], "parent_rss_mb": first["rss_mb"],
            "open_s": open_seconds(html) if browser and CHROMIUM.exists() else None}


def s3_rows(codes: dict[str, Path], photos: list[Path], n: int, workers: int, tmp: Path) -> dict[str, dict]:
    """First run and rerun of each code on SeaweedFS behind the counting proxy."""
    import s3fs

    from bench.s3_counter import CountingProxy
    from tests.flows.servers import SeaweedServer

    server = SeaweedServer(tmp / "seaweed").start()
    rows = {}
    try:
        env = server.env()
        fs = s3fs.S3FileSystem(endpoint_url=server.endpoint, key=server.access_key, secret=server.secret_key)
        server.make_bucket("photos")
        fs.put([str(p) for p in photos[:n]], "photos/in/")
        with CountingProxy(server.endpoint) as proxy:
            for name, code in codes.items():
                bucket = "out-" + "".join(c for c in name.lower() if c.isalnum())[:40]
                server.make_bucket(bucket)
                extra = ["--endpoint-url", proxy.endpoint]
                proxy.reset()
                first = run_cli(code, "s3://photos/in/", f"s3://{bucket}/", "first", workers, env, extra)
                first_counts = proxy.counts()
                proxy.reset()
                again = run_cli(code, "s3://photos/in/", f"s3://{bucket}/", "again", workers, env, extra)
                rows[name] = {"ms_per_photo": 1000 * first["wall_s"] / n, "rerun_s": again["wall_s"],
                              "first": first_counts, "rerun": proxy.counts(),
                              "parent_cpu_s": first["cpu_s"], "parent_rss_mb": first["rss_mb"]}
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000], help="photo counts, local folder")
    parser.add_argument("--s3-size", type=int, default=1000, help="photo count on SeaweedFS (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", default="main", help="git ref to run beside this code ('none': skip)")
    parser.add_argument("--no-browser", action="store_true", help="do not time report.html in Chromium")
    parser.add_argument("--report-sizes", type=int, nargs="*", default=[1000, 10000],
                        help="made-up items: report writing and opening only, no pipeline run")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at start: {load:.1f}; --workers {args.workers}; photos of {PHOTO_LONG_SIDE} px")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        photos = generate_photos(max([*args.sizes, args.s3_size]), tmp / "all")
        codes = {"this": REPO}
        if args.baseline != "none":
            codes = {f"baseline {args.baseline}": export_code(args.baseline, tmp / "baseline")} | codes
        if args.report_sizes:
            print("\nReports of made-up items (no pipeline run): writing them and opening report.html\n")
            print("| code | items | report writing CPU ms / item | report.html MB | report.json MB "
                  "| opens in Chromium s |")
            print("|---|---:|---:|---:|---:|---:|")
            for n in args.report_sizes:
                for k, (name, code) in enumerate(codes.items()):
                    r = synthetic_report_row(code, n, tmp / f"report-{n}-{k}", not args.no_browser)
                    opened = "did not open" if r["open_s"] is None else f"{r['open_s']:.2f}"
                    print(f"| {name} | {n} | {r['write_ms_per_item']:.2f} | {r['html_mb']:.1f} | {r['json_mb']:.1f} "
                          f"| {opened} |", flush=True)
        if args.sizes:
            print("\n| code | photos | ms / photo | rerun s | report.html MB | report.json MB | parent CPU s "
                  "| parent RSS MB | opens in Chromium s |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in args.sizes:
            src = first_n(photos, n, tmp / f"in-{n}")
            for k, (name, code) in enumerate(codes.items()):
                r = local_row(code, src, tmp / f"out-{n}-{k}", n, args.workers, not args.no_browser)
                opened = "–" if r["open_s"] is None else f"{r['open_s']:.2f}"
                print(f"| {name} | {n} | {r['ms_per_photo']:.0f} | {r['rerun_s']:.1f} | {r['html_mb']:.2f} | "
                      f"{r['json_mb']:.2f} | {r['parent_cpu_s']:.1f} | {r['parent_rss_mb']:.0f} | {opened} |",
                      flush=True)
        if args.s3_size:
            rows = s3_rows(codes, photos, args.s3_size, args.workers, tmp)
            n = args.s3_size
            kinds = ("PUT", "COPY", "GET", "HEAD", "LIST", "DELETE", "POST")
            print(f"\nSeaweedFS, {n} photos: S3 requests per photo (first run) and in all (rerun, nothing new)\n")
            print("| code | ms / photo | requests / photo | " + " | ".join(kinds) + " | rerun s | rerun requests |"
                  " parent CPU s | parent RSS MB |")
            print("|---|---:|---:|" + "---:|" * len(kinds) + "---:|---:|---:|---:|")
            for name, r in rows.items():
                per = " | ".join(f"{r['first'].get(k, 0) / n:.2f}" for k in kinds)
                print(f"| {name} | {r['ms_per_photo']:.0f} | {sum(r['first'].values()) / n:.2f} | {per} | "
                      f"{r['rerun_s']:.1f} | {sum(r['rerun'].values())} ({', '.join(f'{k} {v}' for k, v in sorted(r['rerun'].items()))}) | "
                      f"{r['parent_cpu_s']:.1f} | {r['parent_rss_mb']:.0f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at end: {load:.1f} (other processes slow every wall-time number)")


if __name__ == "__main__":
    main()
