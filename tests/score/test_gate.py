from __future__ import annotations

import dataclasses
import math

import pytest
from pydantic import ValidationError

from pipeline.config import GateConfig, load_config
from pipeline.score import CHECKS, CutoutSignals, apply_gate, failed_metric
from pipeline.score.cutout import CONFIDENCE_LIMITS, cutout_confidence
from pipeline.types import Metrics, Verdict

GOOD = Metrics(delta_e00_mean=0.5, delta_e00_p95=1.2, ssim=0.99, logo_ssim_min=0.97, expansion=0.001, halo=0.4)
# Explicit limits (not the defaults, which bench/gate_fit.py refits): the reasons below quote them.
GATE = GateConfig(cutout_edge_off_max=0.25, cutout_base_off_max=0.20, cutout_backdrop_in_max=0.30,
                  cutout_product_out_max=0.70, cutout_cut_through_max=0.012, cutout_continues_out_max=0.012,
                  cutout_mirror_max=0.02, cutout_backdrop_gap_max=0.15, cutout_panel_hole_max=0.02,
                  cutout_unstable_max=0.03)


def test_good_metrics_pass():
    v = apply_gate(GOOD, GATE)
    assert isinstance(v, Verdict) and v.passed and v.reasons == () and v.label == "pass"


def test_reason_text_names_metric_value_and_threshold():
    v = apply_gate(dataclasses.replace(GOOD, delta_e00_mean=3.2149), GATE)
    assert not v.passed and v.label == "fail"
    assert v.reasons == ("colour drift: ΔE00 mean 3.21 > 2.00",)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("delta_e00_p95", 7.8, "colour drift: ΔE00 p95 7.80 > 5.00"),
        ("ssim", 0.912, "detail loss: SSIM 0.912 < 0.950"),
        ("logo_ssim_min", 0.8123, "logo damage: logo SSIM 0.812 < 0.900"),
        ("expansion", 0.041, "product grew into the scene: expansion 0.041 > 0.008"),
        ("halo", 4.2, "edge halo: halo ΔE00 4.20 > 3.00"),
        ("cutout_edge_off", 0.31, "cut-out: outline off any edge 31% > 25%"),
        ("cutout_base_off", 0.5, "cut-out: base outline off any edge 50% > 20%"),
        ("cutout_backdrop_in", 0.5, "cut-out: backdrop inside the outline 50% > 30%"),
        ("cutout_product_out", 0.8, "cut-out: product outside the outline 80% > 70%"),
        ("cutout_cut_through", 0.05, "cut-out: outline cutting through the product 5.0% > 1.2%"),
        ("cutout_continues_out", 0.03, "cut-out: outline the product continues past 3.0% > 1.2%"),
        ("cutout_mirror", 0.05, "cut-out: mirror image kept under the base 5.0% > 2.0%"),
        ("cutout_backdrop_gap", 0.2, "cut-out: backdrop filling a gap 20.0% > 15.0%"),
        ("cutout_panel_hole", 0.04, "cut-out: panel cut out as a hole 4.0% > 2.0%"),
        ("cutout_disagreement", 0.2, "cut-out: segmenters disagree on 20.0% > 10.0%"),
        ("cutout_unstable", 0.115, "cut-out: cut-out changing when cut again 11.5% > 3.0%"),
        ("composition_frame_cut", 0.3, "product cut by the frame: frame along the product 30.0% > 3.0%"),
        ("scene_lightness", 0.3, "black frame: backdrop L* 0.3 < 4.0"),
        ("scene_detail", 0.2, "flat frame: backdrop L* range 0.20 < 1.00"),
        ("scene_noise", 25.0, "noise frame: backdrop pixel noise L* 25.00 > 6.00"),
        ("scene_blotch", 12.5, "noise frame: backdrop blotchy colour noise ΔE76 12.50 > 3.00"),
        ("scene_extra_object", 0.061, "second object in the scene: foreign region 6.10% > 0.15%"),
        ("scene_palette_de", 41.0, "backdrop ignores the theme: palette ΔE76 41.0 > 30.0"),
        ("scene_contact", 0.001, "floating product: contact darkening 0.001 < 0.080"),
    ],
)
def test_each_check_fails_with_its_reason(field, value, expected):
    v = apply_gate(dataclasses.replace(GOOD, **{field: value}), GATE)
    assert v.reasons == (expected,)
    assert failed_metric(expected) == field


