"""The review server over HTTP: the real CLI in a subprocess, raw requests (paths not normalised)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import time

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
    with ReviewServer(str(batch.parent)) as srv:
        yield srv, batch


@pytest.fixture
def server(review_batch):
    with ReviewServer(str(review_batch.parent)) as srv:
        yield srv


def product(srv, key: str) -> dict:
    status, _, text = srv.get(f"/api/product?id=key:{key}")
    assert status == 200, text
    return json.loads(text)


@pytest.mark.parametrize("path", [
    "/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/rb/%2E%2E%2Fsecret.txt", "/files/rb/..%2fsecret.txt",
    "/files//etc/passwd", "/files/rb/%2Fetc%2Fpasswd", f"/files/rb/{MUG}/..%2F..%2Fsecret.txt",
    f"/files/rb/{MUG}/leak.json", "/files/rb/up/secret.json", f"/files/rb/{MUG}%5c..%5c..%5csecret.txt",
    "/files/rb/.hidden.json", f"/files/rb/{MUG}/.x.png", "/files/_ledger/.lock", "/files/..%2F/secret.json",
    "/views/rb/..%2F..%2Fsecret/edges.png",
])
def test_paths_out_of_the_batch_are_refused(shared, path):
    server, _ = shared
    status, _, body = server.get(path)
    assert status in (400, 404), (path, status)
    assert "outside the batch" not in body and "root:" not in body


def test_files_are_served_with_their_hash_checked_and_the_report_with_todays_decisions(shared):
    server, review_batch = shared
    data = (review_batch / MUG / "composite.png").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    status, headers, _ = server.get(f"/files/rb/{MUG}/composite.png?sha256={sha}")
    assert status == 200 and headers["content-type"] == "image/png" and "immutable" in headers["cache-control"]
    assert server.get(f"/files/rb/{MUG}/composite.png?sha256=" + "0" * 64)[0] == 409
    status, headers, text = server.get("/files/rb/report.html")
    assert status == 200 and "sandbox" in headers["content-security-policy"]
    assert 'id="review-decisions">{"counts"' in text
    assert "script-src 'self'" in server.get("/")[1]["content-security-policy"]


def test_posts_need_the_session_token_and_a_known_host(shared):
    server, review_batch = shared
    p = product(server, "jar_gold.jpg")
    body = {"product": "key:jar_gold.jpg", "version": p["version"]["id"], "decision": "rejected", "note": "n"}
    assert server.post("/api/decisions", body, token=None)[0] == 403
    assert server.post("/api/decisions", body, token="guess")[0] == 403
    assert server.request("GET", "/api/queue", headers={"Host": f"evil.example:{server.port}"})[0] == 400
    assert server.request("POST", "/api/decisions", body, headers={"X-Review-Token": server.token,
                                                                   "Origin": "http://evil.example"})[0] == 403
    assert not (review_batch / "_decisions").exists()
    # With the token, but without the hash of the composite the page showed: refused too.
    assert server.post("/api/decisions", {**body, "decision": "approved"})[0] == 409


@pytest.mark.parametrize("field, value, status", [
    ("variant", "abc", 400), ("variant", -1, 400), ("variant", 7, 400), ("variant", [1], 400), ("variant", 1.5, 400),
    ("decision", "maybe", 400), ("decision", None, 400), ("note", 5, 400), ("note", "n" * 5000, 400),
    ("product", 3, 400), ("product", "key:nope", 404), ("version", ["x"], 400), ("version", "rb/nope", 404),
    ("composite_sha256", "zz", 400), ("composite_sha256", {"a": 1}, 400), ("extra", 1, 400),
])
def test_every_malformed_field_is_a_4xx_with_its_reason(shared, field, value, status):
    server, review_batch = shared
    p = product(server, "mug_red.jpg")
    body = {"product": "key:mug_red.jpg", "version": p["version"]["id"], "decision": "rejected",
            "composite_sha256": p["version"]["composite"]["sha256"], field: value}
    got, _, text = server.post("/api/decisions", body)
    assert got == status, text
    assert json.loads(text)["error"]
    assert not (review_batch / "_decisions").exists()


def test_bad_bodies_and_query_strings_are_4xx(shared):
    server, _ = shared
    hdr = {"X-Review-Token": server.token}
    for raw, ctype, status in ((b"[1]", "application/json", 400), (b"{not json", "application/json", 400),
                               (b"[" * 100000, "application/json", 400), (b"{}", "text/plain", 415)):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        conn.request("POST", "/api/decisions", body=raw, headers={**hdr, "Content-Type": ctype})
        assert conn.getresponse().status == status
        conn.close()
    for path in ("/api/queue?offset=-1", "/api/queue?limit=abc", "/api/queue?outcome=maybe",
                 "/api/queue?batch=nope", "/api/changes?since=x", "/api/product", f"/views/rb/{MUG}/heat.png?variant=x"):
        assert server.get(path)[0] == 400, path


def test_the_body_limit_holds_while_the_body_streams_in(shared):
    server, _ = shared
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)  # declared 600 MB: refused at once
    conn.putrequest("POST", "/api/decisions")
    for k, v in {"X-Review-Token": server.token, "Content-Type": "application/json",
                 "Content-Length": str(600 << 20)}.items():
        conn.putheader(k, v)
    conn.endheaders()
    t0 = time.monotonic()
    assert conn.getresponse().status == 413 and time.monotonic() - t0 < 10
    conn.close()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)  # chunked, no length: cut at 1 MiB
    conn.putrequest("POST", "/api/decisions")
    for k, v in {"X-Review-Token": server.token, "Content-Type": "application/json",
                 "Transfer-Encoding": "chunked"}.items():
        conn.putheader(k, v)
    conn.endheaders()
    chunk = b" " * (256 << 10)
    sent = 0
    try:
        for _ in range(64):  # up to 16 MiB; the server answers after the first MiB
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert conn.getresponse().status == 413
    conn.close()


def test_a_decision_round_trip_writes_the_journal_and_the_catalogue(server, review_batch):
    p = product(server, "jar_gold.jpg")
    version = p["version"]
    assert version["has_original"] and len(version["composite"]["sha256"]) == 64 and version["checks"]
    status, _, text = server.post("/api/decisions", {"product": "key:jar_gold.jpg", "version": version["id"],
                                                     "decision": "approved", "note": "ok <b>",
                                                     "composite_sha256": version["composite"]["sha256"]})
    assert status == 200, text
    res = json.loads(text)
    assert res["row"]["state"] == "approved" and res["decision"]["reviewer"] == "tester"
    journal = list((review_batch / "_decisions" / JAR).glob("*.json"))
    assert len(journal) == 1 and json.loads(journal[0].read_text())["note"] == "ok <b>"
    again = product(server, "jar_gold.jpg")
    assert again["history"][0]["decisions"][0]["note"] == "ok <b>"
    text = server.get("/files/rb/report.html")[2]
    assert '"note": "ok \\u003cb\\u003e"' in text and "ok <b>" not in text
    assert server.get(f"/views/rb/{JAR}/edges.png")[0] == 200
    assert server.get("/views/rb/nope/edges.png")[0] == 404


def test_the_queue_pages_filters_and_counts(server):
    status, _, text = server.get("/api/queue?decision=all&limit=3")
    q = json.loads(text)
    assert status == 200 and len(q["rows"]) == 3 and q["total"] == q["counts"]["products"] > 3
    outcomes = [r["outcome"] for r in json.loads(server.get("/api/queue?decision=all")[2])["rows"]]
    assert outcomes == sorted(outcomes, key=["fail", "error", "pass"].index)
    fails = json.loads(server.get("/api/queue?decision=all&outcome=fail")[2])
    assert fails["total"] == q["counts"]["outcome"]["fail"] and {r["outcome"] for r in fails["rows"]} == {"fail"}
    assert json.loads(server.get("/api/queue?decision=all&q=JAR_gold")[2])["total"] == 1
    assert json.loads(server.get("/api/queue?rejected_before=1")[2])["total"] == 0


def test_approve_all_passed_needs_the_confirmed_count(server, review_batch):
    q = json.loads(server.get("/api/queue?decision=all")[2])
    passed = sorted(r["product"] for r in q["rows"] if r["outcome"] == "pass")
    assert q["counts"]["approvable"] == len(passed)
    assert server.post("/api/approve-passed", {"count": len(passed) + 1})[0] == 409
    assert server.post("/api/approve-passed", {"count": "3"})[0] == 400
    status, _, text = server.post("/api/approve-passed", {"count": len(passed)})
    assert status == 200 and json.loads(text)["approved"] == passed
    assert len(list((review_batch / "_decisions").rglob("*.json"))) == len(passed)


def test_review_cli_refuses_a_folder_that_holds_no_batch(tmp_path, capsys):
    assert main(["review", str(tmp_path)]) == 2
    assert "holds no batch" in capsys.readouterr().err


def test_loopback_detection_and_accepted_host_names():
    from review_server.security import allowed_hosts
    from review_server.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert allowed_hosts("127.0.0.1", 8000) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert "192.168.1.5:8000" in allowed_hosts("192.168.1.5", 8000)
