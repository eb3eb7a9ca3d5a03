"""NIR graph -> our graph: one small reader per NIR node type, READERS maps the type to it.

`from_nir` flattens the graph (compile/nir_rewrite.py), checks each node's values, then calls
read(name, node, in_shape, reading) in topological order; in_shape is the output shape of the
node's first non-recurrent input (None for an Input), and the reader returns our node.  Neurons
are stepped with dt seconds per step (nodes.LIF: v[t] = M v[t-1]' + N I[t]):

    LIF        M = 1 - dt/tau (exp(-dt/tau) for a "zoh" file),  N = (1 - M) r
    IF         M = 1,  N = dt r
    CubaLIF    i[t] = (1 - dt/tau_syn) i[t-1] + I[t],  M = 1 - dt/tau_mem,
               N = (dt/tau_syn) w_in (dt/tau_mem) r
    LI         M = 1 - dt/tau,  N = (dt/tau) r   (no spike: nodes.LI)
    Threshold  M = 0,  N = 1                     (s = H(I - threshold), no memory)

firing at v >= v_threshold in spikefold's own files, v > v_threshold in anyone else's.  A
resting potential v_leak and a reset potential v_reset (LIF, CubaLIF, IF) run in the frame
w = v - v_reset, where a spike resets w to 0 as on Loihi: threshold v_threshold - v_reset, a bias
(1 - M) (v_leak - v_reset) per step (dt/tau_mem for CubaLIF, none for IF), and the start v = 0 as
w = -v_reset before the first step (nodes.LIF bias and v0; `_reset_frame`).  Affine and Linear,
Conv2d, Flatten and AvgPool2d map one to one; a grouped or dilated Conv2d (or Conv1d) is read as
the dense convolution it equals; Conv1d over (C, L) runs as a Conv2d over (C, 1, L); SumPool2d is
an AvgPool2d with its window k0 k1 folded into the next weights; a pool of another stride or with
padding is composed into the next conv or Affine, an LI between synapses becomes the next
neurons' synaptic current (compile/nir_folds.py).  Each form is exact or refused in one line.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import nir
import numpy as np

from spikefold.compile.graph import Graph
from spikefold.compile.nir_format import (DT_HELP, FOREIGN_RULE, NIRFormatError, by_type, spikefold_metadata,
                                         text, whole_pair)
from spikefold.compile.nir_rewrite import LINEAR, fold_delays, fold_scales, inline_subgraphs, topological
from spikefold.compile.nodes import LI, AvgPool2d, Conv2d, Flatten, Input, LIF, Linear, Output
from spikefold.common import validate
from spikefold.compile.nir_folds import fold_hidden_li, fold_pools, fold_sum_pools


@dataclass
class Reading:
    """One graph being read: what readers need besides their node, and what they leave behind."""
    nodes: dict                 # name -> NIR node, flattened
    edges: list
    delays: dict                # Affine/Linear name -> delay in steps
    dt: float
    info: dict                  # the spikefold metadata, or what stands for it in a foreign file
    foreign: bool
    sum_pools: dict = field(default_factory=dict)   # SumPool2d name -> k0 k1, for the next weights
    pools: dict = field(default_factory=dict)       # pool read as a conv -> (its input shape, NIR type)
    bias_delays: dict = field(default_factory=dict)  # Affine/Linear name -> steps its bias waits (a Delay after it)

    @property
    def rule(self) -> str:
        return "gt" if self.foreign else "ge"


def from_nir(g: nir.NIRGraph, dt: float | None = None, timesteps: int | None = None) -> Graph:
    """Our graph of a NIR graph: one written by `to_nir` (same discrete dynamics, dt and
    timesteps from its metadata), or by anyone else, stepped with the user's dt (forward Euler,
    DT_HELP) and fired at v > v_threshold, NIR's nominal rule."""
    info, foreign = _reading_info(g, dt, timesteps)
    dt = float(info["dt"])
    edges = [(text(a), text(b)) for a, b in g.edges]
    nodes, edges = fold_scales(*inline_subgraphs(dict(g.nodes), edges))
    nodes, edges, delays, bias_delays = fold_delays(nodes, edges, dt)
    order, recurrent = topological(nodes, edges)
    reading = Reading(nodes, edges, delays, dt, info, foreign, bias_delays=bias_delays)
    out = {}
    for name in order:
        node = nodes[name]
        check_values(name, node)
        preds = [a for a, b in edges if b == name and (a, b) not in recurrent]
        in_shape = out[preds[0]].shape if preds else None
        _check_fan_in(name, node, in_shape)
        read = by_type(READERS, node)
        if read is None:
            raise NIRFormatError(f"node {name}: NIR {type(node).__name__} is not supported")
        new = read(name, node, in_shape, reading)
        if hasattr(new, "source"):
            new = replace(new, source=reading.info.get("sources", {}).get(name, ""))
        out[name] = new
    for a, b in recurrent:
        if delays.get(a):
            raise NIRFormatError(f"node {a}: a delay on a recurrent edge is not supported")
    fold_sum_pools(out, edges, reading.sum_pools)
    edges = fold_pools(out, edges, reading.pools)
    edges = fold_hidden_li(out, edges)
    info = reading.info
    meta = {"timesteps": int(info["timesteps"]), "folds": tuple(info.get("folds", ())),
            "nir": info}
    return Graph.build(out, edges, meta)


