"""fold_fsta: FSTA's input-dependent gain -> a per-neuron threshold (calibrated).

FSTA scales a layer's input currents by g[t, h, w] = (1 + w[t]) (p + q (1 + s[h, w])) / 2
(models/fsta.py), shared by all channels.  With the calibration mean averaged over t,
g[h, w] > 0, the neuron is v = M v' + N g I; dividing by g gives v/g = M (v/g)' + N I with
threshold v_th / g and reset 0, exactly.  So the gain becomes a per-neuron threshold, and
only the constant (what the live gain varies over samples and timesteps) is approximate:
both are logged.
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, with_notes
from spikefold.compile.nodes import LIF, FstaLIF


def fold_fsta(graph: Graph, stats: dict) -> Graph:
    changed, notes = {}, []
    for name in graph.of_type(FstaLIF):
        node = graph.nodes[name]
        s = stats[node.source]
        g = s.mean_t.mean(0)                                   # (H, W), or (1, 1) for a flat layer
        if np.any(g <= 0):
            raise ValueError(f"node {name}: FSTA's calibrated gain is not positive everywhere")
        spatial = g.reshape(1, *g.shape) if len(node.shape) == 3 else g.reshape(1)
        v_th = np.broadcast_to(node.v_th / spatial, node.shape).copy()
        changed[name] = LIF(node.leak, node.gain, v_th, node.shape, node.source)
        notes.append({"pass": "fold_fsta", "node": name, "exact": False, "mean_gain": float(g.mean()),
                      "max_rel_variation_over_t": float(np.abs(s.mean_t - g).max() / g.min()),
                      "std_over_samples_and_steps": float(s.std.mean()), "calibration_samples": s.samples})
    return with_notes(graph, changed, notes)
