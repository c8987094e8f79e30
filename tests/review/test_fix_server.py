"""The fix routes over HTTP: the real CLI (`review DEST --source SOURCE`) in a subprocess. Every
refusal is a 4xx with a one-line reason, never a 500; the same token, Host and CSP rules as the
other routes."""

from __future__ import annotations

import http.client
import json
import shutil
import time

import pytest

from tests.needs import needs

needs("review")
pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")

from pipeline.catalogue.fixes import add_fix_version
from pipeline.catalogue.store import Catalogue
from pipeline.cli import main
from pipeline.io.storage import Bucket
from pipeline.review.session import REFRESH_MIN_S
from tests.review.fix_batch import BAD, BROKEN, GOOD, FixBatch
from tests.review.server import ReviewServer


@pytest.fixture(scope="module")
def fixing(fix_batch_master, tmp_path_factory):
    """A server with the photos, over a private copy of the fix batch."""
    root = tmp_path_factory.mktemp("fix-served")
    shutil.copytree(fix_batch_master.src, root / "src")
    shutil.copytree(fix_batch_master.dest, root / "out")
    fb = FixBatch(root / "src", root / "out", fix_batch_master.click, fix_batch_master.size)
    with ReviewServer(str(fb.dest), "--source", str(fb.src)) as srv:
        yield srv, fb


def post(srv, action: str, body: dict, **kw) -> tuple[int, dict]:
    status, _, text = srv.post(f"/api/fix/{action}", body, **kw)
    assert status < 500, (action, status, text)
    return status, json.loads(text) if text.startswith("{") else {"error": text}


def start(srv, fb, key: str = BAD) -> dict:
    status, res = post(srv, "start", {"product": f"key:{key}", "version": fb.version(key)})
    assert status == 200, res
    return res


def test_a_click_outside_the_photo_or_malformed_is_400_and_a_good_one_regates(fixing):
    srv, fb = fixing
    res = start(srv, fb)
    fix, (w, h) = res["fix"], fb.size
    assert res["photo"] == {"name": "photo.jpg", "width": w, "height": h} and res["verdict"] == "fail"
    for body in ({"kind": "remove", "points": [[w, 10]]}, {"kind": "remove", "points": [[10, h + 0.5]]},
                 {"kind": "keep", "points": [[-0.5, 10]]}, {"kind": "keep", "points": [[10, 10], [w + 40, 10]]},
                 {"kind": "erase", "points": [[10, 10]]}, {"kind": "keep", "points": []},
                 {"kind": "keep", "points": [["a", 1]]}, {"kind": "keep", "points": [[1, 2]], "radius_px": -3},
                 {"kind": "keep", "points": [[1, 2]], "colour": "red"}):
        status, err = post(srv, "click", {"fix": fix, **body})
        assert status == 400 and err["error"], body
    status, res = post(srv, "click", {"fix": fix, **fb.click.as_json()})
    assert status == 200 and res["step"] == 1 and res["verdict"] == "pass"
    for name in ("photo.jpg", res["outline"], res["composite"]["name"]):
        status, headers, _ = srv.get(f"/fix/{fix}/{name}")
        assert status == 200 and headers["content-type"].startswith("image/"), name
        assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    for path in (f"/fix/{fix}/../{BAD}", f"/fix/{fix}/%2e%2e%2fsecret.png", f"/fix/{fix}/meta.json",
                 f"/fix/{fix}/composite-{'0' * 64}.png", f"/fix/{'x' * 20}/photo.jpg", "/fix/short/photo.jpg"):
        assert srv.get(path)[0] == 404, path
    assert post(srv, "undo", {"fix": fix})[1]["step"] == 0
    assert post(srv, "close", {"fix": fix}) == (200, {"closed": True})
    assert post(srv, "click", {"fix": fix, **fb.click.as_json()})[0] == 404  # closed


