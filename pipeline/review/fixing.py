"""Fixing a cut-out from the review page: the state the server holds per item, without web code.

A :class:`FixDesk` (one per review server) starts a :class:`FixSession` on the version the page
shows. The session does the expensive per-item work once: the photo read from SOURCE and checked
against the batch's sha256 (:mod:`.fix_inputs`), the segmenter's mask, the refiner's per-photo
context (work image, SAM embedding); the stages are built once per process. Then each click is
one :meth:`pipeline.segment.refine.RefineSession.add` and one :func:`pipeline.fix.rerender` with
the batch's config and seed (placement, control maps, scene, restore, score and gate, the
library's own stages), so the verdict is recomputed, never assumed. Every step's pictures are
kept by its clicks, so undo and reset show what was drawn before at once.

"Save fix" stores the current step as a new version of the product
(:func:`pipeline.catalogue.fixes.add_fix_version`): undecided, signed by the reviewer, with the
stored corrections, the mask and the original in the composite's frame; added only while the
product's newest version is still the one the fix started on (compare-and-swap).

Refusals are :class:`FixError` subclasses with a one-line reason: :class:`NotFixable` (an error
item, no photos, the photo changed), :class:`StaleFix` (the product's newest version changed
since the fix started, or the page shows an older step), :class:`BadClick` (malformed, or off the
photo), :class:`NothingToSave`, :class:`FixGone` (closed or expired).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.catalogue.fixes import StaleVersionError, add_fix_version
from pipeline.catalogue.homes import FIXES_HOME
from pipeline.catalogue.stored_fixes import STORED_FIX_KEY, read_corrections
from pipeline.compose import segment_image
from pipeline.fix import rerender
from pipeline.io.imageio import encode_image, encode_jpeg, encode_png
from pipeline.io.storage import Bucket
from pipeline.review.fix_inputs import FixError, FixInputs, NotFixable, StageCache, load_inputs
from pipeline.review.session import ReviewSession
from pipeline.review.views import mask_edge_overlay, original_in_frame
from pipeline.score.reasons import explain_all, gate_rows
from pipeline.segment.refine import Click, ClickOutsideImage, Corrections, RefineSession
from pipeline.types import ProductResult

log = logging.getLogger(__name__)

MAX_SESSIONS = 6  # fixes open at once (each holds its photo and one segmentation per click: ~8 MB a click at 1 MP)
IDLE_S = 3600.0  # a fix untouched for an hour is closed (its clicks were never saved)
MAX_VIEWS = 40  # rendered steps kept per fix (undo / reset show them without rendering again)
PHOTO_JPEG_QUALITY = 92  # the photo the reviewer clicks on (for display only; clicks are in its pixels)
OUTLINE_LONG_SIDE_PX = 500  # the outline is 1 px wide per this many px of the photo's long side, and at least ...
OUTLINE_MIN_PX = 2  # ... this wide, so it shows when the photo is drawn smaller than it is
FORMAT_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}  # as pipeline.batch.outputs names composites
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}


class StaleFix(FixError):
    """The product moved on since the fix started, or the page shows an older step."""


class BadClick(FixError):
    """A click that is malformed or lies off the photo."""


class NothingToSave(FixError):
    """Save with no click made."""


class FixGone(FixError):
    """No such fix open (closed, saved, or idle too long)."""


@dataclass(frozen=True)
class StepView:
    """One step's pictures and verdict. clicks: the clicks it is the result of; composite: the
    composite's bytes in the batch's output format (what "Save fix" stores); outline: the mask's
    outline on the photo, RGBA PNG in input pixels; ms: refine / render time of the click."""

    clicks: tuple[Click, ...]
    composite: bytes
    composite_sha256: str
    suffix: str
    composite_hw: tuple[int, int]
    outline: bytes
    outline_name: str
    passed: bool
    reasons: tuple[str, ...]
    metrics: dict[str, Any]
    ms: dict[str, float]

    @property
    def composite_name(self) -> str:
        return f"composite-{self.composite_sha256}{self.suffix}"


class FixSession:
    """One version being fixed. ``version``: the version shown (the fix's ``based_on``);
    ``expected_newest``: the product's newest version when the fix started."""

    def __init__(self, fix_id: str, pid: str, version: dict[str, Any], expected_newest: str, inputs: FixInputs,
                 stages_cache: StageCache, gate: dict[str, Any], initial_clicks: tuple[Click, ...] = (),
                 shown_sha256: str | None = None):
        self.id, self.pid, self.version, self.expected_newest = fix_id, pid, version, expected_newest
        self.inputs, self.gate = inputs, gate
        self.lock = threading.Lock()  # one request at a time per fix
        self.touched = time.monotonic()
        config = inputs.config
        self.stages, self.render_lock = stages_cache.stages(config, inputs.config_hash)
        with self.render_lock:
            base = segment_image(inputs.decoded, self.stages.segmenter, config.segment.use_alpha_channel)
        refiner = stages_cache.refiner(config, inputs.config_hash, base.backend)
        self.refine = RefineSession(refiner, inputs.decoded.rgb, base, inputs.photo_sha256)
        for click in initial_clicks:
            self.refine.add(click)
        self.views: OrderedDict[tuple[Click, ...], StepView] = OrderedDict()
        self._result: tuple[tuple[Click, ...], ProductResult] | None = None
        self._photo_jpeg: bytes | None = None
        self.notes = list(inputs.notes)
        first = self.render({"refine": 0.0})
        if shown_sha256 and first.composite_sha256 != shown_sha256:
            self.notes.append("Re-rendered here, the composite differs from the version shown (its config, themes, "
                              "weights or product-scene version changed since): the verdicts below are this server's.")

    # ------------------------------------------------------------------ steps
    def render(self, ms: dict[str, float]) -> StepView:
        """The view of the current step (rendered now unless it was before)."""
        key = tuple(self.refine.clicks)
        if key in self.views:
            self.views.move_to_end(key)
            return self.views[key]
        result = self._rerender()
        config = self.inputs.config
        composite = encode_image(result.composite, config.output.format, config.output.quality)
        mask = self.refine.current.mask
        outline = encode_png(mask_edge_overlay(mask, outline_width(mask.shape)))
        view = StepView(clicks=key, composite=composite, composite_sha256=hashlib.sha256(composite).hexdigest(),
                        suffix=FORMAT_SUFFIX[config.output.format], composite_hw=result.composite.shape[:2],
                        outline=outline, outline_name=f"outline-{hashlib.sha256(outline).hexdigest()[:24]}.png",
                        passed=result.verdict.passed, reasons=tuple(result.verdict.reasons),
                        metrics=result.metrics.as_dict(), ms={**ms, "render": result_ms(result)})
        self.views[key] = view
        while len(self.views) > MAX_VIEWS:
            self.views.popitem(last=False)
        return view

    def _rerender(self) -> ProductResult:
        key = tuple(self.refine.clicks)
        inputs = self.inputs
        with self.render_lock:
            result = rerender(inputs.data, self.refine.current, name=inputs.name, config=inputs.config,
                              stages=self.stages, seed=inputs.seed, sidecar=inputs.sidecar)
        self._result = (key, result)
        return result

    def result(self) -> ProductResult:
        """The full result of the current step (rendered again if a later one replaced it)."""
        key = tuple(self.refine.clicks)
        if self._result is None or self._result[0] != key:
            return self._rerender()
        return self._result[1]

    def click(self, click: Click) -> StepView:
        t0 = time.perf_counter()
        try:
            self.refine.add(click)
        except ClickOutsideImage as exc:
            raise BadClick(str(exc)) from None
        return self.render({"refine": round((time.perf_counter() - t0) * 1000.0, 1)})

    def undo(self) -> StepView:
        self.refine.undo()
        return self.render({"refine": 0.0})

    def reset(self) -> StepView:
        self.refine.reset()
        return self.render({"refine": 0.0})

    def photo_jpeg(self) -> bytes:
        """The photo as decoded (orientation applied, sRGB), JPEG, for the page to click on."""
        if self._photo_jpeg is None:
            self._photo_jpeg = encode_jpeg(self.inputs.decoded.rgb, PHOTO_JPEG_QUALITY)
        return self._photo_jpeg

    def corrections(self, reviewer: str) -> Corrections:
        return self.refine.corrections({"reviewer": reviewer, "based_on": self.version["id"],
                                        "config_hash": self.inputs.config_hash})

    def state(self) -> dict[str, Any]:
        """What the page draws: the photo, the current step's outline and composite, the verdict
        with its reasons in plain words and the gate's checks (this config's limits)."""
        view = self.render({"refine": 0.0})
        h, w = self.inputs.decoded.rgb.shape[:2]
        return {
            "fix": self.id, "product": self.pid, "version": self.version["id"], "step": len(view.clicks),
            "clicks": [c.as_json() for c in view.clicks], "photo": {"name": "photo.jpg", "width": w, "height": h},
            "outline": view.outline_name,
            "composite": {"name": view.composite_name, "sha256": view.composite_sha256,
                          "width": view.composite_hw[1], "height": view.composite_hw[0]},
            "verdict": "pass" if view.passed else "fail", "reasons": explain_all(view.reasons),
            "checks": gate_rows(view.metrics, self.gate), "ms": view.ms, "notes": list(self.notes),
            "refiner": self.refine.refiner.name,
        }

    def picture(self, name: str) -> tuple[bytes, str]:
        """(bytes, media type) of ``photo.jpg``, an ``outline-*.png`` or a ``composite-<sha>.*``
        of a step still kept; ``FileNotFoundError`` otherwise."""
        if name == "photo.jpg":
            return self.photo_jpeg(), "image/jpeg"
        for view in reversed(self.views.values()):
            if name == view.outline_name:
                return view.outline, "image/png"
            if name == view.composite_name:
                return view.composite, MEDIA_TYPES[view.suffix]
        raise FileNotFoundError(name)


def result_ms(result: ProductResult) -> float:
    """The re-render's time (every stage after the segmentation), ms."""
    return round(sum(v for k, v in result.timings_ms.items() if k != "segment"), 1)


def outline_width(hw: tuple[int, int]) -> int:
    return max(OUTLINE_MIN_PX, round(max(hw) / OUTLINE_LONG_SIDE_PX))


def parse_click(body: dict[str, Any]) -> Click:
    """A click from the page's JSON (``kind``, ``points`` [[x, y], ...] in input pixels,
    optional ``radius_px``); :class:`BadClick` naming the problem."""
    try:
        fields = {"kind": body.get("kind"), "points": body.get("points")}
        if body.get("radius_px") is not None:
            fields["radius_px"] = body["radius_px"]
        return Click.from_json(fields)
    except (ValueError, TypeError) as exc:
        raise BadClick(str(exc)) from None


class FixDesk:
    """Every fix open on one review server. Thread-safe (requests come from a thread pool).

    ``review``: the server's :class:`~pipeline.review.session.ReviewSession`; ``source``: the
    bucket the batches read their photos from (None: nothing can be fixed, and the page says why)."""

    def __init__(self, review: ReviewSession, source: Bucket | None, *, stages: StageCache | None = None):
        self.review = review
        self.source = source
        self.stages = stages or StageCache()
        self._sessions: OrderedDict[str, FixSession] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ sessions
    def availability(self, version: dict[str, Any]) -> dict[str, Any]:
        """Whether the page offers "fix cut-out" on ``version`` (a version view), and why not."""
        if version.get("status") != "ok" or not version.get("composite"):
            return {"available": False, "why": "An item without pictures has no cut-out to fix."}
        if self.source is None:
            return {"available": False, "why": "To fix cut-outs, start the review with --source SOURCE "
                                               "(the folder or URL the batch read its photos from)."}
        return {"available": True, "why": ""}

    def start(self, pid: Any, version_id: Any) -> dict[str, Any]:
        """Open a fix of ``version_id`` of product ``pid`` (the newest unless the page shows an
        older one). The photo's segmentation and the first render happen here, once."""
        if not isinstance(pid, str) or not isinstance(version_id, str):
            raise BadClick("product and version must be strings")
        self._expire()
        product, row = self.review.snapshot(pid)
        version = (product or {}).get("versions", {}).get(version_id)
        if product is None or row is None or version is None:
            raise FixGone(f"no product {pid!r} with version {version_id!r} here")
        if version.get("status") != "ok" or not version.get("file"):
            raise NotFixable(f"{version_id} is an error item ({version.get('error') or 'it could not be processed'}): "
                             "it has no cut-out to fix; fix the photo and run the batch again")
        base = batch_version(product, version)
        meta = self.review.files.meta(base)
        inputs = load_inputs(self.source, base, meta)
        clicks = initial_clicks(self.review.dest, product, version, meta, inputs.photo_sha256)
        fix_id = secrets.token_urlsafe(16)
        session = FixSession(fix_id, pid, version, row["version"], inputs, self.stages,
                             inputs.config.score.gate.model_dump(), clicks,
                             shown_sha256=version.get("sha256"))
        with self._lock:
            self._sessions[fix_id] = session
            while len(self._sessions) > MAX_SESSIONS:
                gone, _ = self._sessions.popitem(last=False)
                log.info("fix %s closed: more than %d fixes open", gone, MAX_SESSIONS)
        log.info("fix %s of %s started (%d clicks replayed)", fix_id, version_id, len(clicks))
        return session.state()

    def _get(self, fix_id: Any) -> FixSession:
        with self._lock:
            session = self._sessions.get(fix_id) if isinstance(fix_id, str) else None
            if session is None:
                raise FixGone("this fix is not open any more (saved, closed, or idle too long): press F to start again")
            self._sessions.move_to_end(fix_id)
            session.touched = time.monotonic()
            return session

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for fix_id in [k for k, s in self._sessions.items() if now - s.touched > IDLE_S]:
                del self._sessions[fix_id]

    def _check_fresh(self, session: FixSession) -> None:
        """:class:`StaleFix` when the product's newest version is not the one the fix started on."""
        self.review.refresh()
        _, row = self.review.snapshot(session.pid)
        if row is None or row["version"] != session.expected_newest:
            raise StaleFix(f"{session.pid} changed since this fix started (its newest version is now "
                           f"{row['version'] if row else 'gone'}): leave fix mode and look at it again")

    # ------------------------------------------------------------------ steps
    def click(self, fix_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        click = parse_click(body)
        session = self._get(fix_id)
        with session.lock:
            self._check_fresh(session)
            session.click(click)
            return session.state()

    def undo(self, fix_id: Any) -> dict[str, Any]:
        session = self._get(fix_id)
        with session.lock:
            session.undo()
            return session.state()

    def reset(self, fix_id: Any) -> dict[str, Any]:
        session = self._get(fix_id)
        with session.lock:
            session.reset()
            return session.state()

    def close(self, fix_id: Any) -> dict[str, Any]:
        with self._lock:
            closed = self._sessions.pop(fix_id, None) if isinstance(fix_id, str) else None
        return {"closed": closed is not None}

    def picture(self, fix_id: Any, name: str) -> tuple[bytes, str]:
        session = self._get(fix_id)
        with session.lock:
            return session.picture(name)

    # ------------------------------------------------------------------ saving
    def save(self, fix_id: Any, seen_sha256: Any) -> dict[str, Any]:
        """Store the current step as the product's new version (undecided, signed by the
        reviewer); ``seen_sha256``: the composite the page shows, which must be the current one.
        Returns {"version": its id, "row", "revision"}; the fix is closed."""
        session = self._get(fix_id)
        with session.lock:
            if not session.refine.clicks:
                raise NothingToSave("nothing to save: mark what is product (K) or backdrop (X) first")
            view = session.render({"refine": 0.0})
            if seen_sha256 != view.composite_sha256:
                raise StaleFix("the composite on the page is not the current step's: wait for it to draw, then save")
            self._check_fresh(session)
            result = session.result()
            reviewer = self.review.reviewer
            corrections = session.corrections(reviewer)
            files = {"mask.png": encode_png(result.segmentation.mask.astype(np.uint8) * 255),
                     "original.png": encode_png(original_in_frame(result.decoded.rgb, result.placed))}
            meta = fix_meta(session, result, view, reviewer)
            try:
                version = add_fix_version(
                    self.review.catalogue, session.pid, based_on=session.version["id"], composite=view.composite,
                    suffix=view.suffix, reviewer=reviewer, verdict="pass" if view.passed else "fail",
                    reasons=view.reasons, meta=meta, corrections=corrections.to_json(), files=files,
                    expect_newest=session.expected_newest)
            except StaleVersionError as exc:
                raise StaleFix(str(exc)) from None
            out = self.review.put_product(session.pid, self.review.catalogue.product(session.pid))
        self.close(fix_id)
        log.info("fix of %s saved by %s as %s (%s)", session.version["id"], reviewer, version["id"],
                 "pass" if view.passed else "fail")
        return {"version": version["id"], **out}


def fix_meta(session: FixSession, result: ProductResult, view: StepView, reviewer: str) -> dict[str, Any]:
    """The fix version's meta.json, read like a batch item's by the page (metrics, placement,
    logo boxes, seed, config) plus what was fixed."""
    inputs = session.inputs
    return {
        "content_sha256": inputs.photo_sha256, "config_hash": inputs.config_hash,
        "config": inputs.config.model_dump(mode="json"), "verdict": "pass" if view.passed else "fail",
        "reasons": list(view.reasons), "metrics": view.metrics, "timings_ms": result.timings_ms,
        **result.provenance,
        "fixed": {"based_on": session.version["id"], "reviewer": reviewer, "clicks": len(view.clicks),
                  "refiner": session.refine.refiner.name, "refiner_version": session.refine.refiner.version},
    }


def batch_version(product: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """The batch version a version was made from: itself, or what a fix was based on, back to a
    batch (:class:`NotFixable` when that chain is broken)."""
    seen = set()
    while version.get("origin") == "fix" or version.get("home") == FIXES_HOME:
        seen.add(version["id"])
        based = product.get("versions", {}).get(version.get("based_on"))
        if based is None or based["id"] in seen:
            raise NotFixable(f"{version['id']} was fixed from a version this catalogue no longer has")
        version = based
    return version


def initial_clicks(dest: Bucket, product: dict[str, Any], version: dict[str, Any], meta: dict[str, Any],
                   sha256: str) -> tuple[Click, ...]:
    """The clicks behind ``version``'s cut-out, replayed when a fix starts on it: a fix's own
    corrections, or those of the fix a rerun replayed (``meta.json``'s ``segment_info.stored_fix``);
    none for a plain batch version, or when they were made on other photo bytes."""
    source = version
    if version.get("origin") != "fix":
        info = meta.get("segment_info")
        stored = info.get(STORED_FIX_KEY) if isinstance(info, dict) else None
        fix_id = stored.get("version") if isinstance(stored, dict) and stored.get("applied") else None
        source = product.get("versions", {}).get(fix_id) if fix_id else None
    if source is None:
        return ()
    corrections = read_corrections(dest, source)
    if corrections is None or corrections.photo_sha256 != sha256:
        return ()
    return corrections.clicks


__all__ = ["BadClick", "FixDesk", "FixError", "FixGone", "FixSession", "NotFixable", "NothingToSave", "StaleFix"]
