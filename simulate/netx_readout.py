"""What a lava-dl netx file of a program computes (deploy/netx.py writes it; netx has no bias start
schedule, so the file runs `as_exported(program)`), in the fast simulator: deploy/to_netx.py
prints its accuracy, tests/deploy/test_netx.py checks it against lava-dl netx itself."""
from __future__ import annotations

import numpy as np
import torch

from spikefold.chip.formats import VTH_MAX, VTH_SHIFT
from spikefold.deploy.netx import READOUT_DU, READOUT_DV, as_exported
from spikefold.chip.program import Program
from spikefold.simulate.engine import Simulator
from spikefold.chip.lif_int import lif_step

BATCH = 256


def netx_readout(program: Program, x: torch.Tensor) -> torch.Tensor:
    """(B, K) membrane potentials of the netx file's readout layer after program.steps steps:
    the exported network (as_exported) run in the fast simulator, and its last dense layer's
    CUBA neurons (READOUT_DU, READOUT_DV, never firing, bias round(bias * readout_scale) << 6 from step 0)
    stepped by the same integer LIF step, fed what the readout synapse delivers each step from
    the previous step's spikes."""
    exported = as_exported(program)
    sim = Simulator(exported)
    (ro,) = program.readout
    src = program.synapses[ro].src
    bias = torch.as_tensor(np.rint(np.asarray(program.readout_bias) * program.readout_scale) * 64.0)
    vth64 = torch.full_like(bias, float(VTH_MAX << VTH_SHIFT))
    out = []
    for i in range(0, len(x), BATCH):
        spikes = sim.run(x[i:i + BATCH], record=True).spikes[src]        # (steps, B, *shape)
        a, _ = sim.synapse(ro, spikes[:-1])                               # delivered on steps 1..
        a = torch.cat([torch.zeros_like(a[:1]), a]).double()             # lif_step works in float64
        u = v = torch.zeros_like(a[0])
        for t in range(len(a)):
            u, v, *_ = lif_step(u, v, a[t], float(READOUT_DU), float(READOUT_DV), bias, vth64)
        out.append(v)
    return torch.cat(out)
