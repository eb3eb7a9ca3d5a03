"""Run a `compile.graph.Graph` in float PyTorch: the folded network as a trainable module.

`GraphNet(graph)` evaluates the nodes in topological order over whole
sequences: stateless nodes see (T*B, ...) at once, neurons step through T with
the one float LIF step of `models.lif`.  Synaptic weights and biases are
parameters (the fold-aware fine-tune trains them); leaks, gains and thresholds
are buffers.  `to_graph()` returns the graph with the current weights.

Input: (B, C, H, W) images (repeated over T) or (B, T, C, H, W) frames, of the module's
dtype (`dtype`, default torch's default: float32, or float64 where a test must not depend
on the machine's summation order).
Output: logits per timestep, (T, B, K), like `models.layers.SpikingNet`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spikefold.compile.graph import Graph, update
from spikefold.compile.nodes import (LI, SMA, AvgPool2d, BatchNorm, Conv2d, Flatten, FstaLIF, Input, LIF, Linear,
                           Output, StaaLIF)
from spikefold.models.layers import encode_input
from spikefold.models.lif import leaky_step, per_channel


def _key(name: str) -> str:
    """A node name as a parameter key (torch forbids '.', which exporters use in nested names)."""
    return name.replace(".", "\u00b7")


def _t(a, like: torch.Tensor | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A node's array as a tensor: with `like`, of its dtype and on its device."""
    if like is not None:
        return torch.as_tensor(np.asarray(a), dtype=like.dtype, device=like.device)
    return torch.as_tensor(np.asarray(a), dtype=dtype)


