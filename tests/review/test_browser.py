"""The review page in a real browser: Debian's Chromium, driven by Playwright, keyboard only.

Skipped only when /usr/bin/chromium is missing (CI installs it: .ci/run)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.needs import needs

needs("review", "browser")

from pipeline.batch import item_id_for_key, run_batch
from pipeline.config import PipelineConfig
from pipeline.samples import write_samples
from tests.review.browser import CHROMIUM, changed_fraction, launch, shot
from tests.review.conftest import EVIL_NAME
from tests.review.server import ReviewServer

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")

VIEWPORT = {"width": 1600, "height": 960}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    # bypass_csp: Playwright's wait_for_function needs eval, which the page's CSP forbids. It also
    # means the HTML-escaping test below holds without the CSP as a safety net.
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    pg = context.new_page()
    pg.dialogs = []
    pg.errors = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def open_review(pg, url):
    pg.goto(url)
    pg.wait_for_selector("body[data-loaded]")
    pg.wait_for_selector("#viewer[data-ready]")


def wait_image(pg, element_id):
    pg.wait_for_function(f"(im => im.complete && im.naturalWidth > 0)(document.getElementById('{element_id}'))")
    pg.wait_for_timeout(150)


def wait_saved(pg, n, ready_id=None):
    cond = f"document.body.dataset.saved === '{n}'"
    if ready_id is not None:
        cond += f" && document.getElementById('viewer').dataset.ready === {json.dumps(ready_id)}"
    pg.wait_for_function(cond, timeout=15000)


OUTCOME_RANK = {"fail": 0, "error": 1, "pass": 2}


def outcomes(batch) -> dict[str, str]:
    """item id -> fail | error | pass, from the batch's report.json."""
    report = json.loads((batch / "report.json").read_text())
    return {i["id"]: "error" if i["status"] == "error" else i["verdict"] for i in report["items"]}


def test_keyboard_decisions_persist_and_show_in_the_report(page, review_batch):
    with ReviewServer(str(review_batch), reviewer="alice") as srv:
        open_review(page, srv.url)
        order = [r.get_attribute("data-id") for r in page.locator("#rows .row").all()]
        outcome = outcomes(review_batch)
        ranks = [OUTCOME_RANK[outcome[i]] for i in order]
        assert ranks == sorted(ranks) and len(order) == len(outcome)  # failures, errors, passes
        failures = {i for i in order if outcome[i] == "fail"}
        assert {item_id_for_key("bottle_teal.png"), item_id_for_key("pump_bottle_white.jpg")} <= failures
        assert outcome[item_id_for_key("broken.jpg")] == "error"
        assert page.locator("#item-id").text_content() == order[0]
        page.keyboard.press("r")                        # reject; the note field takes the focus
        wait_saved(page, 1)
        page.keyboard.type("colour drift on the label")
        page.keyboard.press("Enter")                    # saves the note, goes to the next item
        wait_saved(page, 2, order[1])
        page.keyboard.press("a")                        # approve the second, go on
        wait_saved(page, 3, order[2])
        page.reload()
        open_review(page, srv.url)
        marks = {r.get_attribute("data-id"): r.locator(".mark").text_content() for r in page.locator("#rows .row").all()}
        assert marks[order[0]] == "✗" and marks[order[1]] == "✓" and marks[order[2]] == ""
        assert page.locator("#decision-now").text_content().startswith("✗ Rejected")
        assert page.locator("#note").input_value() == "colour drift on the label"
        assert page.locator("#n-approved").text_content() == "1" and page.locator("#n-rejected").text_content() == "1"
        page.goto(srv.url + "files/report.html")
        card = page.locator(f'.card[data-item="{order[0]}"]')
        assert card.locator(".decision.rejected").count() == 1
        assert "colour drift on the label" in card.locator(".decision-note").text_content()
        assert page.locator(f'.card[data-item="{order[1]}"] .decision.approved').count() == 1
    doc = json.loads((review_batch / "decisions.json").read_text())
    assert {k: v["decision"] for k, v in doc["items"].items()} == {order[0]: "rejected", order[1]: "approved"}
    assert doc["items"][order[0]]["reviewer"] == "alice"


