"""The Starlette app: routes over a :class:`pipeline.review.session.ReviewSession`.

GET  /                      the page (token and reviewer in <meta> tags, escaped)
GET  /static/<name>         the page's own assets (from this package)
GET  /api/batch             items, gate, decisions, publish state
GET  /api/decisions         every decision now (the page polls it: other tabs and reviewers)
GET  /api/items/<id>        one item: files with hashes, variants, logo boxes
GET  /files/<path>          a file inside the batch folder (``?sha256=`` must match when given)
GET  /views/<id>/edges.png  mask outline overlay; /views/<id>/heat.png?variant=k  ΔE00 heat map
POST /api/decisions         {"item_id", "decision", "note", "variant", "composite_sha256"}
POST /api/approve-passed    {"count": n}: approves the n passed undecided items, if n is right

Unsafe paths (``..``, encoded or not, absolute paths, hidden ``.`` names, symlinks out of the
batch folder) get 400; absent files 404.
"""

from __future__ import annotations

import json
import logging
import posixpath
from html import escape
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.errors import UnsafeKeyError
from pipeline.review.decisions import DecisionError
from pipeline.review.publish import sha256_hex
from pipeline.review.session import ReviewSession, StaleCompositeError
from pipeline.io.storage import safe_key
from review_server.security import SANDBOX_CSP, GuardMiddleware

log = logging.getLogger(__name__)

STATIC = ("review.js", "review.css")
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                 ".json": "application/json", ".csv": "text/csv; charset=utf-8", ".html": "text/html; charset=utf-8"}
MAX_BODY = 1 << 20
IMMUTABLE = "private, max-age=31536000, immutable"


def _asset(name: str) -> bytes:
    return resources.files("review_server").joinpath("static", name).read_bytes()


def batch_rel_path(raw: str) -> str:
    """A request path inside the batch folder, validated: ``UnsafeKeyError`` for ``..``, absolute
    paths, backslashes, control characters and hidden (``.``) segments."""
    if raw.startswith("/") or "\\" in raw:
        raise UnsafeKeyError(f"absolute or backslashed path: {raw!r}")
    rel = safe_key(raw)
    if any(part.startswith(".") for part in rel.split("/")):
        raise UnsafeKeyError(f"hidden path: {raw!r}")
    return rel


def create_app(session: ReviewSession, *, token: str, hosts: frozenset[str] | None) -> Starlette:
    """The app for one session; ``hosts`` are the accepted Host headers (None: any, for tests)."""

    async def page(request: Request) -> Response:
        html = _asset("index.html").decode("utf-8")
        html = (html.replace("{{token}}", escape(token)).replace("{{reviewer}}", escape(session.reviewer))
                .replace("{{batch}}", escape(session.folder.batch_id)))
        return Response(html, media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        media = "text/javascript; charset=utf-8" if name.endswith(".js") else "text/css; charset=utf-8"
        return Response(_asset(name), media_type=media)

    async def batch(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(session.batch_view))

    async def decisions(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(session.decisions_view))

    async def item(request: Request) -> Response:
        item_id = request.path_params["item_id"]
        try:
            return JSONResponse(await run_in_threadpool(session.item_view, item_id))
        except KeyError:
            return _error(404, f"no item {item_id!r} in this batch")

    async def files(request: Request) -> Response:
        try:
            rel = batch_rel_path(request.path_params["path"])
        except UnsafeKeyError as exc:
            return _error(400, str(exc))
        ext = posixpath.splitext(rel)[1].lower()
        if ext not in CONTENT_TYPES:
            return _error(404, "not a file type this server shows")
        try:
            data = await run_in_threadpool(session.read_file, rel)
        except UnsafeKeyError as exc:
            return _error(400, str(exc))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return _error(404, "not found")
        want = request.query_params.get("sha256")
        headers = {}
        if want is not None:
            if sha256_hex(data) != want:
                return _error(409, "this file changed since the page loaded; reload")
            headers["Cache-Control"] = IMMUTABLE
        if ext == ".html":  # a report page: its inline script runs sandboxed, in an origin of its own
            headers["Content-Security-Policy"] = SANDBOX_CSP
        return Response(data, media_type=CONTENT_TYPES[ext], headers=headers)

    async def view(request: Request) -> Response:
        item_id, kind = request.path_params["item_id"], request.path_params["kind"]
        try:
            variant = _variant(request.query_params.get("variant"))
            if kind == "edges.png":
                data = await run_in_threadpool(session.edges_png, item_id)
            elif kind == "heat.png":
                data = await run_in_threadpool(session.heat_png, item_id, variant)
            else:
                return _error(404, "no such view")
        except KeyError:
            return _error(404, f"no item {item_id!r} in this batch")
        except (ValueError, UnsafeKeyError) as exc:
            return _error(400, str(exc))
        except FileNotFoundError as exc:
            return _error(404, f"not available for this item: {exc}")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})

    async def decide(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        try:
            result = await run_in_threadpool(
                lambda: session.decide(str(body.get("item_id", "")), body.get("decision"), note=body.get("note") or "",
                                       variant=body.get("variant"), seen_sha256=body.get("composite_sha256")))
        except KeyError:
            return _error(404, f"no item {body.get('item_id')!r} in this batch")
        except StaleCompositeError as exc:
            return _error(409, str(exc))
        except DecisionError as exc:
            return _error(400, str(exc))
        return JSONResponse(result)

    async def approve_passed(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        count = body.get("count")
        if isinstance(count, bool) or not isinstance(count, int):
            return _error(400, "count must be the number of items the reviewer confirmed")
        try:
            return JSONResponse(await run_in_threadpool(session.approve_passed, count))
        except DecisionError as exc:
            return _error(409, str(exc))

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", page),
        Route("/favicon.ico", no_icon),
        Route("/static/{name}", static),
        Route("/api/batch", batch),
        Route("/api/decisions", decisions, methods=["GET"]),
        Route("/api/items/{item_id}", item),
        Route("/files/{path:path}", files),
        Route("/views/{item_id}/{kind}", view),
        Route("/api/decisions", decide, methods=["POST"], name="decide"),
        Route("/api/approve-passed", approve_passed, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, token=token, hosts=hosts)])


def _variant(text: str | None) -> int | None:
    if text in (None, "", "null"):
        return None
    if not text.isdigit():
        raise ValueError(f"variant must be a number, got {text!r}")
    return int(text)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any] | Response:
    if not request.headers.get("content-type", "").startswith("application/json"):
        return _error(415, "send application/json")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _error(413, "request too large")
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "body is not JSON")
    return body if isinstance(body, dict) else _error(400, "body must be a JSON object")
