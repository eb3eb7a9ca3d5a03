"""fold_step_attention: SA's gate -> a per-channel gain on the neuron (calibrated).

SA multiplies U by a gate g(U) in (0, 1) (eq. 12).  With the calibration mean
g_c in its place, V = g_c * (N * X + M * H + drive): the gain multiplies the
input path (N -> g N), the membrane path (M -> g M, a per-channel leak) and
the drive alike.  Logged: the gate's mean and its std over samples and steps.
"""
from __future__ import annotations

from spikefold.compile.graph import Graph, update, with_notes
from spikefold.compile.nodes import StaaLIF


def fold_step_attention(graph: Graph, stats: dict) -> Graph:
    changed, notes = {}, []
    for name in graph.of_type(StaaLIF):
        node = graph.nodes[name]
        if not node.sa:
            continue
        s = stats[node.source]
        g = s.gate.mean(0)
        changed[name] = update(node, sa=False, leak=node.leak * g, gain=node.gain * g,
                               drive=node.drive * g)
        notes.append({"pass": "fold_step_attention", "node": name, "exact": False,
                      "mean_gate": float(g.mean()), "std_over_samples_and_steps": float(s.gate_std.mean()),
                      "calibration_samples": s.samples})
    return with_notes(graph, changed, notes)
