"""Interactive cut-out refinement: a reviewer's "keep" / "remove" clicks fix a mask.

Library only (no web import); the review server is a thin layer over it:

    from pipeline.fix import rerender
    from pipeline.segment.refine import Click, RefineSession, build_refiner
    refiner = build_refiner(config, seg.backend)
    session = RefineSession(refiner, rgb, seg, photo_sha256(data))   # embedding / work image once
    seg = session.add(Click.at("remove", x, y))                      # input-image pixels
    result = rerender(data, seg, name=..., config=config, stages=stages, seed=seed)  # re-gated
    store(session.corrections().to_json())                           # JSON, with the item

and on a rerun, :func:`apply_corrections` (or :func:`pipeline.fix.render_fixed` for the whole item) replays the
stored clicks on the same photo bytes. Clicks are hard constraints, the current mask is the prior,
and edges are matted and decontaminated by :mod:`pipeline.segment.matting`. Backends: classical
(:mod:`.classical`, method chosen by ``bench/eval_fix.py``; also used for ONNX masks) and SAM
(:mod:`.sam`, ``SamPredictor`` with a cached embedding, point prompts and ``mask_input``).
"""

from pipeline.segment.refine.apply import AppliedCorrections, Photo, apply_corrections, build_refiner
from pipeline.segment.refine.classical import ClassicalRefiner
from pipeline.segment.refine.corrections import Click, Corrections, photo_sha256
from pipeline.segment.refine.session import ClickOutsideImage, Refiner, RefineSession

__all__ = ["AppliedCorrections", "ClassicalRefiner", "Click", "ClickOutsideImage", "Corrections", "Photo",
           "RefineSession", "Refiner", "apply_corrections", "build_refiner", "photo_sha256"]
