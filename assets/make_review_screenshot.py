"""Draw assets/review.jpg: the review page on a failing item (for the README).

    python assets/make_review_screenshot.py            # rewrites assets/review.jpg

Builds the batch the browser tests use (tests/review/conftest.py: the generated samples, one of
them named like an HTML tag, a broken file, bottles whose product was tinted by the scene), serves
it with ``product-scene review`` and photographs it with Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.review.browser import launch  # noqa: E402
from tests.review.conftest import make_review_batch  # noqa: E402
from tests.review.server import ReviewServer  # noqa: E402

OUT = Path(__file__).resolve().parent / "review.jpg"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        batch = make_review_batch(Path(tmp) / "src", Path(tmp) / "out", batch_id="20260101T120000Z-demo01")
        with ReviewServer(str(batch), reviewer="alice") as srv, sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_context(viewport={"width": 1600, "height": 940}, bypass_csp=True).new_page()
            page.goto(srv.url)
            page.wait_for_selector("#viewer[data-ready]")
            page.keyboard.press("a")                      # approve the first failure (to show a decision)...
            page.wait_for_function("document.body.dataset.saved === '1'")
            page.keyboard.press("k")                      # ...go back to it
            page.wait_for_selector("#viewer[data-ready]")
            page.keyboard.press("r")                      # and reject it with a note after all
            page.keyboard.type("label colour drifted (ΔE00 12.7): rerun in exact mode")
            page.keyboard.press("Escape")                 # leaving the field saves the note
            page.wait_for_function("document.body.dataset.saved === '3'")
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
