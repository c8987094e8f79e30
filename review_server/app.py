"""The Starlette app: routes over a :class:`pipeline.review.session.ReviewSession`.

GET  /                                the page (token, reviewer and scope in the HTML, escaped)
GET  /static/<name>                   the page's own assets (from this package)
GET  /api/queue?batch&outcome&decision&rejected_before&q&offset&limit
                                      one page of the queue, counts, batches
GET  /api/changes?since=<revision>&batch
                                      rows changed since (other tabs and reviewers), counts now
GET  /api/product?id=<product>[&version=<version id>]
                                      a product: its versions with their decisions, what is live,
                                      and one version's files, checks and reasons
GET  /files/<batch_id>/<path>         a file inside a batch folder (``?sha256=`` must match when
                                      given); report.html comes with the current decisions
GET  /views/<batch_id>/<item>/edges.png, heat.png?variant=k
POST /api/decisions                   {"product", "version", "decision", "note", "variant", "composite_sha256"}
POST /api/approve-passed              {"count": n, "batch": id | null}: approves the n products
                                      "approve all passed" would, if n is still right
POST /api/fix/<action>, GET /fix/<fix>/<picture>
                                      fixing a cut-out (review_server.fix_routes); the product's
                                      JSON says whether it can be fixed here (``fix``)

Every malformed field is a 4xx with a one-line reason (never a 500); request bodies are limited
to ``MAX_BODY`` while they stream in. Unsafe paths (``..``, encoded or not, absolute paths,
hidden ``.`` names, symlinks out of the batch folder) get 400; absent files 404.
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
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.catalogue.casfile import ConflictError
from pipeline.catalogue.model import DecisionError
from pipeline.catalogue.queue import MAX_PAGE_SIZE, PAGE_SIZE
from pipeline.catalogue.store import CatalogueDamaged, StaleCompositeError, UnknownProduct
from pipeline.errors import UnsafeKeyError
from pipeline.io.storage import safe_key
from pipeline.report.html import embed_decisions
from pipeline.review.fixing import FixDesk
from pipeline.review.publish import sha256_hex
from pipeline.review.session import ReviewSession
from review_server.fix_routes import fix_routes
from review_server.security import SANDBOX_CSP, GuardMiddleware

log = logging.getLogger(__name__)

CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                 ".json": "application/json", ".csv": "text/csv; charset=utf-8", ".html": "text/html; charset=utf-8"}
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
MAX_BODY = 1 << 20  # a decision is < 5 kB; "approve all passed" sends a count
IMMUTABLE = "private, max-age=31536000, immutable"


def _asset(name: str) -> bytes:
    return resources.files("review_server").joinpath("static", name).read_bytes()


def _static_names() -> frozenset[str]:
    """The page's assets: every .js and .css in static/ (a mode may add its own script)."""
    folder = resources.files("review_server").joinpath("static")
    return frozenset(p.name for p in folder.iterdir() if posixpath.splitext(p.name)[1] in STATIC_TYPES)


def batch_rel_path(raw: str) -> str:
    """A request path inside a batch folder, validated: ``UnsafeKeyError`` for ``..``, absolute
    paths, backslashes, control characters and hidden (``.``) segments."""
    if raw.startswith("/") or "\\" in raw:
        raise UnsafeKeyError(f"absolute or backslashed path: {raw!r}")
    rel = safe_key(raw)
    if any(part.startswith(".") for part in rel.split("/")):
        raise UnsafeKeyError(f"hidden path: {raw!r}")
    return rel


