"""apply_gate: pass/fail from metrics and thresholds, with one readable reason per failed check.

Each reason reads ``"<problem>: <metric label> <value> <op> <threshold>"``, for example
``"colour drift: ΔE00 mean 3.21 > 2.00"``. :data:`CHECKS` is the single list of checks (also used
by the batch report to colour failing metrics); :func:`failed_metric` maps a reason back to the
metric it is about. A metric that is None (no logo regions) is not gated; a NaN metric fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.config import GateConfig
from pipeline.types import Metrics, Verdict


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
        if value is None:
            continue
        value = float(value)
        if math.isnan(value):
            reasons.append(f"invalid metric: {check.label} is NaN")
            continue
        limit = float(getattr(gate, check.threshold))
        if check.fails(value, limit):
            reasons.append(check.reason(value, limit))
    return Verdict(passed=not reasons, reasons=tuple(reasons))


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