def _reading_info(g: nir.NIRGraph, dt: float | None, timesteps: int | None) -> tuple[dict, bool]:
    """(info, foreign): the spikefold metadata (timesteps overridden when given), or for a graph
    without it the user's dt and timesteps with NIR's spike rule; dt and timesteps checked."""
    foreign = (g.metadata or {}).get("spikefold") is None
    if foreign:
        if dt is None:
            raise NIRFormatError("no spikefold metadata: the graph was written by another framework; "
                                 "pass --dt (seconds per step; see --help)")
        info = {"dt": float(dt), "foreign": True, "spike_rule": FOREIGN_RULE, "discretisation": DT_HELP,
                "timesteps": int(timesteps or 1)}
    else:
        try:
            info = spikefold_metadata(g)
        except ValueError as e:     # JSON that does not parse
            raise NIRFormatError(f"metadata field spikefold: not JSON ({str(e)[:80]})") from None
        if not isinstance(info, dict):
            raise NIRFormatError("metadata field spikefold: not a JSON object")
        if timesteps:
            info = {**info, "timesteps": int(timesteps)}
    _check_steps(info)
    return info, foreign


def _check_steps(info: dict) -> None:
    """dt a finite number of seconds > 0; timesteps a whole number in [1, MAX_TIMESTEPS]."""
    dt, steps = info.get("dt"), info.get("timesteps")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (0 < dt < float("inf")):
        raise NIRFormatError(f"metadata field dt: must be a finite number of seconds > 0 (got {dt!r})")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= validate.MAX_TIMESTEPS:
        raise NIRFormatError(f"metadata field timesteps: must be a whole number in [1, "
                             f"{validate.MAX_TIMESTEPS:,}] (got {steps!r})")


def _input(name: str, node: nir.Input, in_shape, r: Reading) -> Input:
    shape = tuple(int(v) for v in node.input_type["input"])
    succ = [r.nodes[b] for a, b in r.edges if a == name]
    if r.foreign and len(shape) in (2, 4) and shape[0] == 1 and not any(isinstance(n, nir.Conv1d) for n in succ):
        shape = shape[1:]       # a batch dimension of 1 the exporter kept (Norse writes (1, F))
    elif r.foreign and len(shape) == 3 and shape[0] == 1 and succ and all(
            isinstance(n, LINEAR) and n.weight.shape[1] == shape[2] != shape[1] * shape[2] for n in succ):
        r.info = {**r.info, "input_declared": list(shape), "input_dims_dropped": "batch (1) and time "
                  f"({shape[1]}): the inputs are (B, T, {shape[2]})"}
        shape = shape[2:]       # Rockpool 3.1 writes (1, T, F): batch and time in the input's shape
    if len(shape) == 2 and any(isinstance(n, nir.Conv1d) for n in succ):
        r.info = {**r.info, "input_shape": list(shape)}   # a 1-D signal (C, L), run as (C, 1, L)
        shape = (shape[0], 1, shape[1])
    return Input(shape)