class BadRequest(ValueError):
    """A request the server refuses with a 4xx: ``status`` and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def create_app(session: ReviewSession, *, token: str, hosts: frozenset[str] | None,
               fixes: FixDesk | None = None) -> Starlette:
    """The app for one session; ``hosts`` are the accepted Host headers (None: any, for tests);
    ``fixes``: the fix desk (None: one without photos, the page says how to start with them)."""
    static_names = _static_names()
    fixes = fixes or FixDesk(session, None)
    scope_name = session.batch or session.catalogue.url

    async def page(request: Request) -> Response:
        html = _asset("index.html").decode("utf-8")
        html = (html.replace("{{token}}", escape(token)).replace("{{reviewer}}", escape(session.reviewer))
                .replace("{{scope}}", escape(scope_name)))
        return Response(html, media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in static_names:
            return _error(404, "not found")
        return Response(_asset(name), media_type=STATIC_TYPES[posixpath.splitext(name)[1]])

    async def queue(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            offset = _int(params.get("offset"), 0, "offset", 0, 10**9)
            limit = _int(params.get("limit"), PAGE_SIZE, "limit", 1, MAX_PAGE_SIZE)
            return JSONResponse(await run_in_threadpool(session.queue, params, offset, limit))
        except (ValueError, BadRequest) as exc:
            return _error(getattr(exc, "status", 400), str(exc))

    async def changes(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            since = _int(params.get("since"), 0, "since", 0, 10**12)
            return JSONResponse(await run_in_threadpool(session.changes, since, params))
        except (ValueError, BadRequest) as exc:
            return _error(getattr(exc, "status", 400), str(exc))

    async def product(request: Request) -> Response:
        pid, version = request.query_params.get("id"), request.query_params.get("version")
        if not pid:
            return _error(400, "id (the product) is required")
        try:
            view = await run_in_threadpool(session.product_view, pid, version)
            return JSONResponse({**view, "fix": fixes.availability(view["version"])})
        except UnknownProduct:
            return _error(404, f"no product {pid!r}{f' version {version!r}' if version else ''} here")

    async def files(request: Request) -> Response:
        try:
            home = _segment(request.path_params["home"], "batch")
            rel = batch_rel_path(request.path_params["path"])
        except (UnsafeKeyError, BadRequest) as exc:
            return _error(400, str(exc))
        ext = posixpath.splitext(rel)[1].lower()
        if ext not in CONTENT_TYPES:
            return _error(404, "not a file type this server shows")
        try:
            data = await run_in_threadpool(session.read_file, home, rel)
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
        if rel == "report.html":  # with the decisions as they are now
            block = await run_in_threadpool(session.decisions_block, home)
            updated = embed_decisions(data.decode("utf-8", "replace"), block)
            data = updated.encode("utf-8") if updated is not None else data
        if ext == ".html":  # a report page: its inline script runs sandboxed, in an origin of its own
            headers["Content-Security-Policy"] = SANDBOX_CSP
        return Response(data, media_type=CONTENT_TYPES[ext], headers=headers)

    async def view(request: Request) -> Response:
        kind = request.path_params["kind"]
        try:
            home = _segment(request.path_params["home"], "batch")
            item = _segment(request.path_params["item"], "item")
            variant = _variant_param(request.query_params.get("variant"))
            version = await run_in_threadpool(session.version_at, home, item)
            if kind == "edges.png":
                data = await run_in_threadpool(session.files.edges_png, version)
            elif kind == "heat.png":
                data = await run_in_threadpool(session.files.heat_png, version, variant)
            else:
                return _error(404, "no such view")
        except UnknownProduct:
            return _error(404, "no such version here")
        except (BadRequest, UnsafeKeyError) as exc:
            return _error(400, str(exc))
        except FileNotFoundError as exc:
            return _error(404, f"not available for this item: {exc}")
        except ValueError as exc:  # a picture that cannot be decoded
            return _error(422, f"cannot draw this view: {exc}")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})

    async def decide(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        unknown = set(body) - {"product", "version", "decision", "note", "variant", "composite_sha256"}
        if unknown:
            return _error(400, f"unknown fields: {', '.join(sorted(unknown))}")
        try:
            result = await run_in_threadpool(
                lambda: session.decide(body.get("product"), body.get("version"), body.get("decision"),
                                       note=body.get("note", ""), variant=body.get("variant"),
                                       seen_sha256=body.get("composite_sha256")))
        except UnknownProduct as exc:
            return _error(404, f"no such product or version here: {exc}")
        except StaleCompositeError as exc:
            return _error(409, str(exc))
        except DecisionError as exc:
            return _error(400, str(exc))
        except (ConflictError, CatalogueDamaged, OSError) as exc:
            log.warning("decision not saved: %s", exc)
            return _error(503, f"not saved, the storage did not take it ({type(exc).__name__}); try again")
        return JSONResponse(result)

    async def approve_passed(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        count, batch = body.get("count"), body.get("batch")
        if isinstance(count, bool) or not isinstance(count, int):
            return _error(400, "count must be the number of products the reviewer confirmed")
        if batch is not None and not isinstance(batch, str):
            return _error(400, "batch must be a batch id or null")
        try:
            return JSONResponse(await run_in_threadpool(session.approve_passed, count, {"batch": batch}))
        except DecisionError as exc:
            return _error(409, str(exc))
        except (ConflictError, CatalogueDamaged, OSError) as exc:
            log.warning("approve all passed not saved: %s", exc)
            return _error(503, f"not saved, the storage did not take it ({type(exc).__name__}); try again")
        except ValueError as exc:
            return _error(400, str(exc))

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", page),
        Route("/favicon.ico", no_icon),
        Route("/static/{name}", static),
        Route("/api/queue", queue),
        Route("/api/changes", changes),
        Route("/api/product", product),
        Route("/files/{home}/{path:path}", files),
        Route("/views/{home}/{item}/{kind}", view),
        Route("/api/decisions", decide, methods=["POST"]),
        Route("/api/approve-passed", approve_passed, methods=["POST"]),
        *fix_routes(fixes, _json_body, _error),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, token=token, hosts=hosts)])


def _segment(text: str, what: str) -> str:
    if not text or "/" in text or text.startswith(".") or text != safe_key(text):
        raise BadRequest(400, f"bad {what} name: {text!r}")
    return text


def _int(text: str | None, default: int, name: str, low: int, high: int) -> int:
    if text in (None, ""):
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(400, f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _variant_param(text: str | None) -> int | None:
    if text in (None, "", "null"):
        return None
    if not text.isdigit() or len(text) > 3:
        raise BadRequest(400, f"variant must be a small whole number, got {text!r}")
    return int(text)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, read while it streams in: a body over ``MAX_BODY`` (declared
    or not) is refused with 413 as soon as it is known, without reading the rest."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return _error(415, "send application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return _error(413, f"request too large (limit {MAX_BODY} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return _error(413, f"request too large (limit {MAX_BODY} bytes)")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        return _error(400, "body is not JSON")
    return body if isinstance(body, dict) else _error(400, "body must be a JSON object")
