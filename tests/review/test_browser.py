"""The review page in a real browser: Debian's Chromium, driven by Playwright, keyboard only.

Skipped only when /usr/bin/chromium is missing (CI installs it: .ci/run)."""

from __future__ import annotations

import json
import time

import pytest

from tests.needs import needs

needs("review", "browser")

from pipeline.catalogue.store import Catalogue
from pipeline.config import GateConfig
from pipeline.io.storage import Bucket
from tests.review.browser import CHROMIUM, changed_fraction, launch, shot
from tests.review.conftest import BATCH_ID, CARRIED, EVIL_NAME, REJECTED, make_two_batches
from tests.review.fake_batches import FAIL_REASON, spread_queue
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


def wait_saved(pg, n, next_label=None, timeout=15000):
    cond = f"document.body.dataset.saved === '{n}'"
    if next_label is not None:
        cond += (f" && document.getElementById('item-id').textContent === {json.dumps(next_label)}"
                 " && !!document.getElementById('viewer').dataset.ready")
    pg.wait_for_function(cond, timeout=timeout)


def labels(pg) -> list[str]:
    return [r.locator(".name").text_content() for r in pg.locator("#rows .row").all()]


@pytest.fixture
def two_batches(review_batch_master, tmp_path):
    return make_two_batches(review_batch_master, tmp_path / "out")


def test_one_entry_per_product_with_its_history_reject_by_keyboard_and_approve_all_skips_the_rejected(
        page, two_batches):
    dest = two_batches
    report = json.loads((dest / BATCH_ID / "report.json").read_text())
    with ReviewServer(str(dest), reviewer="bob") as srv:
        open_review(page, srv.url)
        page.locator("#f-decision [data-v=all]").click()         # every product, decided or not
        page.wait_for_function("document.querySelectorAll('#rows .row').length > 0")
        page.wait_for_timeout(300)
        names = labels(page)
        assert len(names) == len(set(names)) == len(report["items"]) + 1  # one entry per product
        assert page.locator("#n-products").text_content() == str(len(names))
        # The product rejected in the first batch: its newest version waits, with its history.
        page.keyboard.press("/")
        page.keyboard.type(REJECTED)
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('item-id').textContent === {json.dumps(REJECTED)}")
        page.wait_for_selector("#viewer[data-ready]")
        assert page.locator("#decision-now").text_content() == "Undecided"
        assert "strap cut off at the top" in page.locator("#earlier").text_content()
        assert page.locator("#history .version").count() == 2
        assert "rejected by alice" in page.locator("#history .version").nth(1).text_content()
        assert page.locator("#version-tag").text_content() == "version 2 of 2"
        # The product rejected in the first batch that came back with the same bytes: rejected too.
        page.fill("#search", CARRIED)
        page.wait_for_function(f"document.getElementById('item-id').textContent === {json.dumps(CARRIED)}")
        page.wait_for_selector("#viewer[data-ready]")
        assert page.locator("#decision-now").text_content() == "✗ Rejected (carried)"
        assert page.locator("#earlier").text_content().startswith("Same image as rejected on 20")
        assert page.locator("#earlier").text_content().endswith("by alice: label tinted green")
        # Reject another product with the keyboard, with a note.
        page.fill("#search", "")
        page.keyboard.press("Escape")
        page.locator("#f-decision [data-v=undecided]").click()
        page.wait_for_timeout(500)
        page.locator("#rows .row").first.click()                  # the first failure
        first = labels(page)[0]
        assert first != REJECTED
        page.wait_for_function(f"document.getElementById('item-id').textContent === {json.dumps(first)}")
        page.wait_for_selector("#viewer[data-ready]")
        page.keyboard.press("r")
        wait_saved(page, 1)
        page.keyboard.type("label colour drifted")
        page.keyboard.press("Enter")
        wait_saved(page, 2)
        # Approve all passed: the count leaves out both rejected products, and they stay as they were.
        page.keyboard.press("P")
        text = page.locator("#confirm-text").text_content()
        q = json.loads(srv.get("/api/queue?decision=all")[2])
        approvable = sorted(r["label"] for r in q["rows"] if r["approvable"])
        assert REJECTED not in approvable and first not in approvable and approvable
        assert text == f"Approve {len(approvable)} passed products that have no decision yet?"
        page.keyboard.press("Enter")
        wait_saved(page, 3)
        assert page.locator("#n-approved").text_content() == str(len(approvable))
        rows = {r["label"]: r for r in json.loads(srv.get("/api/queue?decision=all")[2])["rows"]}
        assert rows[REJECTED]["state"] == "undecided" and rows[REJECTED]["rejected_before"]
        assert rows[first]["state"] == "rejected" and rows[first]["note"] == "label colour drifted"
        assert {label for label, r in rows.items() if r["state"] == "approved"} == set(approvable)
        assert not page.errors


