"""The fast chip simulator: a `chip.program.Program` on a batch, spike for spike as Lava runs it.

Equivalent to stepping Lava's LoihiProtocol (every synapse delivers on step t
what it computed from the spikes of step t - 1), but organised layer by layer in
the order of the layers' start steps: each feed-forward synapse layer is applied
once to the spikes of all steps and all samples (one batched conv or matmul), and
each neuron layer then steps through time with the integer LIF step of
`chip.lif_int`, all neurons at once; a layer with a recurrent synapse steps
through time applying it to the previous step's spikes (`_neurons`).

Exact integers in float: integer weights times 0/1 spikes are summed in float32
where no sum can reach 2**24 (every partial sum is then an exact integer, in any
order) and in float64 otherwise; a layer's states stay in float32 while its
inputs, biases and states provably stay below 2**24 (checked per batch from the
inputs' range), and fall back to float64 otherwise.  Synapse layers whose
weights connect each channel only to itself (the relays and identity shortcuts
deploy.quantize adds) run as depthwise convs or per-channel products, and
kernels an average pool was folded into (each pool-sized block one value) as a
sum pool and the small conv: the same integer sums, regrouped, at a fraction of
the multiplies (simulate/kernels.py).  On CPU the convs run in
channels-last layout (oneDNN's fast path, direct convolution).  On a GPU every
synapse layer runs in float64 and convs are rounded to integers, since cuDNN may
choose Winograd or FFT algorithms (and matmuls TF32) whose float32 errors can
reach 0.5 on sums near 2**24, while float64's stay far below it; everything else
is the same code on the device of the Simulator, and the host layer's currents
are computed on the CPU (chip/host.py), so every device gives the same integers.

Counts (per layer and in total, over the batch): spikes, synaptic events (each
spike times its real fan-out, border positions of a padded conv reaching fewer
targets), neuron updates and active ones, host MACs, u wraps, v saturations and
24-bit wraps of conv accumulators.  An update is active when the neuron receives
nonzero synaptic input on that step (its bias not counted).  Per layer also the spikes of each neuron
(summed over steps and batch), and per step the active updates and the synaptic
events each outgoing synapse layer carries: what the chip's time and routing
model (chip/cost.py) needs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from spikefold.chip.program import Program
from spikefold.common import validate
from spikefold.chip.host import HOST_LIMIT, host_currents, host_macs
from spikefold.chip.formats import (ACT_SHIFT, CONV_ACC_BITS, DECAY_UNITY, DU_MAX, DV_OFFSET, INT32, UV_MAX,
                              VTH_SHIFT)
from spikefold.chip.lif_int import lif_step, lif_steps_current_free, odd_part, wrap24, wrap32, wrap_signed
from spikefold.simulate.kernels import (EXACT_F32, by_neuron, count_nonzero, fanout, in_c_order, kernel,
                                        max_abs_per_step)

# how a layer ran (Simulator.paths counts them per run, so tests can show each is exercised)
PATHS = ("states float32", "states float32, split decay", "states float64", "u wraps", "stepwise",
         "conv", "conv, sum-pooled", "conv, odd map pooled", "depthwise", "per-channel", "dense",
         "full run, rest skipped")


def first_active(program: Program, order: list) -> dict:
    """{layer: the first step at which it can hold a nonzero state}: its bias start, the first
    step anything can reach it (an input's own first step + 1 + delay; the host's currents from
    step 0), whichever is earlier.  Before it a layer rests at zero in a full run: in deployed
    programs (bias starts where data arrives) that is every step before `start`; `order` must list
    each layer after its inputs (recurrent synapses aside), as the Simulator's does."""
    first = {}
    for name in order:
        arrive = [first.get(s.src, 0) + 1 + s.delay for s in program.synapses.values()
                  if s.dst == name and s.src != name]
        first[name] = min([program.neurons[name].start, *arrive] + ([0] if name == program.host.dst else []))
    return first


WINDOW_KEYS = ("spikes", "synaptic_events", "neuron_updates", "active_updates")


