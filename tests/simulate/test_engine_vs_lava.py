"""The fast simulator against the real Lava simulator (Loihi2SimCfg fixed_pt), spike for spike.

30 random programs: conv, dense and sparse (Lava's Sparse) chains, a residual block (two synapse layers summed into
one LIF), per-neuron du/dv/vth/bias, mixed-sign and one-signed weights (odd values, which
Lava's Dense truncates), Dense weight_exp in -3..3, strided and padded convs, random bias
start steps, and inputs large enough to wrap u and saturate v.  Every neuron's spikes at
every step and every readout activation must be identical.
"""
from collections import Counter

import numpy as np
import pytest
import torch

from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from spikefold.deploy.lava_graph import run_lava
from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.simulate.engine import PATHS, Simulator
from spikefold.simulate.kernels import channel_diagonal

T = 4


def weights(rng, shape):
    kind = rng.choice(["mixed", "excitatory", "inhibitory"])
    w = rng.integers(-256, 256, shape)
    if kind == "excitatory":
        w = np.abs(w).clip(0, 255)
    elif kind == "inhibitory":
        w = -np.abs(w).clip(0, 255)
    return w * (rng.random(shape) < 0.7)     # some zero synapses


def neurons(rng, shape, start, slow_leak=False):
    size = shape
    du = np.full(size, 4095) if rng.random() < 0.5 else rng.integers(0, 4096, size)
    dv = rng.integers(0, 300, size) if slow_leak else rng.integers(0, 4096, size)
    if rng.random() < 0.3:      # leaks of 1, 1/2, 1/4: v (4096 - dv) / 4096 is exact in float32 on any v
        dv = np.full(size, int(rng.choice([0, 2048, 3072])))
    vth = rng.integers(0, 3000, size)
    mant = rng.integers(-4096, 4096, size) * (rng.random(size) < 0.5)
    exp = rng.integers(0, 8, size)
    return NeuronLayer(shape, du, dv, vth, mant, exp, start, 1.0)


