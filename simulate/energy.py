"""Energy per inference (picojoules) from `simulate.ops` counts, constants from simulate.constants."""
from __future__ import annotations

from simulate.constants import ENERGY_PJ as E


def energies(ops: dict) -> dict:
    """{convention: {"pj": total, "terms": {name: pJ}}} for (a) paper, (b) effective, (c) chip, (d) ANN."""
    a, b, c, d = ops["paper"], ops["effective"], ops["chip"], ops["ann"]
    terms = {
        "paper_45nm": {"MACs x 4.6 pJ": a["macs"] * E["mac_45nm"], "ACs x 0.9 pJ": a["acs"] * E["ac_45nm"]},
        "effective_45nm": {"MACs x 4.6 pJ": b["macs"] * E["mac_45nm"], "ACs x 0.9 pJ": b["acs"] * E["ac_45nm"]},
        "loihi": {"synaptic events x 23.6 pJ": c["synaptic_events"] * E["loihi_synop"],
                  "active neuron updates x 81 pJ": c["active_updates"] * E["loihi_neuron_active"],
                  "inactive neuron updates x 52 pJ": c["inactive_updates"] * E["loihi_neuron_inactive"],
                  "host MACs x 4.6 pJ": c["host_macs"] * E["mac_45nm"]},
        "ann_45nm": {"MACs x 4.6 pJ": d["macs"] * E["mac_45nm"]},
    }
    return {k: {"pj": sum(t.values()), "terms": t} for k, t in terms.items()}
