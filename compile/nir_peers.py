"""The NIR form each peer reads right: one discrete network, written the way a reader expects it.

A spikefold LIF layer is  v[t] = M v[t-1]' + I[t]  (M per channel, input gain folded into the
weights, reset to 0, one spike at most per step).  NIR's LIF is continuous,
tau dv/dt = (v_leak - v) + r I, so the same layer has several NIR spellings.  They differ in

  * where the input gain goes: "weights" (r = 1 and every synapse layer feeding the neuron
    scaled by 1 / (1 - M), so that (dt/tau) r I = I) or "r" (r = tau/dt, weights as trained);
  * how tau encodes M: forward Euler, M = 1 - dt/tau, or the exact solution for an input held
    over the step (zero-order hold), M = exp(-dt/tau) with input coefficient (1 - M) r;
  * dt, the seconds per step the reader assumes by default;
  * pooling: AvgPool2d, or SumPool2d with the next layer's weights divided by the window;
  * neuron parameters as (C, H, W) arrays or as (C, 1, 1) per-channel arrays;
  * whether v_reset is written (NIR >= 1.0.5; older readers reject the field).

Each peer's importer reads only some of these right (its source, cited per form below).  Flatten
is always written with negative dims (start_dim = -ndim), the NIR-equivalent spelling that every
importer maps to a torch Flatten that keeps the batch dimension.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikefold.compile.graph import Graph
from spikefold.compile.nodes import LIF, per_channel


DT = 1e-4          # seconds per step; snnTorch's importer hard-codes this dt, Norse takes it as dt=


class PeerRefused(ValueError):
    """str(e): one line naming the peer and what in the graph it cannot represent."""


@dataclass(frozen=True)
class PeerForm:
    """How to write our graph so that `reader` reproduces its spikes.

    gain: "weights" | "r" (module docstring); integration: "euler" | "zoh"; dt: seconds per
    step written into tau (the reader's default); pool: "avg" | "sum"; channel_params: neuron
    arrays shaped (C, 1, 1); v_reset: write the field; uniform: LIF fields the reader needs to be
    one value per layer; needs_leak: the reader refuses M = 0 (tau/dt = 1); unsupported: our node
    type name -> why the reader cannot take it; chain_only: why the reader cannot take a graph
    with branches (a node feeding or fed by several), empty if it can; caveat: what the reader
    still does its own way after import (said at export)."""
    name: str
    reader: str
    gain: str = "weights"
    integration: str = "euler"
    dt: float = DT
    pool: str = "avg"
    channel_params: bool = False
    v_reset: bool = True
    uniform: tuple[str, ...] = ()
    needs_leak: bool = False
    unsupported: dict = field(default_factory=dict)
    chain_only: str = ""
    caveat: str = ""

    def leak_to_tau(self, leak: np.ndarray) -> np.ndarray:
        """tau (seconds) of a leak M in [0, 1)."""
        if self.integration == "zoh":
            with np.errstate(divide="ignore"):
                # M = 0 (no memory): any tau with exp(-dt/tau) == 0 in float32 and float64
                return np.where(leak > 0, -self.dt / np.log(np.where(leak > 0, leak, 0.5)), self.dt / 1000)
        return self.dt / (1.0 - leak)

    def r(self, leak: np.ndarray) -> np.ndarray:
        """NIR's r: 1 when the gain sits in the weights, else the inverse of the input coefficient
        (dt/tau for Euler, 1 - M for zero-order hold)."""
        return np.ones_like(leak) if self.gain == "weights" else 1.0 / (1.0 - leak)

    def input_scale(self, leak: np.ndarray) -> np.ndarray | None:
        """Factor on the weights and bias of a synapse layer feeding a LIF with leak M."""
        return 1.0 / (1.0 - leak) if self.gain == "weights" else None

    def check(self, graph: Graph) -> None:
        """PeerRefused naming the first node this peer's reader cannot represent."""
        if self.chain_only:
            for name in graph.nodes:
                if len(graph.succs(name)) > 1 or len(graph.preds(name)) > 1:
                    raise PeerRefused(f"{self.reader} cannot read a graph with branches (node {name} "
                                      f"{'feeds' if len(graph.succs(name)) > 1 else 'is fed by'} several): "
                                      f"{self.chain_only}")
        for name, node in graph.nodes.items():
            why = self.unsupported.get(type(node).__name__)
            if why:
                raise PeerRefused(f"{self.reader} cannot read node {name} ({type(node).__name__}): {why}")
            if not isinstance(node, LIF):
                continue
            leak = per_channel(node.leak, node.shape)
            values = {"tau": leak, "v_threshold": np.broadcast_to(node.v_th, node.shape)}
            for what in self.uniform:
                n = np.unique(values[what]).size
                if n > 1:
                    raise PeerRefused(f"{self.reader} takes one {what} per LIF layer; node {name} has {n} "
                                      f"different values (per-channel {'leaks' if what == 'tau' else what})")
            if self.needs_leak and np.any(leak <= 0):
                raise PeerRefused(f"{self.reader} needs tau/dt > 1 (a leak M > 0); node {name} has M = 0")


_ROCKPOOL_WHY = ("Rockpool 3.1's from_nir maps only Affine, Linear, LI, CubaLIF and a recurrent CubaLIF subgraph "
                 "(rockpool/nn/modules/torch/nir.py), and its nir.LIF branch reads CubaLIF's tau_mem, so every "
                 "LIF fails")

PEERS: dict[str, PeerForm] = {f.name: f for f in (
    # r = 1 with the gain in the weights: Norse (ignores r), SpikingJelly (decay_input=True) and
    # snnTorch (divides the threshold by r dt/tau, right when that is one value per layer) all
    # read it at dt = 1e-4 where each layer has one leak.
    PeerForm("portable", "spikefold, Norse (dt=1e-4), SpikingJelly and snnTorch (one leak per layer)"),
    # norse/torch/utils/import_nir.py: LIFBoxCell(tau_mem_inv=1/tau, v_th, v_leak), r ignored,
    # per-neuron arrays kept, dt an argument defaulting to 1e-3; SumPool2d as LPPool2d(p=1), no AvgPool2d.
    # Norse 1.1 runs the import in nirtorch 2.6's legacy GraphExecutor, whose forward returns the
    # output of the last node in its execution order: the output node only in a chain.
    PeerForm("norse", "norse.torch.from_nir", dt=1e-3, pool="sum",
             chain_only="its nirtorch GraphExecutor returns the last node it runs (nirtorch/graph_executor.py, "
                        "forward), which in a branching graph is not the output"),
    # snntorch/import_nir.py: beta = 1 - 1e-4/tau (per neuron), threshold / the first unique
    # r dt/tau unless that is 1, one threshold per layer; AvgPool2d kept.
    PeerForm("snntorch", "snntorch.import_nir.import_from_nir", gain="r", uniform=("v_threshold",),
             caveat="snnTorch's imported Leaky keeps its membrane between calls: reset_mem() each layer "
                    "between samples"),
    # spikingjelly/activation_based/nir_exchange/from_nir.py (2.0): LIFNode(tau/dt,
    # decay_input=False) for r = tau/dt; tau, r, v_threshold, v_reset uniform; fires at v >= v_th.
    PeerForm("spikingjelly", "spikingjelly.activation_based.nir_exchange.import_from_nir (2.0)", gain="r",
             uniform=("tau", "v_threshold"), needs_leak=True),
    # sinabs/nir.py (3.1.3): LIFSqueeze(tau_mem=tau in steps, norm_input=False), i.e.
    # v = exp(-1/tau) v + I, r and v_reset ignored; `any(node.v_leak)` needs 1-D or (C, 1, 1)
    # arrays; SumPool2d only; reads with nir <= 1.0.4, which has no v_reset.
    PeerForm("sinabs", "sinabs.from_nir", gain="r", integration="zoh", dt=1.0, pool="sum",
             channel_params=True, v_reset=False,
             caveat="Sinabs's from_nir builds every LIF with MultiSpike and MembraneSubtract whatever the "
                    "file says; set spike_fn=sinabs.activation.SingleSpike and "
                    "reset_fn=sinabs.activation.MembraneReset() on the imported layers"),
    PeerForm("rockpool", "rockpool.nn.modules.from_nir (3.1)",
             unsupported={"Conv2d": _ROCKPOOL_WHY, "Flatten": _ROCKPOOL_WHY, "AvgPool2d": _ROCKPOOL_WHY,
                          "LIF": _ROCKPOOL_WHY}),
)}


def neuron_param_shape(form: PeerForm, shape: tuple) -> tuple:
    """The shape a LIF layer's NIR arrays are written in: (C, H, W), or (C, 1, 1) per channel."""
    return (shape[0],) + (1,) * (len(shape) - 1) if form.channel_params else tuple(shape)
