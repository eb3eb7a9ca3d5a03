"""fold_global_context: GC's context vectors -> a constant per-channel drive (calibrated).

GC adds a context vector to X and to H (eq. 10).  With the calibration means
c_in, c_mem (over samples and timesteps) in place of the live vectors,

    U = N * (X + c_in) + M * (H + c_mem) = N * X + M * H + (N * c_in + M * c_mem)

so GC becomes a per-channel drive on U.  What the constant misses is logged:
the std of the live vectors over samples and timesteps, per node.
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, update, with_notes
from spikefold.compile.nodes import StaaLIF


def fold_global_context(graph: Graph, stats: dict) -> Graph:
    changed, notes = {}, []
    for name in graph.of_type(StaaLIF):
        node = graph.nodes[name]
        if not node.gc:
            continue
        s = stats[node.source]
        c_in, c_mem = s.c_in.mean(0), s.c_mem.mean(0)
        changed[name] = update(node, gc=False, drive=node.drive + node.gain * c_in + node.leak * c_mem)
        notes.append({"pass": "fold_global_context", "node": name, "exact": False,
                      "mean_abs_context": float(np.abs(np.r_[c_in, c_mem]).mean()),
                      "std_over_samples_and_steps": float(np.r_[s.c_in_std, s.c_mem_std].mean()),
                      "calibration_samples": s.samples})
    return with_notes(graph, changed, notes)
