"""The host's share of a deployed program: the first synaptic layer, computed in float on the
host and fed to the chip as integer input currents (chip/program.py, HostLayer)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from spikefold.chip.formats import INT32
from spikefold.chip.program import Program, dense_ops
from spikefold.models.layers import encode_input


# The largest input current the host sends, in the chip's activation units: Lava's neuron
# arithmetic is int32 (chip/formats.py INT32).  A current beyond it (an input of 1e30) is
# saturated here, and counted by the simulator as a host saturation (`host_saturations`).
HOST_LIMIT = INT32 - 1


def host_currents(program: Program, x: torch.Tensor) -> torch.Tensor:
    """Integer input currents of the host layer: (1, B, *shape) for static inputs x (B, *sample),
    the same currents on each of the T steps, or (T, B, *shape) for sequences (B, T, *sample):
    round(W * x * scale), saturated at +-HOST_LIMIT, computed once per distinct input frame.  sample = program.input_shape, of any
    rank (a dense host layer flattens it).  A host layer with a delay d (NIR's Delay on the layer
    the input feeds) sends frame t on step t + d, zeros before; one with a first-step kick adds it
    on step 0: both (T, B, *shape)."""
    h = program.host
    rank = len(program.input_shape)
    encode_input(x, program.timesteps, rank)                  # refuses a shape of the wrong rank
    if h.kind == "bias":     # the input is dst's bias (simulate/engine.py adds it): no currents
        if x.dim() != rank + 1:
            raise ValueError(f"this program's input is its input layer's bias: one static frame per sample "
                             f"(B, {', '.join(map(str, program.input_shape))}), not a sequence")
        return torch.zeros(1, x.shape[0], *h.out_shape, dtype=torch.int64)
    frames = x.unsqueeze(1) if x.dim() == rank + 1 else x
    # on the CPU wherever the chip is simulated: a GPU's float64 conv may round a tie the other way
    flat = frames.reshape(-1, *frames.shape[2:]).double().cpu()
    w = torch.as_tensor(h.weight, dtype=torch.float64, device="cpu")
    b = None if h.bias is None else torch.as_tensor(h.bias, dtype=torch.float64, device="cpu")
    if h.kind == "spikes":   # copies of the input (deploy/added_nodes.py spikes_on_chip): channel j C + c is c
        c, rest = h.in_shape[0], [1] * (flat.dim() - 2)   # times its diagonal weight, 1 / (2 j + 1)
        gain = w.reshape(w.shape[0], w.shape[1])[torch.arange(w.shape[0]), torch.arange(w.shape[0]) % c]
        cur = flat.repeat(1, w.shape[0] // c, *rest) * gain.view(1, -1, *rest)
        if b is not None:
            cur = cur + b.view(1, -1, *rest)
    else:
        cur = F.conv2d(flat, w, b, h.stride, h.padding) if h.kind == "conv" else flat.flatten(1) @ w.T + (
            0 if b is None else b)
    a = torch.round(cur * h.scale).clamp(-HOST_LIMIT, HOST_LIMIT).to(torch.int64).view(frames.shape[0], frames.shape[1], *h.out_shape)
    a = encode_input(a, program.timesteps, len(h.out_shape)) if x.dim() == rank + 1 else a.transpose(0, 1)
    if h.delay or h.first is not None:
        a = a.expand(program.timesteps, *a.shape[1:])       # (T, B, *shape): the steps differ
        d = min(h.delay, program.timesteps)
        a = torch.cat([a.new_zeros(d, *a.shape[1:]), a[: program.timesteps - d]])   # frame t on step t + d
        if h.first is not None:   # the first step's kick: a start potential (deploy/quantize.py)
            a[0] += torch.as_tensor(h.first, dtype=torch.int64)
            a[0].clamp_(-HOST_LIMIT, HOST_LIMIT)
    return a


def host_macs(program: Program, x: torch.Tensor) -> int:
    """Multiply-accumulates the host layer spends on x (once per distinct frame)."""
    static = x.dim() == len(program.input_shape) + 1
    return dense_ops(program.host) * x.shape[0] * (1 if static else x.shape[1])
