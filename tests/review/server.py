"""A review server in a subprocess (the real CLI), on a free port, stopped by its PID."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.flows.servers import stop_process

ROOT = Path(__file__).resolve().parents[2]


class ReviewServer:
    """``product-scene review BATCH`` as a subprocess; ``url``, ``port``, ``token`` once started."""

    def __init__(self, batch: str, *extra: str, reviewer: str = "tester", env: dict[str, str] | None = None):
        self.argv = [sys.executable, "-m", "pipeline.cli", "review", batch, "--reviewer", reviewer, *extra]
        self.env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> ReviewServer:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                     cwd=ROOT, text=True)
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and not line:
            line = self.proc.stdout.readline().strip()
            if self.proc.poll() is not None:
                break
        if not line.startswith("http://"):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.__exit__()
            raise RuntimeError(f"review server did not start: {line!r} {err[-2000:]}")
        self.url = line
        self.host, self.port = urlsplit(line).hostname, urlsplit(line).port
        self.token = re.search(r'name="review-token" content="([^"]+)"', self.get("/")[2]).group(1)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.proc)

    def request(self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], str]:
        """A raw request (the path is sent exactly as given, not normalised)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text

    def get(self, path: str, **kw) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: object, token: str | None = "session") -> tuple[int, dict[str, str], str]:
        headers = {} if token is None else {"X-Review-Token": self.token if token == "session" else token}
        return self.request("POST", path, body, headers)
