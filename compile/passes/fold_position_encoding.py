"""fold_position_encoding: STAA's Pos[t, c] -> a constant per-channel drive.

X[t] = I[t] + Pos[t] enters U as N * X[t], so a Pos that is constant in t is
exactly the drive N * Pos.  NIR and the chip have no time-varying bias, so a
Pos that varies with t is replaced by its mean over t and the largest
deviation is logged (exact = False).  GC must be folded first: live GC sees
X, so moving Pos out of X would change its context vector.
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, update, with_notes
from spikefold.compile.nodes import StaaLIF


def fold_position_encoding(graph: Graph) -> Graph:
    changed, notes = {}, []
    for name in graph.of_type(StaaLIF):
        node = graph.nodes[name]
        if node.pos is None:
            continue
        if node.gc:
            raise ValueError(f"node {name}: fold_global_context must run before "
                             f"fold_position_encoding (GC sees Pos)")
        mean = node.pos.mean(0)
        deviation = float(np.abs(node.pos - mean).max())
        changed[name] = update(node, pos=None, drive=node.drive + node.gain * mean)
        notes.append({"pass": "fold_position_encoding", "node": name, "exact": deviation == 0.0,
                      "max_deviation_from_mean_over_t": deviation})
    return with_notes(graph, changed, notes)
