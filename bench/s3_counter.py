"""A counting HTTP proxy in front of an S3 endpoint: every request of every process that talks to
it (the CLI, its workers) is forwarded unchanged and counted by kind.

Kinds: ``PUT``, ``COPY`` (a PUT with ``x-amz-copy-source``), ``GET``, ``LIST`` (a GET of a bucket
with ``list-type``/``prefix``/``delimiter``, or of the service), ``HEAD``, ``DELETE``, ``POST``
(multi-object delete, multipart). The Host header is passed through, so SigV4 signatures stay valid.

    with CountingProxy("http://127.0.0.1:8333") as proxy:   # point --endpoint-url at proxy.endpoint
        ...
        print(proxy.counts())                               # {"PUT": 5, "GET": 2, ...}
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlsplit

HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "expect"}
LIST_PARAMS = {"list-type", "prefix", "delimiter", "marker", "continuation-token", "max-keys"}


def request_kind(method: str, path: str, headers) -> str:
    """The S3 operation kind of one request (see the module docstring)."""
    parts = urlsplit(path)
    keyless = parts.path.strip("/").count("/") == 0  # "/" or "/bucket": no object key
    query = parse_qs(parts.query, keep_blank_values=True)
    if method == "GET" and keyless and (not parts.path.strip("/") or LIST_PARAMS & set(query) or not query):
        return "LIST"
    if method == "PUT" and headers.get("x-amz-copy-source"):
        return "COPY"
    return method


class CountingProxy:
    """A threaded proxy on 127.0.0.1 (free port) forwarding to ``upstream``; see the module docstring."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def _count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def __enter__(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy._count(request_kind(self.command, self.path, self.headers))
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in HOP_HEADERS:
                            conn.putheader(name, value)
                    conn.endheaders(body)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_HEADERS and (name.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
