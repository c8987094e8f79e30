"""Draw assets/review.jpg: the review page over a destination with three batches (for the README).

    python assets/make_review_screenshot.py            # rewrites assets/review.jpg

Builds the destination the browser tests use (tests/review/conftest.py ``make_two_batches``: the
generated samples in one batch, four of them again in a second, one of which was rejected in the
first and came back with the same bytes, and a cut-out failure in a third), serves it with
``product-scene review DEST`` and photographs, with Debian's Chromium (/usr/bin/chromium), the
product whose rejection was carried to its new version: its history, the gate's checks beside
this batch's limits, the reasons in plain words, the ΔE00 heat map.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.review.browser import launch
from tests.review.conftest import CARRIED, make_review_batch, make_two_batches
from tests.review.server import ReviewServer

OUT = Path(__file__).resolve().parent / "review.jpg"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        master = make_review_batch(Path(tmp) / "m" / "src", Path(tmp) / "m" / "out")
        dest = make_two_batches(master, Path(tmp) / "shop" / "out")
        with ReviewServer(str(dest), reviewer="bob") as srv, sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_context(viewport={"width": 1600, "height": 940}, bypass_csp=True).new_page()
            page.goto(srv.url)
            page.wait_for_selector("body[data-loaded]")
            page.locator("#f-decision [data-v=all]").click()
            page.wait_for_timeout(400)
            page.keyboard.press("/")
            page.keyboard.type(CARRIED)
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.getElementById('item-id').textContent === {json.dumps(CARRIED)}")
            page.wait_for_selector("#viewer[data-ready]")
            page.fill("#search", "")
            page.keyboard.press("Escape")
            page.wait_for_timeout(400)
            page.keyboard.press("h")
            page.keyboard.press("e")
            page.wait_for_function("(im => im.complete && im.naturalWidth > 0)(document.getElementById('img-heat'))")
            page.wait_for_timeout(500)
            png = page.screenshot()
            browser.close()
    Image.open(io.BytesIO(png)).convert("RGB").save(OUT, quality=88, optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