def _conv2d(name: str, node: nir.Conv2d, in_shape, r: Reading) -> Conv2d:
    """A grouped or dilated convolution as the dense one it equals: each group's kernel in its own
    block of input channels (zeros elsewhere), a dilated kernel spread out with zeros between its
    taps (size d (k - 1) + 1), so the chip and the executor run one plain convolution: exact."""
    stride = whole_pair(node.stride, f"node {name}: stride")
    dil = whole_pair(node.dilation, f"node {name}: dilation")
    w = _dense_kernel(name, np.asarray(node.weight, np.float64), int(node.groups), dil, in_shape)
    pad = _padding(name, node.padding, w.shape[-2:])
    k = w.shape[-2:]
    shape = (w.shape[0], *((in_shape[i + 1] + 2 * pad[i] - k[i]) // stride[i] + 1 for i in range(2)))
    if min(shape[1:]) < 1:
        raise NIRFormatError(f"node {name}: Conv2d kernel {tuple(k)} does not fit its input {tuple(in_shape)}")
    return Conv2d(w, _bias(node, w.shape[0]), stride, pad, shape)


def _dense_kernel(name: str, w: np.ndarray, groups: int, dilation: tuple, in_shape) -> np.ndarray:
    """(C_out, C_in / groups, kh, kw) of `groups` groups and `dilation` -> the dense (C_out, C_in,
    d0 (kh - 1) + 1, d1 (kw - 1) + 1) kernel computing the same cross-correlation."""
    c_out, c_per = w.shape[:2]
    if groups < 1 or c_out % groups or c_per * groups != in_shape[0]:
        raise NIRFormatError(f"node {name}: weight of shape {tuple(w.shape)} in {groups} group(s) does not take "
                             f"an input of shape {tuple(in_shape)}")
    if groups > 1:
        dense = np.zeros((c_out, c_per * groups, *w.shape[2:]))
        o = c_out // groups
        for g in range(groups):
            dense[g * o:(g + 1) * o, g * c_per:(g + 1) * c_per] = w[g * o:(g + 1) * o]
        w = dense
    if dilation != (1, 1):
        kh, kw = w.shape[2:]
        spread = np.zeros((*w.shape[:2], dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1))
        spread[:, :, ::dilation[0], ::dilation[1]] = w
        w = spread
    return w


def _padding(name: str, padding, kernel) -> tuple:
    """NIR's padding: numbers, or "valid" / "same" (PyTorch's: "same" pads k - 1 in all, which a
    symmetric padding holds only for odd kernels)."""
    if isinstance(padding, (str, bytes)):
        padding = padding.decode() if isinstance(padding, bytes) else padding
        if padding == "valid":
            return (0, 0)
        if padding == "same" and all(k % 2 for k in kernel):
            return tuple(int(k) // 2 for k in kernel)
        raise NIRFormatError(f"node {name}: padding {padding!r} with kernel {tuple(int(k) for k in kernel)} "
                             f"is not a symmetric padding (use numbers, or odd kernels with 'same')")
    return whole_pair(padding, f"node {name}: padding")


def _conv1d(name: str, node: nir.Conv1d, in_shape, r: Reading) -> Conv2d:
    stride = int(np.asarray(node.stride).reshape(-1)[0])
    if len(in_shape) != 3 or in_shape[1] != 1:
        raise NIRFormatError(f"node {name}: Conv1d input of shape {in_shape}, expected (C, L)")
    dil = int(np.asarray(node.dilation).reshape(-1)[0])
    w = _dense_kernel(name, np.asarray(node.weight, np.float64)[:, :, None, :], int(node.groups), (1, dil), in_shape)
    pad = _padding(name, node.padding if isinstance(node.padding, (str, bytes))
                   else int(np.asarray(node.padding).reshape(-1)[0]), w.shape[-1:])[-1]
    k = w.shape[-1]
    shape = (w.shape[0], 1, (in_shape[2] + 2 * pad - k) // stride + 1)
    if shape[2] < 1:
        raise NIRFormatError(f"node {name}: Conv1d kernel {k} does not fit its input {tuple(in_shape)}")
    return Conv2d(w, _bias(node, w.shape[0]), (1, stride), (0, pad), shape)


def _affine(name: str, node: nir.Affine | nir.Linear, in_shape, r: Reading) -> Linear:
    shape = (node.weight.shape[0],)
    bias = _bias(node, shape[0])
    return Linear(np.asarray(node.weight, np.float64), bias, shape, delay=r.delays.get(name, 0),
                  bias_delay=r.bias_delays.get(name, 0) if np.any(bias) else 0)


def _flatten(name: str, node: nir.Flatten, in_shape, r: Reading) -> Flatten:
    return Flatten((int(np.prod(in_shape)),))


def _pool(name: str, node: nir.AvgPool2d | nir.SumPool2d, in_shape, r: Reading) -> AvgPool2d | Conv2d:
    """A pool whose windows tile the input (stride = kernel, no padding, the kernel dividing the
    input): our AvgPool2d (folded into the next weights; a sum is the mean times k0 k1, into those
    weights too).  Any other stride and padding: a depthwise Conv2d of fixed weights (1/(k0 k1)
    for a mean, padding counted as zeros as PyTorch's count_include_pad does; 1 for a sum), which
    `fold_pools` composes into the next layer after reading."""
    k = whole_pair(node.kernel_size, f"node {name}: kernel_size")
    stride = whole_pair(node.stride, f"node {name}: stride")
    pad = _padding(name, node.padding, k)
    total = isinstance(node, nir.SumPool2d)
    if stride == k and pad == (0, 0) and in_shape[1] % k[0] == 0 and in_shape[2] % k[1] == 0:
        if total:
            r.sum_pools[name] = k[0] * k[1]
        return AvgPool2d(k, (in_shape[0], in_shape[1] // k[0], in_shape[2] // k[1]))
    c = in_shape[0]
    shape = (c, *((in_shape[i + 1] + 2 * pad[i] - k[i]) // stride[i] + 1 for i in range(2)))
    if min(shape[1:]) < 1:
        raise NIRFormatError(f"node {name}: {type(node).__name__} kernel {k} does not fit its input {tuple(in_shape)}")
    w = np.zeros((c, c, *k))
    w[np.arange(c), np.arange(c)] = 1.0 if total else 1.0 / (k[0] * k[1])
    r.pools[name] = (tuple(in_shape), type(node).__name__)
    return Conv2d(w, np.zeros(c), stride, pad, shape)


def _lif(name: str, node: nir.LIF, in_shape, r: Reading) -> LIF:
    shape = _neuron_shape(node.tau, in_shape)
    coef = r.dt / np.asarray(node.tau, np.float64)
    decay = np.exp(-coef) if r.info.get("integration") == "zoh" else 1.0 - coef
    v_th, bias, v0 = _reset_frame(name, node, shape, (1.0 - decay) * np.ones(shape))
    return LIF(_channelwise(name, decay, shape), _channelwise(name, (1.0 - decay) * node.r, shape), v_th,
               shape, rule=r.rule, bias=bias, v0=v0)


def _cuba_lif(name: str, node: nir.CubaLIF, in_shape, r: Reading) -> LIF:
    shape = _neuron_shape(node.tau_mem, in_shape)
    syn, mem = r.dt / np.asarray(node.tau_syn, np.float64), r.dt / np.asarray(node.tau_mem, np.float64)
    if np.any(syn > 1) or np.any(mem > 1):
        raise NIRFormatError(f"node {name}: CubaLIF tau_syn and tau_mem must be >= dt ({r.dt:g} s) "
                             f"for forward Euler to decay")
    v_th, bias, v0 = _reset_frame(name, node, shape, mem * np.ones(shape))
    gain = syn * np.asarray(node.w_in, np.float64) * mem * np.asarray(node.r, np.float64) * np.ones(shape)
    return LIF(_channelwise(name, (1.0 - mem) * np.ones(shape)), _channelwise(name, gain), v_th, shape,
               rule=r.rule, syn_leak=_channelwise(name, (1.0 - syn) * np.ones(shape)), bias=bias, v0=v0)


def _reset_frame(name: str, node, shape: tuple, pull) -> tuple:
    """(v_th, bias, v0) of a neuron with NIR's resting potential v_leak and reset potential v_reset,
    run in the frame w = v - v_reset, where a spike resets w to 0 as Loihi's does:

        v[t] = M v[t-1]' + pull (v_leak - v[t-1]') + N I   (pull = 1 - M: LIF's dt/tau; IF: none)
        w[t] = M w[t-1]' + N I + pull (v_leak - v_reset),  fire at w > v_th - v_reset,  w[-1] = -v_reset

    (exact: the same spikes, w the same values shifted).  The constant is a bias, the start
    NIR's v = 0 is the potential v0 = -v_reset before the first step.  (None, None) where both
    potentials are 0."""
    v_leak = np.asarray(getattr(node, "v_leak", 0.0), np.float64) * np.ones(shape)
    v_reset = np.asarray(0.0 if node.v_reset is None else node.v_reset, np.float64) * np.ones(shape)
    th = np.asarray(node.v_threshold, np.float64) * np.ones(shape) - v_reset
    if np.any(th <= 0):
        raise NIRFormatError(f"node {name}: v_reset >= v_threshold: a reset potential runs on the chip as a "
                             f"reset to 0 with the threshold v_threshold - v_reset, which must be > 0")
    bias = _each(pull * (v_leak - v_reset)) if np.any(v_leak != 0) or np.any(v_reset != 0) else None
    v0 = _each(-v_reset) if np.any(v_reset != 0) else None
    if bias is not None and not np.any(bias):
        bias = None
    return _v_th(th, shape), bias, v0


def _li(name: str, node: nir.LI, in_shape, r: Reading) -> LI:
    """v[t] = (1 - dt/tau) v[t-1] + dt/tau (r I + v_leak): the resting potential a constant input."""
    shape = _neuron_shape(node.tau, in_shape)
    coef = r.dt / np.asarray(node.tau, np.float64)
    rest = coef * np.asarray(node.v_leak, np.float64) * np.ones(shape)
    return LI(_channelwise(name, 1.0 - coef, shape), _channelwise(name, coef * node.r, shape), shape,
              bias=_channelwise(name, rest, shape) if np.any(rest) else None)


def _threshold(name: str, node: nir.Threshold, in_shape, r: Reading) -> LIF:
    """s = H(I - theta), no memory: a LIF that forgets v."""
    shape = _neuron_shape(node.threshold, in_shape)
    return LIF(np.zeros(shape[0]), np.ones(shape[0]), _v_th(node.threshold, shape), shape, rule=r.rule)


def _if(name: str, node: nir.IF, in_shape, r: Reading) -> LIF:
    shape = _neuron_shape(node.r, in_shape)
    v_th, bias, v0 = _reset_frame(name, node, shape, 0.0)      # no leak: no pull towards a rest
    ones = np.ones(shape)
    return LIF(_channelwise(name, ones), _channelwise(name, r.dt * np.asarray(node.r) * ones), v_th, shape,
               rule=r.rule, bias=bias, v0=v0)


def _output(name: str, node: nir.Output, in_shape, r: Reading) -> Output:
    shape = tuple(int(v) for v in node.output_type["output"])
    if r.foreign and in_shape is not None:
        shape = tuple(in_shape)     # exporters disagree on batch dims here; the graph decides
    return Output(shape)


# NIR node type -> reader; by_type takes the first entry the node is an instance of
READERS = {nir.Input: _input, nir.Conv2d: _conv2d, nir.Conv1d: _conv1d, nir.Affine: _affine, nir.Linear: _affine,
           nir.Flatten: _flatten, nir.AvgPool2d: _pool, nir.SumPool2d: _pool, nir.LIF: _lif,
           nir.CubaLIF: _cuba_lif, nir.LI: _li, nir.Threshold: _threshold, nir.IF: _if, nir.Output: _output}


def check_values(name: str, node) -> None:
    """Finite arrays everywhere; strides, kernels and dilations >= 1, padding >= 0; a LIF needs
    tau > 0 (a leak) and v_threshold > v_reset (a spike rule the chip's unsigned threshold can
    hold in the reset's frame, and without which every step fires), a Threshold threshold > 0."""
    for field_name, value in vars(node).items():
        if isinstance(value, np.ndarray):
            validate.finite_array(f"node {name}", field_name, value)
    for f in ("stride", "kernel_size", "dilation"):   # NIR's own shape inference divides by them
        if f in vars(node) and np.any(np.asarray(getattr(node, f), np.float64) < 1):
            raise NIRFormatError(f"node {name}: {type(node).__name__} {f} must be >= 1 "
                                 f"(got {np.asarray(getattr(node, f)).tolist()})")
    if "padding" in vars(node) and not isinstance(node.padding, str) and np.any(np.asarray(node.padding) < 0):
        raise NIRFormatError(f"node {name}: {type(node).__name__} padding must be >= 0")
    if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF, nir.LI, nir.Threshold)):
        fields = {nir.LIF: ("tau", "v_threshold"), nir.IF: ("v_threshold",), nir.LI: ("tau",),
                  nir.CubaLIF: ("tau_syn", "tau_mem", "v_threshold"), nir.Threshold: ("threshold",)}[type(node)]
        for f in fields:
            a = np.asarray(getattr(node, f), np.float64)
            v_reset = getattr(node, "v_reset", None)
            if f == "v_threshold" and v_reset is not None and np.any(np.asarray(v_reset, np.float64)):
                a = a - np.asarray(node.v_reset, np.float64)    # the threshold above the reset potential
                f = "v_threshold - v_reset"
            if np.any(a <= 0):
                raise NIRFormatError(f"node {name}: {type(node).__name__} {f} must be > 0 "
                                     f"({int((a <= 0).sum())} value(s) <= 0, min {a.min():.4g})")


def _check_fan_in(name: str, node, in_shape) -> None:
    """A synapse layer's weights must take its input (NIR's type check is off for per-channel
    neuron arrays, so this is checked here for every file)."""
    if in_shape is None or not isinstance(node, (*LINEAR, nir.Conv2d, nir.Conv1d)):
        return
    want = int(np.prod(in_shape)) if isinstance(node, LINEAR) else int(in_shape[0])
    if node.weight.shape[1] * (1 if isinstance(node, LINEAR) else max(int(node.groups), 1)) != want:
        raise NIRFormatError(f"node {name}: weight of shape {tuple(node.weight.shape)} does not take an input "
                             f"of shape {tuple(in_shape)}")


def _bias(node, n: int) -> np.ndarray:
    b = getattr(node, "bias", None)
    return np.zeros(n) if b is None else np.asarray(b, np.float64).reshape(n)


def _v_th(a, shape: tuple) -> float | np.ndarray:
    """A threshold as the LIF node holds it: one float when every neuron shares it, else an array
    of the neuron shape."""
    th = np.asarray(a, np.float64)
    if np.all(th == th.flat[0]):
        return float(th.flat[0])
    return th.copy() if th.shape == tuple(shape) else np.broadcast_to(th, shape).copy()


def _neuron_shape(param, in_shape) -> tuple:
    """A neuron layer's shape: its input's (exporters such as snnTorch write one scalar per
    layer), else its parameters' own."""
    return tuple(in_shape) if in_shape is not None else tuple(np.shape(param))


def _each(a: np.ndarray) -> np.ndarray:
    """Per channel (C,) where a is constant over each channel, else per neuron (a's own shape)."""
    flat = np.asarray(a, np.float64).reshape(a.shape[0], -1)
    return flat[:, 0].copy() if np.all(flat == flat[:, :1]) else np.asarray(a, np.float64).copy()


def _channelwise(name: str, a: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """(C, H, W) or (C,) values that must be constant over space -> (C,); a single value (an
    exporter's scalar for the whole layer) is spread over shape's channels."""
    a = np.asarray(a, np.float64)
    if a.size == 1 and shape is not None:
        return np.full(shape[0], float(a.reshape(-1)[0]))
    flat = a.reshape(a.shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        raise NIRFormatError(f"node {name}: LIF parameters vary within a channel")
    return flat[:, 0].copy()
