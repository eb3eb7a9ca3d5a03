"""Samples streamed through the chip as lava-dl runs them (deploy/lava_graph.py run_lava_stream):
every layer a self-resetting LIFReset, samples back to back every T steps, no host resets.  In
Lava's bit-accurate simulator, spike for spike what the fast simulator's mode "window" computes,
and per sample what the one-at-a-time run (host resets) reads out."""
import numpy as np
import pytest
import torch

from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.deploy.lava_graph import LavaNetwork, run_lava, run_lava_stream
from spikefold.deploy.quantize import quantize
from spikefold.simulate.engine import Simulator


def hand_sized(T: int = 4) -> Program:
    """host conv -> n0 (start 0) -> dense s1 -> n1 (start 1) -> dense s2, delay 1 -> n2 (start 3)
    -> readout: reset offsets by hand (Lava's time_step is step + 1): n0 (0 + 1) % 4 = 1,
    n1 (1 + 1) % 4 = 2, n2 (3 + 1) % 4 = 0."""
    rng = np.random.default_rng(5)
    ones = lambda n: np.ones(n, np.int64)
    layer = lambda n, start: NeuronLayer((n,), 4095 * ones(n), 500 * ones(n), 40 * ones(n),
                                         rng.integers(0, 300, n), 3 * ones(n), start, 1.0)
    host = HostLayer("dense", rng.normal(0, 1, (6, 4)), (1, 1), (0, 0), (4,), (6,), 3000.0, "n0")
    syn = {"s1": SynapseLayer("dense", "n0", "n1", rng.integers(-200, 256, (5, 6)), 0, (1, 1), (0, 0), (6,), (5,)),
           "s2": SynapseLayer("dense", "n1", "n2", rng.integers(-200, 256, (4, 5)), 0, (1, 1), (0, 0), (5,), (4,),
                              delay=1),
           "ro": SynapseLayer("dense", "n2", "readout", rng.integers(-255, 256, (3, 4)), 0, (1, 1), (0, 0), (4,), (3,))}
    return Program(host, {"n0": layer(6, 0), "n1": layer(5, 1), "n2": layer(4, 3)}, syn, ("ro",), 10.0,
                   np.zeros(3), T, 4, (4,))


def test_reset_offsets_are_each_layers_start_as_derived_by_hand():
    net = LavaNetwork(hand_sized(), period=4, steps=12)          # built, never run
    assert {k: (p.proc_params["reset_interval"], p.proc_params["reset_offset"]) for k, p in net.lif.items()} \
        == {"n0": (4, 1), "n1": (4, 2), "n2": (4, 0)}


def check_stream(program: Program, x: torch.Tensor) -> None:
    """Lava streamed == the simulator's mode "window" (every layer's spikes in its window, the
    readout), and == Lava one sample at a time (the readout)."""
    ro, spikes = run_lava_stream(program, x, record_spikes=True)
    window = Simulator(program).run(x, record=True, mode="window")
    assert torch.equal(ro, window.readout)
    for name, s in window.spikes.items():
        assert torch.equal(spikes[name].bool(), s), name
    one_at_a_time, _ = run_lava(program, x)
    assert torch.equal(ro, one_at_a_time)
    assert sum(int(s.sum()) for s in spikes.values()) > 0


def test_the_hand_sized_program_streams_as_it_runs_one_sample_at_a_time():
    check_stream(hand_sized(), torch.randn(5, 4) * 2)


@pytest.mark.parametrize("seed", [3, 4])
def test_a_residual_block_with_a_relay_streams(build, seed):
    """Random weights; the join's relay layer and the residual sum stream as the layers do."""
    program = quantize(build.residual(np.random.default_rng(seed)))
    assert [n for n, l in program.neurons.items() if l.relay] == ["short_relay1"]
    check_stream(program, torch.rand(4, 1, 4, 4) * 3)


def test_a_recurrent_program_is_not_streamed():
    p = hand_sized()
    rec = SynapseLayer("dense", "n1", "n1", np.eye(5, dtype=np.int64), 0, (1, 1), (0, 0), (5,), (5,))
    p = Program(p.host, p.neurons, {**p.synapses, "rec": rec}, p.readout, p.readout_scale, p.readout_bias,
                p.timesteps, p.depth, p.input_shape)
    assert "recurrent synapse layers (rec)" in p.why_not_streamed()
    with pytest.raises(ValueError, match="cannot stream"):
        run_lava_stream(p, torch.zeros(1, 4))