def conv_out(shape, c_out, k, stride, pad):
    return (c_out, *((shape[i] + 2 * pad - k) // stride + 1 for i in (1, 2)))


def random_program(seed: int, aligned: bool = False) -> tuple[Program, torch.Tensor]:
    """aligned: each layer's bias starts on the step its data first arrives and no shortcut skips
    a layer, as in every program deploy.quantize makes (what the window mode relies on)."""
    rng = np.random.default_rng(seed)
    c_in, side = int(rng.integers(1, 3)), int(rng.integers(4, 8))
    in_shape = (c_in, side, side)
    c0 = int(rng.integers(2, 5))
    h_shape = (c0, side, side)
    host = HostLayer("conv", rng.normal(0, 1, (c0, c_in, 3, 3)), (1, 1), (1, 1), in_shape, h_shape,
                     float(rng.choice([50.0, 2000.0, 60000.0])), "n0")
    neur = {"n0": neurons(rng, h_shape, 0, slow_leak=seed % 3 == 0)}
    syn = {}
    cur, shape, start = "n0", h_shape, 0
    residual = seed % 4 == 1 and not aligned
    for i in range(int(rng.integers(1, 4))):
        name = f"n{i + 1}"
        start = start + (1 if aligned else int(rng.integers(1, 3)))
        if len(shape) == 3 and (rng.random() < 0.6 or residual):
            k, stride, pad = int(rng.choice([1, 3])), int(rng.choice([1, 2])), int(rng.integers(0, 2))
            if residual:
                k, stride, pad = 3, 1, 1
            out = conv_out(shape, int(rng.integers(2, 5)) if not residual else shape[0], k, stride, pad)
            if min(out[1:]) < 1:   # too small a map for this kernel: a 1x1 conv instead
                k, stride, pad = 1, 1, 0
                out = conv_out(shape, out[0], k, stride, pad)
            w = weights(rng, (out[0], shape[0], k, k))
            form = rng.choice(["plain", "pooled", "diagonal"]) if not residual else "plain"
            if form == "pooled" and min(shape[1:]) >= 4:   # an average pool folded into the conv
                stride, k, pad = 2, 2 * int(rng.integers(1, 3)), 2 * int(rng.integers(0, 2))
                out = conv_out(shape, out[0], k, stride, pad)
                w = np.repeat(np.repeat(weights(rng, (out[0], shape[0], k // 2, k // 2)), 2, 2), 2, 3)
            elif form == "diagonal":                       # a relay or identity shortcut
                if rng.random() < 0.5:                     # a relay: one weight per channel
                    k, stride, pad = 1, 1, 0
                out = conv_out(shape, shape[0], k, stride, pad)
                w = np.zeros((shape[0], shape[0], k, k), np.int64)
                w[np.arange(shape[0]), np.arange(shape[0])] = weights(rng, (shape[0], k, k))
            syn[f"s{i + 1}"] = SynapseLayer("conv", cur, name, w, 0, (stride, stride), (pad, pad), shape, out)
        else:
            out = (int(rng.integers(3, 12)),)
            w, kind = weights(rng, (out[0], int(np.prod(shape)))), "dense"
            own = np.random.default_rng([seed, i])        # its own draws: the other layers stay as they were
            if own.random() < 0.5:                         # Lava's Sparse: most weights zero, CSR
                w, kind = w * (own.random(w.shape) < 0.3), "sparse"
                if own.random() < 0.4:                     # diagonal (SMA's mixes, flat relays)
                    f = int(np.prod(shape))
                    out, w = (f,), np.diag(own.integers(-255, 256, f) * (own.random(f) < 0.9))
            syn[f"s{i + 1}"] = SynapseLayer(kind, cur, name, w, int(rng.integers(-3, 4)), (1, 1), (0, 0), shape, out)
        neur[name] = neurons(rng, out, start)
        cur, shape = name, out
    if residual:   # a shortcut from n0 straight into the last layer, summed at its a_in
        syn["short"] = SynapseLayer("conv", "n0", cur, weights(rng, (shape[0], h_shape[0], 1, 1)), 0,
                                    (1, 1), (0, 0), h_shape, shape)
    k = int(rng.integers(2, 5))
    syn["ro"] = SynapseLayer("dense", cur, "readout", weights(rng, (k, int(np.prod(shape)))), 0, (1, 1),
                             (0, 0), shape, (k,))
    prog = Program(host, neur, syn, ("ro",), 10.0, np.zeros(k), T, start + 1, in_shape)
    x = torch.as_tensor(rng.normal(0, 1, (2, *in_shape)) * rng.choice([1.0, 30.0]))
    return prog, x


@pytest.mark.parametrize("seed", range(30))
def test_random_program_matches_lava_spike_for_spike(seed):
    prog, x = random_program(seed)
    sim = Simulator(prog).run(x, record=True)
    lava_ro, lava_spikes = run_lava(prog, x, record_spikes=True)
    for name, s in sim.spikes.items():
        assert torch.equal(lava_spikes[name].bool(), s), f"{name} differs"
    assert torch.equal(lava_ro, sim.readout)


def test_the_random_programs_exercise_what_they_claim():
    """Across the 30 programs: wraps and saturations happen, some layers fire a lot, some little,
    and every way the simulator runs a layer is taken (float32 states with the direct and the
    split decay, float64 states, u wraps; pooled, depthwise and per-channel synapse kernels, on
    odd map sizes too)."""
    totals = {"u_wraps": 0, "v_saturations": 0, "spikes": 0}
    residual, sparse, diagonal, paths = 0, 0, 0, Counter()
    for seed in range(30):
        prog, x = random_program(seed)
        sim = Simulator(prog)
        c = sim.run(x).counts["total"]
        for k in totals:
            totals[k] += c[k]
        residual += "short" in prog.synapses
        sparse += sum(s.kind == "sparse" for s in prog.synapses.values())
        diagonal += sum(s.kind == "sparse" and channel_diagonal(s.weight) is not None for s in prog.synapses.values())
        paths.update(sim.paths)
    assert totals["u_wraps"] > 0 and totals["v_saturations"] > 0 and totals["spikes"] > 100
    assert residual >= 5 and sparse >= 5 and diagonal >= 2
    assert set(paths) == set(PATHS), paths


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_as_deployed_counts_are_what_lava_runs(seed):
    """The report's chip counts, as deployed, from Lava's own spikes: Lava runs T + depth steps
    per sample, every spike there is counted, and its synaptic events are those spikes times
    their fan-out.  (The window run is not compared here: these hand-made programs switch
    biases on at random steps, before a layer's data arrives, which a deployed program
    never does; tests/deploy/test_lava_digits.py compares it with Lava on real programs.)"""
    from spikefold.simulate.kernels import fanout
    from spikefold.chip.counts import ChipAccumulator
    prog, x = random_program(seed)
    sim = Simulator(prog)
    full = sim.run(x, mode="full")
    acc = ChipAccumulator(prog)
    acc.add(full)
    deployed = acc.result()["as_deployed"]
    lava_ro, lava_spikes = run_lava(prog, x, record_spikes=True)
    B = x.shape[0]
    assert all(s.shape[0] == prog.steps == deployed["steps"] for s in lava_spikes.values())
    assert deployed["spikes"] * B == sum(int(s.sum()) for s in lava_spikes.values())
    events = sum(float((lava_spikes[syn.src].double().sum((0, 1)) * fanout(syn)).sum())
                 for syn in prog.synapses.values() if syn.src in lava_spikes)
    assert deployed["synaptic_events"] * B == pytest.approx(events)
    assert deployed["neuron_updates"] * B == sum(int(np.prod(n.shape)) for n in prog.neurons.values()) * prog.steps * B
    assert torch.equal(full.readout, lava_ro)


@pytest.mark.parametrize("seed", range(0, 30, 3))
def test_window_mode_reads_out_what_full_mode_and_lava_do(seed):
    """The report's streamed variant runs each layer only over its T-step window: on programs laid
    out as deployed, its readout equals the full run's and Lava's, and each layer's spikes in the
    window equal the full run's over the same steps."""
    prog, x = random_program(seed, aligned=True)
    sim = Simulator(prog)
    full, window = sim.run(x, record=True), sim.run(x, record=True, mode="window")
    lava_ro, _ = run_lava(prog, x)
    assert torch.equal(window.readout, full.readout) and torch.equal(window.readout, lava_ro)
    for name, s in window.spikes.items():
        start = prog.neurons[name].start
        assert torch.equal(s, full.spikes[name][start: start + prog.timesteps]), name
    assert full.counts["total"]["spikes"] > 0


def test_conv_accumulator_wraps_to_24_bits_as_lava_does():
    """A 1x1 conv over 34,000 always-firing channels with weights of +-255: each sum is
    +-8,670,000, beyond 2**23, and wraps (Lava's signed_clamp(bits=24), lava/proc/conv/models.py)
    before the next layer sees it."""
    c_in = 34_000
    host = HostLayer("conv", np.ones((c_in, 1, 1, 1)), (1, 1), (0, 0), (1, 1, 1), (c_in, 1, 1), 1.0, "n0")
    ones = np.ones((c_in, 1, 1), np.int64)
    n0 = NeuronLayer((c_in, 1, 1), 4095 * ones, 0 * ones, 1 * ones, 100 * ones, 0 * ones, 0, 1.0)  # fires every step
    w = np.concatenate([np.full((1, c_in, 1, 1), 255), np.full((1, c_in, 1, 1), -255)])
    two = np.ones((2, 1, 1), np.int64)
    n1 = NeuronLayer((2, 1, 1), 4095 * two, 0 * two, 1000 * two, 0 * two, 0 * two, 1, 1.0)
    syn = {"s1": SynapseLayer("conv", "n0", "n1", w, 0, (1, 1), (0, 0), (c_in, 1, 1), (2, 1, 1)),
           "ro": SynapseLayer("dense", "n1", "readout", np.eye(2, dtype=np.int64), 0, (1, 1), (0, 0), (2, 1, 1), (2,))}
    prog = Program(host, {"n0": n0, "n1": n1}, syn, ("ro",), 1.0, np.zeros(2), T, 2, (1, 1, 1))
    x = torch.zeros(1, 1, 1, 1)
    sim = Simulator(prog).run(x, record=True)
    lava_ro, lava_spikes = run_lava(prog, x, record_spikes=True)
    assert sim.counts["total"]["conv_wraps"] > 0
    for name, s in sim.spikes.items():
        assert torch.equal(lava_spikes[name].bool(), s), name
    assert torch.equal(lava_ro, sim.readout)
    # the wrapped sums flip sign: +8,670,000 - 2**24 < 0 never fires, -8,670,000 + 2**24 > 0 does
    assert not sim.spikes["n1"][:, 0, 0].any() and sim.spikes["n1"][2:, 0, 1].all()
