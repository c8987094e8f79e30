"""apply_gate: pass/fail from metrics and thresholds, with one readable reason per failed check.

Each reason reads ``"<problem>: <metric label> <value> <op> <threshold>"``, for example
``"colour drift: ΔE00 mean 3.21 > 2.00"``. :data:`CHECKS` is the single list of checks (also used
by the batch report to colour failing metrics); :func:`failed_metric` maps a reason back to the
metric it is about. A metric that is None (no logo regions) is not gated; a NaN metric fails.
The cut-out confidence is recomputed from the signals and this gate's limits
(:func:`pipeline.score.cutout.cutout_confidence`), and reported only when no single cut-out signal
already failed (a reason
such as ``"cut-out: outline off any edge 31% > 30%"`` names the signal, its value and limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.config import GateConfig
from pipeline.score.cutout import CONFIDENCE_LIMITS, cutout_confidence
from pipeline.types import Metrics, Verdict

CUTOUT = "cut-out"


@dataclass(frozen=True)
class Check:
    """One gate check: ``metric`` compared with ``getattr(gate, threshold)`` by ``op``."""

    metric: str  # Metrics field
    threshold: str  # GateConfig field
    op: str  # ">" fails when value > threshold (a max); "<" fails when value < threshold (a min)
    problem: str
    label: str
    fmt: str

    def fails(self, value: float, limit: float) -> bool:
        return value > limit if self.op == ">" else value < limit

    def reason(self, value: float, limit: float) -> str:
        return f"{self.problem}: {self.label} {value:{self.fmt}} {self.op} {limit:{self.fmt}}"


CHECKS: tuple[Check, ...] = (
    Check("delta_e00_mean", "delta_e00_mean_max", ">", "colour drift", "ΔE00 mean", ".2f"),
    Check("delta_e00_p95", "delta_e00_p95_max", ">", "colour drift", "ΔE00 p95", ".2f"),
    Check("ssim", "ssim_min", "<", "detail loss", "SSIM", ".3f"),
    Check("logo_ssim_min", "logo_ssim_min", "<", "logo damage", "logo SSIM", ".3f"),
    Check("expansion", "expansion_max", ">", "product grew into the scene", "expansion", ".3f"),
    Check("halo", "halo_max", ">", "edge halo", "halo ΔE00", ".2f"),
    # Cut-out confidence (pipeline.score.cutout): the mask judged from the photo alone.
    Check("cutout_edge_off", "cutout_edge_off_max", ">", CUTOUT, "outline off any edge", ".0%"),
    Check("cutout_base_off", "cutout_base_off_max", ">", CUTOUT, "base outline off any edge", ".0%"),
    Check("cutout_backdrop_in", "cutout_backdrop_in_max", ">", CUTOUT, "backdrop inside the outline", ".0%"),
    Check("cutout_product_out", "cutout_product_out_max", ">", CUTOUT, "product outside the outline", ".0%"),
    Check("cutout_cut_through", "cutout_cut_through_max", ">", CUTOUT, "outline cutting through the product",
          ".1%"),
    Check("cutout_continues_out", "cutout_continues_out_max", ">", CUTOUT, "outline the product continues past",
          ".1%"),
    Check("cutout_mirror", "cutout_mirror_max", ">", CUTOUT, "mirror image kept under the base", ".1%"),
    Check("cutout_backdrop_gap", "cutout_backdrop_gap_max", ">", CUTOUT, "backdrop filling a gap", ".1%"),
    Check("cutout_panel_hole", "cutout_panel_hole_max", ">", CUTOUT, "panel cut out as a hole", ".1%"),
    Check("cutout_disagreement", "cutout_disagreement_max", ">", CUTOUT, "segmenters disagree on", ".1%"),
    Check("cutout_unstable", "cutout_unstable_max", ">", CUTOUT, "cut-out changing when cut again", ".1%"),
    Check("cutout_confidence", "cutout_confidence_min", "<", CUTOUT, "confidence", ".2f"),
    # Composition (pipeline.score.composition): the product in the output frame.
    Check("composition_frame_cut", "composition_frame_cut_max", ">", "product cut by the frame",
          "frame along the product", ".1%"),
    # Scene checks (pipeline.score.scene_checks).
    Check("scene_lightness", "scene_lightness_min", "<", "black frame", "backdrop L*", ".1f"),
    Check("scene_detail", "scene_detail_min", "<", "flat frame", "backdrop L* range", ".2f"),
    Check("scene_noise", "scene_noise_max", ">", "noise frame", "backdrop pixel noise L*", ".2f"),
    Check("scene_blotch", "scene_blotch_max", ">", "noise frame", "backdrop blotchy colour noise ΔE76", ".2f"),
    Check("scene_extra_object", "scene_extra_object_max", ">", "second object in the scene", "foreign region",
          ".2%"),
    Check("scene_palette_de", "scene_palette_de_max", ">", "backdrop ignores the theme", "palette ΔE76", ".1f"),
    Check("scene_contact", "scene_contact_min", "<", "floating product", "contact darkening", ".3f"),
)


def apply_gate(metrics: Metrics, gate: GateConfig) -> Verdict:
    """Verdict(passed, reasons): every check in :data:`CHECKS`, in that order."""
    if not isinstance(metrics, Metrics):
        raise ValueError(f"metrics must be a Metrics, got {type(metrics).__name__}")
    if not isinstance(gate, GateConfig):
        raise ValueError(f"gate must be a GateConfig, got {type(gate).__name__}")
    reasons = []
    for check in CHECKS:
        value = getattr(metrics, check.metric)
        if check.metric == "cutout_confidence":
            value = _confidence(metrics, gate)
        if value is None:
            continue
        value = float(value)
        if math.isnan(value):
            reasons.append(f"invalid metric: {check.label} is NaN")
            continue
        limit = float(getattr(gate, check.threshold))
        if check.metric == "cutout_confidence" and any(r.startswith(CUTOUT + ":") for r in reasons):
            continue  # one signal already names the cut-out's problem
        if check.fails(value, limit):
            reasons.append(check.reason(value, limit))
    return Verdict(passed=not reasons, reasons=tuple(reasons))


def _confidence(metrics: Metrics, gate: GateConfig) -> float | None:
    """The cut-out confidence under ``gate``'s limits, from the signals in ``metrics`` (None when
    there are none, as for a file's own alpha)."""
    values = metrics.as_dict()
    if all(values.get(f"cutout_{name}") is None for name in CONFIDENCE_LIMITS):
        return None
    return cutout_confidence(values, gate)


def failed_metric(reason: str) -> str | None:
    """The Metrics field a reason made by :func:`apply_gate` is about, or None."""
    _, sep, rest = reason.partition(": ")
    if not sep:
        return None
    if rest.endswith(" is NaN"):
        rest = rest[: -len(" is NaN")] + " "
    for check in sorted(CHECKS, key=lambda c: -len(c.label)):
        if rest.startswith(check.label + " "):
            return check.metric
    return None