def test_a_fix_on_an_error_item_or_an_unknown_one_is_refused(fixing):
    srv, fb = fixing
    status, err = post(srv, "start", {"product": f"key:{BROKEN}", "version": fb.version(BROKEN)})
    assert status == 409 and "error item" in err["error"]
    assert post(srv, "start", {"product": "key:nope.jpg", "version": "fb/nope"})[0] == 404
    assert post(srv, "start", {"product": 3, "version": None})[0] == 400
    assert post(srv, "start", {"product": f"key:{BAD}", "version": fb.version(BAD), "extra": 1})[0] == 400
    assert post(srv, "explode", {"fix": "x"})[0] == 404
    assert post(srv, "save", {"fix": "nope" * 5, "composite_sha256": "0" * 64})[0] == 404
    p = json.loads(srv.get(f"/api/product?id=key:{BROKEN}")[2])
    assert p["fix"]["available"] is False and "no cut-out" in p["fix"]["why"]
    assert json.loads(srv.get(f"/api/product?id=key:{GOOD}")[2])["fix"] == {"available": True, "why": ""}


def test_the_fix_routes_need_the_token_the_host_and_a_json_body(fixing):
    srv, fb = fixing
    body = {"product": f"key:{BAD}", "version": fb.version(BAD)}
    assert srv.post("/api/fix/start", body, token=None)[0] == 403
    assert srv.post("/api/fix/start", body, token="guess")[0] == 403
    assert srv.request("POST", "/api/fix/start", body, headers={"X-Review-Token": srv.token,
                                                                 "Host": f"evil.example:{srv.port}"})[0] == 400
    assert srv.request("GET", "/fix/" + "a" * 22 + "/photo.jpg", headers={"Host": f"evil.example:{srv.port}"})[0] == 400
    for raw, ctype, status in ((b"[1]", "application/json", 400), (b"{not json", "application/json", 400),
                               (b"{}", "text/plain", 415)):
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        conn.request("POST", "/api/fix/click", body=raw, headers={"X-Review-Token": srv.token, "Content-Type": ctype})
        assert conn.getresponse().status == status
        conn.close()


def test_a_stale_version_is_refused_compare_and_swap(fixing):
    srv, fb = fixing
    started = start(srv, fb, GOOD)
    fix, centre = started["fix"], [started["photo"]["width"] / 2, started["photo"]["height"] / 2]
    status, res = post(srv, "click", {"fix": fix, "kind": "keep", "points": [centre]})
    assert status == 200
    status, err = post(srv, "save", {"fix": fix, "composite_sha256": "0" * 64})
    assert status == 409 and "not the current step" in err["error"]
    # Another reviewer's fix of the same product lands first (written to the catalogue by another process).
    cat = Catalogue(Bucket(str(fb.dest)))
    add_fix_version(cat, f"key:{GOOD}", based_on=fb.version(GOOD), composite=b"other", suffix=".png",
                    reviewer="bo", verdict="pass")
    time.sleep(REFRESH_MIN_S + 0.1)  # the server looks at the catalogue's shards at most this often
    status, err = post(srv, "save", {"fix": fix, "composite_sha256": res["composite"]["sha256"]})
    assert status == 409 and "changed since this fix started" in err["error"]
    status, err = post(srv, "click", {"fix": fix, "kind": "keep", "points": [centre]})
    assert status == 409
    assert [v["reviewer"] for v in cat.product(f"key:{GOOD}")["versions"].values() if v.get("origin") == "fix"] == ["bo"]


def test_without_the_photos_the_page_says_how_to_fix(fix_batch_master, tmp_path):
    shutil.copytree(fix_batch_master.dest, tmp_path / "out")
    with ReviewServer(str(tmp_path / "out")) as srv:
        p = json.loads(srv.get(f"/api/product?id=key:{BAD}")[2])
        assert p["fix"]["available"] is False and "--source" in p["fix"]["why"]
        status, err = post(srv, "start", {"product": f"key:{BAD}", "version": p["version"]["id"]})
        assert status == 409 and "--source" in err["error"]


def test_review_refuses_a_source_that_is_not_a_folder(fix_batch_master, tmp_path, capsys):
    assert main(["review", str(fix_batch_master.dest), "--source", str(tmp_path / "missing")]) == 2
    assert "--source" in capsys.readouterr().err
