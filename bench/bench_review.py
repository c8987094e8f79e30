"""Server-side cost of one review decision, split into its parts (no browser).

    python bench/bench_review.py            # builds a sample batch in a temp folder, then times

Per decision: hashing the composite the page showed, the compare-and-swap write of
decisions.json, and rewriting report.json + report.html with the decisions; then the whole
``ReviewSession.decide`` (all three, as the server runs it). Medians over every item, 3 rounds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.batch import run_batch  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.review.decisions import Decision  # noqa: E402
from pipeline.review.folder import open_batch_folder  # noqa: E402
from pipeline.review.reports import refresh_reports  # noqa: E402
from pipeline.review.session import ReviewSession  # noqa: E402
from pipeline.samples import write_samples  # noqa: E402

ROUNDS = 3


def _ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_samples(Path(tmp) / "in")
        config = PipelineConfig().with_overrides({"placement.size": (512, 512)})
        run_batch(str(Path(tmp) / "in"), str(Path(tmp) / "out"), config, batch_id="bench")
        session = ReviewSession(open_batch_folder(str(Path(tmp) / "out" / "bench")), "bench")
        ids = [i["id"] for i in session.items if i["status"] == "ok"]
        parts: dict[str, list[float]] = {"hash composite": [], "CAS write": [], "refresh reports": [],
                                         "whole decide": []}
        for _ in range(ROUNDS):
            for item_id in ids:
                sha = session.composite(item_id, None)[1]
                parts["hash composite"].append(_ms(lambda: session.composite(item_id, None)))
                parts["CAS write"].append(_ms(lambda: session.decisions.record(
                    [Decision(item_id, "approved", "bench", composite_sha256=sha)])))
                doc = session.decisions.load()
                parts["refresh reports"].append(_ms(lambda: refresh_reports(session.folder, doc)))
                parts["whole decide"].append(_ms(lambda: session.decide(item_id, "approved", seen_sha256=sha)))
        print(f"{len(ids)} items x {ROUNDS} rounds, 512x512 composites, local folder")
        for name, values in parts.items():
            print(f"  {name:16s} median {statistics.median(values):6.1f} ms   p90 "
                  f"{statistics.quantiles(values, n=10)[-1]:6.1f} ms")


if __name__ == "__main__":
    main()
