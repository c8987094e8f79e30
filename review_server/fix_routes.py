"""The "fix cut-out" routes: a thin layer over :class:`pipeline.review.fixing.FixDesk`.

POST /api/fix/start   {"product", "version"}           open a fix of the version the page shows
POST /api/fix/click   {"fix", "kind": "keep"|"remove", "points": [[x, y], ...], "radius_px"}
                                                       one click or brush stroke, in the photo's pixels
POST /api/fix/undo    {"fix"}    POST /api/fix/reset {"fix"}    POST /api/fix/close {"fix"}
POST /api/fix/save    {"fix", "composite_sha256"}      store the current step as a new version
GET  /fix/<fix>/<name>                                 photo.jpg, outline-<hash>.png, composite-<sha256>.<ext>

Each POST but close and save answers the fix's state: the step, the clicks, the picture names, the
verdict with its reasons in plain words and the gate's checks. Refusals are 4xx with a one-line
reason, never 500: a malformed or off-photo click or nothing to save 400, a fix not open 404, an
error item / no photos / a changed photo 409, a product whose newest version changed since the
fix started (compare-and-swap) 409, a photo the stages cannot re-render 422, storage that did not
take the save 503. The same token, Host and CSP rules as every route (review_server.security).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.catalogue.casfile import ConflictError
from pipeline.catalogue.store import CatalogueDamaged
from pipeline.errors import PipelineError
from pipeline.review.fixing import BadClick, FixDesk, FixError, FixGone, NothingToSave

log = logging.getLogger(__name__)

PICTURE_NAME = re.compile(r"photo\.jpg|outline-[0-9a-f]{24}\.png|composite-[0-9a-f]{64}\.(?:png|jpg|webp)")
FIX_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
FIELDS = {"start": {"product", "version"}, "click": {"fix", "kind", "points", "radius_px"}, "undo": {"fix"},
          "reset": {"fix"}, "close": {"fix"}, "save": {"fix", "composite_sha256"}}
IMMUTABLE = "private, max-age=31536000, immutable"  # every picture name is new for new content


def status_of(exc: FixError) -> int:
    if isinstance(exc, BadClick | NothingToSave):
        return 400
    if isinstance(exc, FixGone):
        return 404
    return 409  # NotFixable, StaleFix


def fix_routes(desk: FixDesk, json_body: Callable, error: Callable[[int, str], JSONResponse]) -> list[Route]:
    """The routes; ``json_body`` reads a request's JSON object (or answers the 4xx), ``error``
    makes the one-line error response (both from :mod:`review_server.app`)."""

    def call(action: str, body: dict[str, Any]) -> Any:
        if action == "start":
            return desk.start(body.get("product"), body.get("version"))
        if action == "click":
            return desk.click(body.get("fix"), body)
        if action == "save":
            return desk.save(body.get("fix"), body.get("composite_sha256"))
        return getattr(desk, action)(body.get("fix"))

    async def post(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in FIELDS:
            return error(404, "no such fix action")
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        unknown = set(body) - FIELDS[action]
        if unknown:
            return error(400, f"unknown fields: {', '.join(sorted(unknown))}")
        try:
            return JSONResponse(await run_in_threadpool(call, action, body))
        except FixError as exc:
            return error(status_of(exc), str(exc))
        except (PipelineError, ValueError) as exc:  # the stages refused this photo
            return error(422, f"cannot re-render this item: {' '.join(str(exc).split())}")
        except (ConflictError, CatalogueDamaged, OSError) as exc:
            log.warning("fix %s not done: %s", action, exc)
            return error(503, f"not saved, the storage did not take it ({type(exc).__name__}); try again")

    async def picture(request: Request) -> Response:
        fix_id, name = request.path_params["fix"], request.path_params["name"]
        if not FIX_ID.fullmatch(fix_id) or not PICTURE_NAME.fullmatch(name):
            return error(404, "not found")
        try:
            data, media = await run_in_threadpool(desk.picture, fix_id, name)
        except (FixGone, FileNotFoundError):
            return error(404, "not found (the fix was closed, or this step is no longer kept)")
        return Response(data, media_type=media, headers={"Cache-Control": IMMUTABLE})

    return [Route("/api/fix/{action}", post, methods=["POST"]), Route("/fix/{fix}/{name}", picture)]