class GraphNet(nn.Module):
    def __init__(self, graph: Graph, timesteps: int | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        for name in graph.of_type(StaaLIF, FstaLIF, SMA):
            raise ValueError(f"node {name}: attention is not folded (compile with --fold calibrated)")
        self.graph = graph
        self.timesteps = int(timesteps or graph.meta["timesteps"])
        self.weights = nn.ParameterDict()
        self.biases = nn.ParameterDict()
        dtype = dtype or torch.get_default_dtype()
        for name in graph.of_type(Conv2d, Linear):
            node = graph.nodes[name]
            self.weights[_key(name)] = nn.Parameter(_t(node.weight, dtype=dtype))
            self.biases[_key(name)] = nn.Parameter(_t(node.bias, dtype=dtype))
        self._preds = {n: graph.forward_preds(n) for n in graph.nodes}
        self._recurrent = {n: graph.recurrent(n) for n in graph.of_type(LIF)}
        self.record: dict | None = None
        self.currents: dict | None = None

    def forward(self, x: torch.Tensor, record: bool = False) -> torch.Tensor:
        """Logits (T, B, K); with record=True, self.record[name] = (spikes, v) per LIF node,
        each (T, B, *shape), v before reset, and self.currents[name] its input current (T, B, *shape)
        (without recurrent synapses)."""
        first = next(n for n in self.graph.nodes.values() if isinstance(n, Input))
        seq = encode_input(x, self.timesteps, len(first.shape))
        T, B = seq.shape[:2]
        flat = {}
        self.record = {} if record else None
        self.currents = {} if record else None
        out = None
        for name, node in self.graph.nodes.items():
            ins = [flat[p] for p in self._preds[name]]
            if isinstance(node, Input):
                y = seq.reshape(T * B, *seq.shape[2:])
            else:
                y = ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)
                y = self._node(name, node, y, T, B)
            flat[name] = y
            if isinstance(node, Output):
                out = y.view(T, B, *y.shape[1:])
        return out

    def _node(self, name, node, x, T, B):
        if isinstance(node, Conv2d):
            return F.conv2d(x, self.weights[_key(name)], self.biases[_key(name)], node.stride, node.padding)
        if isinstance(node, Linear):
            if node.delay:              # x[t - delay]: T steps of B samples, zeros before step 0
                d = min(node.delay, T)
                x = x.view(T, B, -1)
                x = torch.cat([x.new_zeros(d, *x.shape[1:]), x[:T - d]]).flatten(0, 1)
            if node.bias_delay:         # a Delay after the layer: its bias too is 0 before bias_delay
                y = F.linear(x, self.weights[_key(name)]).view(T, B, -1)
                on = (torch.arange(T, device=x.device) >= node.bias_delay).to(y.dtype)
                return (y + on[:, None, None] * self.biases[_key(name)]).flatten(0, 1)
            return F.linear(x, self.weights[_key(name)], self.biases[_key(name)])
        if isinstance(node, BatchNorm):
            return F.batch_norm(x, *(_t(a, x) for a in (node.mean, node.var, node.gamma, node.beta)),
                                False, 0.0, node.eps)
        if isinstance(node, AvgPool2d):
            return F.avg_pool2d(x, node.kernel)
        if isinstance(node, Flatten):
            return x.flatten(1)
        if isinstance(node, Output):
            return x
        if isinstance(node, LIF):
            return self._lif(name, node, x.view(T, B, *x.shape[1:])).flatten(0, 1)
        if isinstance(node, LI):                # v[t] = leak v[t-1] + gain I[t], the output
            seq = x.view(T, B, *x.shape[1:])
            m, n = (per_channel(_t(a, x), seq[0]) for a in (node.leak, node.gain))
            rest = 0.0 if node.bias is None else per_channel(_t(node.bias, x), seq[0])
            v, vs = torch.zeros_like(seq[0]), []
            for t in range(T):
                v = m * v + n * seq[t] + rest
                vs.append(v)
            return torch.stack(vs).flatten(0, 1)
        raise TypeError(f"node {name}: GraphNet cannot run {type(node).__name__}")

    def _lif(self, name, node: LIF, x: torch.Tensor) -> torch.Tensor:
        """Step a LIF through x (T, B, *shape).  A synaptic current (CubaLIF) filters its input;
        each recurrent synapse adds its output on the neuron's spikes of the step before.  Spikes
        at v >= v_th through the surrogate (rule "ge", trainable) or at v > v_th (rule "gt",
        graphs from other frameworks, only run)."""
        m = per_channel(_t(node.leak, x), x[0])
        n = per_channel(_t(node.gain, x), x[0])
        v_th = node.v_th if np.isscalar(node.v_th) else _t(node.v_th, x)
        a = None if node.syn_leak is None else per_channel(_t(node.syn_leak, x), x[0])
        rec = self._recurrent.get(name, [])
        if self.currents is not None:
            self.currents[name] = x.detach()
        h, i, s = torch.zeros_like(x[0]), torch.zeros_like(x[0]), torch.zeros_like(x[0])
        # per channel (C,) or per neuron (the neuron shape)
        each = lambda a: _t(a, x) if np.ndim(a) == x.dim() - 2 and np.shape(a) == tuple(x.shape[2:]) \
            else per_channel(_t(a, x), x[0])
        if node.v0 is not None:         # NIR's v = 0 in the frame of a reset potential: v0 = -v_reset
            h = h + each(node.v0)
        bias = 0.0 if node.bias is None else each(node.bias)
        if node.bias is not None and node.rule != "gt":
            raise ValueError(f"node {name}: a LIF bias runs with the rule v > v_th (graphs read from NIR)")
        spikes, vs = [], []
        for t in range(x.shape[0]):
            drive = x[t]
            for r in rec:
                node_r = self.graph.nodes[r]
                y = self._node(r, node_r, s.flatten(1) if isinstance(node_r, Linear) else s, 1, s.shape[0])
                drive = drive + y.view_as(s)
            i = drive if a is None else a * i + drive
            if self.record is not None:  # v before reset, for near-threshold diagnostics
                vs.append((m * h + n * i + bias).detach())
            if node.rule == "gt":
                v = m * h + n * i + bias
                s = (v > v_th).to(v.dtype)
                h = v * (1.0 - s)
            else:
                h, s = leaky_step(h, i, m, n, v_th)
            spikes.append(s)
        out = torch.stack(spikes)
        if self.record is not None:
            self.record[name] = (out.detach(), torch.stack(vs))
        return out

    def to_graph(self) -> Graph:
        """The graph with this module's current weights and biases (float64 copies)."""
        changed = {}
        for name in self.graph.of_type(Conv2d, Linear):
            node, key = self.graph.nodes[name], _key(name)
            changed[name] = update(node,
                                   weight=self.weights[key].detach().double().cpu().numpy().copy(),
                                   bias=self.biases[key].detach().double().cpu().numpy().copy())
        return self.graph.evolve(changed)