def test_a_failing_items_cut_out_signals_are_shown_with_their_thresholds_and_plain_reasons(page, two_batches):
    with ReviewServer(str(two_batches)) as srv:
        open_review(page, srv.url)
        page.keyboard.press("/")
        page.keyboard.type("shadow")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('item-id').textContent === 'shelf/shadow.jpg'")
        page.wait_for_selector("#viewer[data-ready]")
        row = page.locator('#checks tr[data-metric="cutout_base_off"]')
        assert row.get_attribute("class") == "bad"
        base, edge = GateConfig().cutout_base_off_max, GateConfig().cutout_edge_off_max
        assert [c.text_content() for c in row.locator("td").all()] == ["31%", f"≤ {base:.0%}"]
        assert page.locator('#checks tr[data-metric="cutout_edge_off"] td.t').text_content() == f"≤ {edge:.0%}"
        assert page.locator('#checks tr[data-metric="cutout_confidence"]').count() == 1
        assert page.locator("#checks tr.group th").first.text_content() == "Cut-out"
        reason = page.locator("#reasons li").first
        assert reason.locator(".plain").text_content().startswith("Part of the floor shadow was kept as product "
                                                                  f"(base outline off the photo's edges: 31%, limit {base:.0%})")
        assert reason.locator(".tech").text_content() == FAIL_REASON
        assert page.locator("#item-id").text_content() == "shelf/shadow.jpg"  # the full key
        assert "exact mode" in page.locator("#heat-why").text_content()   # why there is no heat map
        assert page.locator('[data-act="heat"]').is_disabled()


def test_slider_zoom_and_overlays_change_what_is_drawn(page, review_batch):
    with ReviewServer(str(review_batch)) as srv:
        open_review(page, srv.url)   # the first item fails on colour: its heat map is not empty
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
        assert not page.errors
    assert changed_fraction(base, back) < 0.001              # the same view again
    assert slider.shape[1] > base.shape[1]                   # one wide pane instead of two
    assert changed_fraction(slider, moved) > 0.01            # the divider moved
    assert changed_fraction(base, zoomed) > 0.2              # zoom redraws most of the pane
    assert changed_fraction(base, heat) > 0.02               # ΔE00 heat map on the tinted bottle
    assert changed_fraction(edges, no_edges) > 0.002         # the mask outline


def test_html_in_file_names_is_shown_as_text(page, review_batch):
    with ReviewServer(str(review_batch)) as srv:
        open_review(page, srv.url)
        page.locator("#f-decision [data-v=all]").click()
        page.keyboard.press("/")
        page.keyboard.type("onerror")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('item-source').textContent.indexOf('onerror') >= 0")
        page.wait_for_selector("#viewer[data-ready]")
        assert page.locator("#item-source").text_content() == EVIL_NAME
        assert page.locator("#item-id").text_content() == EVIL_NAME
        assert page.locator('img[src="x"]').count() == 0
        page.goto(srv.url + f"files/{BATCH_ID}/report.html")
        assert EVIL_NAME in page.locator(".card-head .src").all_text_contents()
        assert page.locator('img[src="x"]').count() == 0
        page.wait_for_timeout(300)
        assert not page.dialogs  # alert(1) never ran


