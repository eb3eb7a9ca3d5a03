"""What a lava-dl netx file of a program computes (deploy/netx.py writes it), in the fast simulator:
deploy/to_netx.py prints its accuracy, tests/deploy/test_netx.py checks it against lava-dl netx
itself.  Run as lava-dl streams a test set, `Network(net_config, reset_interval=T,
reset_offset=1)`, every layer is zeroed on the step its sample's data first reaches it, which is
what the program's bias start schedule does: the file computes the program (mode "window").
Run without resets, every bias is on from step 0 (`as_exported`), which the program is not."""
from __future__ import annotations

import numpy as np
import torch

from spikefold.chip.formats import VTH_MAX, VTH_SHIFT
from spikefold.deploy.netx import READOUT_DU, READOUT_DV, as_exported
from spikefold.chip.program import Program
from spikefold.simulate.engine import Simulator
from spikefold.chip.lif_int import lif_step

BATCH = 256


def netx_readout(program: Program, x: torch.Tensor, reset: bool = True) -> torch.Tensor:
    """(B, K) membrane potentials of the netx file's readout layer at the end of each sample: its
    CUBA neurons (READOUT_DU, READOUT_DV, never firing, bias round(bias * readout_scale) << 6)
    stepped by the same integer LIF step on what the readout synapse delivers.  reset (the file
    run with reset_interval = T): over the readout's own T-step window of the program in mode
    "window", from zero.  Without resets: over all program.steps steps of `as_exported(program)`
    (deeper layers integrate their bias from step 0), each step fed the previous step's spikes."""
    (ro,) = program.readout
    src = program.synapses[ro].src
    sim = Simulator(program if reset else as_exported(program))
    bias = torch.as_tensor(np.rint(np.asarray(program.readout_bias) * program.readout_scale) * 64.0)
    vth64 = torch.full_like(bias, float(VTH_MAX << VTH_SHIFT))
    out = []
    for i in range(0, len(x), BATCH):
        if reset:
            a = sim.run(x[i:i + BATCH], mode="window").readout.double()    # (T, B, K), the readout's window
        else:
            spikes = sim.run(x[i:i + BATCH], record=True).spikes[src]      # (steps, B, *shape)
            a, _ = sim.synapse(ro, spikes[:-1])                             # delivered on steps 1..
            a = torch.cat([torch.zeros_like(a[:1]), a]).double()           # lif_step works in float64
        u = v = torch.zeros_like(a[0])
        for t in range(len(a)):
            u, v, *_ = lif_step(u, v, a[t], float(READOUT_DU), float(READOUT_DV), bias, vth64)
        out.append(v)
    return torch.cat(out)
