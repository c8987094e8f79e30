"""report.html in Debian's Chromium: cards drawn a page at a time, filters, search, thumbnails
from each item's sprite, text from the batch never run as HTML."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import GateConfig
from pipeline.report import build_report, write_reports
from pipeline.report.html import PAGE_SIZE
from pipeline.report.thumbnails import sprite_jpeg
from pipeline.types import ItemRecord
from tests.review.browser import CHROMIUM, launch

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's chromium is not installed at {CHROMIUM}")

EVIL = "<img src=x onerror=alert(1)>"
N_PASS, N_FAIL = 100, 20


def _batch(folder) -> None:
    """A batch folder: N_FAIL failures, one error named EVIL, N_PASS passes, each ok item with its sprite."""
    views = {"original": np.full((40, 30, 3), 200, np.uint8), "mask": np.ones((40, 30), bool),
             "composite": np.full((40, 40, 3), 90, np.uint8)}
    sprite = sprite_jpeg(views)
    records = []
    for k in range(N_PASS + N_FAIL):
        item_id = f"{'fail' if k < N_FAIL else 'pass'}-{k:03d}"
        (folder / item_id).mkdir(parents=True)
        (folder / item_id / "thumbs.jpg").write_bytes(sprite)
        outputs = {name: str(folder / item_id / f"{name}.png") for name in ("composite", "mask", "original")}
        outputs["thumbs"] = str(folder / item_id / "thumbs.jpg")
        records.append(ItemRecord(id=item_id, source=f"{item_id}.jpg", status="ok",
                                  verdict="fail" if k < N_FAIL else "pass", outputs=outputs,
                                  reasons=("colour drift: ΔE00 mean 3.21 > 2.00",) if k < N_FAIL else (),
                                  metrics={"delta_e00_mean": 3.21 if k < N_FAIL else 0.1}))
    records.append(ItemRecord(id=EVIL, source=f"{EVIL}.jpg", status="error", error=f"not an image: {EVIL}"))
    report = build_report("b", "studio", "h", records, extra={"gate": GateConfig().model_dump()})
    write_reports(lambda name, data: str((folder / name).write_bytes(data)), "b", report, records)


def test_pages_filters_search_and_sprites(tmp_path):
    from playwright.sync_api import sync_playwright

    _batch(tmp_path)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto((tmp_path / "report.html").as_uri(), wait_until="load")
            cards = page.locator("#cards .card")
            assert cards.count() == PAGE_SIZE
            assert cards.first.get_attribute("data-status") == "fail"  # failures first
            assert page.locator("#pager span").text_content() == f"Page 1 of {-(-(N_PASS + N_FAIL + 1) // PAGE_SIZE)}"
            tile = page.locator('.card[data-item="fail-000"] .sprite').nth(2)  # original, mask, composite
            assert "fail-000/thumbs.jpg" in tile.evaluate("e => e.style.backgroundImage")
            assert tile.evaluate("e => e.style.backgroundPosition") == "-256px 0px"
            reason = page.locator('.card[data-item="fail-000"] .reasons li')
            assert reason.locator("small.tech").text_content() == "colour drift: ΔE00 mean 3.21 > 2.00"
            assert reason.locator("span").text_content().startswith("The product's colours changed")
            page.locator("#pager button", has_text="Next").click()
            assert page.locator("#cards .card").first.get_attribute("data-item") == "pass-049"
            page.locator('.seg button[data-filter="error"]').click()
            assert page.locator("#cards .card").count() == 1
            assert page.locator(".card .src").text_content() == f"{EVIL}.jpg"  # as text, never as a tag
            assert page.locator(".card pre.err").text_content() == f"not an image: {EVIL}"
            assert page.locator('img[src="x"]').count() == 0
            page.locator('.seg button[data-filter="all"]').click()
            page.locator("#search").fill("fail-01")
            assert page.locator("#cards .card").count() == 10
            page.locator('.card[data-item="fail-012"] .sprite').first.click()
            assert page.locator("#lightbox img").get_attribute("src") == "fail-012/original.png"
            page.wait_for_timeout(200)
            assert dialogs == []
        finally:
            browser.close()