def test_traversal_is_refused_and_posts_from_another_page_get_nowhere(page, review_batch):
    (review_batch.parent / "secret.json").write_text('{"content": "top-secret-value"}')
    jar = "key:jar_gold.jpg"
    with ReviewServer(str(review_batch)) as srv:
        for path in ("files/%2e%2e/secret.json", f"files/{BATCH_ID}/..%2Fsecret.json", "files/%2Fetc%2Fpasswd"):
            response = page.goto(srv.url + path)
            assert response.status in (400, 404) and "top-secret-value" not in page.content()
        page.goto("about:blank")  # another page: it can send a request, but not with the token
        status = page.evaluate("""([url, id]) => fetch(url + "api/decisions", {method: "POST", mode: "no-cors",
            headers: {"Content-Type": "text/plain"},
            body: JSON.stringify({product: id, decision: "rejected"})}).then(r => r.status, e => -1)""",
                               [srv.url, jar])
        assert status in (0, -1)
        open_review(page, srv.url)  # the page itself, without the token header, is refused too
        assert page.evaluate("""id => fetch("/api/decisions", {method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({product: id, decision: "rejected"})}).then(r => r.status)""", jar) == 403
    assert not (review_batch / "_decisions").exists()


def test_a_second_tab_sees_the_first_tabs_decisions(browser, review_batch):
    with ReviewServer(str(review_batch)) as srv:
        tabs = [browser.new_context(viewport=VIEWPORT, bypass_csp=True).new_page() for _ in range(2)]
        for tab in tabs:
            open_review(tab, srv.url)
        tabs[1].keyboard.press("j")
        tabs[1].wait_for_selector("#viewer[data-ready]")
        tabs[1].keyboard.press("a")                 # the second product, from the second tab
        wait_saved(tabs[1], 1)
        tabs[0].keyboard.press("a")                 # then the first product, from the first tab
        wait_saved(tabs[0], 1)
        first = tabs[0].locator("#rows .row").nth(0).get_attribute("data-id")
        mark = f"document.querySelector('.row[data-id={json.dumps(first)}] .mark').textContent === '\u2713'"
        tabs[1].wait_for_function(mark, timeout=15000)   # picked up by polling, without a reload
        assert tabs[1].locator("#n-approved").text_content() == "2"
        for tab in tabs:
            tab.context.close()
    assert len(list((review_batch / "_decisions").rglob("*.json"))) == 2


@pytest.fixture(scope="module")
def queue_200(tmp_path_factory):
    """200 products spread over 5 batches (a third of them with a second version)."""
    dest = tmp_path_factory.mktemp("q200") / "out"
    spread_queue(dest, products=200, batches=5)
    Catalogue(Bucket(dest)).sync()
    return dest


def test_200_products_over_5_batches_by_keyboard(page, queue_200, capsys, record_property):
    """Approve 200 products with the keyboard, each saved and the next one drawn before the next
    key. The time is recorded (printed and as a junit property), never asserted."""
    with ReviewServer(str(queue_200)) as srv:
        open_review(page, srv.url)
        order = labels(page)
        assert len(order) == 200 and page.locator("#n-products").text_content() == "200"
        t0 = time.perf_counter()
        for i in range(200):
            page.keyboard.press("a")
            wait_saved(page, i + 1, order[i + 1] if i + 1 < 200 else None)
        per_item_ms = (time.perf_counter() - t0) * 1000 / 200
        assert page.locator("#n-approved").text_content() == "200"
    products = Catalogue(Bucket(queue_200)).load()
    assert len(products) == 200 and all(p["decisions"][-1]["decision"] == "approved" for p in products.values())
    record_property("keyboard_ms_per_item", round(per_item_ms, 1))
    with capsys.disabled():
        print(f"\n[review timing] 200 products over 5 batches approved by keyboard: {per_item_ms:.0f} ms per item "
              "(key press -> saved -> next product drawn)")


def test_the_served_report_shows_its_thumbnails_under_its_own_csp(browser, review_batch):
    """report.html through the server, with the server's CSP in force (no bypass): the page runs
    sandboxed, and its thumbnails (each item's thumbs.jpg, same server) load."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    thumbs, violations = [], []
    pg.on("response", lambda r: thumbs.append(r.status) if r.url.endswith("/thumbs.jpg") else None)
    pg.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    with ReviewServer(str(review_batch)) as srv:
        pg.goto(srv.url + f"files/{BATCH_ID}/report.html")
        pg.wait_for_selector(".card-head .src")
        pg.wait_for_timeout(500)
    context.close()
    assert thumbs and set(thumbs) == {200}, (thumbs, violations)
    assert not violations, violations
