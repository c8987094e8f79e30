"""Draw assets/review_fix.jpg: the review page's fix mode after one click (for the README).

    python assets/make_fix_screenshot.py            # rewrites assets/review_fix.jpg

Builds the destination the fix-mode browser test uses (tests/review/fix_batch.py: the generated
``box_white``, whose kept floor chunk fails the gate, beside a passing and an error item), serves
it with ``product-scene review DEST --source SOURCE`` and, with Debian's Chromium
(/usr/bin/chromium), presses F, clicks "remove" where bench/eval_fix.py's simulated reviewer
would, and photographs the page once the re-rendered composite and its verdict are drawn.
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

from tests.review.browser import launch
from tests.review.fix_batch import make_fix_batch
from tests.review.server import ReviewServer

OUT = Path(__file__).resolve().parent / "review_fix.jpg"
STEP_TIMEOUT_MS = 120000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fb = make_fix_batch(Path(tmp))
        with ReviewServer(str(fb.dest), "--source", str(fb.src), reviewer="ana") as srv, sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_context(viewport={"width": 1600, "height": 900}, bypass_csp=True).new_page()
            page.goto(srv.url)
            page.wait_for_selector("body[data-loaded]")
            page.wait_for_selector("#viewer[data-ready]")
            page.keyboard.press("f")
            page.wait_for_selector("body[data-fix-step='0']", timeout=STEP_TIMEOUT_MS)
            box = page.locator("#fix-box").bounding_box()
            x, y = fb.click.points[0]
            page.mouse.click(box["x"] + (x + 0.5) * box["width"] / fb.size[0],
                             box["y"] + (y + 0.5) * box["height"] / fb.size[1])
            page.wait_for_selector("body[data-fix-step='1']", timeout=STEP_TIMEOUT_MS)
            page.wait_for_timeout(300)
            png = page.screenshot()
            browser.close()
    Image.open(io.BytesIO(png)).convert("RGB").save(OUT, quality=86, optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