def test_all_failures_reported_in_check_order():
    bad = Metrics(delta_e00_mean=9, delta_e00_p95=20, ssim=0.5, logo_ssim_min=0.1, expansion=0.5, halo=30,
                  cutout_edge_off=0.9, cutout_base_off=0.9, cutout_backdrop_in=0.9, cutout_product_out=0.9, cutout_cut_through=0.5, cutout_continues_out=0.5,
                  cutout_mirror=0.5, cutout_backdrop_gap=0.9, cutout_panel_hole=0.5,
                  cutout_disagreement=0.9, cutout_unstable=0.5, cutout_confidence=0.0, composition_frame_cut=0.5,
                  scene_lightness=0.0, scene_detail=0.0, scene_noise=40.0, scene_blotch=40.0, scene_extra_object=0.5,
                  scene_palette_de=80.0, scene_contact=0.0)
    v = apply_gate(bad, GATE)
    # The combined cut-out confidence is not repeated once a single cut-out signal names the problem.
    assert [failed_metric(r) for r in v.reasons] == [c.metric for c in CHECKS if c.metric != "cutout_confidence"]


def test_cutout_confidence_alone_fails_when_signals_add_up():
    # 0.25 / 0.25 and 0.25 / 0.30: each under its limit, together exp(-ln2 (1 + 0.694)) = 0.31.
    v = apply_gate(dataclasses.replace(GOOD, cutout_edge_off=0.25, cutout_backdrop_in=0.25,
                                       cutout_confidence=0.99), GATE)
    assert v.reasons == ("cut-out: confidence 0.31 < 0.50",)


def test_cutout_confidence_follows_the_configured_limits():
    # Issue 17, bug 2: the confidence's scales were copies of the default limits, so raising
    # cutout_edge_off_max to 0.5 still failed an edge_off of 0.35 as "confidence 0.26 < 0.50".
    metrics = dataclasses.replace(GOOD, cutout_edge_off=0.35, cutout_base_off=0.0, cutout_backdrop_in=0.0,
                                  cutout_product_out=0.0, cutout_cut_through=0.0, cutout_continues_out=0.0,
                                  cutout_confidence=0.26)
    assert not apply_gate(metrics, GATE).passed
    loose = GateConfig(cutout_edge_off_max=0.5)
    v = apply_gate(metrics, loose)
    assert v.passed, v.reasons
    # One signal at its (configured) limit gives exactly 0.5.
    assert cutout_confidence({"cutout_edge_off": 0.5}, loose) == pytest.approx(0.5)
    signals = CutoutSignals(edge_off=0.35, base_off=0.0, backdrop_in=0.0, product_out=0.0)
    assert signals.confidence(loose) == pytest.approx(math.exp(-math.log(2) * 0.49))
    assert signals.as_metrics(loose)["cutout_confidence"] > loose.cutout_confidence_min


def test_the_second_look_is_judged_by_its_own_limit_not_in_the_confidence():
    # cutout_unstable near its limit beside another signal at 70% of its own: the confidence is that
    # other signal's alone (exp(-ln2 * 0.49) = 0.71), so the cut-out passes; over its limit it fails.
    gate = GateConfig(cutout_edge_off_max=0.5, cutout_unstable_max=0.03)
    signals = CutoutSignals(edge_off=0.35, base_off=0.0, backdrop_in=0.0, product_out=0.0)
    near = signals.with_stability(0.029).as_metrics(gate)
    assert near["cutout_unstable"] == pytest.approx(0.029)
    assert near["cutout_confidence"] == pytest.approx(signals.confidence(gate))
    v = apply_gate(dataclasses.replace(GOOD, **near), gate)
    assert v.passed, v.reasons
    over = apply_gate(dataclasses.replace(GOOD, **signals.with_stability(0.05).as_metrics(gate)), gate)
    assert [failed_metric(r) for r in over.reasons] == ["cutout_unstable"]


