"""Request guards: loopback Host names, a per-session token on every POST, safe response headers.

- Host: only the names the server was started for (127.0.0.1 / localhost / [::1] on its port,
  plus ``--host``), so a page on another origin cannot reach it through DNS rebinding.
- POST: the ``X-Review-Token`` header must carry the session token the page received in its
  HTML; another local page cannot read that HTML (same-origin policy) and so cannot post.
- Every response: a Content-Security-Policy that allows only this origin's scripts, styles and
  images (no inline script), ``nosniff``, no referrer, no framing.
"""

from __future__ import annotations

import contextlib
import secrets
import socket

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

TOKEN_HEADER = "x-review-token"
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# img-src 'self': the report's thumbnails are its items' thumbs.jpg files (pipeline.report.thumbnails)
SANDBOX_CSP = ("sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src 'self' data:")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """Host header values accepted for a server bound to ``host:port``: the loopback names, the
    bound address, and for a wildcard bind this machine's host names and addresses."""
    names = set(LOOPBACK_NAMES)
    if host in ("0.0.0.0", "::"):
        names |= {socket.gethostname(), socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    elif host not in ("127.0.0.1", "::1", "localhost"):
        names.add(host)
    return frozenset(f"[{n}]:{port}" if ":" in n and not n.startswith("[") else f"{n}:{port}" for n in names)


class GuardMiddleware(BaseHTTPMiddleware):
    """Host check, token check on POST, security headers on every response."""

    def __init__(self, app, *, token: str, hosts: frozenset[str] | None = None):
        super().__init__(app)
        self.token = token
        self.hosts = hosts  # None: accept any (tests that talk to the app in-process)

    async def dispatch(self, request: Request, call_next) -> Response:
        host = request.headers.get("host", "")
        if self.hosts is not None and host not in self.hosts:
            return PlainTextResponse("unknown host name", status_code=400)
        if request.method not in ("GET", "HEAD"):
            sent = request.headers.get(TOKEN_HEADER, "")
            if not sent or not secrets.compare_digest(sent, self.token):
                return PlainTextResponse("missing or wrong review token", status_code=403)
            origin = request.headers.get("origin")
            if origin is not None and self.hosts is not None and origin.split("://", 1)[-1] not in self.hosts:
                return PlainTextResponse("cross-origin request refused", status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response
