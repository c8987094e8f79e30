"""Server-side cost of a review decision with the catalogue, at 100 and at 10,000 products side
by side, and (``--browser``) how fast the queue's first page opens in Chromium.

    python bench/bench_review.py                  # decisions and queue pages at N = 100 and 10,000
    python bench/bench_review.py --browser        # + the page in Debian's Chromium at each N
    python bench/bench_review.py --sizes 100 1000 # other sizes

Each N is one batch folder of N products (a quarter failing), written directly in the layout
``product-scene run`` writes (tests/review/fake_batches.py: small generated pictures), on a local
folder. Per N: the first sync (ingesting the batch into DEST/_catalogue), a review session's start
(loading every shard), the first queue page (server side), and ``DECISIONS`` decisions on random
products through ``ReviewSession.decide`` (the sizes take turns, one decision each per round),
split into its two writes (the decision's journal file, the compare-and-swap of its shard);
medians and p90 in ms. The browser: from navigation to the first product drawn (list, counts,
the first product's pictures), median of 3 loads after a warm-up load.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.catalogue import store as store_module
from pipeline.catalogue.homes import write_journal
from pipeline.catalogue.queue import PAGE_SIZE
from pipeline.catalogue.store import Catalogue
from pipeline.io.storage import Bucket
from pipeline.review.session import ReviewSession
from tests.review.fake_batches import FakeItem, write_fake_batch

DECISIONS = 200
BROWSER_LOADS = 3


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _stats(values: list[float]) -> str:
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
    return f"{statistics.median(values):8.1f} {p90:8.1f}"


class Timed:
    """Wraps write_journal and Catalogue.update to time the two writes of each decision."""

    def __init__(self) -> None:
        self.journal: list[float] = []
        self.shard: list[float] = []
        self._journal, self._update = write_journal, Catalogue.update

    def __enter__(self) -> Timed:
        timed = self

        def journal(*a, **k):
            t0 = time.perf_counter()
            try:
                return timed._journal(*a, **k)
            finally:
                timed.journal.append(_ms(t0))

        def update(cat, *a, **k):
            t0 = time.perf_counter()
            try:
                return timed._update(cat, *a, **k)
            finally:
                timed.shard.append(_ms(t0))

        store_module.write_journal = journal
        Catalogue.update = update
        return self

    def __exit__(self, *exc) -> None:
        store_module.write_journal = self._journal
        Catalogue.update = self._update


def make_dest(root: Path, n: int) -> Path:
    dest = root / f"n{n}"
    items = [FakeItem(f"incoming/shelf-{i // 100:03d}/product-{i:05d}.jpg", "fail" if i % 4 == 0 else "pass")
             for i in range(n)]
    write_fake_batch(dest, "20260101T120000Z-bench", items, "2026-01-01T12:00:00+00:00")
    return dest


def prepare(dest: Path, n: int, browser: bool) -> tuple[dict[str, object], ReviewSession]:
    """First sync, session start, queue pages (and the browser) for one destination."""
    out: dict[str, object] = {"n": n, "dest": dest}
    t0 = time.perf_counter()
    Catalogue(Bucket(dest)).sync()
    out["sync_s"] = _ms(t0) / 1000
    t0 = time.perf_counter()
    session = ReviewSession(Bucket(dest), "bench")
    out["start_s"] = _ms(t0) / 1000
    pages = []
    for _ in range(5):
        t0 = time.perf_counter()
        session.queue({"decision": "all"}, 0, PAGE_SIZE)
        pages.append(_ms(t0))
    out["page"] = pages
    if browser:  # before the decisions: the page opens on products still to do
        out["browser"] = browser_open(dest)
    return out, session


def decide_interleaved(runs: list[tuple[dict[str, object], ReviewSession]]) -> None:
    """``DECISIONS`` decisions on random products of each destination, taking turns (one on each
    in every round), so that a busy machine weighs on every size alike."""
    plans = []
    for out, session in runs:
        rng = random.Random(0)
        plans.append(rng.sample(sorted(session.rows), min(DECISIONS, len(session.rows))))
        out["decide"], out["journal"], out["shard"] = [], [], []
    for k in range(max(len(p) for p in plans)):
        for (out, session), pids in zip(runs, plans):
            if k >= len(pids):
                continue
            pid = pids[k]
            row = session.rows[pid]
            version = session.version(pid, row["version"])
            with Timed() as timed:
                t0 = time.perf_counter()
                session.decide(pid, row["version"], "approved" if k % 2 else "rejected", note="bench",
                               seen_sha256=version["sha256"])
                out["decide"].append(_ms(t0))
            out["journal"] += timed.journal
            out["shard"] += timed.shard
    for out, _ in runs:
        shards = sorted((Path(out["dest"]) / "_catalogue" / "products").iterdir())
        out["shard_kb"] = statistics.median(p.stat().st_size for p in shards) / 1024


def browser_open(dest: Path) -> list[float]:
    """ms from navigation to the first product drawn, ``BROWSER_LOADS`` fresh loads."""
    from playwright.sync_api import sync_playwright

    from tests.review.browser import launch
    from tests.review.server import ReviewServer

    times = []
    with ReviewServer(str(dest), reviewer="bench") as srv, sync_playwright() as pw:
        browser = launch(pw)
        for _ in range(BROWSER_LOADS + 1):  # the first load warms the server's caches: not counted
            context = browser.new_context(viewport={"width": 1600, "height": 940})
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(srv.url)
            page.wait_for_selector("body[data-loaded]", timeout=60000)
            page.wait_for_selector("#viewer[data-ready]", timeout=60000)
            times.append(_ms(t0))
            context.close()
        browser.close()
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10000])
    parser.add_argument("--browser", action="store_true", help="also open the page in Chromium")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            t0 = time.perf_counter()
            dest = make_dest(Path(tmp), n)
            print(f"N={n}: batch folder written in {_ms(t0) / 1000:.1f} s", flush=True)
            runs.append(prepare(dest, n, browser=args.browser))
        decide_interleaved(runs)
    results = [out for out, _ in runs]
    print(f"\nreview decision with the catalogue, local folder; ms (median, p90) over {DECISIONS} decisions")
    print(f"{'products':>9} | {'decide':>17} | {'journal':>17} | {'shard CAS':>17} | {'shard kB':>8} | "
          f"{'queue page':>17} | {'1st sync s':>10} | {'start s':>7}" + (" | browser 1st page ms" if args.browser
                                                                          else ""))
    for r in results:
        line = (f"{r['n']:>9} | {_stats(r['decide'])} | {_stats(r['journal'])} | {_stats(r['shard'])} | "
                f"{r['shard_kb']:8.1f} | {_stats(r['page'])} | {r['sync_s']:10.2f} | {r['start_s']:7.2f}")
        if args.browser:
            line += f" | {statistics.median(r['browser']):.0f} (of {', '.join(f'{v:.0f}' for v in r['browser'])})"
        print(line)


if __name__ == "__main__":
    main()