@pytest.mark.parametrize(("field", "value"), [("ssim_min", 7), ("logo_ssim_min", -0.1), ("delta_e00_mean_max", -1),
                                              ("cutout_edge_off_max", 1.5), ("scene_lightness_min", 120),
                                              ("scene_palette_de_max", 500), ("expansion_max", -0.01),
                                              ("composition_frame_cut_max", 2), ("scene_contact_min", 3)])
def test_gate_limits_out_of_their_range_are_config_errors(field, value, tmp_path):
    with pytest.raises(ValidationError):
        GateConfig(**{field: value})
    path = tmp_path / "bad.yaml"
    path.write_text(f"score:\n  gate:\n    {field}: {value}\n")
    with pytest.raises(ValueError, match=f"score.gate.{field}"):
        load_config(path)


def test_threshold_values_on_the_limit_pass():
    edge = Metrics(
        delta_e00_mean=GATE.delta_e00_mean_max,
        delta_e00_p95=GATE.delta_e00_p95_max,
        ssim=GATE.ssim_min,
        logo_ssim_min=GATE.logo_ssim_min,
        expansion=GATE.expansion_max,
        halo=GATE.halo_max,
    )
    assert apply_gate(edge, GATE).passed


def test_missing_logo_metric_is_not_gated():
    assert apply_gate(dataclasses.replace(GOOD, logo_ssim_min=None), GATE).passed


def test_nan_metric_fails_with_reason():
    v = apply_gate(dataclasses.replace(GOOD, ssim=float("nan")), GATE)
    assert not v.passed
    assert v.reasons == ("invalid metric: SSIM is NaN",)
    assert failed_metric(v.reasons[0]) == "ssim"


def test_a_nan_metric_does_not_hide_the_checks_after_it():
    v = apply_gate(dataclasses.replace(GOOD, delta_e00_mean=float("nan"), halo=4.2), GATE)
    assert v.reasons == ("invalid metric: ΔE00 mean is NaN", "edge halo: halo ΔE00 4.20 > 3.00")
    assert [failed_metric(r) for r in v.reasons] == ["delta_e00_mean", "halo"]  # the report colours both


def test_cutout_confidence_is_gated_when_every_signal_is_present():
    # A segmenter that reports all ten signals (the fused one adds its disagreement): each under its
    # limit, together they add up to a failing confidence, as with fewer signals.
    signals = {"cutout_edge_off": 0.2, "cutout_base_off": 0.1, "cutout_backdrop_in": 0.2, "cutout_product_out": 0.1,
               "cutout_cut_through": 0.005, "cutout_continues_out": 0.005, "cutout_mirror": 0.01,
               "cutout_backdrop_gap": 0.05, "cutout_panel_hole": 0.01, "cutout_disagreement": 0.05}
    assert set(signals) == {f"cutout_{name}" for name in CONFIDENCE_LIMITS}
    v = apply_gate(dataclasses.replace(GOOD, **signals, cutout_confidence=0.99), GATE)
    assert len(v.reasons) == 1 and v.reasons[0].startswith("cut-out: confidence "), v.reasons


def test_custom_gate_thresholds_are_used():
    strict = GateConfig(delta_e00_mean_max=0.1)
    assert apply_gate(GOOD, strict).reasons == ("colour drift: ΔE00 mean 0.50 > 0.10",)


def test_failed_metric_unknown_text():
    assert failed_metric("something else") is None
    assert failed_metric("odd: thing 1 > 2") is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="metrics must be a Metrics"):
        apply_gate({"ssim": 1.0}, GATE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gate must be a GateConfig"):
        apply_gate(GOOD, {"ssim_min": 0.9})  # type: ignore[arg-type]
