"""Gate reasons in words a shop person understands, plus what to do: the one place they are written.

Every check of the gate (:data:`pipeline.score.gate.CHECKS`, keyed by its metric name) has an
:class:`Explanation`: what went wrong, a plain name for the measurement, and what to do. A reason
such as ``"cut-out: base outline off any edge 31% > 20%"`` becomes

    Part of the floor shadow was kept as product (base outline off the photo's edges: 31%, limit
    20%). Fix the cut-out, or reject.

with the technical line kept beside it. The review page, ``report.html`` and the Prefect summary
all use :func:`explain_reason`; ``tests/score/test_reasons.py`` fails when a check in the gate
has no sentence here (a new check needs its sentence beside it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pipeline.config import GateConfig
from pipeline.score.gate import CHECKS, Check, failed_metric

FIX_OR_REJECT = "Fix the cut-out, or reject."
RERUN_OR_REJECT = "Rerun the item (it gets a new scene), or reject."


@dataclass(frozen=True)
class Explanation:
    """``says``: what went wrong; ``measure``: the measurement in plain words; ``todo``: what to do."""

    says: str
    measure: str
    todo: str


EXPLANATIONS: dict[str, Explanation] = {
    # The cut-out (pipeline.score.cutout): is the product cut out of the photo along its real outline?
    "cutout_edge_off": Explanation(
        "The cut-out line does not follow the product's edges: some backdrop, shadow or reflection was kept "
        "as product", "outline off the photo's edges", FIX_OR_REJECT),
    "cutout_base_off": Explanation(
        "Part of the floor shadow was kept as product", "base outline off the photo's edges", FIX_OR_REJECT),
    "cutout_backdrop_in": Explanation(
        "Some of the white backdrop was cut out with the product: a white fringe along its edge",
        "backdrop just inside the outline", FIX_OR_REJECT),
    "cutout_product_out": Explanation(
        "Part of the product was left behind in the photo: its edge was cut too tight, or a part was dropped",
        "product just outside the outline", FIX_OR_REJECT),
    "cutout_cut_through": Explanation(
        "The cut-out line cuts through the product: a piece of it is missing", "outline cutting through the product",
        FIX_OR_REJECT),
    "cutout_continues_out": Explanation(
        "The product goes on past the cut-out line: a pale part (a rim, a handle, a strap) was dropped",
        "outline the product continues past", FIX_OR_REJECT),
    "cutout_mirror": Explanation(
        "A reflection of the product on a glossy floor was kept under it", "mirror image under the base",
        FIX_OR_REJECT),
    "cutout_backdrop_gap": Explanation(
        "Backdrop seen through a gap in the product, inside a handle or between straps, was kept as product",
        "backdrop filling a gap", FIX_OR_REJECT),
    "cutout_panel_hole": Explanation(
        "A flat part of the product was cut out as if it were a hole", "panel cut out as a hole", FIX_OR_REJECT),
    "cutout_unstable": Explanation(
        "The cut-out is unsure: cut out again at a smaller size, part of it comes out differently",
        "part of the cut-out that changes", "Check the outline (key E); fix the cut-out, or reject."),
    "cutout_disagreement": Explanation(
        "Two ways of cutting out the product disagree about part of it, so the cut-out is uncertain",
        "area the cut-outs disagree on", "Check the outline (key E); fix the cut-out, or reject."),
    "cutout_confidence": Explanation(
        "The cut-out looks unreliable overall: several small signs, none decisive on its own",
        "cut-out confidence", "Check the outline closely (key E); fix the cut-out, or reject."),
    # The product in the output frame.
    "composition_frame_cut": Explanation(
        "The product is cut off by the edge of the picture", "picture's edge along the product's width",
        "Rerun with another size or aspect, or reject."),
    # The scene around the product (pipeline.score.scene_checks).
    "scene_lightness": Explanation("The scene came out black", "backdrop lightness", RERUN_OR_REJECT),
    "scene_detail": Explanation("The scene is one flat colour, with no light or shadow",
                                "backdrop light-to-dark range", RERUN_OR_REJECT),
    "scene_noise": Explanation("The scene is grainy noise instead of a backdrop", "backdrop grain", RERUN_OR_REJECT),
    "scene_blotch": Explanation("The scene has blotchy colour noise", "backdrop colour blotches", RERUN_OR_REJECT),
    "scene_extra_object": Explanation("A second object appeared in the scene", "size of the extra object",
                                      RERUN_OR_REJECT),
    "scene_palette_de": Explanation("The backdrop's colours do not match the chosen theme",
                                    "distance from the theme's colours", "Rerun with the right theme, or reject."),
    "scene_contact": Explanation("The product seems to float: there is no shadow where it stands",
                                 "darkening under the product", RERUN_OR_REJECT),
    # The product's own pixels, compared with the photo.
    "delta_e00_mean": Explanation("The product's colours changed from the photo", "average colour change, ΔE00",
                                  "Rerun in exact mode, or reject."),
    "delta_e00_p95": Explanation("Part of the product changed colour", "colour change on the worst 5%, ΔE00",
                                 "See where with the heat map (key H); rerun in exact mode, or reject."),
    "ssim": Explanation("The product lost fine detail: print, texture or edges look softer than in the photo",
                        "detail kept, SSIM", "Compare side by side (key S); reject if it looks blurred."),
    "logo_ssim_min": Explanation("A logo or text on the product does not match the photo",
                                 "detail kept in the worst logo, SSIM",
                                 "Look at the logo crops; reject if letters are damaged."),
    "expansion": Explanation("The scene painted over the product's outline, so its shape changed",
                             "area grown past the outline", "Compare the outline (key E); reject if the shape changed."),
    "halo": Explanation("A light or dark rim shows around the product", "rim colour change, ΔE00",
                        "Zoom in on the edges; fix the cut-out, or reject."),
}
NAN = Explanation("A check could not be measured", "", "Look at the image yourself; approve only if it looks right.")
UNKNOWN = Explanation("An automatic check failed", "", "Look at the image yourself; approve only if it looks right.")
GROUPS = (("cutout_", "Cut-out"), ("composition_", "Composition"), ("scene_", "Scene"), ("", "Product appearance"))
_BY_METRIC = {c.metric: c for c in CHECKS}


def check_of(reason: str) -> Check | None:
    """The gate check a reason made by :func:`pipeline.score.gate.apply_gate` is about."""
    return _BY_METRIC.get(failed_metric(reason) or "")


def explain_reason(reason: str) -> dict[str, Any]:
    """``{"metric", "sentence", "technical"}`` for one gate reason (any text gets a sentence)."""
    reason = str(reason)
    check = check_of(reason)
    if check is None:
        return {"metric": None, "sentence": f"{UNKNOWN.says} ({reason}). {UNKNOWN.todo}", "technical": reason}
    plain = EXPLANATIONS.get(check.metric)
    if reason.endswith(" is NaN"):
        measure = plain.measure if plain else check.label
        return {"metric": check.metric, "sentence": f"{NAN.says} ({measure}). {NAN.todo}", "technical": reason}
    if plain is None:
        return {"metric": check.metric, "sentence": f"{UNKNOWN.says} ({reason}). {UNKNOWN.todo}",
                "technical": reason}
    figures = reason.split(": ", 1)[1][len(check.label) + 1:]
    value, _, limit = figures.partition(f" {check.op} ")
    measured = f"{plain.measure}: {value}, limit {limit}" if limit else plain.measure
    return {"metric": check.metric, "sentence": f"{plain.says} ({measured}). {plain.todo}", "technical": reason}


def explain_all(reasons: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    return [explain_reason(r) for r in reasons]


def plain_summary(reasons: list[str] | tuple[str, ...]) -> str:
    """The sentences of ``reasons`` in one line (the Prefect summary's "why" column)."""
    return " ".join(e["sentence"] for e in explain_all(reasons))


def gate_rows(metrics: dict[str, Any] | None, gate: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every gate check with a value: its plain name, value and limit as text, whether it fails.

    ``gate``: the batch's gate thresholds (``report["extra"]["gate"]``), over the defaults for a
    report that does not carry them. Grouped: cut-out, composition, scene, product appearance."""
    metrics = metrics or {}
    limits = {**GateConfig().model_dump(), **(gate or {})}
    rows = []
    for check in CHECKS:
        if check.metric not in metrics:
            continue
        value, limit = metrics.get(check.metric), limits.get(check.threshold)
        plain = EXPLANATIONS.get(check.metric)
        failing = False
        if isinstance(value, int | float) and isinstance(limit, int | float):
            failing = math.isnan(value) or check.fails(float(value), float(limit))
        rows.append({
            "metric": check.metric, "group": next(g for prefix, g in GROUPS if check.metric.startswith(prefix)),
            "label": plain.measure if plain else check.label, "technical": check.label,
            "value": _fmt(value, check), "limit": "" if not isinstance(limit, int | float) else
            ("≤ " if check.op == ">" else "≥ ") + format(limit, check.fmt),
            "gated": value is not None, "failing": bool(failing),
        })
    order = {g: i for i, (_, g) in enumerate(GROUPS)}
    return sorted(rows, key=lambda r: order[r["group"]])


def _fmt(value: Any, check: Check) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return format(value, check.fmt) if isinstance(value, int | float) else str(value)
