"""Start the review server for a destination (or one batch of it): bind, print the URL,
optionally open a browser."""

from __future__ import annotations

import getpass
import ipaddress
import logging
import os
import socket
import threading
import webbrowser
from typing import Any

import uvicorn

from pipeline.catalogue.store import Catalogue
from pipeline.io.storage import Bucket, options_for_url
from pipeline.review.fixing import FixDesk
from pipeline.review.folder import open_destination
from pipeline.review.session import ReviewSession
from review_server.app import create_app
from review_server.security import allowed_hosts, new_token

log = logging.getLogger(__name__)


def default_reviewer() -> str:
    """The OS user name (``reviewer`` when it cannot be told)."""
    try:
        return getpass.getuser() or "reviewer"
    except (KeyError, OSError):
        return "reviewer"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def source_bucket(url: str, storage_options: dict[str, Any] | None) -> Bucket:
    """The photos' bucket (``--source``); ``ValueError`` when a local folder is not there."""
    bucket = Bucket(url, options_for_url(url, storage_options))
    if bucket.is_local and not os.path.isdir(bucket.root or "."):
        raise ValueError(f"--source {url} is not a folder: give the folder (or URL) the batch read its photos from")
    return bucket


def page_url(host: str, port: int) -> str:
    name = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{name}:{port}/"


def serve_review(url: str, *, host: str = "127.0.0.1", port: int = 0, reviewer: str | None = None,
                 open_browser: bool = False, storage_options: dict[str, Any] | None = None,
                 rebuild: bool = False, on_ready=None, source: str | None = None) -> None:
    """Serve ``url`` (``DEST``: one queue over every batch; ``DEST/<batch_id>``: that batch's
    products) until interrupted. ``NotABatchError`` (a ValueError) when it is neither.

    ``rebuild``: rebuild the catalogue from the batch folders first (a damaged catalogue).
    ``source``: the folder or URL the batches read their photos from; with it, cut-outs can be
    fixed on the page (the photos are read from it, checked against each item's recorded sha256).
    ``on_ready(url)`` is called once the server accepts connections (the CLI prints the URL)."""
    photos = source_bucket(source, storage_options) if source else None
    dest, batch = open_destination(url, storage_options)
    catalogue = Catalogue(dest)
    if rebuild:
        catalogue.rebuild()
    session = ReviewSession(dest, reviewer or default_reviewer(), batch=batch, catalogue=catalogue)
    if not is_loopback(host):
        log.warning("serving on %s, not loopback: anyone who can reach this address can open the page, see the "
                    "batch and record decisions. Use the default 127.0.0.1 unless you mean it.", host)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    token = new_token()
    fixes = FixDesk(session, photos)
    app = create_app(session, token=token, hosts=allowed_hosts(host, port), fixes=fixes)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    url = page_url(host, port)

    def announce() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if server.started:
            if on_ready is not None:
                on_ready(url)
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=announce, name="review-announce", daemon=True).start()
    server.run(sockets=[sock])