def test_slider_zoom_and_overlays_change_what_is_drawn(page, review_batch, tmp_path):
    with ReviewServer(str(review_batch)) as srv:
        open_review(page, srv.url)   # the first item fails: its heat map is not empty
        stage = page.locator("#stage-b")
        page.wait_for_timeout(200)
        base = shot(stage)
        page.keyboard.press("s")     # slider: the original shows left of the divider
        page.wait_for_timeout(300)
        slider = shot(page.locator("#stage-b"))
        page.keyboard.press("]")
        page.keyboard.press("]")
        page.wait_for_timeout(200)
        moved = shot(page.locator("#stage-b"))
        page.keyboard.press("s")
        page.wait_for_timeout(300)
        back = shot(stage)
        page.keyboard.press("+")
        page.keyboard.press("+")
        page.wait_for_timeout(200)
        zoomed = shot(stage)
        assert page.locator("#zoom").text_content() != "100%"
        page.keyboard.press("0")
        page.keyboard.press("h")
        wait_image(page, "img-heat")
        heat = shot(stage)
        page.keyboard.press("e")
        wait_image(page, "img-edges")
        edges = shot(page.locator("#stage-a"))
        page.keyboard.press("e")
        page.wait_for_timeout(200)
        no_edges = shot(page.locator("#stage-a"))
        page.screenshot(path=str(tmp_path / "page.png"))
        assert not page.errors
    assert changed_fraction(base, back) < 0.001              # the same view again
    assert changed_fraction(base[:, : base.shape[1] // 2], back[:, : back.shape[1] // 2]) < 0.001
    assert slider.shape[1] > base.shape[1]                   # one wide pane instead of two
    assert changed_fraction(slider, moved) > 0.01            # the divider moved
    assert changed_fraction(base, zoomed) > 0.2              # zoom redraws most of the pane
    assert changed_fraction(base, heat) > 0.02               # ΔE00 heat map on the tinted bottle
    assert changed_fraction(edges, no_edges) > 0.002         # the mask outline


def test_html_in_file_names_is_shown_as_text(page, review_batch):
    with ReviewServer(str(review_batch)) as srv:
        open_review(page, srv.url)
        page.keyboard.press("/")
        page.keyboard.type("onerror")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('item-source').textContent.indexOf('onerror') >= 0")
        page.wait_for_selector("#viewer[data-ready]")
        assert page.locator("#item-source").text_content() == EVIL_NAME
        assert page.locator('img[src="x"]').count() == 0
        page.goto(srv.url + "files/report.html")
        assert EVIL_NAME in page.locator(".card-head .src").all_text_contents()
        assert page.locator('img[src="x"]').count() == 0
        page.wait_for_timeout(300)
        assert not page.dialogs  # alert(1) never ran


def test_traversal_is_refused_and_posts_from_another_page_get_nowhere(page, review_batch):
    (review_batch.parent / "secret.json").write_text('{"content": "top-secret-value"}')
    jar = item_id_for_key("jar_gold.jpg")
    with ReviewServer(str(review_batch)) as srv:
        for path in ("files/%2e%2e/secret.json", "files/..%2Fsecret.json", "files/%2Fetc%2Fpasswd"):
            response = page.goto(srv.url + path)
            assert response.status in (400, 404) and "top-secret-value" not in page.content()
        page.goto("about:blank")  # another page: it can send a request, but not with the token
        status = page.evaluate("""([url, id]) => fetch(url + "api/decisions", {method: "POST", mode: "no-cors",
            headers: {"Content-Type": "text/plain"},
            body: JSON.stringify({item_id: id, decision: "rejected"})}).then(r => r.status, e => -1)""",
                               [srv.url, jar])
        assert status in (0, -1)
        open_review(page, srv.url)  # the page itself, without the token header, is refused too
        assert page.evaluate("""id => fetch("/api/decisions", {method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({item_id: id, decision: "rejected"})}).then(r => r.status)""", jar) == 403
    assert not (review_batch / "decisions.json").exists()


@pytest.fixture(scope="module")
def fifty_batch(tmp_path_factory):
    """50 distinct generated sample photos (seeds 0..4) run through the pipeline at 256 x 256."""
    root = tmp_path_factory.mktemp("fifty")
    for seed in range(5):
        write_samples(root / "src" / f"s{seed}", seed=seed)
    photos = sorted(p for p in (root / "src").rglob("*")
                    if p.suffix in (".jpg", ".png") and "_ground_truth" not in p.parts)
    for extra in photos[50:]:  # keep exactly 50 photos
        extra.unlink()
    shutil.rmtree(root / "src" / "s0" / "_ground_truth", ignore_errors=True)
    config = PipelineConfig().with_overrides({"placement.size": (256, 256)})
    _, report, _ = run_batch(str(root / "src"), str(root / "out"), config, batch_id="fifty")
    assert report["summary"]["total"] == 50
    return root / "out" / "fifty"


def test_fifty_items_by_keyboard(page, fifty_batch, capsys, record_property):
    """Approve 50 items with the keyboard, each saved and the next one drawn before the next key.
    The time is recorded (printed and as a junit property), never asserted: it says whether the
    page could ever be the bottleneck of a person who looks at each image for seconds."""
    with ReviewServer(str(fifty_batch)) as srv:
        open_review(page, srv.url)
        order = [r.get_attribute("data-id") for r in page.locator("#rows .row").all()]
        assert len(order) == 50
        t0 = time.perf_counter()
        for i in range(50):
            page.keyboard.press("a")
            wait_saved(page, i + 1, order[i + 1] if i + 1 < 50 else None)
        per_item_ms = (time.perf_counter() - t0) * 1000 / 50
        assert page.locator("#n-approved").text_content() == "50"
    doc = json.loads((fifty_batch / "decisions.json").read_text())
    assert len(doc["items"]) == 50 and {v["decision"] for v in doc["items"].values()} == {"approved"}
    record_property("keyboard_ms_per_item", round(per_item_ms, 1))
    with capsys.disabled():
        print(f"\n[review timing] 50 items approved by keyboard: {per_item_ms:.0f} ms per item "
              "(key press -> saved -> next item drawn)")


def test_approve_all_passed_states_the_count_and_needs_a_confirmation(page, review_batch):
    with ReviewServer(str(review_batch)) as srv:
        open_review(page, srv.url)
        page.keyboard.press("P")
        text = page.locator("#confirm-text").text_content()
        passed = sum(v == "pass" for v in outcomes(review_batch).values())
        assert passed >= 8 and text == f"Approve {passed} passed items that have no decision yet?"
        page.keyboard.press("Escape")                  # cancelled: nothing written
        assert not (review_batch / "decisions.json").exists()
        page.keyboard.press("P")
        page.keyboard.press("Enter")
        wait_saved(page, 1)
        assert page.locator("#n-approved").text_content() == str(passed)
    doc = json.loads((review_batch / "decisions.json").read_text())
    assert len(doc["items"]) == passed and {v["decision"] for v in doc["items"].values()} == {"approved"}


def test_a_second_tab_sees_the_first_tabs_decisions(browser, review_batch):
    with ReviewServer(str(review_batch)) as srv:
        tabs = [browser.new_context(viewport=VIEWPORT, bypass_csp=True).new_page() for _ in range(2)]
        for tab in tabs:
            open_review(tab, srv.url)
        tabs[1].keyboard.press("j")
        tabs[1].keyboard.press("a")                 # the second item, from the second tab
        wait_saved(tabs[1], 1)
        tabs[0].keyboard.press("a")                 # then the first item, from the first tab
        wait_saved(tabs[0], 1)
        first = tabs[0].locator("#rows .row").nth(0).get_attribute("data-id")
        mark = f"document.querySelector('.row[data-id={json.dumps(first)}] .mark').textContent === '\u2713'"
        tabs[1].wait_for_function(mark, timeout=15000)   # picked up by polling, without a reload
        assert tabs[1].locator("#n-approved").text_content() == "2"
        for tab in tabs:
            tab.context.close()
    assert len(json.loads((review_batch / "decisions.json").read_text())["items"]) == 2
