"""Energy per inference (picojoules) under each convention, each naming the network it was
counted on.  45 nm figures from chip/horowitz.py (Horowitz 2014); chip figures from
chip/cost.py on the profiles of chip/hardware.py.

Compute only, the field's usual estimates:
    syops_45nm       (a) network as built (PyTorch, before folding), syops-counter's rules:
                         MACs x 4.6 pJ + ACs x 0.9 pJ (the STAA-SNN paper's Table 7 convention)
    effective_45nm   (b) network as built, NeuroBench's effective synaptic operations:
                         MACs x 4.6 pJ + ACs x 0.9 pJ (neuron updates not counted, as NeuroBench)
    ann_45nm         (d) network as built, its conv and linear layers as an ANN: MACs x 4.6 pJ
    ann_int8_45nm    (d) the same ANN in 8-bit integers: MACs x (0.2 + 0.03) pJ
Memory-aware, as the critics of (a) and (b) ask (Dampfhoffer et al., IEEE TETCI 2023; Lemaire
et al. 2022): each operation also pays its SRAM accesses (sram_pj each, 10 pJ by default: 64-bit
read of an 8 KB array, Horowitz 2014):
    memory_45nm      (e) network as built, NeuroBench's effective counts: an AC reads its weight and
                         reads and writes the target's membrane potential (3 accesses), a MAC reads
                         weight and input (2), every neuron reads and writes its state on every step
                         (2 per update)
    ann_memory_45nm  (e) the ANN: a MAC reads weight and input (2), each output is written once (1)
On the chip (chip/cost.py), dynamic + static + host, per profile:
    loihi_deployed, loihi_streamed, loihi2_deployed, loihi2_streamed
"""
from __future__ import annotations

from spikefold.chip.horowitz import ENERGY_PJ as E

NETWORK_AS_BUILT = "network as built (PyTorch, before folding)"
ANN_NETWORK = "network as built, conv and linear layers as an ANN"
CONVENTIONS = {
    "syops_45nm": ("(a) syops-counter, 45 nm", NETWORK_AS_BUILT),
    "effective_45nm": ("(b) NeuroBench effective, 45 nm", NETWORK_AS_BUILT),
    "memory_45nm": ("(e) memory-aware SNN, 45 nm", NETWORK_AS_BUILT + ", NeuroBench effective counts"),
    "ann_45nm": ("(d) ANN FP32, 45 nm", ANN_NETWORK),
    "ann_int8_45nm": ("(d) ANN INT8, 45 nm", ANN_NETWORK),
    "ann_memory_45nm": ("(e) memory-aware ANN FP32, 45 nm", ANN_NETWORK),
}
CHIP_NETWORK = {"as_deployed": "deployed fixed-point program, as deployed (T + depth steps, reset per sample)",
                "streamed": "deployed fixed-point program, streamed (samples back to back)"}
ANN_BASELINES = ("ann_45nm", "ann_int8_45nm", "ann_memory_45nm")


def network_terms(net: dict, timesteps: int, sram_pj: float = E["sram_8kb_45nm"]) -> dict:
    """{convention: {term label: (fixed pJ, activity-driven pJ)}} for the 45 nm conventions: the
    activity-driven part is what scales with the firing rate (ACs), the fixed part does not."""
    mac, ac = E["mac_45nm"], E["ac_45nm"]
    int8 = E["int8_mult_45nm"] + E["int8_add_45nm"]
    ann_outputs = net["outputs"] / timesteps        # one activation per neuron per inference
    return {
        "syops_45nm": {f"MACs x {mac} pJ": (net["syops_macs"] * mac, 0.0),
                       f"ACs x {ac} pJ": (0.0, net["syops_acs"] * ac)},
        "effective_45nm": {f"MACs x {mac} pJ": (net["nb_macs"] * mac, 0.0),
                           f"ACs x {ac} pJ": (0.0, net["nb_acs"] * ac)},
        "memory_45nm": {f"MACs x ({mac} + 2 x {sram_pj:g}) pJ": (net["nb_macs"] * (mac + 2 * sram_pj), 0.0),
                        f"ACs x ({ac} + 3 x {sram_pj:g}) pJ": (0.0, net["nb_acs"] * (ac + 3 * sram_pj)),
                        f"neuron updates x 2 x {sram_pj:g} pJ": (net["outputs"] * 2 * sram_pj, 0.0)},
        "ann_45nm": {f"MACs x {mac} pJ": (net["ann_macs"] * mac, 0.0)},
        "ann_int8_45nm": {f"MACs x {int8:g} pJ": (net["ann_macs"] * int8, 0.0)},
        "ann_memory_45nm": {f"MACs x ({mac} + 2 x {sram_pj:g}) pJ": (net["ann_macs"] * (mac + 2 * sram_pj), 0.0),
                            f"outputs x {sram_pj:g} pJ": (ann_outputs * sram_pj, 0.0)},
    }


def chip_key(profile: str, variant: str) -> str:
    """The convention key of a chip row: loihi_deployed, loihi2_streamed, ..."""
    return f"{profile}_{'deployed' if variant == 'as_deployed' else variant}"


def energies(net: dict, timesteps: int, chip_costs: dict, sram_pj: float = E["sram_8kb_45nm"]) -> dict:
    """{convention: {"pj", "terms", "label", "network"}}.

    net: simulate.counters.network totals; chip_costs: {(profile name, profile label, variant): ChipModel.cost}."""
    out = {}
    for k, terms in network_terms(net, timesteps, sram_pj).items():
        label, network = CONVENTIONS[k]
        flat = {t: a + b for t, (a, b) in terms.items()}
        out[k] = {"pj": sum(flat.values()), "terms": flat, "label": label, "network": network}
    for (name, label, variant), c in chip_costs.items():
        flat = {f"{part}: {t}": e for part, terms in c["terms"].items() for t, e in terms.items()}
        out[chip_key(name, variant)] = {
            "pj": c["pj"], "terms": flat, "split_pj": c["split_pj"],
            "label": f"(c) {label.split(' (')[0]}, {variant.replace('_', ' ')}", "network": CHIP_NETWORK[variant]}
    return out


def break_even_45nm(terms: dict, target_pj: float, measured_rate: float) -> dict:
    """Rate at which a 45 nm SNN convention's energy equals target_pj (its AC terms scale with the
    rate; syops' neuron ACs are scaled with them, an approximation stated in the report)."""
    fixed = sum(a for a, _ in terms.values())
    var = sum(b for _, b in terms.values())
    if fixed >= target_pj:
        return {"rate": None, "verdict": "never", "silent_pj": fixed}
    if var <= 0 or measured_rate <= 0:
        return {"rate": None, "verdict": "always", "silent_pj": fixed}
    rate = measured_rate * (target_pj - fixed) / var
    return ({"rate": None, "verdict": "always", "silent_pj": fixed} if rate >= 1.0 else
            {"rate": rate, "verdict": "below", "silent_pj": fixed})