@dataclass
class SimResult:
    logits: torch.Tensor                      # (T, B, K) float: a / readout_scale + bias (CPU)
    readout: torch.Tensor                     # (T, B, K) int64: what the readout synapse delivered (CPU)
    spikes: dict = field(default_factory=dict)  # name -> (steps, B, *shape) bool (full mode, if recorded; CPU)
    u: dict = field(default_factory=dict)       # name -> (steps, B, *shape) int64: u after each step (if asked)
    v: dict = field(default_factory=dict)       # name -> (steps, B, *shape) int64: v after each step's reset
    counts: dict = field(default_factory=dict)  # "layers", "synapses", "total"; full mode also "window"


class Simulator:
    """mode="full": every layer for all T + depth steps of a chip run (what Lava does, spike for
    spike; the steps before a layer's `first_active` one are counted, not computed: it rests at
    zero there).  mode="window": each layer only for the T steps its data passes through it
    (steps start .. start + T - 1); before them it provably rests at zero, after them it can no
    longer reach the readout window, so logits are identical and counts are per inference.
    device: where the tensors live ("cpu", "cuda", ...); results come back on the CPU.
    `paths` counts, over the runs so far, which way each layer ran (PATHS).  run(states=True) also
    records every layer's u and v after every step (what Lava's u.get(), v.get() return), stepping
    every layer one step at a time."""

    def __init__(self, program: Program, device: str | torch.device = "cpu"):
        self.p = program
        self.device = torch.device(device)
        self.channels_last = self.device.type == "cpu"
        self.order = sorted(program.neurons, key=lambda n: program.neurons[n].start)
        self.params = {}
        for name, n in program.neurons.items():
            bias = np.asarray(n.bias_mant * (1 << n.bias_exp).astype(np.int64))
            vth64 = np.asarray(n.vth) * (1 << VTH_SHIFT)
            f = lambda a: self._param(a, n.shape)
            self.params[name] = {"du": f(n.du), "dv": f(n.dv), "vth64": f(vth64), "bias": f(bias),
                                 "bias_max": float(np.abs(bias).max()), "vth64_max": float(np.max(vth64)),
                                 "keep_odd_max": float(odd_part(DECAY_UNITY - (np.asarray(n.dv) + DV_OFFSET)).max()),
                                 "current_free": bool(np.all(n.du == DU_MAX))}
        self.paths = Counter()
        self.first_active = first_active(program, self.order)
        self.kernels = {name: kernel(s, self.device, self.channels_last) for name, s in program.synapses.items()}
        self.fanout = {name: fanout(s) for name, s in program.synapses.items()}

    def batch_bytes(self, batch: int) -> int:
        """At most what run() holds for `batch` samples (bytes): over every step, each layer's
        input (float64), spikes (bool) and output to the next layer (float64) at once, the host's
        currents (float64) and the inputs (float32)."""
        p = self.p
        neurons = sum(int(np.prod(n.shape)) for n in p.neurons.values())
        host = int(np.prod(p.neurons[p.host.dst].shape))
        return p.steps * batch * (17 * neurons + 8 * host + 4 * int(np.prod(p.input_shape)))

    def check_memory(self, batch: int, max_mb: float = validate.MAX_WORK_MB) -> None:
        """InputError, before anything is allocated, if a batch of `batch` samples would hold
        more than `max_mb` MiB."""
        p = self.p
        validate.work(f"{batch} samples x {p.steps:,} steps ({p.timesteps:,} per sample) x "
                      f"{sum(int(np.prod(n.shape)) for n in p.neurons.values()):,} neurons",
                      self.batch_bytes(batch), max_mb,
                      "lower --batch-size, or the steps per sample" if batch > 1 else "lower the steps per sample")

    def fit_batch(self, batch: int, max_mb: float = validate.MAX_WORK_MB) -> int:
        """The largest batch of at most `batch` samples that holds at most `max_mb` MiB (results do
        not depend on the batch); InputError (check_memory) when one sample would not fit."""
        fits = int(max_mb * (1 << 20)) // max(self.batch_bytes(1), 1)
        if fits < 1:
            self.check_memory(1, max_mb)
        return max(1, min(batch, fits))

    def _param(self, x, shape: tuple) -> torch.Tensor:
        """A per-neuron parameter as a float64 tensor on the device, as small as its values allow:
        0-d if uniform, (C, 1, 1) if uniform over each channel's positions, else `shape` in the
        states' memory layout (mismatched strides cost elementwise kernels their vector path)."""
        x = np.broadcast_to(np.asarray(x, dtype=np.float64), shape)
        as_t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, device=self.device)
        if x.size and (x == x.flat[0]).all():
            return as_t(x.flat[0])
        if len(shape) == 3 and (x == x[:, :1, :1]).all():
            return as_t(x[:, :1, :1])
        t = as_t(x)
        return t.permute(1, 2, 0).contiguous().permute(2, 0, 1) if self.channels_last and len(shape) == 3 else t

    def synapse(self, name: str, spikes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Activations (n, B, *out) (integers in float32 or float64) from spikes (n, B, *in) (0/1 in
        any float or bool dtype); and the number of conv accumulators that wrapped to 24 bits."""
        s, k = self.p.synapses[name], self.kernels[name]
        flat = spikes.reshape(-1, *s.in_shape).to(k.weight.dtype)
        n_wrap = 0
        if s.kind == "conv":
            if k.pool is not None:                 # sum pooling: averages of 0/1 values times 4 are exact
                pad_h, pad_w = (-flat.shape[2]) % k.pool[0], (-flat.shape[3]) % k.pool[1]
                if pad_h or pad_w:
                    flat = F.pad(flat, (0, pad_w, 0, pad_h))
                    self.paths["conv, odd map pooled"] += 1
                flat = F.avg_pool2d(flat, k.pool).mul_(k.pool[0] * k.pool[1])
            self.paths["per-channel" if k.pointwise else "depthwise" if k.groups > 1 else
                       "conv, sum-pooled" if k.pool else "conv"] += 1
            if k.pointwise:
                y = flat * k.weight
            else:
                if self.channels_last:
                    flat = flat.contiguous(memory_format=torch.channels_last)
                y = F.conv2d(flat, k.weight, None, k.stride, k.padding, groups=k.groups)
                if self.device.type != "cpu":
                    y = y.round_()
            if k.pool is not None:
                y = y[:, :, :s.out_shape[1], :s.out_shape[2]]
            if y.numel() and k.bound >= UV_MAX:
                lo, hi = y.aminmax()
                if max(float(hi), -float(lo)) >= UV_MAX:   # Lava's signed_clamp(bits=24): a modulo
                    y = y.double()
                    wrapped = wrap_signed(y, CONV_ACC_BITS)
                    n_wrap, y = int((wrapped != y).sum()), wrapped
        else:
            self.paths["per-channel" if k.pointwise else "dense"] += 1
            y = flat.flatten(1) * k.weight if k.pointwise else flat.flatten(1) @ k.weight.T
            e = s.weight_exp
            y = y * (1 << e) if e >= 0 else torch.floor(y / (1 << -e))
        return y.view(*spikes.shape[:2], *s.out_shape), n_wrap

    def _zeros(self, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        """Zeros (steps, B, C, H, W) in the layout the convs produce (channels-last on CPU)."""
        if self.channels_last and len(shape) == 5:
            S, B, C, H, W = shape
            return torch.zeros((S, B, H, W, C), dtype=dtype, device=self.device).permute(0, 1, 4, 2, 3)
        return torch.zeros(shape, dtype=dtype, device=self.device)

    def _sample_bias(self, x: torch.Tensor) -> dict:
        """A host layer of kind "bias": the host-fed layer's parameters with its bias per sample,
        (bias_mant + x) << bias_exp, (B, *shape) float64 on the device (x: integers (B, *shape))."""
        name = self.p.host.dst
        if tuple(x.shape[1:]) != tuple(self.p.host.out_shape):
            raise ValueError(f"x has shape {tuple(x.shape)}; this program's input is layer {name}'s bias, "
                             f"(B, {', '.join(map(str, self.p.host.out_shape))})")
        if not torch.equal(x, x.round()):
            raise ValueError(f"the input is layer {name}'s bias mantissa: it must hold integers")
        n = self.p.neurons[name]
        bias = (np.asarray(n.bias_mant, np.float64) + x.double().cpu().numpy()) * (1 << np.asarray(n.bias_exp))
        return {**self.params[name], "bias": torch.as_tensor(bias, dtype=torch.float64, device=self.device),
                "bias_max": float(np.abs(bias).max()) if bias.size else 0.0}

    @torch.no_grad()
    def run(self, x: torch.Tensor, record: bool = False, mode: str = "full", states: bool = False) -> SimResult:
        if mode not in ("full", "window"):
            raise ValueError(f"mode must be 'full' or 'window' (got {mode!r})")
        p = self.p
        self.prm = dict(self.params)
        if p.host.kind == "bias":
            self.prm[p.host.dst] = self._sample_bias(x)
        self.states = {} if states else None
        T, steps = p.timesteps, p.steps
        host = host_currents(p, x)
        host_saturations = int((host.abs() >= HOST_LIMIT).sum())
        host_max = float(host.abs().max()) if host.numel() else 0.0
        host = host.to(self.device, torch.float64 if host_max >= EXACT_F32 else torch.float32)
        B = host.shape[1]
        span = {n: (self.first_active[n], steps) if mode == "full" else (p.neurons[n].start, p.neurons[n].start + T)
                for n in self.order}
        span["readout"] = (p.depth, p.depth + T)
        spikes, counts = {}, {"layers": {}, "synapses": {}}
        incoming = {n: [] for n in span}    # dst -> [(first step, activations, bound)]
        for name in self.order:
            n = p.neurons[name]
            lo, hi = span[name]
            parts = incoming.pop(name)
            fresh = len(parts) == 1 and parts[0][0] == lo and len(parts[0][1]) == hi - lo
            if fresh:
                a = parts[0][1]                    # the common case: one input covering the span
            else:
                bound = sum(b for _, _, b in parts) + (host_max if name == p.host.dst else 0.0)
                wide = bound >= EXACT_F32 or any(y.dtype == torch.float64 for _, y, _ in parts)
                a = self._zeros((hi - lo, B, *n.shape), torch.float64 if wide else torch.float32)
                if name == p.host.dst:
                    a[: T - lo] += host[lo:T]
                for first, y, _ in parts:
                    a[first - lo: first - lo + len(y)] += y
            rest = lo if mode == "full" else 0       # full mode: steps 0 .. lo - 1 provably at rest
            window = (n.start, n.start + T) if mode == "full" else None
            out = self._neurons(name, a, lo, counts, rest, window)
            if record:
                spikes[name] = F.pad(out.cpu().contiguous().bool(), (0, 0) * (out.dim() - 1) + (rest, 0))
            if states:                               # the rest steps before the span hold zeros
                self.states[name] = [F.pad(t, (0, 0) * (t.dim() - 1) + (rest, 0)) for t in self.states[name]]
            for syn in p.outputs_of(name):
                if p.synapses[syn].dst == name:      # recurrent: applied step by step in _neurons
                    continue
                dst, lag = p.synapses[syn].dst, 1 + p.synapses[syn].delay
                d_lo, d_hi = span[dst]
                s_lo, s_hi = max(lo, d_lo - lag), min(hi, d_hi - lag)   # source steps that reach dst
                y, n_wrap = self.synapse(syn, out[s_lo - lo: max(s_lo, s_hi) - lo])
                incoming[dst].append((s_lo + lag, y, self.kernels[syn].bound))
                counts["synapses"][syn] = {"conv_wraps": n_wrap}
        ro = torch.zeros((T, B, *p.synapses[p.readout[0]].out_shape), dtype=torch.float64, device="cpu")
        for first, y, _ in incoming.pop("readout"):   # a delayed readout synapse's part starts later
            ro[first - p.depth: first - p.depth + len(y)] += y.double().cpu()
        logits = p.logits(ro)
        keys = ("spikes", "synaptic_events", "neuron_updates", "active_updates", "u_wraps", "v_saturations")
        tot = {k: sum(l[k] for l in counts["layers"].values()) for k in keys}
        tot["conv_wraps"] = sum(s["conv_wraps"] for s in counts["synapses"].values())
        tot["host_macs"] = host_macs(p, x)
        tot["host_saturations"] = host_saturations
        tot["samples"], tot["mode"] = B, mode
        counts["total"] = tot
        if mode == "full":
            win = counts.pop("window")
            counts["window"] = {"layers": win, "total": {
                **{k: sum(l[k] for l in win.values()) for k in WINDOW_KEYS},
                "host_macs": tot["host_macs"], "samples": B, "mode": "window"}}
        u, v = ({k: s[i] for k, s in self.states.items()} for i in (0, 1)) if states else ({}, {})
        return SimResult(logits.float(), ro.round().to(torch.int64), spikes, counts=counts, u=u, v=v)

    def _neurons(self, name: str, a: torch.Tensor, lo: int, counts: dict, rest: int = 0,
                 window: tuple | None = None) -> torch.Tensor:
        """Step one neuron layer through its span; a: (steps, B, *shape) input activations (integers
        in float32 or float64, made for this layer alone: overwritten).  Returns spikes (steps, B,
        *shape) as 0/1 floats in a's layout.  `rest`: steps before the span at which the layer
        provably rests at zero (no input, no bias, no spike; `first_active`): counted as updates,
        and as zeros in the per-step figures, without being computed.  `window` (full mode):
        the steps [w0, w1) of the layer's own T-step window, whose figures are also kept in
        counts["window"] (what mode "window" counts: the layer rests at zero before w0, so a
        window run computes exactly these steps)."""
        n, prm = self.p.neurons[name], self.prm[name]
        steps = a.shape[0]
        bias_on = max(0, min(steps, n.start - lo))   # steps before `start` run without bias
        wraps = sats = 0
        rec = [k for k in self.p.inputs_of(name) if self.p.synapses[k].src == name]
        active = count_nonzero(a)
        if prm["current_free"] and not rec and not n.reset_interval and self.states is None:
            out, wraps, sats = self._current_free(prm, a, bias_on)
        else:
            self.paths["stepwise"] += 1
            a = a.double()
            u = torch.zeros(a.shape[1:], dtype=torch.float64, device=self.device)
            v = torch.zeros_like(u)
            out = torch.empty(a.shape, dtype=torch.bool, device=self.device)
            zero = torch.zeros_like(prm["bias"])
            conv_wraps = dict.fromkeys(rec, 0)
            record = self.states is not None
            if record:
                us, vs = torch.empty(a.shape, dtype=torch.int64), torch.empty(a.shape, dtype=torch.int64)
            for i in range(steps):
                a_i = a[i]
                # LIFReset: u and v zeroed before this step's update (Lava's time_step = step + 1)
                if n.reset_interval and (lo + i + 1) % n.reset_interval == n.reset_offset % n.reset_interval:
                    u, v = torch.zeros_like(u), torch.zeros_like(v)
                for k in rec:                  # what the recurrent synapse delivers: last step's spikes
                    if i > 0:
                        y, n_wrap = self.synapse(k, out[i - 1: i])
                        a_i, conv_wraps[k] = a_i + y[0], conv_wraps[k] + n_wrap
                        active[i] = count_nonzero(a_i[None])[0]   # the active count sees the recurrent input
                u, v, out[i], u_raw, v_raw = lif_step(u, v, a_i, prm["du"], prm["dv"],
                                                      prm["bias"] if i >= bias_on else zero, prm["vth64"])
                wraps += int((u_raw != u).sum())
                sats += int((v_raw.abs() > UV_MAX - 1).sum())
                if record:
                    us[i], vs[i] = u.cpu(), v.cpu()
            if record:
                self.states[name] = (us, vs)
            out = out.to(torch.float32)
            for k in rec:
                counts["synapses"][k] = {"conv_wraps": conv_wraps[k]}
        size = int(np.prod(n.shape))
        # (steps, neurons): float32 sums over the batch are exact (each below 2**24)
        per_step = in_c_order(by_neuron(out).sum(dim=1), out).cpu().double()
        if rest:
            self.paths["full run, rest skipped"] += 1
            per_step = F.pad(per_step, (0, 0, rest, 0))
        fired = per_step.sum(0)
        events = {s: per_step @ self.fanout[s].flatten() for s in self.p.outputs_of(name)}
        active = F.pad(active.cpu(), (rest, 0))
        counts["layers"][name] = {
            "neurons": size, "spikes": int(fired.sum()),
            "synaptic_events": sum(float(e.sum()) for e in events.values()),
            "neuron_updates": size * (rest + steps) * a.shape[1], "active_updates": int(active.sum()),
            "u_wraps": wraps, "v_saturations": sats, "relay": n.relay,
            # for the chip's time and traffic (chip/cost.py), over the steps of this run's span
            "fired": fired.view(n.shape), "active_per_step": active,
            "events_per_step": events}
        if window is not None:
            w0, w1 = window
            fired_w, active_w = per_step[w0:w1].sum(0), active[w0:w1]
            events_w = {s: e[w0:w1] for s, e in events.items()}
            counts.setdefault("window", {})[name] = {
                "spikes": int(fired_w.sum()), "synaptic_events": sum(float(e.sum()) for e in events_w.values()),
                "neuron_updates": size * (w1 - w0) * a.shape[1], "active_updates": int(active_w.sum()),
                "fired": fired_w.view(n.shape), "active_per_step": active_w, "events_per_step": events_w}
        return out

    def _current_free(self, prm: dict, a: torch.Tensor, bias_on: int) -> tuple:
        """A layer whose u is cleared every step (du = 4095): u = wrap24(a << 6) needs no state, so
        every step's drive c = u + bias is computed at once and only v steps through time
        (lif_steps_current_free).  Returns spikes, u wraps, v saturations."""
        steps, gain = a.shape[0], 1 << ACT_SHIFT
        if not steps:
            return torch.empty(a.shape, dtype=torch.float32, device=self.device), 0, 0
        per_step = max_abs_per_step(a)
        a_max, bias_max = float(per_step.max()), prm["bias_max"]
        wraps = 0
        if a_max * gain >= UV_MAX:                   # u can wrap (to 24 bits, or int32 first)
            self.paths["u wraps"] += 1
            c = wrap32(a.double() * gain)
            wrapped = wrap24(c)
            wraps, c = int((wrapped != c).sum()), wrapped
            c[bias_on:] += prm["bias"]
            per_c = max_abs_per_step(c)
        else:                                        # |c| <= 2**23 + |bias|
            dtype = torch.float32 if a_max * gain + bias_max < EXACT_F32 else torch.float64
            c = a.to(dtype).mul_(gain)              # in place when a is already in dtype
            if bias_max:
                c[bias_on:] += prm["bias"].to(dtype)
            per_c = per_step * gain + torch.where(torch.arange(steps, device="cpu") >= bias_on, bias_max, 0.0)
        # |v| grows by at most max|c| per step (the decay only shrinks it): clip only if needed
        bound, peak = float(per_c.sum()), float(per_c.max())
        saturate = bound > UV_MAX - 1
        # after a step, v <= vth * 64 (else it fired and reset) and v >= -min(bound, 2**23 - 1)
        v_max = max(prm["vth64_max"], min(bound, UV_MAX - 1))
        split = c.dtype == torch.float32 and v_max * prm["keep_odd_max"] >= EXACT_F32
        self.paths["states float64" if c.dtype == torch.float64 else
                   "states float32, split decay" if split else "states float32"] += 1
        out, sats, _ = lif_steps_current_free(c, prm["dv"], prm["vth64"], saturate,
                                           overflow=peak + UV_MAX >= INT32, split=split)
        return out, wraps, sats
