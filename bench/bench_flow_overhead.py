"""Flow overhead per image: the ``process-bucket`` flow vs calling the pipeline directly.

Same images, same config, same process, one worker each (the flow on a 1-thread task runner),
both writing every output and the batch report. The flow adds Prefect task runs (state reports
to the API), the ledger (hash, lease, commit, fingerprint index) and artifacts. Goal: < 10% at
100 images.

    python bench/bench_flow_overhead.py                      # 100 images, starts its own Prefect server
    python bench/bench_flow_overhead.py -n 20 --long-side 256 --repeats 1
    PREFECT_API_URL=http://127.0.0.1:4200/api python bench/bench_flow_overhead.py   # use a running server

Prints a table and writes ``--json`` if given. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_images(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` distinct photos: the project's samples, each copy nudged so its hash differs."""
    import cv2
    import numpy as np

    from pipeline.samples import SAMPLE_SPECS, render_sample

    names = list(SAMPLE_SPECS)
    base = {n: render_sample(n).rgb for n in names}
    keys = []
    for i in range(count):
        rgb = base[names[i % len(names)]].copy()
        rgb[0, i % rgb.shape[1]] = np.uint8((seed + i) % 251)  # one pixel in the white margin
        key = f"incoming/{i:04d}_{names[i % len(names)]}.png"
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        _ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        (folder / key).write_bytes(buf.tobytes())
        keys.append(key)
    return keys


def run_direct(src: Path, dest: Path, keys: list[str], config) -> tuple[float, float]:
    """The pipeline called directly: one BatchRunner, a loop over process_key, then the report.

    Returns (total seconds, seconds inside process_key)."""
    from pipeline.batch import BatchRunner, new_batch_id, write_batch_reports
    from pipeline.io.storage import Bucket

    runner = BatchRunner(config)
    source, out = Bucket(src), Bucket(dest)
    t0 = time.perf_counter()
    batch_id = new_batch_id()
    records = [runner.process_key(source, key, out, batch_id) for key in keys]
    loop_s = time.perf_counter() - t0
    write_batch_reports(out, batch_id, runner.stages.scene.name, config, records)
    return time.perf_counter() - t0, loop_s


def run_flow(src: Path, dest: Path, config, workers: int) -> tuple[float, dict]:
    from flows.params import BatchOptions, RunnerParams
    from flows.process_bucket import process_bucket

    options = BatchOptions(runner=RunnerParams(max_workers=workers, lock="never"))
    t0 = time.perf_counter()
    summary = process_bucket(str(src), str(dest), config=config, options=options)
    return time.perf_counter() - t0, summary


def warm_up(src: Path, tmp: Path, key: str, config) -> None:
    """One image through both paths first, so imports and first-call costs count for neither."""
    run_direct(src, tmp / "warm-direct", [key], config)
    single = tmp / "warm-src"
    (single / "incoming").mkdir(parents=True)
    (single / key).write_bytes((src / key).read_bytes())
    run_flow(single, tmp / "warm-flow", config, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--images", type=int, default=100)
    parser.add_argument("--long-side", type=int, default=None,
                        help="output long side in pixels (default: the pipeline's default config)")
    parser.add_argument("--workers", type=int, default=1, help="threads for the flow (the direct loop is 1)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating direct/flow runs; best of each")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args(argv)

    server = None
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmpdir:
        tmp = Path(tmpdir)
        if not os.environ.get("PREFECT_API_URL"):
            from tests.flows.servers import PrefectServer

            os.environ["PREFECT_HOME"] = str(tmp / "client-home")
            server = PrefectServer(tmp / "server-home").start()
            os.environ.update(server.client_env())
        try:
            from pipeline.config import PipelineConfig

            config = PipelineConfig()
            if args.long_side:
                config = config.with_overrides({"placement.long_side": args.long_side})
            src = tmp / "src"
            keys = make_images(src, args.images)
            warm_up(src, tmp, keys[0], config)
            direct, flow = [], []
            for rep in range(args.repeats):  # alternate, so load drift on the machine hits both
                direct.append(run_direct(src, tmp / f"direct{rep}", keys, config))
                flow_s, summary = run_flow(src, tmp / f"flow{rep}", config, args.workers)
                assert summary["processed"] == len(keys), summary
                flow.append((flow_s, summary["timings_s"]))
        finally:
            if server is not None:
                from prefect.logging.handlers import APILogWorker

                APILogWorker.drain_all(timeout=5)  # ship the last logs before the server goes
                server.stop()
    n = len(keys)
    direct_s, direct_loop_s = min(direct)
    flow_s, phases = min(flow, key=lambda f: f[0])
    # Attribution inside each run (robust to load drift between runs): everything that is not
    # the pipeline itself, flow minus direct, per image.
    orchestration_s = (flow_s - phases["pipeline_sum"]) - (direct_s - direct_loop_s)
    result = {
        "images": n, "long_side": args.long_side or PipelineConfig().placement.long_side,
        "flow_workers": args.workers, "repeats": args.repeats,
        "direct_s": round(direct_s, 3), "flow_s": round(flow_s, 3),
        "direct_ms_per_image": round(1000 * direct_s / n, 1), "flow_ms_per_image": round(1000 * flow_s / n, 1),
        "overhead_ms_per_image": round(1000 * (flow_s - direct_s) / n, 1),
        "overhead_pct": round(100 * (flow_s - direct_s) / direct_s, 1),
        "attributed_overhead_ms_per_image": round(1000 * orchestration_s / n, 1),
        "attributed_overhead_pct": round(100 * orchestration_s / direct_loop_s, 1),
        "flow_phases_s": phases,
    }
    print(f"{'images':>8} {'direct s':>9} {'flow s':>8} {'direct ms/img':>14} {'flow ms/img':>12} "
          f"{'overhead ms/img':>16} {'overhead %':>11}")
    print(f"{n:>8} {direct_s:>9.2f} {flow_s:>8.2f} {result['direct_ms_per_image']:>14.1f} "
          f"{result['flow_ms_per_image']:>12.1f} {result['overhead_ms_per_image']:>16.1f} {result['overhead_pct']:>10.1f}%")
    print(f"attributed (flow time outside the pipeline minus direct time outside it): "
          f"{result['attributed_overhead_ms_per_image']} ms/image = {result['attributed_overhead_pct']}%")
    print("flow phases (s):", phases)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
