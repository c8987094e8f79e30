"""The review server over HTTP: the real CLI in a subprocess, raw requests (paths not normalised)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from tests.needs import needs

needs("review")

from pipeline.batch import item_id_for_key
from pipeline.cli import main
from tests.review.server import ReviewServer

MUG = item_id_for_key("mug_red.jpg")
JAR = item_id_for_key("jar_gold.jpg")


@pytest.fixture(scope="module")
def shared(review_batch_master, tmp_path_factory):
    """One server for the read-only tests, on a copy of the batch with symlinks leading out."""
    batch = tmp_path_factory.mktemp("served") / "out" / "rb"
    shutil.copytree(review_batch_master, batch)
    outside = batch.parent / "secret.txt"
    outside.write_text("outside the batch")
    (batch.parent / "secret.json").write_text('"outside the batch"')
    os.symlink(outside, batch / MUG / "leak.json")
    os.symlink(batch.parent, batch / "up")
    with ReviewServer(str(batch)) as srv:
        yield srv, batch


@pytest.fixture
def server(review_batch):
    with ReviewServer(str(review_batch)) as srv:
        yield srv


@pytest.mark.parametrize("path", [
    "/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/%2E%2E%2Fsecret.txt", "/files/..%2fsecret.txt",
    "/files//etc/passwd", "/files/%2Fetc%2Fpasswd", f"/files/{MUG}/..%2F..%2Fsecret.txt",
    f"/files/{MUG}/leak.json", "/files/up/secret.json", f"/files/{MUG}%5c..%5c..%5csecret.txt",
    "/files/.hidden.json", f"/files/{MUG}/.x.png",
])
def test_paths_out_of_the_batch_are_refused(shared, path):
    server, _ = shared
    status, _, body = server.get(path)
    assert status in (400, 404), (path, status)
    assert "outside the batch" not in body and "root:" not in body


def test_files_inside_the_batch_are_served_with_their_hash_checked(shared):
    server, review_batch = shared
    data = (review_batch / MUG / "composite.png").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    status, headers, _ = server.get(f"/files/{MUG}/composite.png?sha256={sha}")
    assert status == 200 and headers["content-type"] == "image/png" and "immutable" in headers["cache-control"]
    assert server.get(f"/files/{MUG}/composite.png?sha256=" + "0" * 64)[0] == 409
    status, headers, _ = server.get("/files/report.html")
    assert status == 200 and "sandbox" in headers["content-security-policy"]
    assert "script-src 'self'" in server.get("/")[1]["content-security-policy"]


def test_posts_need_the_session_token_and_a_known_host(shared):
    server, review_batch = shared
    body = {"item_id": JAR, "decision": "rejected", "note": "n", "composite_sha256": None}
    assert server.post("/api/decisions", body, token=None)[0] == 403
    assert server.post("/api/decisions", body, token="guess")[0] == 403
    assert server.request("GET", "/api/batch", headers={"Host": f"evil.example:{server.port}"})[0] == 400
    assert server.request("POST", "/api/decisions", body, headers={"X-Review-Token": server.token,
                                                                   "Origin": "http://evil.example"})[0] == 403
    assert not (review_batch / "decisions.json").exists()
    # With the token, but without the hash of the composite the page showed: refused too.
    assert server.post("/api/decisions", {**body, "decision": "approved"})[0] == 409


def test_a_decision_round_trip_updates_decisions_and_reports(server, review_batch):
    status, _, text = server.get(f"/api/items/{JAR}")
    item = json.loads(text)
    assert status == 200 and item["has_original"] and len(item["composite"]["sha256"]) == 64
    status, _, text = server.post("/api/decisions", {"item_id": JAR, "decision": "approved",
                                                     "note": "ok <b>", "composite_sha256": item["composite"]["sha256"]})
    assert status == 200, text
    entry = json.loads((review_batch / "decisions.json").read_text())["items"][JAR]
    assert entry["decision"] == "approved" and entry["reviewer"] == "tester"
    assert entry["composite_sha256"] == item["composite"]["sha256"]
    report = json.loads((review_batch / "report.json").read_text())
    assert report["decisions"]["items"][JAR]["note"] == "ok <b>"
    html = (review_batch / "report.html").read_text()
    assert '"note": "ok \\u003cb\\u003e"' in html and "ok <b>" not in html
    assert server.get(f"/views/{JAR}/heat.png")[0] == 200
    assert server.get(f"/views/{JAR}/edges.png")[0] == 200
    assert server.get("/api/items/nope")[0] == 404


def test_approve_all_passed_needs_the_confirmed_count(server, review_batch):
    batch = json.loads(server.get("/api/batch")[2])
    passed = [i["id"] for i in batch["items"] if i["outcome"] == "pass"]
    assert server.post("/api/approve-passed", {"count": len(passed) + 1})[0] == 409
    status, _, text = server.post("/api/approve-passed", {"count": len(passed)})
    assert status == 200 and sorted(json.loads(text)["approved"]) == sorted(passed)
    items = json.loads((review_batch / "decisions.json").read_text())["items"]
    assert sorted(items) == sorted(passed) and {e["decision"] for e in items.values()} == {"approved"}


def test_review_cli_refuses_a_folder_that_is_not_a_batch(tmp_path, capsys):
    assert main(["review", str(tmp_path)]) == 2
    assert "no report.json" in capsys.readouterr().err


def test_loopback_detection_and_accepted_host_names():
    from review_server.security import allowed_hosts
    from review_server.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert allowed_hosts("127.0.0.1", 8000) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert "192.168.1.5:8000" in allowed_hosts("192.168.1.5", 8000)
