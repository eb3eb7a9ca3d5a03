"""Operation counts of a spiking network *as built* (the PyTorch model before any fold), under
the field's own conventions, each computed on the network it names.

One `Counter` hooks the model's modules and, on every call, counts what each convention
defines, from the tensors the call actually sees (measured firing rates on real data, or
the Bernoulli spikes of `bernoulli_neurons`, a stated assumption).  `count.py` and
`report.py` both use it; the chip's own counts (convention (c)) come from the simulator
(`simulate/engine.py`) and are combined in `simulate/report.py`.

(a) syops: syops-counter 0.0.5's hooks (syops/ops.py), rule for rule.  Per call of a module
    on input x with output y (the time-distributed layers see T*B samples per call):

      Conv2d       ops = B' * H_out * W_out * (k_h * k_w * C_in / groups * C_out + C_out if bias)
      Linear       ops = numel(x) * out_features + (out_features if bias: ONCE per call, not per
                   sample; syops' linear hook)
      BatchNorm2d  ops = numel(x) * (2 if affine else 1)
      AvgPool2d, AdaptiveAvgPool2d   ops = numel(x)
      neuron       ops = numel(x), always counted as ACs (syops' LIF_syops_counter_hook, which we
                   register for LIF, adaptive LIF, STAA-LIF, FSTA-LIF and SMA-LIF)

    Each module other than a neuron splits its ops into ACs = ops * rate when x is a spike
    tensor (syops' spike_rate: at most two distinct values, all within [0, 1]; rate = mean(x)),
    and MACs = ops otherwise.  Attention inside a neuron (STAA's GC key/query/value and SA
    fc1/fc2 convs, FSTA's linear and conv, SMA's branch convs, BNs and linears) is counted by
    the same hooks: their inputs are membrane potentials, so they are MACs with their biases.
    Not counted, as in syops: LayerNorm, sigmoid, softmax, element-wise products and sums,
    torch.mean (the classifier's global pool).  Totals are the flat sum over every counted
    module, per sample (divided by the batch), as syops' per-layer figures are.

(b) effective: NeuroBench 2.3.0's `SynapticOperations` on the same calls: for every Conv2d
    and Linear (attention's included; NeuroBench finds them recursively), the number of
    nonzero input x nonzero weight pairs (bias excluded), counted as ACs when every input
    value is 0, 1 or -1 and as MACs otherwise (average-pooled spikes are not spikes), per
    sample.  `Dense` is the same with every input and weight taken as nonzero.  Beside them,
    NeuroBench's activation sparsity (zero outputs of the outermost neuron modules) and
    footprint (parameter and buffer bytes, `footprint_bytes`).

(d) ANN: the same network's real layers as a non-spiking network: every Conv2d and Linear
    outside the neurons (no attention), dense MACs without biases, one pass per inference
    (a call on T*B inputs is T passes of B samples).
"""
from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from spikefold.models.fsta import FSTALIF
from spikefold.models.lif import LIF, AdaptiveLIF
from spikefold.models.staa_lif import STAALIF

NEURON_TYPES = (LIF, AdaptiveLIF, STAALIF, FSTALIF)   # SMA's branches are LIFs
CONNECTIONS = (nn.Conv2d, nn.Linear)
COUNTED = CONNECTIONS + (nn.BatchNorm2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d) + NEURON_TYPES
FIELDS = ("syops_ops", "syops_acs", "syops_macs", "nb_macs", "nb_acs", "nb_dense", "ann_macs",
          "outputs", "nonzero_outputs")


def syops_spike_rate(x: torch.Tensor) -> tuple[bool, float]:
    """syops' spike_rate: (is spike tensor, rate); at most two distinct values within [0, 1]."""
    if x.numel() and len(x.unique()) <= 2 and x.max() <= 1 and x.min() >= 0:
        return True, float(x.sum() / x.numel())
    return False, 1.0


