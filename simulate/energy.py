"""Energy per inference (picojoules) under each convention, each naming the network it was
counted on; constants from simulate.constants (ENERGY_PJ, with their sources).

    syops_45nm       (a) network as built (PyTorch, before folding), syops-counter's rules:
                         MACs x 4.6 pJ + ACs x 0.9 pJ (the STAA-SNN paper's Table 7 convention)
    effective_45nm   (b) network as built, NeuroBench's effective synaptic operations:
                         MACs x 4.6 pJ + ACs x 0.9 pJ (neuron updates not counted, as NeuroBench)
    loihi_deployed   (c) the deployed fixed-point program as deploy/to_lava.py runs it
    loihi_streamed   (c) the same program, samples back to back (see simulate/ops.py)
                         synaptic events x 23.6 pJ, active / inactive neuron updates x 81 / 52 pJ
                         (Loihi, Davies et al. 2018), plus the host's first layer priced as 45 nm
                         FP32 MACs (4.6 pJ): an assumption, labelled; the host is not a Loihi figure
    ann_45nm         (d) network as built, its conv and linear layers as a non-spiking network:
                         dense MACs x 4.6 pJ
"""
from __future__ import annotations

from simulate.constants import ENERGY_PJ as E

NETWORK_AS_BUILT = "network as built (PyTorch, before folding)"
CONVENTIONS = {
    "syops_45nm": ("(a) syops-counter, 45 nm", NETWORK_AS_BUILT),
    "effective_45nm": ("(b) NeuroBench effective, 45 nm", NETWORK_AS_BUILT),
    "loihi_deployed": ("(c) Loihi, as deployed", "deployed fixed-point program (T + depth steps, reset per sample)"),
    "loihi_streamed": ("(c) Loihi, streamed", "deployed fixed-point program (samples back to back)"),
    "ann_45nm": ("(d) ANN, 45 nm", "network as built, conv and linear layers as an ANN"),
}


def _chip(c: dict, host_macs: float) -> dict:
    return {f"synaptic events x {E['loihi_synop']} pJ": c["synaptic_events"] * E["loihi_synop"],
            f"active neuron updates x {E['loihi_neuron_active']:g} pJ": c["active_updates"] * E["loihi_neuron_active"],
            f"inactive neuron updates x {E['loihi_neuron_inactive']:g} pJ":
                c["inactive_updates"] * E["loihi_neuron_inactive"],
            f"host MACs x {E['mac_45nm']} pJ (host, 45 nm FP32 assumed)": host_macs * E["mac_45nm"]}


def energies(net: dict, chip: dict | None) -> dict:
    """{convention: {"pj", "terms", "label", "network"}}.

    net: simulate.counting totals (syops_*, nb_*, ann_macs); chip: simulate.ops result or None."""
    mac, ac = f"MACs x {E['mac_45nm']} pJ", f"ACs x {E['ac_45nm']} pJ"
    terms = {
        "syops_45nm": {mac: net["syops_macs"] * E["mac_45nm"], ac: net["syops_acs"] * E["ac_45nm"]},
        "effective_45nm": {mac: net["nb_macs"] * E["mac_45nm"], ac: net["nb_acs"] * E["ac_45nm"]},
        "ann_45nm": {mac: net["ann_macs"] * E["mac_45nm"]},
    }
    if chip is not None:
        terms["loihi_deployed"] = _chip(chip["as_deployed"], chip["host_macs"])
        terms["loihi_streamed"] = _chip(chip["streamed"], chip["host_macs"])
    order = [k for k in CONVENTIONS if k in terms]
    return {k: {"pj": sum(terms[k].values()), "terms": terms[k], "label": CONVENTIONS[k][0],
                "network": CONVENTIONS[k][1]} for k in order}
