"""The chip's verdict as a range (report.json's "chip_ranges"): each Loihi figure under both models
of the chip (Davies 2018 Table 2, pre-silicon; silicon-calibrated, SANA-FE's constants), Loihi 2
across the span of its static power, and per profile the single constants that, moved within the
span their sources give, turn the verdict against the FP32 and the INT8 ANN.

A constant's span is the two Loihi models' values of it (chip/hardware.py LOIHI and LOIHI_SANAFE);
for Loihi 2, whose figures are fitted on Intel's PilotNet LIF measurement, the span its other
sources give (chip/hardware.py LOIHI2_SPANS: static power over Intel's three measured runs, a
synaptic op's energy from Hala Point's all-in ceiling to the whole measured dynamic energy, the
per-operation times from Hala Point's throughput per core to Davies 2018's).  The verdict: the
chip's energy per inference below the baseline's (cheaper) or not.  Every figure is recomputed by
chip/cost.py, the profile's constant replaced (`Profile.with_overrides`), the mapping unchanged.
"""
from __future__ import annotations

from dataclasses import replace

from spikefold.chip.cost import VARIANTS, ChipModel
from spikefold.chip.hardware import LOIHI, LOIHI2_SPANS, LOIHI2_STATIC_MW_RANGE, LOIHI_SANAFE
from spikefold.simulate.counters.energy import chip_key

BASELINES = {"ann_45nm": "FP32 ANN", "ann_int8_45nm": "INT8 ANN"}
# the per-operation and static constants whose sources disagree (Davies 2018 vs SANA-FE's file)
SPAN_KEYS = tuple(k for k in LOIHI.figures() if k not in ("core_overlap", "barrier_steps")
                  and LOIHI[k] != LOIHI_SANAFE[k])


def spans(profile) -> dict:
    """{figure: (low, high)} the span each disagreeing constant's sources give, for this profile."""
    if profile.name == "loihi2":
        return dict(LOIHI2_SPANS)
    return {k: tuple(sorted((LOIHI[k], LOIHI_SANAFE[k]))) for k in SPAN_KEYS}


def _priced(model: ChipModel, overrides: dict, v: str) -> float:
    prof = model.m.profile.with_overrides(overrides)
    return ChipModel(model.p, replace(model.m, profile=prof), model.acc).cost(v)["pj"]


def chip_ranges(models: dict, energy: dict) -> dict:
    """report.json's "chip_ranges" from {profile: (profile, mapping, ChipModel)} and the energy rows."""
    out = {"models": {n: p.model for n, (p, _, _) in models.items()}, "loihi_models": {}, "sensitivity": {}}
    loihi = [n for n in models if n in ("loihi", "loihi_sanafe")]
    for v in VARIANTS:
        pj = [energy[chip_key(n, v)]["pj"] for n in loihi]
        out["loihi_models"][v] = {"pj": [min(pj), max(pj)], **{
            b: [min(pj) / energy[b]["pj"], max(pj) / energy[b]["pj"]] for b in BASELINES}}
    if "loihi2" in models:
        m = models["loihi2"][2]
        lo, hi = LOIHI2_STATIC_MW_RANGE
        out["loihi2_static"] = {"mw": [lo, hi], "source": "Intel's measured idle power over three runs of "
                                "lava-dl's PilotNet LIF benchmark on one Loihi 2", **{
            v: {"pj": [_priced(m, {"static_mw_per_chip": lo}, v), _priced(m, {"static_mw_per_chip": hi}, v)]}
            for v in VARIANTS}}
        for v in VARIANTS:
            s = out["loihi2_static"][v]
            s.update({b: [e / energy[b]["pj"] for e in s["pj"]] for b in BASELINES})
    for name, (profile, _, model) in models.items():
        out["sensitivity"][name] = {v: _sensitivity(model, profile, energy, v) for v in VARIANTS}
    return out


def _sensitivity(model: ChipModel, profile, energy: dict, v: str) -> dict:
    """{baseline: {"cheaper": the verdict at the profile's figures, "turns": [(figure, value, ratio)]}}:
    the single constants that, at an end of their span, turn the verdict."""
    base = energy[chip_key(profile.name, v)]["pj"]
    ends = {(k, x): _priced(model, {k: x}, v) for k, span in spans(profile).items() for x in span
            if x != profile[k]}
    out = {}
    for b in BASELINES:
        target = energy[b]["pj"]
        turns = [(k, x, e / target) for (k, x), e in ends.items() if (e < target) != (base < target)]
        out[b] = {"cheaper": base < target, "ratio": base / target, "turns": turns}
    return out