def syops_ops(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """syops' dense operation count of one call (see the module docstring)."""
    if isinstance(m, nn.Conv2d):
        positions = x.shape[0] * int(torch.tensor(y.shape[2:]).prod())
        per = m.kernel_size[0] * m.kernel_size[1] * m.in_channels * (m.out_channels // m.groups)
        return per * positions + (m.out_channels * positions if m.bias is not None else 0)
    if isinstance(m, nn.Linear):
        return x.numel() * y.shape[-1] + (y.shape[-1] if m.bias is not None else 0)
    if isinstance(m, nn.BatchNorm2d):
        return x.numel() * (2 if m.affine else 1)
    return x.numel()                                 # pooling and neurons


def _binary(t: torch.Tensor) -> torch.Tensor:
    return (t != 0).to(torch.float64)


def _pairs(m: nn.Module, xb: torch.Tensor, wb: torch.Tensor) -> float:
    y = F.conv2d(xb, wb, None, m.stride, m.padding, m.dilation, m.groups) if isinstance(m, nn.Conv2d) \
        else F.linear(xb, wb)
    return float(y.sum())


def effective_pairs(m: nn.Module, x: torch.Tensor) -> float:
    """NeuroBench's synaptic operations of one Conv2d/Linear call: nonzero input x nonzero weight
    pairs, bias excluded."""
    return _pairs(m, _binary(x), _binary(m.weight))


def dense_pairs(m: nn.Module, sample_shape: tuple) -> float:
    """NeuroBench's `Dense` for ONE input sample of `sample_shape` (every input and weight taken
    as nonzero; a padded conv's border taps reach fewer inputs).  It depends on shapes only, so
    the Counter computes it once per module and shape and multiplies by the samples in a call."""
    ones = torch.ones((1, *sample_shape), dtype=torch.float64, device=m.weight.device)
    return _pairs(m, ones, torch.ones_like(m.weight, dtype=torch.float64))


def neurobench_spiking(x: torch.Tensor) -> bool:
    """NeuroBench's test: every input value is 0, 1 or -1."""
    return not bool(((x != 0) & (x != 1) & (x != -1)).any())


def ann_macs(m: nn.Module, y: torch.Tensor) -> int:
    """Dense MACs of one Conv2d/Linear call, no bias."""
    if isinstance(m, nn.Conv2d):
        return y.numel() * m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
    return y.numel() * m.in_features


class Counter:
    """Forward hooks on every counted module of `model`; `rows()` and `totals()` per sample.

    timesteps: T, to turn a call on T*B inputs into passes for the ANN convention."""

    def __init__(self, model: nn.Module, timesteps: int):
        self.T = timesteps
        self.samples = 0
        self.layers: dict = defaultdict(lambda: dict.fromkeys(FIELDS + ("calls", "spike_input"), 0))
        self.types: dict = {}
        self._dense: dict = {}                       # (module path, sample shape) -> dense_pairs
        self.hooks = [model.register_forward_pre_hook(self._batch)]
        inside_neuron = set()
        for name, m in model.named_modules():
            if isinstance(m, NEURON_TYPES):
                inside_neuron.update(n for n, _ in m.named_modules(prefix=name) if n != name)
        for name, m in model.named_modules():
            if isinstance(m, COUNTED):
                self.types[name] = type(m).__name__
                self.hooks.append(m.register_forward_hook(self._hook(name, name in inside_neuron)))

    def _batch(self, model, inp):
        self.samples += inp[0].shape[0]

    def _hook(self, name: str, in_neuron: bool):
        def hook(m, inp, out):
            x = inp[0].detach()
            y = out.detach() if torch.is_tensor(out) else out[0].detach()
            row = self.layers[name]
            row["calls"] += 1
            ops = syops_ops(m, x, y)
            row["syops_ops"] += ops
            if isinstance(m, NEURON_TYPES):
                row["syops_acs"] += ops
                if not in_neuron:                     # NeuroBench's activation layers: outermost neurons
                    row["outputs"] += y.numel()
                    row["nonzero_outputs"] += int(torch.count_nonzero(y))
                return
            spike, rate = syops_spike_rate(x)
            row["spike_input"] = row["spike_input"] or spike    # on any call
            if spike:                                 # ops * syops' own float32 rate, summed exactly
                row["syops_acs"] += Fraction(ops) * Fraction(rate)
            else:
                row["syops_macs"] += ops
            if isinstance(m, CONNECTIONS):
                row["nb_acs" if neurobench_spiking(x) else "nb_macs"] += effective_pairs(m, x)
                sample = tuple(x.shape[1:]) if isinstance(m, nn.Conv2d) else (x.shape[-1],)
                key = (name, sample)
                if key not in self._dense:
                    self._dense[key] = dense_pairs(m, sample)
                row["nb_dense"] += self._dense[key] * (x.numel() // int(torch.tensor(sample).prod()))
                if not in_neuron:                     # every call holds all T steps of its samples
                    row["ann_macs"] += Fraction(ann_macs(m, y), self.T)
        return hook

    def close(self) -> None:
        for h in self.hooks:
            h.remove()
        self.hooks = []

    def state(self) -> dict:
        """What `merge` needs from a Counter of another process (picklable)."""
        return {"samples": self.samples, "types": dict(self.types),
                "layers": {k: dict(v) for k, v in self.layers.items()}}

    def merge(self, state: dict) -> None:
        """Add another Counter's counts (its `state()`): the sums are integers or exact fractions,
        so merging in any order gives the counts of one Counter over all the batches."""
        self.samples += state["samples"]
        self.types.update(state["types"])
        for name, row in state["layers"].items():
            mine = self.layers[name]
            for k, v in row.items():
                mine[k] = (mine[k] or v) if k == "spike_input" else mine[k] + v

    def rows(self) -> list[dict]:
        """Per counted module, per sample: {layer, type, calls, spike_input, <FIELDS>}.  Counts
        are summed exactly (integers, and fractions where syops scales by a rate or the ANN
        convention divides by T) and rounded to float once, here."""
        n = max(self.samples, 1)
        return [{"layer": name, "type": self.types[name], "calls": r["calls"],
                 "spike_input": bool(r["spike_input"]), **{k: float(Fraction(r[k]) / n) for k in FIELDS}}
                for name, r in self.layers.items()]

    def totals(self) -> dict:
        """Per-sample sums of FIELDS, and NeuroBench's activation sparsity (zero outputs of the
        outermost neurons over all their outputs)."""
        rows = self.rows()
        t = {k: sum(r[k] for r in rows) for k in FIELDS}
        t["activation_sparsity"] = 1.0 - t["nonzero_outputs"] / t["outputs"] if t["outputs"] else 0.0
        return t


def footprint_bytes(model: nn.Module) -> int:
    """Parameters and buffers in bytes (NeuroBench's `footprint`)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def count(model: nn.Module, batches, timesteps: int) -> Counter:
    """Run `model` on every batch of inputs under a Counter (no gradients); the Counter, closed."""
    counter = Counter(model, timesteps)
    try:
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        counter.close()
    return counter


def bernoulli_neurons(model: nn.Module, p: float, seed: int = 0):
    """Make every neuron emit Bernoulli(p) spikes (the stated-assumption mode); returns hooks.

    Only outputs change: a neuron's own count (its input elements) is unaffected and the
    layers after it see the Bernoulli spikes, whatever the order of hook registration."""
    gen = torch.Generator().manual_seed(seed)
    return [m.register_forward_hook(
                lambda mod, i, o: (torch.rand(o.shape, generator=gen, device="cpu") < p).to(o.device, o.dtype))
            for m in model.modules() if isinstance(m, NEURON_TYPES)]
