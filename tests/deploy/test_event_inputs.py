"""Event-count inputs on the chip (deploy/added_nodes.py spikes_on_chip): frames whose elements hold
0..K events per step enter the chip as K copies of an input layer, copy j firing when the count
is >= j + 1, so the first synapse runs on the chip, one spike per event, its events counted as
synaptic events and the host multiplying nothing; Lava and the fast simulator agree spike for
spike."""
import pytest
import torch

from spikefold.compile.executor import GraphNet
from spikefold.compile.nodes import Flatten, Input, Output
from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING
from spikefold.deploy.added_nodes import spikes_on_chip
from spikefold.deploy.quantize import quantize
from spikefold.deploy.samples import MAX_EVENTS_PER_STEP, Samples, event_count, inputs_on_chip
from spikefold.simulate.engine import Simulator


def conv_graph(build):
    """(2, 6, 6) events -> conv 2->3 -> LIF -> flatten -> linear 108->4 -> LIF -> linear 4->3."""
    return build.graph([("in", Input((2, 6, 6))), ("c0", build.conv(2, 3, (3, 6, 6))),
                        ("l0", build.lif((3, 6, 6), leak=0.8, gain=1.0, v_th=1.5)), ("flat", Flatten((108,))),
                        ("fc", build.linear(108, 4)), ("l1", build.lif((4,), leak=0.8, gain=1.0, v_th=0.5)),
                        ("ro", build.linear(4, 3)), ("out", Output((3,)))], timesteps=5)


def dense_graph(build):
    """(6,) events -> linear 6->5 -> LIF -> linear 5->3."""
    return build.graph([("in", Input((6,))), ("fc0", build.linear(6, 5)),
                        ("l0", build.lif((5,), leak=0.8, gain=1.0, v_th=0.7)), ("ro", build.linear(5, 3)),
                        ("out", Output((3,)))], timesteps=5)


def counts(shape, most, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, most + 1, (4, 5, *shape), generator=g).float() * (torch.rand(4, 5, *shape, generator=g) < 0.5)


@pytest.mark.parametrize("kind", ["conv", "dense"])
def test_event_counts_run_on_the_chip_one_spike_per_event(build, kind):
    graph = conv_graph(build) if kind == "conv" else dense_graph(build)
    shape = graph.nodes["in"].shape
    x = counts(shape, 3)
    assert int(x.max()) == 3
    on_chip = spikes_on_chip(graph, 3)
    assert on_chip.nodes["input_spikes"].shape == (3 * shape[0], *shape[1:])
    with torch.no_grad():     # the same network on count inputs (up to the order of the float sums)
        assert torch.allclose(GraphNet(graph)(x), GraphNet(on_chip)(x), atol=1e-5)
    program = quantize(on_chip)
    assert program.host.kind == "spikes"
    sim = Simulator(program).run(x, record=True)
    assert sim.counts["total"]["host_macs"] == 0
    # the copies' spikes add up to the counts: one spike per event, on the event's step
    fired = sim.spikes["input_spikes"][:5].reshape(5, 4, 3, *shape).sum(2)
    assert torch.equal(fired.float(), x.transpose(0, 1))
    first = "c0" if kind == "conv" else "fc0"
    assert program.synapses[first].src == "input_spikes"
    if kind == "dense":       # every weight nonzero: events x fan-out
        assert sim.counts["layers"]["input_spikes"]["synaptic_events"] == pytest.approx(float(x.sum()) * 5)
    if not LAVA:
        pytest.skip(LAVA_MISSING)
    from spikefold.deploy.lava_graph import run_lava
    ro, spikes = run_lava(program, x, record_spikes=True)
    assert torch.equal(ro, sim.readout)
    for name, s in sim.spikes.items():
        assert torch.equal(spikes[name].bool(), s), name


def test_which_inputs_count_as_events(build):
    graph = dense_graph(build)
    assert event_count(torch.tensor([[0.0, 1.0, 2.0]])) == 2
    assert event_count(torch.zeros(2, 3)) == 1
    assert event_count(torch.tensor([[0.5, 1.0]])) is None                      # not whole
    assert event_count(torch.tensor([[-1.0, 1.0]])) is None                     # negative
    assert event_count(torch.tensor([[float(MAX_EVENTS_PER_STEP + 1)]])) is None   # too many: the host's
    x = counts((6,), 4)
    assert inputs_on_chip(graph, Samples(x)).nodes["input_spikes"].shape == (6 * int(x.max()),)
    assert "input_spikes" not in inputs_on_chip(graph, Samples(x + 0.25)).nodes
